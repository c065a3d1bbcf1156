"""The order state machine, holds, suspend/resume, copy and manual payment marks."""

import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from oms.models import Activity
from oms.state import InvalidTransition
from orders import services
from orders.models import TRANSITIONS, Order, PaymentStatus, SystemState
from orders.selectors import status_choices
from tests.factories import OrderFactory, PaymentFactory, StatusFactory, ship, status_for

pytestmark = pytest.mark.django_db

ALL_MOVES = list(itertools.permutations(SystemState.values, 2))


def _to(order, state, by):
    if state == SystemState.SUSPENDED:
        return services.order_suspend(order=order, by=by, reason="Checking stock")
    return services.order_set_status(order=order, status=status_for(order.retailer, state), by=by)


@pytest.mark.parametrize("source,target", ALL_MOVES, ids=lambda s: s)
def test_every_move_of_the_state_machine(manager, retailer, source, target):
    # given an order in the source state (a suspended one came from NEW)
    order = OrderFactory(retailer=retailer, lines=1)
    if source == SystemState.SUSPENDED:
        order = _to(order, SystemState.SUSPENDED, manager)
    else:
        Order.objects.filter(pk=order.pk).update(status=status_for(retailer, source))
    order.refresh_from_db()
    if target == SystemState.COMPLETED:  # a completed order shipped everything
        ship(order)
    allowed = target in TRANSITIONS[source] or (
        source == SystemState.SUSPENDED and target == SystemState.NEW
    )

    # when a manager moves it
    if allowed:
        moved = _to(order, target, manager)
        # then it is there, and Activity says so
        assert Order.objects.get(pk=order.pk).status.system_state == target
        assert moved.pk == order.pk
        assert Activity.objects.filter(
            action="orders.order.status_changed", target_id=str(order.pk)
        ).exists()
    else:
        # then a refused move says why and changes nothing
        before = Activity.objects.count()
        with pytest.raises(InvalidTransition) as refused:
            _to(order, target, manager)
        assert order.ref in str(refused.value)
        assert Order.objects.get(pk=order.pk).status.system_state == source
        assert Activity.objects.count() == before


def test_a_suspended_order_resumes_to_where_it_was_and_only_there(manager, retailer):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    order = services.order_suspend(order=order, by=manager, reason="Customer asked to wait")
    assert order.suspended_from.system_state == SystemState.PROCESSING

    with pytest.raises(InvalidTransition, match="cannot go from Suspended to New"):
        _to(order, SystemState.NEW, manager)
    order = services.order_resume(order=order, by=manager)
    assert order.status.system_state == SystemState.PROCESSING
    assert order.suspended_from is None


def test_suspending_needs_a_reason(manager, retailer):
    order = OrderFactory(retailer=retailer)
    with pytest.raises(ValidationError, match="Say why"):
        services.order_suspend(order=order, by=manager, reason=" ")


def test_another_status_of_the_same_state_is_a_legal_move(manager, retailer):
    packing = StatusFactory(retailer=retailer, label="Packing", system_state=SystemState.PROCESSING)
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    services.order_set_status(order=order, status=packing, by=manager)
    assert Order.objects.get(pk=order.pk).status == packing


def test_a_status_of_another_retailer_is_refused(manager, retailer, other_retailer):
    order = OrderFactory(retailer=retailer)
    with pytest.raises(ValidationError, match="another retailer"):
        services.order_set_status(
            order=order, status=status_for(other_retailer, SystemState.PROCESSING), by=manager
        )


def test_a_held_order_cannot_be_processed_until_a_manager_clears_the_hold(manager, retailer):
    order = OrderFactory(retailer=retailer, hold_documentation=True)
    with pytest.raises(InvalidTransition, match="on hold \\(missing documentation\\)"):
        _to(order, SystemState.PROCESSING, manager)

    with pytest.raises(ValidationError, match="Say why"):
        services.order_hold_clear(order=order, flag="documentation", by=manager, reason="")
    services.order_hold_clear(
        order=order, flag="documentation", by=manager, reason="ID checked by phone"
    )
    entry = Activity.objects.get(action="orders.order.hold_cleared")
    assert entry.data["reason"] == "ID checked by phone" and entry.actor == manager

    _to(Order.objects.get(pk=order.pk), SystemState.PROCESSING, manager)
    assert Order.objects.get(pk=order.pk).status.system_state == SystemState.PROCESSING


