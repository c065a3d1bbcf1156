import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.factories import DEMO_PASSWORD, CustomerFactory, OrderFactory, ReturnFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("user-menu")).to_be_visible()


def test_an_agent_searches_with_the_keyboard_only(page: Page, live_server, agent, retailer):
    # given orders and a return whose refs start alike
    now = timezone.now()
    customer = CustomerFactory(retailer=retailer, first_name="Ada", last_name="Kestrel")
    newest = OrderFactory(retailer=retailer, ref="KB-300", customer=customer, placed_at=now)
    OrderFactory(retailer=retailer, ref="KB-200", placed_at=now.replace(year=now.year - 1))
    ReturnFactory(retailer=retailer, order=newest, return_ref="KB-R1")
    _login(page, live_server, agent.username)

    # when the agent presses "/" and types the start of a ref
    page.keyboard.press("/")
    expect(page.get_by_test_id("search-box")).to_be_focused()
    page.keyboard.type("kb-")

    # then the suggestions are grouped by kind, the newest order first
    hits = page.get_by_test_id("search-hit")
    expect(hits).to_have_count(3)
    expect(page.get_by_test_id("search-results")).to_contain_text("Orders")
    expect(page.get_by_test_id("search-results")).to_contain_text("Returns")
    expect(hits.nth(0)).to_contain_text("KB-300")
    expect(hits.nth(0)).to_contain_text("Ada Kestrel")

    # and the arrow keys move through them, Up from the first goes back to the box
    page.keyboard.press("ArrowDown")
    expect(hits.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(hits.nth(2)).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(page.get_by_test_id("search-box")).to_be_focused()

    # and Enter on a suggestion opens it
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/orders/\d+/$"))
    expect(page.locator("h1")).to_contain_text("KB-200")

    # and Enter on a whole ref goes straight to its order; Escape closes suggestions
    page.wait_for_load_state("networkidle")
    page.keyboard.press("/")
    expect(page.get_by_test_id("search-box")).to_be_focused()
    page.keyboard.type("kb-300")
    expect(page.get_by_test_id("search-hit")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("search-hit")).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}{newest.get_absolute_url()}")
