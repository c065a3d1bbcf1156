"""Sourcing on confirmation, its rules one by one, the escalation queue and its actions."""

import threading
from datetime import date

import pytest
from django.db import connection
from django.urls import reverse

from fulfilments import services
from fulfilments.models import Fulfilment, FulfilmentStatus, StockPosition
from oms.models import Activity
from oms.state import InvalidTransition
from orders import services as order_services
from orders.models import Order, SystemState
from returns.models import Return
from tests.factories import (
    CarrierFactory,
    FulfilmentFactory,
    LocationFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    StockFactory,
    status_for,
)
from tests.querycount import assert_constant_queries

pytestmark = pytest.mark.django_db

S = FulfilmentStatus


@pytest.fixture
def network(retailer):
    """Two warehouses shipping to NL, a carrier, and stock of two SKUs."""
    north = LocationFactory(retailer=retailer, ref="NORTH", name="North warehouse")
    south = LocationFactory(retailer=retailer, ref="SOUTH", name="South warehouse")
    CarrierFactory(retailer=retailer, name="PostNL", zones=["NL"])
    return north, south


def _order(retailer, *lines, **kwargs):
    order = OrderFactory(retailer=retailer, promised_date=date(2026, 12, 1), **kwargs)
    for sku, qty in lines:
        OrderLineFactory(order=order, sku=sku, quantity=qty)
    from tests.factories import recalculate_totals

    return recalculate_totals(order)


def _confirm(order, by):
    return order_services.order_set_status(
        order=order, status=status_for(order.retailer, SystemState.PROCESSING), by=by
    )


def _stock(location, sku):
    return StockPosition.objects.get(location=location, sku=sku)


def test_one_location_with_everything_ships_it_all_and_reserves_the_stock(
    manager, retailer, network
):
    north, south = network
    StockFactory(location=north, sku="A", on_hand=1)
    StockFactory(location=south, sku="A", on_hand=5)
    StockFactory(location=south, sku="B", on_hand=5)
    order = _order(retailer, ("A", 2), ("B", 1))

    _confirm(order, manager)

    (fulfilment,) = Fulfilment.objects.filter(order=order)
    assert (fulfilment.location, fulfilment.status) == (south, S.ASSIGNED)
    assert _stock(south, "A").reserved == 2 and _stock(south, "B").reserved == 1
    assert _stock(north, "A").reserved == 0
    assert Activity.objects.filter(action="fulfilments.fulfilment.assigned").exists()


def test_lines_are_split_across_locations_when_no_one_has_everything(manager, retailer, network):
    north, south = network
    StockFactory(location=north, sku="A", on_hand=2)
    StockFactory(location=south, sku="A", on_hand=1)
    order = _order(retailer, ("A", 3))

    _confirm(order, manager)

    fulfilments = Fulfilment.objects.filter(order=order, status=S.ASSIGNED)
    assert {(f.location.ref, f.items.get().requested) for f in fulfilments} == {
        ("NORTH", 2),
        ("SOUTH", 1),
    }


def test_the_safety_threshold_is_kept_back(manager, retailer, network):
    north, _ = network
    StockFactory(location=north, sku="A", on_hand=5, safety_threshold=4)
    StockFactory(location=north, sku="B", on_hand=5)
    order = _order(retailer, ("A", 2), ("B", 1))

    result = order_services.order_set_status(
        order=order, status=status_for(retailer, SystemState.PROCESSING), by=manager
    )

    escalated = Fulfilment.objects.get(order=order, status=S.ESCALATED)
    assert escalated.items.get().requested == 1  # one of A above the threshold, one short
    assert "A: 1 of 2 cannot be sourced" in escalated.escalation_reason
    assert "safety threshold" in escalated.escalation_reason
    assert result.status.system_state == SystemState.PROCESSING


