import csv
import io
import re

import pytest
from django.urls import reverse
from pypdf import PdfReader

from orders.models import SystemState
from orders.views import browse as views
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def list_refs(client, params):
    html = client.get(reverse("orders:order_list"), params).content.decode()
    return re.findall(r'<a hx-boost="false" href="/orders/\d+/">([^<]+)</a>', html)


def csv_rows(client, params):
    response = client.get(reverse("orders:order_export_csv"), params)
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def orders(retailer, other_retailer):
    for n in range(6):
        OrderFactory(
            retailer=retailer,
            ref=f"A-{n}",
            state=SystemState.NEW if n % 2 else SystemState.COMPLETED,
            lines=n + 1,
        )
    OrderFactory(retailer=other_retailer, ref="G-1")


@pytest.mark.parametrize(
    "params",
    [{}, {"state": "NEW"}, {"q": "A-3"}, {"sort": "total"}, {"view": "open", "sort": "-ref"}],
)
def test_the_csv_holds_exactly_the_filtered_list_in_its_order(client_for, agent, orders, params):
    client = client_for(agent)
    rows = csv_rows(client, params)
    assert [row["Order ref"] for row in rows] == list_refs(client, params)


def test_the_csv_is_every_match_not_just_the_page(
    client_for, agent, retailer, settings, monkeypatch
):
    monkeypatch.setattr(views.OrderListView, "paginate_by", 2)
    for n in range(5):
        OrderFactory(retailer=retailer, ref=f"P-{n}")
    client = client_for(agent)
    assert len(list_refs(client, {})) == 2
    assert len(csv_rows(client, {})) == 5


def test_the_csv_columns(client_for, agent, retailer):
    order = OrderFactory(retailer=retailer, ref="A-9", lines=2)
    (row,) = csv_rows(client_for(agent), {})
    assert row["Customer"] == order.customer.full_name
    assert row["Email"] == order.customer.email
    assert row["Total"] == "99.90" and row["Currency"] == "EUR"
    assert row["Status"] == "New" and row["Items"] == "2"


def test_the_pdf_lists_the_filtered_orders_and_the_filters(client_for, agent, orders):
    response = client_for(agent).get(reverse("orders:order_export_pdf"), {"state": "NEW"})
    assert response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "3 orders" in text
    assert "System state: New" in text
    for ref in ("A-1", "A-3", "A-5"):
        assert ref in text
    for ref in ("A-0", "A-2", "G-1"):
        assert ref not in text


def test_a_pdf_of_more_orders_than_the_cap_is_refused_with_a_message(
    client_for, agent, retailer, monkeypatch
):
    monkeypatch.setattr(views, "PDF_EXPORT_LIMIT", 3)
    for n in range(4):
        OrderFactory(retailer=retailer, ref=f"X-{n}")
    client = client_for(agent)
    response = client.get(reverse("orders:order_export_pdf"), {"q": "X-"})
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:order_list") + "?q=X-"
    page = client.get(response["Location"]).content.decode()
    assert "The filter matches 4 orders; a PDF holds at most 3" in page
