import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_orders import _login
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_edits_the_customer_from_the_order_page(page: Page, live_server, agent, retailer):
    # given an order of a customer whose address the order was placed with
    customer = CustomerFactory(
        retailer=retailer, first_name="Ada", last_name="Lovelace", email="ada@example.com"
    )
    order = OrderFactory(retailer=retailer, customer=customer, ref="ACME-7001", lines=1)
    old_street = order.shipping_address.line1

    # when the agent opens the order's Customer tab
    _login(page, live_server, "agent")
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.get_by_role("tab", name="Customer").click()
    facts = page.get_by_test_id("customer-tab-facts")
    expect(facts).to_contain_text("ada@example.com")
    expect(page.get_by_test_id("customer-tab-addresses")).to_contain_text(old_street)

    # and changes the email address, first with a typo
    page.get_by_test_id("edit-customer").click()
    page.get_by_label("Email").fill("ada@lovelace")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.get_by_label("Email")).to_have_class(re.compile("is-invalid"))
    page.get_by_label("Email").fill("ada@lovelace.org")
    page.get_by_role("button", name="Save details").click()

    # then the tab shows the new address straight away
    expect(page.get_by_role("alert")).to_contain_text("details saved")
    expect(page.get_by_test_id("customer-tab-facts")).to_contain_text("ada@lovelace.org")

    # when the agent changes the street of the address in the address book
    page.get_by_test_id("edit-customer").click()
    address = page.get_by_test_id("address").first
    address.locator("summary").click()
    address.get_by_role("textbox", name="Street", exact=True).fill("Prinsengracht 263")
    address.get_by_role("button", name="Save address").click()

    # then the tab shows the changed address, and the order keeps the one it was placed with
    expect(page.get_by_role("alert")).to_contain_text("Address saved")
    expect(page.get_by_test_id("customer-tab-addresses")).to_contain_text("Prinsengracht 263")
    expect(page.get_by_test_id("shipping-address")).to_contain_text(old_street)

    # and the order's activity says who changed what, old and new
    page.get_by_role("tab", name="Activity").click()
    activity = page.get_by_test_id("activity")
    expect(activity).to_contain_text("Email: ada@example.com → ada@lovelace.org")
    expect(activity).to_contain_text(f"Street: {old_street} → Prinsengracht 263")
    expect(activity).to_contain_text(str(agent))
