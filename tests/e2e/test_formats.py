"""In Chromium: a date filter typed in the retailer's format, and a disabled action that looks
and behaves disabled."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_orders import _login
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_filters_orders_by_a_date_typed_as_the_retailer_writes_it(
    page: Page, live_server, agent, retailer
):
    # given a Dutch retailer, and orders placed on 3 and on 20 November
    retailer.languages = ["nl", "en"]
    retailer.save()
    OrderFactory(
        retailer=retailer, ref="ACME-EARLY", placed_at=datetime(2026, 11, 3, 9, tzinfo=UTC)
    )
    OrderFactory(
        retailer=retailer, ref="ACME-LATE", placed_at=datetime(2026, 11, 20, 9, tzinfo=UTC)
    )
    _login(page, live_server, "agent")
    page.goto(f"{live_server.url}/orders/")

    # the date inputs ask for the retailer's format, whatever the browser's locale
    placed_from = page.get_by_label("Placed from")
    expect(placed_from).to_have_attribute("placeholder", "dd-mm-yyyy")
    expect(placed_from).to_have_attribute("type", "text")
    expect(page.locator("#results")).to_contain_text("ACME-EARLY")

    # when the agent types a Dutch date and applies the filter
    placed_from.fill("10-11-2026")
    placed_from.press("Enter")

    # then only the later order is listed, the date kept as typed and shared in the address
    expect(page.locator("#results")).not_to_contain_text("ACME-EARLY")
    expect(page.locator("#results")).to_contain_text("ACME-LATE")
    expect(page).to_have_url(re.compile(r"placed_after=10-11-2026"))
    expect(page.locator("#results")).to_contain_text("20-11-2026")
    page.reload()
    expect(page.get_by_label("Placed from")).to_have_value("10-11-2026")
    expect(page.locator("#results")).not_to_contain_text("ACME-EARLY")


def test_a_disabled_cancel_looks_disabled_and_does_nothing(
    page: Page, live_server, agent, retailer
):
    # given an order an agent may read but not cancel
    order = OrderFactory(retailer=retailer, ref="ACME-8001", lines=1)
    _login(page, live_server, "agent")
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.get_by_test_id("more-actions").click()
    cancel = page.get_by_role("button", name="Cancel order…")
    expect(cancel).to_be_visible()

    # it is disabled, greyed out (not the red of an active Cancel) and says why
    expect(cancel).to_be_disabled()
    expect(cancel).to_have_attribute("title", "Needs the manager role")
    expect(page.get_by_test_id("actions-why")).to_be_visible()
    style = cancel.evaluate(
        "el => { const s = getComputedStyle(el); return [s.opacity, s.color, s.cursor]; }"
    )
    assert float(style[0]) < 0.7
    assert style[1] != "rgb(220, 53, 69)"  # Bootstrap's danger red
    assert style[2] == "not-allowed"

    # and clicking it opens no dialog
    cancel.click(force=True)
    page.wait_for_timeout(300)
    expect(page.locator("#m-cancel")).not_to_be_visible()
