import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from orders.models import Channel, OrderType, PaymentStatus, SystemState
from tests.factories import (
    CustomerFactory,
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
)
from tests.querycount import assert_constant_queries

pytestmark = pytest.mark.django_db

LIST = reverse("orders:order_list")


def refs(response) -> list[str]:
    """The order refs in the list, in the order shown."""
    return re.findall(
        r'<a hx-boost="false" href="/orders/\d+/">([^<]+)</a>', response.content.decode()
    )


@pytest.fixture
def client(client_for, agent):
    return client_for(agent)


def test_the_list_shows_the_users_orders_newest_first(client, retailer, other_retailer):
    now = timezone.now()
    OrderFactory(retailer=retailer, ref="A-OLD", placed_at=now - timedelta(days=2))
    OrderFactory(retailer=retailer, ref="A-NEW", placed_at=now)
    OrderFactory(retailer=other_retailer, ref="G-1")

    response = client.get(LIST)

    assert response.status_code == 200
    assert refs(response) == ["A-NEW", "A-OLD"]
    assert "2</strong> orders" in response.content.decode()


def test_a_row_shows_what_an_agent_needs(client, retailer):
    customer = CustomerFactory(retailer=retailer, first_name="Jane", last_name="Doe")
    order = OrderFactory(
        retailer=retailer, ref="A-1", customer=customer, channel=Channel.MARKETPLACE, lines=2
    )
    page = client.get(LIST).content.decode()
    assert "Jane Doe" in page
    assert customer.email in page
    assert 'status-badge status-blue">New' in page
    assert "Marketplace" in page
    assert order.total == Decimal("99.90")
    assert "€99.90" in page


def test_the_retailer_column_and_filter_appear_only_for_users_of_several_retailers(
    client_for, agent, retailer, other_retailer
):
    OrderFactory(retailer=retailer)
    single = client_for(agent).get(LIST).content.decode()
    assert "Retailer</a></th>" not in single and 'name="retailer"' not in single

    MembershipFactory(user=agent, retailer=other_retailer)
    OrderFactory(retailer=other_retailer, ref="G-1")
    several = client_for(agent).get(LIST)
    assert "Retailer</a>" in several.content.decode()
    assert 'name="retailer"' in several.content.decode()
    assert refs(client_for(agent).get(LIST, {"retailer": other_retailer.pk})) == ["G-1"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("ref", "ACME-777"),
        ("ref prefix", "ACME-7"),
        ("ref prefix, lower case", "acme-77"),
        ("name", "Wilhelmina"),
        ("full name", "wilhelmina  Zwart"),
        ("email", "w.zwart@example.org"),
        ("email, other case", "W.Zwart@Example.ORG"),
        ("line tracking", "3STRACK001"),
        ("line tracking, lower case", "3strack001"),
        ("shipment tracking", "JJD000111"),
        ("shipment tracking, lower case", " jjd000111 "),
    ],
)
def test_one_search_box_finds_an_order_by_each_field(client, retailer, field, value):
    # given the order to find among others
    customer = CustomerFactory(
        retailer=retailer, first_name="Wilhelmina", last_name="Zwart", email="w.zwart@example.org"
    )
    order = OrderFactory(retailer=retailer, ref="ACME-777", customer=customer)
    OrderLineFactory(order=order, tracking_number="3STRACK001")
    ShipmentFactory(order=order, tracking_number="JJD000111")
    OrderFactory.create_batch(3, retailer=retailer)

    # when the agent searches by one of its fields
    response = client.get(LIST, {"q": value})

    # then it is the one found
    assert refs(response) == ["ACME-777"], field


def test_search_does_not_reach_other_retailers(client, retailer, other_retailer):
    OrderFactory(retailer=other_retailer, ref="ACME-SECRET")
    assert refs(client.get(LIST, {"q": "ACME-SECRET"})) == []


def test_filter_by_status_and_system_state(client, retailer):
    OrderFactory(retailer=retailer, ref="N", state=SystemState.NEW)
    OrderFactory(retailer=retailer, ref="P", state=SystemState.PROCESSING)
    OrderFactory(retailer=retailer, ref="C", state=SystemState.COMPLETED)

    assert set(refs(client.get(LIST, {"status": ["new", "completed"]}))) == {"N", "C"}
    assert refs(client.get(LIST, {"state": "PROCESSING"})) == ["P"]