def test_the_status_dropdown_offers_only_allowed_moves(retailer):
    StatusFactory(retailer=retailer, label="Packing", system_state=SystemState.PROCESSING)
    new = OrderFactory(retailer=retailer)
    assert {s.system_state for s in status_choices(new)} == {
        SystemState.PROCESSING,
        SystemState.FRAUD,
    }  # cancel and suspend have their own buttons
    processing = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    assert {s.label for s in status_choices(processing)} == {"Completed", "Packing"}
    done = OrderFactory(retailer=retailer, state=SystemState.COMPLETED)
    assert list(status_choices(done)) == []


def test_copy_makes_a_new_order_in_new_with_the_same_customer_and_lines(manager, retailer):
    order = OrderFactory(retailer=retailer, ref="A-1", state=SystemState.COMPLETED, lines=2)
    PaymentFactory(order=order, captured=order.total)

    copy = services.order_copy(order=order, by=manager)
    second = services.order_copy(order=order, by=manager)

    assert (copy.ref, second.ref) == ("A-1-C1", "A-1-C2")
    assert copy.status.system_state == SystemState.NEW
    assert copy.customer == order.customer and copy.total == order.total
    assert [line.sku for line in copy.lines.all()] == [line.sku for line in order.lines.all()]
    assert not copy.payments.exists() and copy.payment_status == PaymentStatus.NOT_PAID
    assert copy.billing_address.line1 == order.billing_address.line1
    assert copy.billing_address.pk != order.billing_address.pk
    assert Activity.objects.filter(action="orders.order.copied", target_id=str(order.pk)).exists()


def test_mark_paid_and_not_paid(manager, retailer):
    order = OrderFactory(retailer=retailer, lines=1)
    services.order_mark_paid(order=order, by=manager)
    assert Order.objects.get(pk=order.pk).payment_status == PaymentStatus.PAID
    services.order_mark_not_paid(order=order, by=manager)
    assert Order.objects.get(pk=order.pk).payment_status == PaymentStatus.NOT_PAID


def test_money_captured_online_cannot_be_marked_not_paid(manager, retailer):
    order = OrderFactory(retailer=retailer, lines=1, payment_status=PaymentStatus.PAID)
    PaymentFactory(order=order, captured=order.total)
    with pytest.raises(InvalidTransition, match="refund it instead"):
        services.order_mark_not_paid(order=order, by=manager)


def test_invoice_number_is_saved_and_recorded(manager, retailer):
    order = OrderFactory(retailer=retailer)
    services.order_invoice_number_set(order=order, by=manager, invoice_number=" F-2026-7 ")
    assert Order.objects.get(pk=order.pk).invoice_number == "F-2026-7"
    assert (
        Activity.objects.get(action="orders.order.invoice_number_set").data["after"] == "F-2026-7"
    )


def test_cancelling_a_paid_order_refunds_the_capture_and_releases_the_rest(
    manager, retailer, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)
    card = PaymentFactory(order=order, authorised=order.total, captured=Decimal("60.00"))

    with django_capture_on_commit_callbacks(execute=True):
        result = services.order_cancel(order=order, by=manager, notify=False, reason="Out of stock")

    card.refresh_from_db()
    assert (result.refund, result.release) == (Decimal("60.00"), order.total - Decimal("60.00"))
    assert card.refunded == Decimal("60.00")
    assert card.voided == order.total - Decimal("60.00")
    order.refresh_from_db()
    assert order.status.system_state == SystemState.CANCELLED
    assert order.payment_status == PaymentStatus.REFUNDED
    assert set(order.lines.values_list("shipment_status", flat=True)) == {"cancelled"}


def test_suspending_a_suspended_order_is_refused_and_it_still_resumes_where_it_was(
    manager, retailer
):
    # found by the bulk suspend: a second suspension overwrote the status to resume to
    from oms.state import InvalidTransition
    from orders.services import order_resume, order_suspend

    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    order_suspend(order=order, by=manager, reason="Fraud check")
    with pytest.raises(InvalidTransition, match="already suspended"):
        order_suspend(order=order, by=manager, reason="Again")
    order = order_resume(order=order, by=manager)
    assert order.status.system_state == SystemState.PROCESSING


def test_a_suspended_order_moved_to_another_suspended_status_resumes_where_it_was(
    manager, retailer
):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    services.order_suspend(order=order, by=manager, reason="Fraud check")
    waiting = StatusFactory(
        retailer=retailer, label="Waiting for the customer", system_state=SystemState.SUSPENDED
    )
    services.order_set_status(order=order, status=waiting, by=manager)
    order = services.order_resume(order=order, by=manager)
    assert order.status.system_state == SystemState.PROCESSING
