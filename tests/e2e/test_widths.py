"""Every page at every width: nothing wider than a phone at 420 px, no table cut off at 1400 px.

The pages come from the URL walker, so a new page is checked without editing this test."""

import tempfile
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Page

from tests.e2e.test_orders import _login
from tests.factories import (
    BillingAccountFactory,
    FulfilmentFactory,
    OrderFactory,
    OrderLineFactory,
    ReturnFactory,
)
from tests.object_urls import OBJECT_URLS
from tests.urlwalk import walk

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(tempfile.gettempdir()) / "widths"
PHONE = {"width": 420, "height": 860}
DESKTOP = {"width": 1400, "height": 900}

PAGE_ROUTES = [
    r
    for r in walk()
    if not (r.is_state_changing or r.is_public or r.is_api or r.is_script_endpoint)
]

# Tables wider than their container that do not sit in a horizontally scrolling wrapper.
CUT_OFF_TABLES = """() => {
  const cut = [];
  for (const table of document.querySelectorAll("table")) {
    if (!table.getClientRects().length) continue;
    let scrolls = false;
    for (let el = table.parentElement; el && el !== document.body; el = el.parentElement) {
      const overflow = getComputedStyle(el).overflowX;
      if (overflow === "auto" || overflow === "scroll") { scrolls = true; break; }
    }
    if (scrolls) continue;
    const box = table.parentElement.getBoundingClientRect();
    const main = (document.querySelector("main") || document.body).getBoundingClientRect();
    const right = table.getBoundingClientRect().right;
    if (right > box.right + 1 || right > main.right + 1) {
      const head = [...table.querySelectorAll("th")].map((th) => th.textContent.trim());
      cut.push(head.slice(0, 4).join("|") || table.className);
    }
  }
  return cut;
}"""

WIDER_THAN_SCREEN = "() => document.documentElement.scrollWidth - window.innerWidth"

# The innermost elements that stick out to the right of the screen, to say what to fix.
STICKING_OUT = """() => {
  const out = [];
  for (const el of document.querySelectorAll("main *")) {
    if (el.getBoundingClientRect().right <= window.innerWidth + 1) continue;
    if ([...el.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 1)) continue;
    let scrolls = false;
    for (let up = el.parentElement; up; up = up.parentElement) {
      const overflow = getComputedStyle(up).overflowX;
      if (overflow !== "visible") { scrolls = true; break; }
    }
    if (!scrolls) out.push(el.tagName.toLowerCase() + "." + [...el.classList].join("."));
  }
  return [...new Set(out)].slice(0, 3).join(", ");
}"""


def _demo_data(retailer) -> list[str]:
    """Records like the demo's behind every page, with long refs and texts; returns the URLs."""
    customer = OrderFactory(retailer=retailer).customer
    customer.first_name = "Maximiliane-Charlotte"
    customer.last_name = "Vandenberghe-Oosterhuis"
    customer.email = "maximiliane.charlotte.vandenberghe-oosterhuis@example-outfitters.com"
    customer.save()
    BillingAccountFactory(customer=customer)
    order = OrderFactory(retailer=retailer, customer=customer, lines=0)
    for n in range(3):
        OrderLineFactory(
            order=order,
            sku=f"SKU-TENT-ULTRALIGHT-2P-{n}",
            name="Ultralight two-person trekking tent with vestibule, footprint and repair kit",
        )
    FulfilmentFactory(order=order)
    FulfilmentFactory(order=order, status="ASSIGNED", escalation_reason="")
    ReturnFactory(retailer=retailer, order=order)
    for _ in range(3):
        OrderFactory(retailer=retailer, lines=2)

    urls = []
    for route in PAGE_ROUTES:
        kwargs = OBJECT_URLS[route.name](retailer) if route.kwarg_names else {}
        urls.append(reverse(route.name, kwargs=kwargs))
    urls.append(order.get_absolute_url())
    return urls


def _full_pages(page: Page, base: str, urls: list[str]) -> list[str]:
    """The URLs that answer with a whole HTML page (not a download or an htmx fragment)."""
    pages = []
    for url in urls:
        response = page.request.get(base + url)
        assert response.ok, f"{url} answered {response.status}"
        if "text/html" in response.headers.get("content-type", "") and "<html" in response.text():
            pages.append(url)
    return pages


def test_no_page_is_wider_than_the_screen_and_no_table_is_cut_off(
    page: Page, live_server, admin_user, retailer
):
    # given an admin and records behind every page
    urls = _demo_data(retailer)
    _login(page, live_server, "admin")
    pages = _full_pages(page, live_server.url, urls)
    assert len(pages) >= 25, pages
    SCREENSHOTS.mkdir(exist_ok=True)
    order_url = urls[-1]
    failures = []

    # when they open every page on a phone, 420 px wide
    page.set_viewport_size(PHONE)
    for url in pages:
        page.goto(live_server.url + url)
        # then no page is wider than the screen
        if (extra := page.evaluate(WIDER_THAN_SCREEN)) > 0:
            failures.append(
                f"420px {url}: {extra}px wider than the screen ({page.evaluate(STICKING_OUT)})"
            )
        if url == order_url:
            page.screenshot(path=SCREENSHOTS / "order-420.png", full_page=True)
        if url == reverse("intake:desk"):
            page.screenshot(path=SCREENSHOTS / "intake-420.png", full_page=True)

    # when they open every page on a desktop, 1400 px wide
    page.set_viewport_size(DESKTOP)
    for url in pages:
        page.goto(live_server.url + url)
        # then no table is cut off: it fits, or scrolls inside its card; the page does not scroll
        if (extra := page.evaluate(WIDER_THAN_SCREEN)) > 0:
            failures.append(f"1400px {url}: {extra}px wider than the screen")
        for table in page.evaluate(CUT_OFF_TABLES):
            failures.append(f"1400px {url}: table cut off ({table})")
        if url == reverse("orders:order_list"):
            page.screenshot(path=SCREENSHOTS / "orders-1400.png", full_page=True)

    print(f"checked {len(pages)} pages at 420 px and at 1400 px")
    assert not failures, "\n".join(failures)
