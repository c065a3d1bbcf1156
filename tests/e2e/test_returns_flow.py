import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from orders.models import SystemState
from tests.e2e.test_orders import _login
from tests.factories import (
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    recalculate_totals,
    ship,
)

pytestmark = pytest.mark.django_db(transaction=True)

# how many lines an element's text takes on the screen
LINES = """el => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
}"""


def test_an_agent_creates_a_return_and_a_manager_completes_its_parcel_and_refund(
    page: Page, browser, live_server, agent, manager, retailer
):
    # given a delivered, paid order
    order = OrderFactory(retailer=retailer, ref="ACME-4001", state=SystemState.COMPLETED)
    OrderLineFactory(
        order=order, sku="JKT", name="Shell jacket", quantity=2, unit_price=Decimal("121.00")
    )
    recalculate_totals(order)
    ship(order)
    PaymentFactory(
        order=order, authorised=order.total, captured=order.total, provider_reference="psp_4001"
    )

    # when the agent returns one jacket from the order page
    _login(page, live_server, "agent")
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.get_by_role("link", name="Create return").first.click()
    page.get_by_label("How many Shell jacket come back").fill("1")
    page.get_by_label("Reason for Shell jacket").select_option(label="Damaged")
    page.get_by_label("Drop-off location ref").fill("DC-UTRECHT")
    page.get_by_role("button", name="Create return").click()

    # then the return is booked with a parcel on its way
    expect(page.get_by_test_id("return-status")).to_have_text("Booked")
    expect(page.get_by_test_id("return-items")).to_contain_text("JKT")
    return_url = page.url

    # and it has a ref to read out on the phone, on one line on its page and in the list
    ref = page.get_by_role("heading", name="Return ACM-R00001")
    expect(ref).to_have_text("Return ACM-R00001")
    assert ref.evaluate(LINES) == 1
    page.goto(f"{live_server.url}/returns/")
    assert page.get_by_role("cell", name="ACM-R00001", exact=True).evaluate(LINES) == 1

    # when a manager receives the parcel and completes it
    manager_page = browser.new_context().new_page()
    _login(manager_page, live_server, "manager")
    manager_page.goto(return_url)
    manager_page.get_by_test_id("return-fulfilments").get_by_role("link").first.click()
    manager_page.get_by_role("button", name="Mark arrived").click()
    expect(manager_page.get_by_test_id("fulfilment-status")).to_have_text("Arrived")
    manager_page.get_by_role("button", name="Mark complete").click()
    expect(manager_page.get_by_test_id("fulfilment-status")).to_have_text("Complete")

    # then the refund has run and the return is complete, with a credit note and its history
    manager_page.goto(return_url)
    expect(manager_page.get_by_test_id("return-status")).to_have_text("Complete")
    expect(manager_page.get_by_test_id("return-activity")).to_contain_text("€121.00 refunded")
    expect(manager_page.get_by_test_id("return-activity")).to_contain_text(re.compile("Lodged"))
    manager_page.get_by_role("link", name="ACME-4001").first.click()
    manager_page.get_by_role("tab", name="Returns").click()
    expect(manager_page.get_by_test_id("order-return")).to_contain_text("Complete")
