"""Money: capture, refund and void as payment operations run by a worker, and sync.

An operation is a PaymentTransaction row in PENDING with a unique idempotency key, written with
the request that asks for it. A worker claims it, asks the gateway with that key, and records the
answer once. Asking the gateway twice with one key moves money once, so a task run twice, two
workers racing, or a worker killed after the gateway answered all end in one money movement.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from oms import state
from oms.roles import Role, require_role
from orders import events
from orders.gateway import GatewayError, gateway_for
from orders.models import Order, Payment, PaymentStatus, PaymentTransaction, SystemState
from orders.services.locking import lock_order, lock_payment

logger = logging.getLogger(__name__)

Kind = PaymentTransaction.Kind
Status = PaymentTransaction.Status


def _unsettled(payment: Payment):
    """Operations whose money may still move: pending ones, and those that timed out (the
    gateway may have carried them out; only a retry with the same key can tell)."""
    return payment.transactions.filter(
        Q(status=Status.PENDING) | Q(status=Status.FAILED, error_code="unavailable")
    )


def _pending_totals(payment: Payment) -> dict[str, Decimal]:
    totals = dict.fromkeys(Kind.values, Decimal("0.00"))
    for kind, amount in _unsettled(payment).values_list("kind", "amount"):
        totals[kind] += amount
    return totals


def capturable_now(payment: Payment) -> Decimal:
    """What may still be captured, counting captures and voids on their way."""
    pending = _pending_totals(payment)
    return payment.capturable - pending[Kind.CAPTURE] - pending[Kind.VOID]


def refundable_now(payment: Payment) -> Decimal:
    """What may still be refunded, counting refunds on their way."""
    return payment.refundable - _pending_totals(payment)[Kind.REFUND]


def queue_operation(
    payment: Payment, kind: str, amount: Decimal, *, by, return_request_id: int | None = None
) -> PaymentTransaction:
    """Write a pending operation and hand it to a worker once the transaction commits. A
    refund of a return names it, and settles it when it succeeds."""
    from oms.tasks import enqueue_on_commit
    from orders.tasks import run_payment_operation

    operation = PaymentTransaction.objects.create(
        retailer_id=payment.retailer_id,
        payment=payment,
        order_id=payment.order_id,
        kind=kind,
        amount=amount,
        status=Status.PENDING,
        idempotency_key=f"{kind}-{uuid.uuid4().hex}",
        created_by=by if getattr(by, "is_authenticated", False) else None,
        return_request_id=return_request_id,
    )
    events.payment_operation_requested(operation, by=by)
    enqueue_on_commit(run_payment_operation, operation.pk, retailer_id=operation.retailer_id)
    return operation


def _amount(value) -> Decimal:
    try:
        amount = Decimal(value).quantize(Decimal("0.01"))
    except Exception as exc:
        raise ValidationError({"amount": "Enter an amount such as 12.50."}) from exc
    if amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    return amount


@transaction.atomic
def payment_capture(*, payment: Payment, amount, by) -> PaymentTransaction:
    """Capture all or part of what was authorised; never more than is capturable."""
    require_role(by, payment.retailer_id, Role.MANAGER)
    amount = _amount(amount)
    order = lock_order(payment.order)
    if order.status.system_state in (SystemState.CANCELLED, SystemState.FRAUD):
        raise state.InvalidTransition(
            f"Order {order.ref} is {order.status.get_system_state_display().lower()}: "
            "its payment cannot be captured."
        )
    payment = lock_payment(payment)
    available = capturable_now(payment)
    if amount > available:
        raise ValidationError(
            {"amount": f"At most {available} {payment.currency} can be captured."}
        )
    return queue_operation(payment, Kind.CAPTURE, amount, by=by)


@transaction.atomic
def payment_refund(*, payment: Payment, amount, by) -> PaymentTransaction:
    """Refund all or part of what was captured and not yet refunded."""
    require_role(by, payment.retailer_id, Role.MANAGER)
    amount = _amount(amount)
    lock_order(payment.order)
    payment = lock_payment(payment)
    available = refundable_now(payment)
    if amount > available:
        raise ValidationError(
            {"amount": f"At most {available} {payment.currency} can be refunded."}
        )
    return queue_operation(payment, Kind.REFUND, amount, by=by)


@transaction.atomic
def payment_void(*, payment: Payment, by) -> PaymentTransaction:
    """Release what is authorised and not captured, so the customer's bank frees it."""
    require_role(by, payment.retailer_id, Role.MANAGER)
    lock_order(payment.order)
    payment = lock_payment(payment)
    available = capturable_now(payment)
    if available <= 0:
        raise ValidationError({"amount": "Nothing is left to release on this payment."})
    return queue_operation(payment, Kind.VOID, available, by=by)


