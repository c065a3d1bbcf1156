"""The orders list stays correct where it cuts corners for speed: estimated counts, pages fetched
by id, and searches resolved one index at a time."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from oms import pagination
from orders import filters
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

LIST = reverse("orders:order_list")


def refs(response) -> list[str]:
    return re.findall(
        r'<a hx-boost="false" href="/orders/\d+/">([^<]+)</a>', response.content.decode()
    )


def count_text(response) -> str:
    found = re.search(r'data-testid="result-count">(.*?)</span>', response.content.decode())
    return re.sub(r"<[^>]+>", "", found.group(1))


@pytest.fixture
def client(client_for, agent):
    return client_for(agent)


@pytest.fixture
def orders(retailer):
    """55 orders, a minute apart: ORD-54 is the newest."""
    now = timezone.now()
    return [
        OrderFactory(retailer=retailer, ref=f"ORD-{n:02d}", placed_at=now - timedelta(minutes=n))
        for n in range(54, -1, -1)
    ]


def test_counts_are_exact_up_to_the_limit(client, orders):
    assert count_text(client.get(LIST)) == "55 orders"


def test_beyond_the_limit_the_count_is_an_estimate_said_as_such(client, orders, monkeypatch):
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 10)

    text = count_text(client.get(LIST))

    number = int(re.fullmatch(r"about ([\d,]+) orders", text).group(1).replace(",", ""))
    assert number >= 11  # never fewer than the rows it counted


def test_a_page_shows_the_right_rows_in_order(client, orders):
    first = refs(client.get(LIST))
    second = refs(client.get(LIST, {"page": 2}))

    assert first == [f"ORD-{n:02d}" for n in range(55)][:50]
    assert second == ["ORD-50", "ORD-51", "ORD-52", "ORD-53", "ORD-54"]
    assert refs(client.get(LIST, {"page": 2, "sort": "placed_at"})) == [
        f"ORD-{n:02d}" for n in range(4, -1, -1)
    ]


def test_a_page_past_an_estimated_end_shows_the_last_page(client, orders, monkeypatch):
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 10)

    response = client.get(LIST, {"page": "9" * 40})

    assert response.status_code == 200
    assert set(refs(response)) <= {o.ref for o in orders}


def test_a_page_size_is_held_within_bounds(client, orders):
    assert len(refs(client.get(LIST, {"per_page": "-1"}))) == 1
    assert len(refs(client.get(LIST, {"per_page": "9" * 40}))) == 55


def test_a_name_matching_too_many_customers_says_so(client, retailer, monkeypatch):
    monkeypatch.setattr(filters, "SEARCH_LIMIT", 2)
    for n, surname in enumerate(["Smit", "Bos", "Vos"]):
        customer = CustomerFactory(retailer=retailer, first_name="Anna", last_name=surname)
        OrderFactory(retailer=retailer, ref=f"A-{n}", customer=customer)
    # a name with no "anna" in it (a random one may be Hannah or Johanna)
    other = CustomerFactory(retailer=retailer, first_name="Piet", last_name="Jansen")
    OrderFactory(retailer=retailer, ref="OTHER", customer=other)

    response = client.get(LIST, {"q": "anna"})

    assert len(refs(response)) == 2 and "OTHER" not in refs(response)
    assert "More than 2 customers match “anna”" in response.content.decode()
    narrowed = client.get(LIST, {"q": "anna vos"})
    assert refs(narrowed) == ["A-2"]
    assert 'data-testid="search-note"' not in narrowed.content.decode()


def test_a_value_with_digits_is_not_looked_up_as_a_name(client, retailer):
    OrderFactory(
        retailer=retailer,
        ref="X-1",
        customer=CustomerFactory(retailer=retailer, first_name="Jan", last_name="Smit"),
    )

    assert refs(client.get(LIST, {"q": "jan 3"})) == []
    assert refs(client.get(LIST, {"q": "jan"})) == ["X-1"]


def test_a_ref_prefix_and_a_customer_name_both_match(client, retailer):
    OrderFactory(retailer=retailer, ref="KOOL-1")
    OrderFactory(
        retailer=retailer,
        ref="X-2",
        customer=CustomerFactory(retailer=retailer, first_name="Kooltje", last_name="Bos"),
    )
    OrderFactory(retailer=retailer, ref="X-3")

    assert set(refs(client.get(LIST, {"q": "kool"}))) == {"KOOL-1", "X-2"}
