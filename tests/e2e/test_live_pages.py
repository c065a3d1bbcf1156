"""The return, fulfilment and customer pages are live too: who else is there, and what they
changed, shown in place."""

import os
import re

import pytest
from playwright.sync_api import Page, expect

from oms.roles import Role
from orders.models import SystemState
from tests.e2e.test_orders import _login
from tests.factories import (
    CustomerFactory,
    FulfilmentFactory,
    MembershipFactory,
    OrderFactory,
    ReturnFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("OMS_SCREENSHOTS", "")


@pytest.fixture
def pages(browser, live_server, retailer):
    """Anna's page and Max's, each in a browser context of its own; both are managers."""
    opened = []
    for username, first, last in (("anna", "Anna", "Berg"), ("max", "Max", "Weber")):
        user = UserFactory(username=username, first_name=first, last_name=last)
        MembershipFactory(user=user, retailer=retailer, role=Role.MANAGER)
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        _login(page, live_server, username)
        opened.append(page)
    yield opened
    for page in opened:
        page.context.close()


def _open(page: Page, live_server, path: str) -> None:
    page.goto(f"{live_server.url}{path}")
    expect(page.locator("#oms-live")).to_have_attribute("data-live-seen", re.compile(r"^\d+$"))


def test_a_colleagues_change_to_a_return_shows_in_place(pages, live_server, retailer):
    anna, max_ = pages
    ret = ReturnFactory(retailer=retailer, return_ref="RET-4711")
    _open(anna, live_server, ret.get_absolute_url())
    _open(max_, live_server, ret.get_absolute_url())
    expect(anna.get_by_test_id("presence")).to_contain_text("Max Weber")
    anna.evaluate("window.notReloaded = true")

    # when Max sets an attribute on the return
    form = max_.get_by_test_id("attribute-form")
    form.get_by_label("Name").fill("gift wrap")
    form.get_by_label("Value").fill("yes please")
    form.get_by_role("button", name="Set attribute").click()
    expect(max_.get_by_test_id("attributes")).to_contain_text("gift wrap")

    # then Anna's page shows it, and who did it, without a reload
    expect(anna.get_by_test_id("attributes")).to_contain_text("yes please")
    expect(anna.get_by_test_id("return-activity")).to_contain_text("gift wrap")
    expect(anna.get_by_test_id("live-changes")).to_contain_text(
        re.compile(r"Max Weber at \d\d:\d\d")
    )
    assert anna.evaluate("window.notReloaded") is True
    if SHOTS:
        anna.screenshot(path=os.path.join(SHOTS, "return-live.png"), full_page=False)


def test_a_fulfilment_moved_by_a_colleague_is_redrawn_and_marked_on_the_list(
    pages, live_server, retailer
):
    anna, max_ = pages
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
    fulfilment = FulfilmentFactory(order=order)  # escalated
    anna.goto(f"{live_server.url}/fulfilments/escalated/")
    row = anna.locator(f'[data-live-row="fulfilments.fulfilment:{fulfilment.pk}"]')
    expect(row).to_be_visible()
    _open(max_, live_server, fulfilment.get_absolute_url())

    # when Max retries the sourcing (nothing to source from: it stays escalated, on record)
    max_.get_by_role("button", name="Retry sourcing").click()
    expect(max_.get_by_role("alert").first).to_be_visible()

    # then the row on Anna's list is marked with who did it
    expect(row).to_have_class(re.compile("oms-row-changed"))
    expect(row).to_have_attribute("title", re.compile(r"Max Weber at \d\d:\d\d"))


def test_a_customer_saved_by_a_colleague_while_one_edits_is_not_overwritten(
    pages, live_server, retailer
):
    anna, max_ = pages
    customer = CustomerFactory(retailer=retailer, first_name="Ada", last_name="Lovelace", mobile="")
    edit = f"/customers/{customer.pk}/edit/"
    _open(anna, live_server, edit)
    _open(max_, live_server, edit)

    # given Anna is changing the mobile number
    anna.get_by_label("Mobile").fill("+31 6 1234 5678")

    # when Max saves a new last name
    max_.get_by_label("Last name").fill("King")
    max_.get_by_role("button", name="Save details").click()
    expect(max_.get_by_role("alert").filter(has_text="details saved")).to_be_visible()

    # then Anna is told, her form is left as she has it, and her save is refused
    expect(anna.get_by_test_id("live-banner")).to_contain_text("Changed by Max Weber at")
    expect(anna.get_by_label("Last name")).to_have_value("Lovelace")
    anna.get_by_role("button", name="Save details").click()
    refusal = anna.get_by_role("alert").filter(has_text="Nothing was changed")
    expect(refusal).to_contain_text(re.compile(r"by Max Weber at \d\d:\d\d, after this page"))
    customer.refresh_from_db()
    assert (customer.last_name, customer.mobile) == ("King", "")