@transaction.atomic
def payment_operation_retry(*, operation: PaymentTransaction, by) -> PaymentTransaction:
    """Try a failed operation again. After a timeout the same key is used (the gateway may have
    done it already); after a decline a new operation is written, within today's limits."""
    require_role(by, operation.retailer_id, Role.MANAGER)
    order = lock_order(operation.order)
    lock_payment(operation.payment)
    operation = PaymentTransaction.objects.select_for_update().get(pk=operation.pk)
    if not operation.can_retry:
        raise state.InvalidTransition("Only a failed capture, refund or release can be retried.")
    if operation.kind == Kind.CAPTURE and order.status.system_state in (
        SystemState.CANCELLED,
        SystemState.FRAUD,
    ):
        raise state.InvalidTransition(
            f"Order {order.ref} is {order.status.get_system_state_display().lower()}: "
            "its payment cannot be captured."
        )
    if operation.error_code == "unavailable":
        operation.status = Status.PENDING
        operation.attempts = 0
        operation.message = ""
        operation.error_code = ""
        operation.save(update_fields=["status", "attempts", "message", "error_code"])
        events.payment_operation_requested(operation, by=by)
        from oms.tasks import enqueue_on_commit
        from orders.tasks import run_payment_operation

        enqueue_on_commit(run_payment_operation, operation.pk, retailer_id=operation.retailer_id)
        return operation
    payment = Payment.objects.get(pk=operation.payment_id)
    limit = refundable_now(payment) if operation.kind == Kind.REFUND else capturable_now(payment)
    if operation.return_request_id is not None:
        from returns.services import return_refund_retry_limit

        # a return's refund: never paid twice, never beyond what the return still gives back
        limit = min(limit, return_refund_retry_limit(operation=operation))
    amount = min(operation.amount, limit)
    if amount <= 0:
        raise ValidationError({"amount": "Nothing is left to retry on this payment."})
    # still the return's refund, if it was one: it settles the return
    return queue_operation(
        payment, operation.kind, amount, by=by, return_request_id=operation.return_request_id
    )


def payment_operation_run(*, operation_id: int, last_attempt: bool = True) -> str:
    """Carry out one pending operation at the gateway and record the answer, once.

    Safe to call any number of times, from any number of workers. Raises the gateway's
    transient error (after recording the attempt) unless this is the last attempt, in which case
    the operation is left FAILED with the error, visible on the order.
    """
    # 1. claim: count the attempt in a short transaction
    with transaction.atomic():
        operation = (
            PaymentTransaction.objects.select_for_update(of=("self",))
            .select_related("payment")
            .get(pk=operation_id)
        )
        if operation.status != Status.PENDING:
            return operation.status
        operation.attempts += 1
        operation.save(update_fields=["attempts"])
        payment = operation.payment

    # 2. ask the gateway, outside any transaction, with the operation's idempotency key
    try:
        gateway = gateway_for(payment.provider)
        result = getattr(gateway, operation.kind)(
            payment_reference=payment.provider_reference or f"payment-{payment.pk}",
            amount=operation.amount,
            currency=payment.currency,
            idempotency_key=operation.idempotency_key,
        )
    except GatewayError as error:
        if error.transient and not last_attempt:
            with transaction.atomic():
                PaymentTransaction.objects.filter(pk=operation_id, status=Status.PENDING).update(
                    message=f"Attempt {operation.attempts}: {error}"
                )
            raise
        return _record_failure(operation_id, error)

    # 3. record the answer once
    return _record_success(operation_id, result.reference)


@transaction.atomic
def _record_success(operation_id: int, reference: str) -> str:
    operation = PaymentTransaction.objects.select_for_update(of=("self",)).get(pk=operation_id)
    if operation.status != Status.PENDING:
        return operation.status
    order = lock_order(operation.order)
    payment = Payment.objects.select_for_update(of=("self",)).get(pk=operation.payment_id)
    field = {Kind.CAPTURE: "captured", Kind.REFUND: "refunded", Kind.VOID: "voided"}[operation.kind]
    setattr(payment, field, getattr(payment, field) + operation.amount)
    payment.save(update_fields=[field])
    operation.status = Status.SUCCEEDED
    operation.reference = reference
    operation.message = ""
    operation.error_code = ""
    operation.completed_at = timezone.now()
    operation.save(update_fields=["status", "reference", "message", "error_code", "completed_at"])
    events.payment_operation_succeeded(operation, payment=payment)
    _refresh_payment_status(order)
    if operation.kind == Kind.CAPTURE and order.status.system_state == SystemState.CANCELLED:
        # a capture that was on its way when the order was cancelled: give it straight back
        queue_operation(payment, Kind.REFUND, operation.amount, by=None)
    _settle_return(operation)
    return operation.status


