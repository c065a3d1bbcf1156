"""Money moving: authorise, capture, refund and release as payment operations run by a worker,
refunds given by hand, and sync with the gateway.

An operation is a PaymentTransaction row in PENDING with a unique idempotency key, written with
the request that asks for it. A worker claims it, asks the gateway with that key, and records the
answer once. Asking the gateway twice with one key moves money once, so a task run twice, two
workers racing, or a worker killed after the gateway answered all end in one money movement.

Billing knows nothing of what the money is for. When money has moved (or an operation has
failed), the follow-ups registered with `on_settled` run in the same transaction: the order's
payment status, a cancelled order's remaining authorisation, a return's refund.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing import events, ledger
from billing.gateway import Declined, GatewayError, gateway_for, provider_for
from billing.models import GATEWAY_OPERATIONS, Payment, PaymentTransaction
from billing.tasks import run_payment_operation
from oms import bounds, locking, state
from oms.roles import Role, require_role
from oms.tasks import enqueue_on_commit
from oms.templatetags.money import format_money

logger = logging.getLogger(__name__)

Kind = PaymentTransaction.Kind
Status = PaymentTransaction.Status
CENT = Decimal("0.01")

FollowUp = Callable[[PaymentTransaction], None]
_follow_ups: list[tuple[FollowUp, bool]] = []


def on_settled(follow_up: FollowUp, *, aside: bool = False) -> None:
    """Call `follow_up(operation)` whenever an operation is recorded as succeeded or failed,
    inside the recording transaction. An `aside` follow-up that fails is logged and undone on
    its own; the money movement stays recorded. Apps register theirs in `AppConfig.ready`."""
    if all(registered is not follow_up for registered, _ in _follow_ups):
        _follow_ups.append((follow_up, aside))


def _settled(operation: PaymentTransaction) -> None:
    for follow_up, aside in _follow_ups:
        if not aside:
            follow_up(operation)
            continue
        try:
            with transaction.atomic():
                follow_up(operation)
        except Exception:
            logger.exception("Follow-up %s of %s failed", follow_up.__qualname__, operation)


def amount_of(value) -> Decimal:
    """An amount of money as a person typed it: positive, at most two decimals."""
    try:
        amount = bounds.check_money(value)
    except ValidationError as exc:
        reason = " ".join(exc.messages)
        raise ValidationError({"amount": f"Enter an amount such as 12.50. {reason}"}) from exc
    if amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    return amount


def _lock(payment: Payment) -> Payment:
    return locking.lock(payment, related=("order",))


def queue_operation(
    payment: Payment, kind: str, amount: Decimal, *, by, return_request_id: int | None = None
) -> PaymentTransaction:
    """Write a pending operation and hand it to a worker once the transaction commits. A
    refund of a return names it. The caller has locked the payment and checked the amount."""
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


@transaction.atomic
def payment_authorise(
    *, order, method: str, amount: Decimal, provider_reference: str = "", by
) -> Payment:
    """Record a payment the channel had authorised when the order was placed."""
    if method not in Payment.Method.values:
        method = Payment.Method.CARD
    payment = Payment.objects.create(
        retailer_id=order.retailer_id,
        order=order,
        method=method,
        provider=provider_for(order.retailer_id),
        currency=order.currency,
        authorised=amount,
        provider_reference=provider_reference,
    )
    return payment


@transaction.atomic
def payment_authorisation_set(*, payment: Payment, amount: Decimal, by) -> Payment:
    """The channel authorised another amount for an order not yet paid (it changed while
    new). Refused once any money moved or is on its way."""
    payment = _lock(payment)
    if payment.captured or payment.voided or payment.refunded_by_hand:
        raise state.InvalidTransition("Money moved on this payment: its amount is fixed.")
    if PaymentTransaction.objects.filter(ledger.UNSETTLED, payment=payment).exists():
        raise state.InvalidTransition("An operation of this payment is on its way.")
    if payment.authorised != amount:
        payment.authorised = amount
        payment.save(update_fields=["authorised"])
    return payment


@transaction.atomic
def payment_capture(*, payment: Payment, amount, by) -> PaymentTransaction:
    """Capture all or part of what is authorised; never more than is capturable."""
    require_role(by, payment.retailer_id, Role.MANAGER)
    amount = amount_of(amount)
    payment = _lock(payment)
    available = ledger.capturable(payment)
    if amount > available:
        raise ValidationError(
            {"amount": f"At most {format_money(available, payment.currency)} can be captured."}
        )
    return queue_operation(payment, Kind.CAPTURE, amount, by=by)


@transaction.atomic
def payment_refund(
    *, payment: Payment, amount, by, return_request_id: int | None = None
) -> PaymentTransaction:
    """Refund through the gateway all or part of what was captured and not yet given back, by
    the gateway or by hand."""
    require_role(by, payment.retailer_id, Role.MANAGER)
    amount = amount_of(amount)
    payment = _lock(payment)
    available = ledger.refundable(payment)
    if amount > available:
        raise ValidationError(
            {"amount": f"At most {format_money(available, payment.currency)} can be refunded."}
        )
    return queue_operation(payment, Kind.REFUND, amount, by=by, return_request_id=return_request_id)


@transaction.atomic
def payment_release(*, payment: Payment, by) -> PaymentTransaction:
    """Release what is authorised and not captured, so the customer's bank frees it."""
    require_role(by, payment.retailer_id, Role.MANAGER)
    payment = _lock(payment)
    available = ledger.capturable(payment)
    if available <= 0:
        raise ValidationError({"amount": "Nothing is left to release on this payment."})
    return queue_operation(payment, Kind.VOID, available, by=by)


