"""Every page passes axe-core with no serious or critical violation.

The pages come from the URL walker (like the width test), so a new page is checked without
editing this test. Each page is opened by the least role that reaches it (an agent first, then a
manager, then an admin) and audited 1400 px wide and again 420 px wide. The order page is also
audited as a manager with its actions menu and each of its dialogs open and its payment forms
(capture, refund) shown; the search suggestions and a list's menus open; the 403 and 404 pages;
and the login page as nobody logged in.

A table of every violation by page (all impacts, for the record) is written to
``$TMPDIR/axe/report.txt``."""

import tempfile
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import Resolver404, resolve, reverse
from playwright.sync_api import Page

from orders.views import TABS
from tests.e2e.test_orders import _login
from tests.e2e.test_widths import PAGE_ROUTES
from tests.factories import (
    BillingAccountFactory,
    FulfilmentFactory,
    InvoiceFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    ReturnFactory,
    ShipmentEventFactory,
    ShipmentFactory,
    TaskFactory,
    TicketFactory,
)
from tests.object_urls import OBJECT_URLS

pytestmark = pytest.mark.django_db(transaction=True)

REPORT = Path(tempfile.gettempdir()) / "axe" / "report.txt"
FAILING = ("serious", "critical")
IMPACTS = ("critical", "serious", "moderate", "minor")
ROLES = ("agent", "manager", "admin")
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 420, "height": 860}
# Bootstrap's fades and colour transitions take 150 to 300 ms: colours are read once they end.
TRANSITION = 350

# The order page's dialogs a manager opens, by the id of their element.
DIALOGS = ("m-cancel", "m-suspend", "m-copy", "m-hold", "m-notify", "m-shipment", "m-sent")

# Show what a click would show: collapsed sections, so their content is audited too.
EXPAND = """() => document.querySelectorAll(".collapse:not(.show)").forEach(
  (el) => el.classList.add("show"))"""

OPEN_DIALOG = """(id) => bootstrap.Modal.getOrCreateInstance(document.getElementById(id)).show()"""
CLOSE_DIALOG = """(id) => bootstrap.Modal.getOrCreateInstance(document.getElementById(id)).hide()"""


def _label(url: str) -> str:
    path = url.split("?")[0]
    try:
        name = resolve(path).view_name
    except Resolver404:
        name = "?"
    return f"{name} {url}"


def _demo_data(retailer) -> tuple[list[str], str, list[str]]:
    """Records like the demo's behind every page; returns the page URLs, the URL of an open order
    with something on every tab (a part-captured payment, so both payment forms show), and the
    routes no record can be made for yet."""
    customer = OrderFactory(retailer=retailer).customer
    BillingAccountFactory(customer=customer)
    order = OrderFactory(retailer=retailer, customer=customer, lines=0)
    for n in range(3):
        OrderLineFactory(order=order, sku=f"SKU-TENT-{n}", name="Two-person trekking tent")
    PaymentFactory(order=order, authorised=Decimal("100.00"), captured=Decimal("40.00"))
    ShipmentEventFactory(shipment=ShipmentFactory(order=order))
    InvoiceFactory(order=order)
    TicketFactory(order=order)
    TaskFactory(order=order)
    FulfilmentFactory(order=order)
    FulfilmentFactory(order=order, status="ASSIGNED", escalation_reason="")
    ReturnFactory(retailer=retailer, order=order)
    for _ in range(3):
        OrderFactory(retailer=retailer, lines=2)

    urls, missing = [], []
    for route in PAGE_ROUTES:
        if route.kwarg_names and route.name not in OBJECT_URLS:
            missing.append(route.name)
            continue
        kwargs = OBJECT_URLS[route.name](retailer) if route.kwarg_names else {}
        urls.append(reverse(route.name, kwargs=kwargs))
    order_url = order.get_absolute_url()
    urls += [order_url] + [f"{order_url}{tab}/" for tab, _ in TABS]
    return list(dict.fromkeys(urls)), order_url, missing


