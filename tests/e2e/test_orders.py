import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from oms import activity
from orders.models import SystemState
from tests.factories import DEMO_PASSWORD, OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("user-menu")).to_be_visible()


def test_an_agent_filters_opens_an_order_comments_and_sees_it_in_activity(
    page: Page, live_server, agent, retailer
):
    # given orders in several statuses and days
    now = timezone.now()
    target = OrderFactory(
        retailer=retailer, ref="ACME-2001", state=SystemState.PROCESSING, placed_at=now, lines=2
    )
    activity.record(
        action="orders.order.placed",
        target=target,
        by=None,
        at=now,
        data={"channel": "Web shop", "total": str(target.total), "currency": "EUR"},
    )
    OrderFactory(retailer=retailer, ref="ACME-2002", state=SystemState.NEW, placed_at=now)
    OrderFactory(
        retailer=retailer,
        ref="ACME-1999",
        state=SystemState.PROCESSING,
        placed_at=now - timedelta(days=10),
    )
    _login(page, live_server, "agent")

    # when the agent filters by status and a date range
    page.goto(f"{live_server.url}/orders/")
    page.get_by_test_id("filter-status").click()
    page.get_by_role("checkbox", name="Processing").first.check()
    expect(page.get_by_test_id("result-count")).to_contain_text("2 orders")
    today = timezone.localdate().isoformat()
    page.get_by_label("Placed from").fill(today)
    page.get_by_label("Placed from").dispatch_event("change")

    # then the list narrows in place and the URL can be shared
    expect(page.get_by_test_id("result-count")).to_contain_text("1 order")
    expect(page).to_have_url(
        re.compile(
            rf"/orders/\?(placed_after={today}&status=processing|status=processing&placed_after={today})$"
        )
    )
    results = page.locator("#results")
    expect(results.get_by_role("link", name="ACME-2001")).to_be_visible()
    expect(results.get_by_role("link", name="ACME-1999")).to_have_count(0)
    expect(results.get_by_role("link", name="ACME-2002")).to_have_count(0)

    # when they open the order and switch tabs
    results.get_by_role("link", name="ACME-2001").click()
    expect(page).to_have_url(re.compile(r"/orders/\d+/$"))
    expect(page.get_by_role("heading", name="Order ACME-2001")).to_be_visible()
    expect(page.locator("#results")).to_have_count(0)
    page.get_by_role("tab", name="Shipments").click()
    expect(page).to_have_url(re.compile(r"/orders/\d+/shipments/$"))
    expect(page.get_by_test_id("tab-shipments")).to_contain_text("Nothing has shipped yet")

    # and add a comment
    page.get_by_role("tab", name="Comments").click()
    page.get_by_label("Add a comment").fill("Customer asked to deliver after 5 pm")
    page.get_by_role("button", name="Add comment").click()
    expect(page.get_by_test_id("comments")).to_contain_text("Customer asked to deliver after 5 pm")

    # then Activity shows it, newest first, with who did it
    page.get_by_role("tab", name="Activity").click()
    first = page.get_by_test_id("activity").locator("li").first
    expect(first).to_contain_text("Customer asked to deliver after 5 pm")
    expect(first).to_contain_text(str(agent))
    expect(page.get_by_test_id("activity")).to_contain_text("Order placed via Web shop")