def settle_order_payments(
    payments: list[Payment], *, by
) -> tuple[ledger.Settlement, list[PaymentTransaction]]:
    """Refund everything refundable and release everything capturable of these payments (an
    order is cancelled), exactly as `ledger.settlement` says. The caller holds the order's lock
    and passes its payments; returns the plan and the refunds queued."""
    locked = [_lock(payment) for payment in sorted(payments, key=lambda p: p.pk)]
    plan = ledger.settlement(locked)
    refunds = []
    for payment, refund, release in plan.moves:
        if refund > 0:
            refunds.append(queue_operation(payment, Kind.REFUND, refund, by=by))
        if release > 0:
            queue_operation(payment, Kind.VOID, release, by=by)
    return plan, refunds


@transaction.atomic
def refund_by_hand(
    *, payments: list[Payment], amount, by, return_request_id: int | None = None
) -> list[PaymentTransaction]:
    """Record money given back outside the gateway (a bank transfer, cash at the till), as
    ledger rows on the payments that still hold it, oldest first. Refused beyond what the
    payments can still refund."""
    if not payments:
        raise ValidationError({"amount": "Nothing was paid through a payment to give back."})
    require_role(by, payments[0].retailer_id, Role.MANAGER)
    amount = amount_of(amount)
    locked = [_lock(payment) for payment in sorted(payments, key=lambda p: p.pk)]
    available = {b.payment.pk: b.refundable for b in ledger.balances(locked)}
    if amount > sum(available.values(), Decimal(0)):
        raise ValidationError(
            {"amount": f"At most {sum(available.values(), Decimal(0))} can be refunded."}
        )
    rows, left, now = [], amount, timezone.now()
    for payment in locked:
        take = min(left, available[payment.pk])
        if take <= 0:
            continue
        row = PaymentTransaction.objects.create(
            retailer_id=payment.retailer_id,
            payment=payment,
            order_id=payment.order_id,
            kind=Kind.MANUAL_REFUND,
            amount=take,
            status=Status.SUCCEEDED,
            idempotency_key=f"{Kind.MANUAL_REFUND}-{uuid.uuid4().hex}",
            created_by=by if getattr(by, "is_authenticated", False) else None,
            return_request_id=return_request_id,
            completed_at=now,
        )
        payment.refunded_by_hand += take
        payment.save(update_fields=["refunded_by_hand"])
        events.payment_operation_succeeded(row, payment=payment)
        rows.append(row)
        left -= take
        if not left:
            break
    for row in rows:
        _settled(row)
    return rows