class Audit:
    def __init__(self, page: Page, base: str):
        self.page = page
        self.base = base
        self.axe = Axe()
        self.counts: dict[str, Counter] = {}
        self.failures: list[str] = []

    def run(self, label: str, context: str | None = None) -> None:
        results = self.axe.run(self.page, context=context)
        counts = self.counts.setdefault(label, Counter())
        for violation in results.response["violations"]:
            impact = violation["impact"] or "minor"
            counts[impact] += len(violation["nodes"])
            if impact in FAILING:
                first = violation["nodes"][0] if violation["nodes"] else {}
                why = " ".join((first.get("failureSummary") or "").split())
                self.failures.append(
                    f"{label}: {violation['id']} ({impact}, {len(violation['nodes'])} nodes)"
                    f" first at {first.get('target')}: {violation['help']}. {why}"
                )

    def open(self, url: str) -> None:
        self.page.goto(self.base + url, wait_until="networkidle")
        self.page.evaluate(EXPAND)

    def report(self) -> str:
        rows = ["| page | critical | serious | moderate | minor |", "|---|---|---|---|---|"]
        for label, counts in self.counts.items():
            rows.append(f"| {label} | " + " | ".join(str(counts[i]) for i in IMPACTS) + " |")
        return "\n".join(rows)


def test_no_page_has_a_serious_or_critical_accessibility_violation(
    page: Page, live_server, agent, manager, admin_user, retailer
):
    # given records behind every page, and an order with something on every tab
    urls, order_url, missing = _demo_data(retailer)
    audit = Audit(page, live_server.url)
    page.set_viewport_size(DESKTOP)

    # when nobody is logged in, the login page
    audit.open(reverse("login"))
    audit.run("login")

    # when each page is opened by the least role that reaches it
    waiting, broken, redirects = urls, [], []
    pages = 0
    for role in ROLES:
        page.context.clear_cookies()
        _login(page, live_server, role)
        unreached = []
        for url in waiting:
            response = page.request.get(live_server.url + url, max_redirects=0)
            if response.status == 403 or "/accounts/login/" in response.headers.get("location", ""):
                unreached.append(url)
                continue
            if response.status in (301, 302, 303):
                redirects.append(url)  # not a page of its own: it sends the user to one
                continue
            if not response.ok:
                broken.append(f"{url} answered {response.status} to {role}")
                continue
            if "text/html" not in response.headers.get("content-type", ""):
                continue
            if "<html" not in response.text():
                continue  # a fragment or a download
            audit.open(url)
            audit.run(f"{_label(url)} ({role})")
            # and on a phone, where tables scroll sideways and the navigation folds away
            page.set_viewport_size(PHONE)
            page.wait_for_timeout(100)
            audit.run(f"{_label(url)} ({role}, 420 px)")
            page.set_viewport_size(DESKTOP)
            pages += 1
        waiting = unreached

        if role == "agent":
            # the pages that say no: a record that is not there, a page the role may not see
            for label, url in (("404", "/orders/999999999/"), ("403", reverse("settings"))):
                page.goto(live_server.url + url)
                audit.run(f"{label} page (agent)")
            # the search suggestions, and a list's menus, open
            audit.open(reverse("home"))
            page.get_by_test_id("search-box").fill("ORD-")
            page.locator("#oms-search-results a").first.wait_for()
            audit.run("search suggestions open (agent)")
            audit.open(reverse("orders:order_list"))
            for menu in ("Views", "Columns"):
                page.get_by_role("button", name=menu).click()
                page.wait_for_timeout(TRANSITION)
                audit.run(f"orders list, {menu} menu open (agent)")
                page.keyboard.press("Escape")

        if role == "manager":
            # the order page with the manager's payment forms (capture, refund) and actions
            audit.open(order_url)
            assert page.get_by_test_id("capture-form").count()
            assert page.get_by_test_id("refund-form").count()
            audit.run(f"{_label(order_url)} (manager)")
            page.get_by_role("button", name="Actions").click()
            page.wait_for_timeout(TRANSITION)
            audit.run("order page, Actions menu open (manager)")
            page.keyboard.press("Escape")
            # and with each of the manager's dialogs open
            for dialog in DIALOGS:
                if not page.locator(f"#{dialog}").count():
                    continue
                page.evaluate(OPEN_DIALOG, dialog)
                page.locator(f"#{dialog}").wait_for(state="visible")
                page.wait_for_timeout(TRANSITION)
                audit.run(f"order dialog #{dialog} (manager)", context=f"#{dialog}")
                page.evaluate(CLOSE_DIALOG, dialog)
                page.locator(f"#{dialog}").wait_for(state="hidden")

    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(audit.report() + "\n\n" + "\n".join(audit.failures) + "\n")
    print(f"audited {pages} pages and the order page's dialogs; report in {REPORT}")
    print(f"redirects, not audited: {redirects}")

    # then every page was audited, and none has a serious or critical violation
    assert not broken, broken
    assert not waiting, f"no role reaches {waiting}"
    assert not missing, f"no record in tests/object_urls.py for {missing}"
    assert pages >= 30, pages
    assert not audit.failures, "\n".join(audit.failures)