def test_a_location_that_does_not_serve_the_zone_is_passed_over(manager, retailer, network):
    _north, south = network
    south.zones = ["DE"]
    south.save()
    StockFactory(location=south, sku="A", on_hand=5)
    order = _order(retailer, ("A", 1))
    with pytest.raises(InvalidTransition, match="South warehouse does not ship to NL"):
        _confirm(order, manager)
    assert Order.objects.get(pk=order.pk).status.system_state == SystemState.NEW
    assert not Fulfilment.objects.exists()


def test_no_available_carrier_refuses_confirmation_with_the_reason(manager, retailer, network):
    north, _ = network
    StockFactory(location=north, sku="A", on_hand=5)
    retailer_carrier = north.retailer.pk
    from fulfilments.models import Carrier

    Carrier.objects.filter(retailer_id=retailer_carrier).update(is_available=False)
    order = _order(retailer, ("A", 1))
    with pytest.raises(InvalidTransition, match=r"no carrier available to deliver to NL \(PostNL"):
        _confirm(order, manager)


def test_a_location_at_capacity_on_the_promised_date_is_passed_over(manager, retailer, network):
    north, south = network
    north.daily_capacity = 1
    north.save()
    StockFactory(location=north, sku="A", on_hand=10)
    StockFactory(location=south, sku="A", on_hand=10)
    _confirm(_order(retailer, ("A", 1)), manager)  # takes north's one slot (first by ref)
    second = _order(retailer, ("A", 1))
    _confirm(second, manager)
    assert Fulfilment.objects.get(order=second).location == south


def test_cancelling_the_order_releases_the_reservation(manager, retailer, network):
    north, _ = network
    StockFactory(location=north, sku="A", on_hand=5)
    order = _order(retailer, ("A", 2))
    _confirm(order, manager)
    assert _stock(north, "A").reserved == 2
    order_services.order_cancel(order=order, by=manager, notify=False)
    assert _stock(north, "A").reserved == 0
    assert Fulfilment.objects.get(order=order).status == S.CANCELLED


def test_picking_deducts_the_stock(manager, retailer, network):
    north, _ = network
    StockFactory(location=north, sku="A", on_hand=5)
    order = _order(retailer, ("A", 2))
    _confirm(order, manager)
    fulfilment = Fulfilment.objects.get(order=order)
    services.fulfilment_move(fulfilment=fulfilment, to=S.PICKED, by=manager)
    position = _stock(north, "A")
    assert (position.on_hand, position.reserved) == (3, 0)
    assert fulfilment.items.get().filled == 2
    with pytest.raises(InvalidTransition, match="cannot go from Picked to Delivered"):
        services.fulfilment_move(fulfilment=fulfilment, to=S.DELIVERED, by=manager)


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_racing_for_the_last_unit_one_wins_one_escalates(retailer, manager):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need Postgres")
    north = LocationFactory(retailer=retailer, ref="NORTH")
    CarrierFactory(retailer=retailer, zones=["NL"])
    StockFactory(location=north, sku="LAST", on_hand=1)
    orders = [_order(retailer, ("LAST", 1), ("OTHER", 1)) for _ in range(2)]
    StockFactory(location=north, sku="OTHER", on_hand=10)
    start = threading.Barrier(2)
    errors = []

    def confirm(order):
        try:
            start.wait()
            _confirm(order, manager)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert _stock(north, "LAST").reserved == 1
    escalated = Fulfilment.objects.filter(status=S.ESCALATED)
    assert escalated.count() == 1
    assert "LAST: 1 of 1 cannot be sourced" in escalated.get().escalation_reason


def test_a_manager_corrects_a_quantity_within_the_limits(client_for, manager, retailer, network):
    north, _ = network
    StockFactory(location=north, sku="A", on_hand=10)
    order = _order(retailer, ("A", 3))
    _confirm(order, manager)
    line = order.lines.get()
    client = client_for(manager)
    client.post(reverse("orders:line_quantity", args=[order.pk, line.pk]), {"quantity": "2"})
    line.refresh_from_db()
    assert line.quantity == 2
    assert _stock(north, "A").reserved == 2
    assert Order.objects.get(pk=order.pk).item_count == 2
    entry = Activity.objects.get(action="orders.orderline.quantity_corrected")
    assert (entry.data["before"], entry.data["after"]) == (3, 2)
    response = client.post(
        reverse("orders:line_quantity", args=[order.pk, line.pk]), {"quantity": "5"}
    )
    assert "at most 2 were ordered" in client.get(response["Location"]).content.decode()


