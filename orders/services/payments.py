"""An order's money, as the order sees it: which of its payments' operations its state allows,
its payment status, and what follows when money has moved (registered with billing).

How much can move is billing's question (`billing.ledger`); whether this order may move it now
is asked here.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing import ledger
from billing import services as billing
from billing.models import Payment, PaymentStatus, PaymentTransaction
from oms import locking, state
from oms.roles import Role, require_role
from oms.templatetags.money import format_money
from orders.models import ORDER_CHECKS, Order, SystemState
from returns import services as returns

logger = logging.getLogger(__name__)
Kind = PaymentTransaction.Kind
Status = PaymentTransaction.Status


def _lock(order: Order) -> Order:
    return locking.lock(order, related=ORDER_CHECKS)


def _refuse_capture(order: Order) -> None:
    if order.status.system_state in (SystemState.CANCELLED, SystemState.FRAUD):
        raise state.InvalidTransition(
            f"Order {order.ref} is {order.status.get_system_state_display().lower()}: "
            "its payment cannot be captured."
        )


@transaction.atomic
def order_payment_capture(*, payment: Payment, amount, by) -> PaymentTransaction:
    """Capture all or part of what is authorised, unless the order is cancelled or fraud."""
    require_role(by, payment.retailer_id, Role.MANAGER)
    order = _lock(payment.order)
    _refuse_capture(order)
    _refuse_charging_cancelled_items(order, payment, billing.amount_of(amount))
    return billing.payment_capture(payment=payment, amount=amount, by=by)


def _refuse_charging_cancelled_items(order: Order, payment: Payment, amount) -> None:
    """Cancelled items are not charged: captures (with those on their way) stop at what the
    order is worth without them, less what was given back of it. (More than the payment can
    capture at all is billing's to refuse.)"""
    if amount > ledger.capturable(payment):
        return
    # kept of what was captured, and captures on their way
    taken = sum(
        (each.refundable + each.capturing for each in ledger.balances(order.payments.all())),
        ledger.ZERO,
    )
    room = max(ledger.ZERO, ledger.worth_kept(order) - taken)
    if amount > room:
        raise ValidationError(
            {
                "amount": f"At most {format_money(room, order.currency)} can be captured: "
                "cancelled items are not charged."
            }
        )


@transaction.atomic
def order_payment_refund(*, payment: Payment, amount, by) -> PaymentTransaction:
    """Refund all or part of what was captured and not given back yet."""
    require_role(by, payment.retailer_id, Role.MANAGER)
    _lock(payment.order)
    return billing.payment_refund(payment=payment, amount=amount, by=by)


@transaction.atomic
def order_payment_release(*, payment: Payment, by) -> PaymentTransaction:
    """Release what is authorised and not captured."""
    require_role(by, payment.retailer_id, Role.MANAGER)
    _lock(payment.order)
    return billing.payment_release(payment=payment, by=by)


@transaction.atomic
def order_payment_retry(*, operation: PaymentTransaction, by) -> PaymentTransaction:
    """Retry a failed operation. A timed-out one is asked about again with its own key, in any
    state of the order: that only finds out what happened. A declined capture is a new capture,
    which a cancelled or fraud order refuses; a declined refund of a return never pays the
    return more than it still gives back."""
    require_role(by, operation.retailer_id, Role.MANAGER)
    order = _lock(operation.order)
    if not operation.timed_out and operation.kind == Kind.CAPTURE:
        _refuse_capture(order)
    limit = None
    if not operation.timed_out and operation.return_request_id is not None:
        limit = returns.return_refund_retry_limit(operation=operation)
    return billing.payment_operation_retry(operation=operation, by=by, limit=limit)


def order_payments_sync(*, order: Order, by) -> list[Payment]:
    """Settle the operations of the order that timed out (asking the gateway again with their
    keys), then re-read every payment's amounts from its gateway."""
    require_role(by, order.retailer_id, Role.MANAGER)
    payments = list(order.payments.order_by("pk"))
    billing.payments_resolve_timed_out(payments=payments, by=by)
    with transaction.atomic():
        order = _lock(order)
        changed = billing.payments_sync(order=order, payments=payments, by=by)
        if changed:
            order_payment_status_refresh(order)
    return changed


def order_payment_status_refresh(order: Order) -> None:
    """Set the order's payment status from its payments (`ledger.payment_status_of`); invoice it
    when it becomes paid, as the retailer's billing settings say. The caller holds its lock."""
    status = ledger.payment_status_of(order)
    if status == order.payment_status:
        return
    order.payment_status = status
    order.updated_at = timezone.now()
    order.save(update_fields=["payment_status", "updated_at"])
    if status == PaymentStatus.PAID:
        try:
            with transaction.atomic():
                billing.invoices_on_paid(order=order, by=None)
        except Exception:  # the money is recorded; the invoice can be made by hand
            logger.exception("Invoicing paid order %s failed", order.ref)


def payment_settled(operation: PaymentTransaction) -> None:
    """What follows when an operation of an order's payment settled (registered with billing):
    the order's payment status; and on a cancelled order, money that moved after the cancel
    goes back. A capture that went through is refunded; a capture that did not leaves its
    amount authorised, which is released. So once its operations settle, a cancelled order
    holds no authorisation."""
    order = _lock(operation.order)
    order_payment_status_refresh(order)
    if order.status.system_state != SystemState.CANCELLED or operation.kind != Kind.CAPTURE:
        return
    payment = locking.lock(operation.payment)
    if operation.status == Status.SUCCEEDED:
        billing.queue_operation(payment, Kind.REFUND, operation.amount, by=None)
    elif not operation.timed_out:
        room = ledger.balance(payment)
        if room.capturable > 0 and not room.capturing:
            billing.queue_operation(payment, Kind.VOID, room.capturable, by=None)


def cancel_plan(order: Order) -> ledger.Settlement:
    """What cancelling the order refunds and releases now: the cancel dialog shows it, the
    cancellation moves it."""
    return ledger.settlement(order.payments.order_by("pk"))