def test_filter_by_placed_date_range_in_the_retailers_time_zone(client, retailer):
    # Amsterdam is UTC+1 in November: 23:30 UTC on the 9th is the 10th there
    OrderFactory(retailer=retailer, ref="ON-10TH", placed_at=_utc(2026, 11, 9, 23, 30))
    OrderFactory(retailer=retailer, ref="ON-9TH", placed_at=_utc(2026, 11, 9, 12, 0))
    OrderFactory(retailer=retailer, ref="ON-12TH", placed_at=_utc(2026, 11, 12, 9, 0))

    response = client.get(LIST, {"placed_after": "2026-11-10", "placed_before": "2026-11-11"})
    assert refs(response) == ["ON-10TH"]
    assert set(refs(client.get(LIST, {"placed_after": "2026-11-10"}))) == {"ON-10TH", "ON-12TH"}


def test_filter_by_segment_channel_and_type(client, retailer):
    vip = CustomerFactory(retailer=retailer, segment=Customer.Segment.VIP)
    OrderFactory(retailer=retailer, ref="VIP", customer=vip, channel=Channel.STORE)
    OrderFactory(retailer=retailer, ref="CC", channel=Channel.APP, type=OrderType.CLICK_AND_COLLECT)

    assert refs(client.get(LIST, {"segment": "vip"})) == ["VIP"]
    assert refs(client.get(LIST, {"channel": "app"})) == ["CC"]
    assert refs(client.get(LIST, {"type": "CC"})) == ["CC"]


def test_filters_combine(client, retailer):
    vip = CustomerFactory(retailer=retailer, segment=Customer.Segment.VIP)
    OrderFactory(retailer=retailer, ref="VIP-NEW", customer=vip)
    OrderFactory(retailer=retailer, ref="VIP-DONE", customer=vip, state=SystemState.COMPLETED)
    OrderFactory(retailer=retailer, ref="OTHER-NEW")

    assert refs(client.get(LIST, {"segment": "vip", "state": "NEW"})) == ["VIP-NEW"]


def test_presets(client, retailer):
    now = timezone.now()
    OrderFactory(
        retailer=retailer,
        ref="OPEN-UNPAID",
        placed_at=now - timedelta(days=3),
        payment_status=PaymentStatus.AUTHORISED,
    )
    OrderFactory(
        retailer=retailer,
        ref="HELD",
        placed_at=now - timedelta(days=3),
        hold_compliance=True,
        payment_status=PaymentStatus.PAID,
    )
    OrderFactory(
        retailer=retailer,
        ref="SUSPENDED",
        state=SystemState.SUSPENDED,
        placed_at=now - timedelta(days=3),
        payment_status=PaymentStatus.PAID,
    )
    OrderFactory(
        retailer=retailer,
        ref="DONE",
        state=SystemState.COMPLETED,
        placed_at=now - timedelta(days=3),
        payment_status=PaymentStatus.PAID,
    )
    OrderFactory(
        retailer=retailer,
        ref="TODAY",
        state=SystemState.COMPLETED,
        placed_at=now,
        payment_status=PaymentStatus.NOT_PAID,
    )

    assert set(refs(client.get(LIST, {"view": "open"}))) == {"OPEN-UNPAID", "HELD", "SUSPENDED"}
    assert set(refs(client.get(LIST, {"view": "on_hold"}))) == {"HELD", "SUSPENDED"}
    assert refs(client.get(LIST, {"view": "awaiting_payment"})) == ["OPEN-UNPAID"]
    assert refs(client.get(LIST, {"view": "today"})) == ["TODAY"]


def test_a_bad_date_shows_an_error_and_lists_nothing(client, retailer):
    OrderFactory(retailer=retailer)
    response = client.get(LIST, {"placed_after": "not-a-date"})
    assert response.status_code == 200
    assert "Enter a valid date" in response.content.decode()
    assert refs(response) == []


def test_sorting_by_a_column(client, retailer):
    OrderFactory(retailer=retailer, ref="B", lines=2)
    OrderFactory(retailer=retailer, ref="A", lines=1)
    OrderFactory(retailer=retailer, ref="C", lines=3)
    assert refs(client.get(LIST, {"sort": "total"})) == ["A", "B", "C"]
    assert refs(client.get(LIST, {"sort": "-ref"})) == ["C", "B", "A"]


def test_an_htmx_request_gets_only_the_results(client, retailer):
    OrderFactory(retailer=retailer, ref="A-1")
    response = client.get(LIST, {"q": "A-1"}, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="results"')
    assert "A-1" in page
    assert "<html" not in page


def test_the_list_costs_the_same_queries_for_one_order_or_fifty(client, retailer):
    def add_orders(n):
        for _ in range(n):
            order = OrderFactory(retailer=retailer, lines=2)
            ShipmentFactory(order=order)

    assert_constant_queries(lambda: client.get(LIST), add_orders)


def _utc(*args):
    from datetime import UTC, datetime

    return datetime(*args, tzinfo=UTC)
