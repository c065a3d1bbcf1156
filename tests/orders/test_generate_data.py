"""`generate_data` fills Postgres with data shaped like a real back office's, consistent enough
for every page to show it."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max, Min, Q, Sum

from billing.models import Payment, PaymentTransaction
from customers.models import Customer
from fulfilments.models import Fulfilment, FulfilmentItem, StockPosition
from oms.models import Activity, Retailer, User
from orders import consistency
from orders.models import Order, OrderLine, Shipment, ShipmentEvent
from returns.models import Return, ReturnItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def generated():
    call_command("generate_data", orders=1500, retailers=6, verbosity=0)
    return Retailer.objects.filter(ref__startswith="bench-").order_by("ref")


def test_retailer_sizes_are_skewed_with_the_largest_holding_a_fifth(generated):
    counts = [Order.objects.filter(retailer=r).count() for r in generated]

    assert sum(counts) == 1500
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == 300


def test_orders_have_one_to_ten_lines_and_totals_that_add_up(generated):
    lines = Order.objects.annotate(n=Count("lines"), line_sum=Sum("lines__total"))
    bounds = lines.aggregate(least=Min("n"), most=Max("n"))

    assert bounds == {"least": 1, "most": 10}
    assert not lines.exclude(total=F("line_sum") + F("shipping")).exists()
    units = Order.objects.annotate(units=Sum("lines__quantity"))
    assert not units.exclude(item_count=F("units")).exists()


def test_every_child_row_carries_its_parents_retailer(generated):
    for model, parent in [
        (OrderLine, "order"),
        (Payment, "order"),
        (PaymentTransaction, "order"),
        (Shipment, "order"),
        (ShipmentEvent, "shipment"),
        (Fulfilment, "order"),
        (FulfilmentItem, "fulfilment"),
        (Return, "order"),
        (ReturnItem, "return_request"),
    ]:
        assert model.objects.exists(), model
        assert not model.objects.exclude(retailer=F(f"{parent}__retailer")).exists(), model


def test_money_and_history_are_consistent(generated):
    assert not Payment.objects.filter(
        Q(captured__gt=F("authorised") - F("voided")) | Q(refunded__gt=F("captured"))
    ).exists()
    assert Fulfilment.objects.filter(status="ESCALATED", location=None).exists()
    assert Return.objects.filter(status="COMPLETE").exists()
    assert Activity.objects.filter(action="orders.order.placed").count() == 1500
    busiest = Customer.objects.annotate(n=Count("orders")).aggregate(m=Max("n"))["m"]
    assert busiest >= 10  # customers with a long history


def test_its_orders_contradict_nothing(generated):
    """Written without the services, yet every life as the services would leave it: the
    consistency check finds nothing, in any retailer."""
    assert consistency.contradictions() == []
    assert Order.objects.filter(status__system_state="CANCELLED", lines__cancelled=0).count() == 0
    assert Return.objects.filter(status="COMPLETE", refunds__kind="refund").exists()
    assert StockPosition.objects.filter(reserved__gt=0).exists()


def test_the_bench_agent_sees_the_largest_retailer(generated, client):
    signed_in = client.post(
        "/accounts/login/", {"username": "bench.agent", "password": "bench-password"}
    )
    assert signed_in.status_code == 302
    order = Order.objects.filter(retailer=generated[0]).latest("placed_at")

    assert order.ref in client.get("/orders/").content.decode()
    assert client.get(f"/orders/{order.pk}/").status_code == 200
    assert User.objects.get(username="bench.multi").memberships.count() == 6


def test_it_refuses_to_generate_twice(generated):
    with pytest.raises(CommandError, match="exist already"):
        call_command("generate_data", orders=10, retailers=1, verbosity=0)