@transaction.atomic
def payment_operation_retry(
    *, operation: PaymentTransaction, by, limit: Decimal | None = None
) -> PaymentTransaction:
    """Try a failed operation again. After a timeout the same key is used (the gateway may have
    done it already): that only finds out what happened, so it is always allowed. After a
    decline a new operation is written, within what can move now (and `limit`, when the caller
    knows less may move)."""
    require_role(by, operation.retailer_id, Role.MANAGER)
    payment = _lock(operation.payment)
    operation = locking.lock(operation)
    if not operation.can_retry:
        raise state.InvalidTransition("Only a failed capture, refund or release can be retried.")
    if operation.timed_out:
        operation.status = Status.PENDING
        operation.attempts = 0
        operation.message = ""
        operation.error_code = ""
        operation.completed_at = None
        operation.save(
            update_fields=["status", "attempts", "message", "error_code", "completed_at"]
        )
        events.payment_operation_requested(operation, by=by)
        enqueue_on_commit(run_payment_operation, operation.pk, retailer_id=operation.retailer_id)
        return operation
    room = ledger.balance(payment)
    room_left = room.refundable if operation.kind == Kind.REFUND else room.capturable
    amount = min(operation.amount, room_left, room_left if limit is None else limit)
    if amount <= 0:
        raise ValidationError({"amount": "Nothing is left to retry on this payment."})
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
        operation = locking.lock(
            PaymentTransaction.objects.get(pk=operation_id), related=("payment",)
        )
        if operation.status != Status.PENDING:
            return operation.status
        operation.attempts += 1
        operation.save(update_fields=["attempts"])
        payment = operation.payment

    # 2. ask the gateway, outside any transaction, with the operation's idempotency key
    try:
        gateway = gateway_for(payment.provider, retailer_id=payment.retailer_id)
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

    # 3. record the answer once; an answer still to come is settled by the provider's webhook
    if result.pending:
        return _record_pending(operation_id, result.reference)
    return _record_success(operation_id, result.reference)


@transaction.atomic
def payment_operation_settle(*, operation_id: int, reference: str, failure: str = "") -> str:
    """Record what the gateway says happened to an operation sent to it (a provider's webhook):
    succeeded, or declined with `failure` as the reason. Once only: an operation already
    recorded is left as it is."""
    if failure:
        return _record_failure(operation_id, Declined(failure))
    return _record_success(operation_id, reference)


@transaction.atomic
def _record_pending(operation_id: int, reference: str) -> str:
    operation, _ = _locked_operation(operation_id)
    if operation.status == Status.PENDING and operation.reference != reference:
        operation.reference = reference
        operation.message = "Accepted by the gateway; waiting for its outcome."
        operation.save(update_fields=["reference", "message"])
    return operation.status


def _locked_operation(operation_id: int) -> tuple[PaymentTransaction, Payment]:
    """The operation and its payment under lock, its order's row first."""
    operation = PaymentTransaction.objects.select_related("payment").get(pk=operation_id)
    payment = _lock(operation.payment)
    return locking.lock(operation), payment


@transaction.atomic
def _record_success(operation_id: int, reference: str) -> str:
    operation, payment = _locked_operation(operation_id)
    if operation.status != Status.PENDING:
        return operation.status
    field = {Kind.CAPTURE: "captured", Kind.REFUND: "refunded", Kind.VOID: "voided"}[operation.kind]
    setattr(payment, field, getattr(payment, field) + operation.amount)
    payment.save(update_fields=[field])
    operation.status = Status.SUCCEEDED
    operation.reference = reference
    operation.message = ""
    operation.error_code = ""
    operation.completed_at = timezone.now()
    operation.save(update_fields=["status", "reference", "message", "error_code", "completed_at"])
    operation.payment = payment
    events.payment_operation_succeeded(operation, payment=payment)
    _settled(operation)
    return operation.status


