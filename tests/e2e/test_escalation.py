from datetime import date

import pytest
from playwright.sync_api import Page, expect

from fulfilments.models import Fulfilment, StockPosition
from orders.models import SystemState
from orders.services import order_set_status
from tests.e2e.test_orders import _login
from tests.factories import (
    CarrierFactory,
    LocationFactory,
    OrderFactory,
    OrderLineFactory,
    StockFactory,
    status_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_manager_resolves_an_escalation_by_assigning_another_location(
    page: Page, live_server, manager, retailer
):
    # given an order confirmed while its only stocked warehouse was short
    north = LocationFactory(retailer=retailer, ref="NORTH", name="North warehouse")
    south = LocationFactory(retailer=retailer, ref="SOUTH", name="South warehouse")
    CarrierFactory(retailer=retailer, zones=["NL"])
    StockFactory(location=north, sku="TENT", on_hand=0)
    order = OrderFactory(retailer=retailer, ref="ACME-5001", promised_date=date(2026, 12, 1))
    OrderLineFactory(order=order, sku="TENT", name="Tent", quantity=1)
    StockFactory(location=north, sku="MAT", on_hand=9)
    OrderLineFactory(order=order, sku="MAT", name="Mat", quantity=1)
    order_set_status(order=order, status=status_for(retailer, SystemState.PROCESSING), by=manager)
    StockFactory(location=south, sku="TENT", on_hand=3)  # stock found elsewhere

    # when the manager opens the escalation queue
    _login(page, live_server, "manager")
    page.goto(f"{live_server.url}/fulfilments/escalated/")
    expect(page.get_by_test_id("result-count")).to_contain_text("1 fulfilment")
    expect(page.locator("#results")).to_contain_text("ACME-5001")
    expect(page.locator("#results")).to_contain_text("TENT: 1 of 1 cannot be sourced")
    page.locator("#results td a").first.click()

    # and assigns it to the south warehouse
    expect(page.get_by_test_id("escalation")).to_be_visible()
    page.get_by_label("Location to assign").select_option(label="South warehouse")
    page.get_by_role("button", name="Assign to location").click()

    # then it is assigned there, the stock is reserved, and the queue is empty
    expect(page.get_by_role("alert")).to_contain_text("Assigned to South warehouse")
    expect(page.get_by_test_id("fulfilment-status")).to_have_text("Assigned")
    assert StockPosition.objects.get(location=south, sku="TENT").reserved == 1
    page.goto(f"{live_server.url}/fulfilments/escalated/")
    expect(page.get_by_test_id("result-count")).to_contain_text("0 fulfilments")
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    expect(page.get_by_test_id("order-live")).to_contain_text("South warehouse")
    assert Fulfilment.objects.filter(order=order, status="ASSIGNED").count() == 2
