import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from oms import activity
from orders.models import SystemState
from tests.e2e.test_orders import _login
from tests.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_manager_cancels_an_order_with_an_email_and_sees_the_refund_and_email_in_activity(
    page: Page, live_server, manager, retailer
):
    # given a processing order whose payment was captured in full
    order = OrderFactory(retailer=retailer, ref="ACME-3001", state=SystemState.PROCESSING, lines=2)
    PaymentFactory(
        order=order, authorised=order.total, captured=order.total, provider_reference="psp_3001"
    )
    activity.record(
        action="orders.order.placed",
        target=order,
        by=None,
        data={"channel": "Web shop", "total": str(order.total), "currency": "EUR"},
    )
    _login(page, live_server, "manager")
    page.goto(f"{live_server.url}{order.get_absolute_url()}")

    # when the manager cancels it and opts in to the customer email
    page.get_by_test_id("more-actions").click()
    page.get_by_role("button", name="Cancel order…").click()
    dialog = page.get_by_role("dialog", name="Cancel order ACME-3001?")
    expect(dialog).to_contain_text("The captured €99.90 (Card) is refunded")
    dialog.get_by_label("Reason (kept in Activity)").fill("Customer changed their mind")
    expect(dialog.get_by_label(re.compile("Email the customer"))).to_be_checked()
    dialog.get_by_role("button", name="Cancel the order").click()

    # then the page says what happened
    expect(page.get_by_role("alert")).to_contain_text("Order ACME-3001 is cancelled.")
    expect(page.get_by_role("alert")).to_contain_text("The captured €99.90 is refunded.")
    expect(page.get_by_test_id("order-status")).to_have_text("Cancelled")

    # and Activity shows the refund and the email, with who did it
    page.get_by_role("tab", name="Activity").click()
    timeline = page.get_by_test_id("activity")
    expect(timeline).to_contain_text("€99.90 refunded")
    expect(timeline).to_contain_text("Email “Your order ACME-3001 has been cancelled” sent to")
    expect(timeline).to_contain_text("Order cancelled (Customer changed their mind)")
    expect(timeline.locator("li").filter(has_text="Order cancelled").first).to_contain_text(
        str(manager)
    )
    page.get_by_role("tab", name="Transactions").click()
    expect(page.get_by_test_id("transactions-table")).to_contain_text("Refund")
    expect(page.get_by_test_id("transactions-table")).to_contain_text("Succeeded")
    order.payments.get().refresh_from_db()
    assert order.payments.get().refunded == Decimal("99.90")