@transaction.atomic
def _record_failure(operation_id: int, error: GatewayError) -> str:
    operation = PaymentTransaction.objects.select_for_update(of=("self",)).get(pk=operation_id)
    if operation.status != Status.PENDING:
        return operation.status
    operation.status = Status.FAILED
    operation.message = str(error)
    operation.error_code = error.code
    operation.completed_at = timezone.now()
    operation.save(update_fields=["status", "message", "error_code", "completed_at"])
    events.payment_operation_failed(operation)
    _settle_return(operation)
    return operation.status


def _settle_return(operation: PaymentTransaction) -> None:
    if operation.return_request_id is None:
        return
    from returns.services import return_refund_settled

    _aside(lambda: return_refund_settled(operation=operation), f"return of {operation}")


def _aside(work, what: str) -> None:
    """Follow-up work of a recorded money movement (invoices, returns): if it fails, the money
    movement is still recorded, and the failure is logged to be put right by hand."""
    try:
        with transaction.atomic():
            work()
    except Exception:
        logger.exception("Follow-up of a payment operation failed: %s", what)


def payment_status_of(order: Order) -> str:
    """The order's payment status as its payments add up."""
    payments = list(order.payments.all())
    captured = sum((p.captured for p in payments), Decimal(0))
    refunded = sum((p.refunded for p in payments), Decimal(0))
    open_authorisation = sum((p.capturable for p in payments), Decimal(0))
    if refunded > 0:
        return PaymentStatus.REFUNDED if refunded >= captured else PaymentStatus.PARTIALLY_REFUNDED
    if captured > 0:
        return PaymentStatus.PAID if captured >= order.total else PaymentStatus.PARTIALLY_PAID
    if open_authorisation > 0:
        return PaymentStatus.AUTHORISED
    return PaymentStatus.NOT_PAID


def _refresh_payment_status(order: Order) -> None:
    status = payment_status_of(order)
    if status == order.payment_status:
        return
    order.payment_status = status
    order.updated_at = timezone.now()
    order.save(update_fields=["payment_status", "updated_at"])
    if status == PaymentStatus.PAID:
        from billing.services import invoices_on_paid

        _aside(lambda: invoices_on_paid(order=order, by=None), f"invoice of order {order.ref}")


@transaction.atomic
def payments_sync(*, order: Order, by) -> list[Payment]:
    """Re-read every payment's captured, refunded and released amounts from its gateway."""
    require_role(by, order.retailer_id, Role.MANAGER)
    order = lock_order(order)
    unknown = (
        PaymentTransaction.objects.filter(
            order=order, status=Status.FAILED, error_code="unavailable"
        ).count()
        + PaymentTransaction.objects.filter(order=order, status=Status.PENDING).count()
    )
    if unknown:
        raise ValidationError(
            f"{unknown} payment operation(s) of this order are on their way or timed out: "
            "retry or wait for them first, so nothing is counted twice."
        )
    changed = []
    for payment in order.payments.select_for_update(of=("self",)).order_by("pk"):
        try:
            balance = gateway_for(payment.provider).balance(
                payment_reference=payment.provider_reference or f"payment-{payment.pk}"
            )
        except GatewayError as error:
            raise ValidationError(f"The gateway could not be read: {error}") from error
        before = {
            "captured": payment.captured,
            "refunded": payment.refunded,
            "voided": payment.voided,
        }
        after = {
            "captured": balance.captured,
            "refunded": balance.refunded,
            "voided": balance.voided,
        }
        if before != after and _is_consistent(payment, after):
            for field, value in after.items():
                setattr(payment, field, value)
            payment.save(update_fields=list(after))
            events.payment_synced(payment, before=before, after=after, by=by)
            changed.append(payment)
    if changed:
        _refresh_payment_status(order)
    else:
        events.payments_checked(order, by=by)
    return changed


def _is_consistent(payment: Payment, amounts: dict[str, Decimal]) -> bool:
    if amounts["captured"] + amounts["voided"] > payment.authorised:
        logger.warning("Gateway balance of payment %s exceeds its authorisation", payment.pk)
        return False
    return amounts["refunded"] <= amounts["captured"]


def max_attempts() -> int:
    return settings.PAYMENT_OPERATION_ATTEMPTS


def payment_operations_relay(*, older_than_minutes: int = 10) -> int:
    """Hand operations still PENDING after a while (the broker was down, a worker was lost) to a
    worker again. Returns how many."""
    from datetime import timedelta

    from orders.tasks import run_payment_operation

    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    ids = list(
        PaymentTransaction.objects.filter(status=Status.PENDING, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", "retailer_id")[:500]
    )
    for operation_id, retailer_id in ids:
        run_payment_operation.delay(operation_id, retailer_id=retailer_id)
    return len(ids)
