import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from orders.models import Order, SystemState
from tests.factories import DEMO_PASSWORD, OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("user-menu")).to_be_visible()


def test_a_manager_cancels_orders_in_bulk_and_follows_the_job(
    page: Page, live_server, manager, retailer
):
    # given three open orders and a completed one on the list
    now = timezone.now()
    for n in range(3):
        OrderFactory(retailer=retailer, ref=f"BULK-{n}", state=SystemState.NEW, placed_at=now)
    OrderFactory(retailer=retailer, ref="BULK-DONE", state=SystemState.COMPLETED, placed_at=now)
    _login(page, live_server, manager.username)
    page.goto(f"{live_server.url}/orders/")

    # when the manager ticks the whole page and chooses to cancel
    page.get_by_test_id("select-page").check()
    expect(page.get_by_test_id("bulk-count")).to_have_text("4")
    page.get_by_test_id("bulk-action").select_option("cancel")
    expect(page.get_by_label("Email the customers")).to_be_visible()
    expect(page.get_by_label("Message to the customers")).to_be_hidden()
    page.get_by_label("Reason").fill("Test orders")
    page.get_by_test_id("bulk-preview").click()

    # then the preview says three of four can be cancelled, and why one cannot
    expect(page.get_by_test_id("bulk-summary")).to_have_text("3 of 4 can be cancelled; 1 cannot.")
    expect(page.get_by_test_id("bulk-cannot")).to_contain_text("BULK-DONE")
    assert Order.objects.filter(status__system_state=SystemState.CANCELLED).count() == 0

    # and when they confirm, the job page shows its progress to the end, order by order
    page.get_by_test_id("bulk-start").click()
    expect(page.get_by_test_id("bulk-counts")).to_contain_text("Finished.")
    expect(page.get_by_test_id("bulk-counts")).to_contain_text("3 of 3: 3 cancelled, 0 skipped")
    expect(page.get_by_test_id("bulk-percent")).to_have_text("100%")
    assert page.get_by_test_id("bulk-bar").get_attribute("value") == "3"
    expect(page.get_by_test_id("bulk-items").locator("tbody tr")).to_have_count(3)
    assert Order.objects.filter(status__system_state=SystemState.CANCELLED).count() == 3
