"""An admin adds a hold rule in Settings; an order placed from the order page trips it, and the
new order's page says it is held, by which rule and why."""

import pytest
from playwright.sync_api import Page, expect

from customers.models import Customer
from orders.models import Order, SystemState
from tests.e2e.test_orders import _login
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_order_that_trips_a_rule_shows_the_hold_with_its_rule(
    page: Page, live_server, admin_user, retailer
):
    # given a business customer's order, placed before any rule, without a VAT number
    customer = CustomerFactory(retailer=retailer, segment=Customer.Segment.BUSINESS)
    source = OrderFactory(
        retailer=retailer, ref="ACME-5001", customer=customer, state=SystemState.PROCESSING, lines=1
    )
    assert not source.is_held
    _login(page, live_server, "admin")

    # when the admin adds a rule for business orders without a VAT number
    page.goto(f"{live_server.url}/settings/")
    page.get_by_role("link", name="Hold rules").click()
    form = page.get_by_test_id("add-hold-rule")
    form.get_by_label("Name").fill("Business needs VAT")
    form.get_by_label("Hold").select_option(label="Missing documentation")
    form.get_by_label("Condition").select_option(label="Business order without a VAT number")
    form.get_by_role("button", name="Add rule").click()
    expect(page.get_by_role("alert")).to_contain_text("Hold rule “Business needs VAT” added.")
    expect(page.get_by_test_id("hold-rules")).to_contain_text("Business needs VAT")

    # and places a new order for the customer from the order page (a copy)
    page.goto(f"{live_server.url}{source.get_absolute_url()}")
    page.get_by_test_id("more-actions").click()
    page.get_by_role("button", name="Copy order…").click()
    page.get_by_role("dialog", name="Copy order ACME-5001?").get_by_role(
        "button", name="Copy the order"
    ).click()

    # then the new order's page shows the hold, the rule that set it and why
    expect(page.get_by_test_id("order-header")).to_contain_text("Order ACME-5001-C1")
    hold = page.get_by_test_id("hold")
    expect(hold).to_have_text("Held: Missing documentation, by rule “Business needs VAT”")
    expect(page.get_by_test_id("hold-details")).to_contain_text(
        "A business order without a VAT number."
    )
    page.get_by_role("tab", name="Activity").click()
    expect(page.get_by_test_id("activity")).to_contain_text(
        "Held: Missing documentation, by rule “Business needs VAT”"
    )
    copy = Order.objects.get(ref="ACME-5001-C1")
    assert copy.hold_documentation and copy.hold_documentation_rule.name == "Business needs VAT"
