"""The top bar's search: every kind of record in one go, grouped, exact matches first, the one
exact match opened directly, and nothing of another retailer."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    CustomerFactory,
    FulfilmentFactory,
    OrderFactory,
    OrderLineFactory,
    ReturnFactory,
    ShipmentFactory,
)

pytestmark = pytest.mark.django_db

SEARCH = reverse("search")


@pytest.fixture
def client(client_for, agent):
    return client_for(agent)


def groups(response) -> dict[str, list[str]]:
    """{group label: [hit titles]} of a results page or suggestion list."""
    return {g.label: [h.title for h in g.hits] for g in response.context["results"].groups}


@pytest.fixture
def world(retailer, other_retailer):
    now = timezone.now()
    customer = CustomerFactory(
        retailer=retailer, first_name="Zoë", last_name="Zxander", email="zoe@zx.example"
    )
    order = OrderFactory(retailer=retailer, ref="ZX-100", customer=customer, placed_at=now)
    OrderLineFactory(order=order, tracking_number="3SZX0001")
    ShipmentFactory(order=order, tracking_number="JVZX0002")
    ReturnFactory(retailer=retailer, order=order, return_ref="ZX-7001")
    FulfilmentFactory(order=order, ref="ZX-100-F1")
    # the same names and refs in another retailer
    theirs = CustomerFactory(retailer=other_retailer, last_name="Zxander", email="zoe@zx.example")
    OrderFactory(retailer=other_retailer, ref="ZX-100", customer=theirs)
    OrderFactory(retailer=other_retailer, ref="ZX-999", customer=theirs)
    return order


def test_one_box_finds_every_kind_grouped(client, world):
    response = client.get(SEARCH, {"q": "zx", "list": "1"})
    assert groups(response) == {
        "Orders": ["ZX-100"],
        "Returns": ["ZX-7001"],
        "Customers": ["Zoë Zxander"],
        "Fulfilments": ["ZX-100-F1"],
    }


def test_nothing_of_another_retailer_is_found(client, world, other_retailer):
    html = client.get(SEARCH, {"q": "ZX-9", "list": "1"}).content.decode()
    assert "ZX-999" not in html
    assert "Nothing matches" in html


def test_the_exact_match_comes_first_however_old(client, retailer):
    # given the exact ref among many newer orders starting with it
    now = timezone.now()
    OrderFactory(retailer=retailer, ref="B7-1", placed_at=now - timedelta(days=400))
    for n in range(8):
        OrderFactory(retailer=retailer, ref=f"B7-1{n}", placed_at=now - timedelta(hours=n))

    # when an agent searches the ref but asks for the list
    found = client.get(SEARCH, {"q": "b7-1", "list": "1"}).context["results"].groups[0]

    # then it leads the orders, then the newest, five shown and more in the list
    assert [h.title for h in found.hits] == ["B7-1", "B7-10", "B7-11", "B7-12", "B7-13"]
    assert [h.exact for h in found.hits] == [True, False, False, False, False]
    assert found.more and found.list_url == "/orders/?q=b7-1"


def test_a_group_holding_an_exact_match_comes_first(client, retailer):
    OrderFactory(retailer=retailer, ref="Q55-1")
    ReturnFactory(
        retailer=retailer, order=None, customer=CustomerFactory(retailer=retailer), return_ref="Q55"
    )
    response = client.get(SEARCH, {"q": "Q55", "list": "1"})
    assert list(groups(response)) == ["Returns", "Orders"]


@pytest.mark.parametrize(
    "typed,lands_on",
    [
        ("zx-100", "order"),
        ("3szx0001", "order"),  # a line's tracking number
        ("JVZX0002", "order"),  # a shipment's tracking number
        ("ZX-7001", "return"),
        ("ZX-100-F1", "fulfilment"),
    ],
)
def test_a_single_exact_match_opens_its_page(client, world, typed, lands_on):
    response = client.get(SEARCH, {"q": typed})
    record = {
        "order": world,
        "return": world.returns.first(),
        "fulfilment": world.fulfilments.first(),
    }[lands_on]
    assert response.status_code == 302
    assert response["Location"] == record.get_absolute_url()


def test_a_return_is_found_by_its_id(client, world):
    ret = world.returns.first()
    response = client.get(SEARCH, {"q": str(ret.pk)})
    assert response["Location"] == ret.get_absolute_url()


def test_an_email_lists_the_customer_and_their_orders(client, world):
    response = client.get(SEARCH, {"q": "ZOE@zx.example"})
    assert response.status_code == 200
    assert groups(response) == {"Orders": ["ZX-100"], "Customers": ["Zoë Zxander"]}


def test_typing_gets_suggestions_not_a_page(client, world):
    response = client.get(SEARCH, {"q": "zx-100"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'data-testid="search-hit"' in html and "ZX-100-F1" in html


@pytest.mark.parametrize("typed", ["", "   ", "a\x00b", "x" * 5000, "<script>", "%", "_"])
def test_odd_input_is_answered_calmly(client, world, typed):
    response = client.get(SEARCH, {"q": typed, "list": "1"})
    assert response.status_code == 200
    assert "<script>" not in response.content.decode().split("<main", 1)[1]


def test_the_search_costs_the_same_queries_for_one_match_or_many(client, retailer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    OrderFactory(retailer=retailer, ref="QC-0", lines=2)
    with CaptureQueriesContext(connection) as one:
        client.get(SEARCH, {"q": "qc", "list": "1"})
    for n in range(1, 12):
        OrderFactory(retailer=retailer, ref=f"QC-{n}", lines=2)
        FulfilmentFactory(order=OrderFactory(retailer=retailer), ref=f"QC-{n}-F")
    with CaptureQueriesContext(connection) as many:
        client.get(SEARCH, {"q": "qc", "list": "1"})
    assert len(many) == len(one) <= 20
