import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import DEMO_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_logs_in_sees_the_navigation_and_logs_out(page: Page, live_server, agent):
    # given the login page
    page.goto(f"{live_server.url}/orders/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/orders/"))

    # when the agent logs in
    page.get_by_label("Username").fill("agent")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # then they land where they were going, with the navigation
    expect(page).to_have_url(f"{live_server.url}/orders/")
    nav = page.get_by_role("navigation", name="Main")
    for label in ["Orders", "Fulfilments", "Escalated", "Returns", "Customers", "Billing accounts"]:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Settings")).to_have_count(0)
    nav.get_by_role("link", name="Returns").click()
    expect(page.get_by_role("heading", name="Returns")).to_be_visible()

    # and their user menu names their retailer and role, and logs them out
    page.get_by_test_id("user-menu").click()
    expect(page.get_by_text("Acme Outfitters")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/"))