@transaction.atomic
def _record_failure(operation_id: int, error: GatewayError) -> str:
    operation, payment = _locked_operation(operation_id)
    if operation.status != Status.PENDING:
        return operation.status
    operation.status = Status.FAILED
    operation.message = str(error)
    operation.error_code = error.code
    operation.completed_at = timezone.now()
    operation.save(update_fields=["status", "message", "error_code", "completed_at"])
    operation.payment = payment
    events.payment_operation_failed(operation)
    _settled(operation)
    return operation.status


def payments_resolve_timed_out(*, payments: list[Payment], by) -> int:
    """Ask the gateway again, with the same keys, about operations that timed out: each ends
    succeeded or failed. Run outside a transaction (it talks to the gateway); returns how many
    were asked about."""
    timed_out = list(
        PaymentTransaction.objects.filter(
            payment__in=payments, status=Status.FAILED, error_code="unavailable"
        )
        .exclude(kind__in=[Kind.AUTHORISE, Kind.MANUAL_REFUND])
        .order_by("pk")
    )
    for operation in timed_out:
        with transaction.atomic():
            locking.lock(operation.payment)
            if PaymentTransaction.objects.filter(pk=operation.pk).update(
                status=Status.PENDING, error_code="", attempts=0, completed_at=None
            ):
                events.payment_operation_requested(operation, by=by)
        payment_operation_run(operation_id=operation.pk, last_attempt=True)
    return len(timed_out)


@transaction.atomic
def payments_sync(*, order, payments: list[Payment], by) -> list[Payment]:
    """Re-read every payment's captured, refunded and released amounts from its gateway; a
    payment with an operation still on its way is left until that settles, so nothing is
    counted twice. The caller holds the order's lock and has resolved timed-out operations."""
    require_role(by, order.retailer_id, Role.MANAGER)
    moving = set(
        PaymentTransaction.objects.filter(ledger.UNSETTLED, payment__in=payments).values_list(
            "payment_id", flat=True
        )
    )
    changed = []
    for payment in sorted(payments, key=lambda p: p.pk):
        if payment.pk in moving:  # the gateway and the ledger agree once it has settled
            continue
        payment = _lock(payment)
        try:
            gateway_balance = gateway_for(
                payment.provider, retailer_id=payment.retailer_id
            ).balance(payment_reference=payment.provider_reference or f"payment-{payment.pk}")
        except GatewayError as error:
            raise ValidationError(f"The gateway could not be read: {error}") from error
        before = {
            "captured": payment.captured,
            "refunded": payment.refunded,
            "voided": payment.voided,
        }
        after = {
            "captured": gateway_balance.captured,
            "refunded": gateway_balance.refunded,
            "voided": gateway_balance.voided,
        }
        if before != after and _is_consistent(payment, after):
            for name, value in after.items():
                setattr(payment, name, value)
            payment.save(update_fields=list(after))
            events.payment_synced(payment, before=before, after=after, by=by)
            changed.append(payment)
    if not changed:
        events.payments_checked(order, by=by)
    return changed


def _is_consistent(payment: Payment, amounts: dict[str, Decimal]) -> bool:
    if amounts["captured"] + amounts["voided"] > payment.authorised:
        logger.warning("Gateway balance of payment %s exceeds its authorisation", payment.pk)
        return False
    if amounts["refunded"] + payment.refunded_by_hand > amounts["captured"]:
        logger.warning("Gateway refunds of payment %s and refunds by hand exceed it", payment.pk)
        return False
    return True


def payment_operations_relay(*, older_than_minutes: int = 10) -> int:
    """Hand operations still PENDING after a while (the broker was down, a worker was lost) to a
    worker again. Returns how many."""
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    ids = list(
        PaymentTransaction.objects.filter(
            status=Status.PENDING, created_at__lt=cutoff, kind__in=GATEWAY_OPERATIONS
        )
        .order_by("created_at")
        .values_list("pk", "retailer_id")[:500]
    )
    for operation_id, retailer_id in ids:
        run_payment_operation.delay(operation_id, retailer_id=retailer_id)
    return len(ids)