def test_the_escalation_queue_shows_waiting_fulfilments_with_their_reason(
    client_for, agent, retailer, other_retailer
):
    mine = FulfilmentFactory(
        order=OrderFactory(retailer=retailer, ref="ACME-1", lines=1),
        escalation_reason="A: 1 of 1 cannot be sourced",
    )
    FulfilmentFactory(order=OrderFactory(retailer=other_retailer, lines=1))
    FulfilmentFactory(order=OrderFactory(retailer=retailer, lines=1), status="ASSIGNED")
    html = client_for(agent).get(reverse("fulfilments:escalated_list")).content.decode()
    assert mine.ref in html and "ACME-1" in html and "cannot be sourced" in html
    assert html.count('hx-boost="false" href="/fulfilments/') == 1
    assert "esc-age-1" in html  # escalated just now: the first step of the age colours


def test_escalation_actions_are_for_managers(client_for, agent, retailer):
    fulfilment = FulfilmentFactory(order=OrderFactory(retailer=retailer, lines=1))
    for name in ("retry", "assign", "cancel_lines"):
        assert (
            client_for(agent).post(reverse(f"fulfilments:{name}", args=[fulfilment.pk])).status_code
            == 403
        )


def test_retry_sources_an_escalation_once_stock_arrives(manager, retailer, network):
    north, _ = network
    order = _order(retailer, ("A", 1), ("B", 1))
    StockFactory(location=north, sku="B", on_hand=5)
    _confirm(order, manager)
    escalated = Fulfilment.objects.get(order=order, status=S.ESCALATED)

    # the periodic task finds nothing new
    assert services.retry_all_escalated() == 0
    StockFactory(location=north, sku="A", on_hand=3)
    assert services.retry_all_escalated() == 1

    escalated.refresh_from_db()
    assert escalated.status == S.CANCELLED
    assert _stock(north, "A").reserved == 1


def test_assigning_another_location_checks_it_and_reserves(client_for, manager, retailer, network):
    north, south = network
    order = _order(retailer, ("A", 2))
    StockFactory(location=north, sku="A", on_hand=1)
    _confirm(order, manager)  # one from north, one escalated
    escalated = Fulfilment.objects.get(order=order, status=S.ESCALATED)
    client = client_for(manager)

    response = client.post(
        reverse("fulfilments:assign", args=[escalated.pk]), {"location": south.pk}
    )
    assert "South warehouse cannot take it" in client.get(response["Location"]).content.decode()

    StockFactory(location=south, sku="A", on_hand=4)
    client.post(reverse("fulfilments:assign", args=[escalated.pk]), {"location": south.pk})
    escalated.refresh_from_db()
    assert (escalated.status, escalated.location) == (S.ASSIGNED, south)
    assert _stock(south, "A").reserved == 1


def test_cancelling_escalated_lines_refunds_them(
    client_for, manager, retailer, network, django_capture_on_commit_callbacks
):
    north, _ = network
    order = _order(retailer, ("A", 1), ("B", 1))
    StockFactory(location=north, sku="B", on_hand=5)
    PaymentFactory(order=order, authorised=order.total, captured=order.total)
    order.refresh_from_db()
    _confirm(order, manager)
    escalated = Fulfilment.objects.get(order=order, status=S.ESCALATED)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(manager).post(reverse("fulfilments:cancel_lines", args=[escalated.pk]))
    ret = Return.objects.get(order=order)
    assert ret.type == "CANNOT_FULFIL"
    assert order.lines.get(sku="A").shipment_status == "cancelled"


def test_stock_csv_upload(client_for, manager, retailer, network):
    from django.core.files.uploadedfile import SimpleUploadedFile

    north, _ = network
    StockFactory(location=north, sku="A", on_hand=1)
    csv = b"location_ref,sku,on_hand,safety_threshold\nNORTH,A,12,2\nSOUTH,Z,4,\n"
    client = client_for(manager)
    client.post(
        reverse("fulfilments:stock"),
        {"retailer": retailer.pk, "file": SimpleUploadedFile("s.csv", csv)},
    )
    assert (_stock(north, "A").on_hand, _stock(north, "A").safety_threshold) == (12, 2)
    assert StockPosition.objects.get(sku="Z").on_hand == 4
    bad = b"location_ref,sku,on_hand\nNOWHERE,A,1\n"
    response = client.post(
        reverse("fulfilments:stock"),
        {"retailer": retailer.pk, "file": SimpleUploadedFile("b.csv", bad)},
    )
    assert "Row 2: no location" in client.get(response["Location"]).content.decode()


def test_the_order_page_shows_the_reservation_and_refreshes_it(
    client_for, manager, retailer, network
):
    north, _ = network
    StockFactory(location=north, sku="A", on_hand=5)
    order = _order(retailer, ("A", 2))
    _confirm(order, manager)
    client = client_for(manager)
    html = client.get(order.get_absolute_url()).content.decode()
    assert 'hx-trigger="every 20s"' in html and "North warehouse" in html and "reserved" in html
    live = client.get(reverse("orders:live", args=[order.pk])).content.decode()
    assert live.lstrip().startswith('<section id="order-live"')


def test_the_live_section_costs_the_same_queries_for_one_fulfilment_or_fifty(
    client_for, manager, retailer
):
    order = OrderFactory(retailer=retailer, lines=1)
    client = client_for(manager)

    def add(n):
        for _ in range(n):
            FulfilmentFactory(order=order)

    assert_constant_queries(lambda: client.get(reverse("orders:live", args=[order.pk])), add)


def test_the_fulfilment_page_shows_its_lifecycle(client_for, manager, retailer, network):
    north, _ = network
    StockFactory(location=north, sku="A", on_hand=5)
    order = _order(retailer, ("A", 1))
    _confirm(order, manager)
    fulfilment = Fulfilment.objects.get(order=order)
    client = client_for(manager)
    client.post(reverse("fulfilments:move", args=[fulfilment.pk]), {"status": "PICKED"})
    html = client.get(fulfilment.get_absolute_url()).content.decode()
    assert "Assigned" in html and "Picked" in html and 'value="PACKED"' in html
    assert "Mark packed" in html


def test_cancelling_an_order_after_picking_puts_the_units_back(manager, retailer, network):
    north, _ = network
    StockFactory(location=north, sku="A", on_hand=5)
    order = _order(retailer, ("A", 2))
    _confirm(order, manager)
    services.fulfilment_move(
        fulfilment=Fulfilment.objects.get(order=order), to=S.PICKED, by=manager
    )
    assert _stock(north, "A").on_hand == 3
    order_services.order_cancel(order=order, by=manager, notify=False)
    position = _stock(north, "A")
    assert (position.on_hand, position.reserved) == (5, 0)


def test_an_order_whose_parcel_left_cannot_be_cancelled(manager, retailer, network):
    north, _ = network
    StockFactory(location=north, sku="A", on_hand=5)
    order = _order(retailer, ("A", 1))
    _confirm(order, manager)
    fulfilment = Fulfilment.objects.get(order=order)
    for step in (S.PICKED, S.PACKED, S.SHIPPED):
        services.fulfilment_move(fulfilment=fulfilment, to=step, by=manager)
    with pytest.raises(InvalidTransition, match="left the warehouse"):
        order_services.order_cancel(order=order, by=manager, notify=False)
    assert Order.objects.get(pk=order.pk).status.system_state == SystemState.PROCESSING
