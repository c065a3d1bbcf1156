"""What a Stripe webhook event says about our payment operations, recorded once.

Stripe tells by webhook what it did with an operation we sent: a refund that was pending ended,
a capture or a release went through while our worker lost the answer. Each event settles the
pending operations it names through `payment_operation_settle`, the one place an answer is
recorded (an operation already recorded is left as it is, so a webhook delivered twice, or after
the worker's own answer, moves nothing). An event that names a payment but not the operation
hands the payment's operations sent and still waiting back to a worker, which asks Stripe again
with the same idempotency key.
"""

from __future__ import annotations

import re

from django.conf import settings

from billing.models import PaymentTransaction
from billing.services.payments import payment_operation_settle
from billing.stripe_gateway import OPERATION_KEY
from billing.tasks import run_payment_operation
from oms import rls

Kind = PaymentTransaction.Kind
Status = PaymentTransaction.Status

STRIPE_ID = re.compile(r"[a-z]{2,6}_[A-Za-z0-9]{1,90}")
STRIPE_CODE = re.compile(r"[a-z_]{1,60}")
# The events to subscribe the endpoint to (docs/production.md, "Stripe").
HANDLED = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.amount_capturable_updated",
        "payment_intent.canceled",
        "charge.refunded",
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
        "refund.failed",
    }
)


def stripe_event_settle(*, event: dict, signed_for: str | None) -> int:
    """Settle what a verified event says. `signed_for` is the retailer whose own endpoint secret
    signed it (None: the platform's secret, for every retailer without a secret of its own).
    Returns how many operations it settled or handed back to a worker; an event of another kind,
    or not shaped as Stripe shapes it, is ignored."""
    kind = _text(event, "type")
    obj = _dict(_dict(event.get("data")).get("object"))
    if kind not in HANDLED:
        return 0
    if obj.get("object") == "refund":
        return _settle_refund(obj, signed_for)
    if obj.get("object") == "payment_intent":
        intent = _id(obj, "id")
        if kind == "payment_intent.canceled":
            return _settle_kind(intent, Kind.VOID, intent, signed_for)
        key = _text(_dict(obj.get("metadata")), OPERATION_KEY)
        charge = _id(obj, "latest_charge") or intent
        settled = _settle_key(key, Kind.CAPTURE, charge, intent, signed_for)
        return settled or _ask_again(intent, signed_for)
    if obj.get("object") == "charge":
        return _ask_again(_id(obj, "payment_intent"), signed_for)
    return 0


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(obj: dict, name: str, limit: int = 100) -> str:
    """A string field of Stripe's object, or "" when it is anything else or longer than any
    Stripe id."""
    value = obj.get(name)
    return value if isinstance(value, str) and len(value) <= limit else ""


def _id(obj: dict, name: str) -> str:
    """A Stripe id (`pi_...`, `re_...`, `ch_...`), or "" when the field holds anything else."""
    value = _text(obj, name)
    return value if STRIPE_ID.fullmatch(value) else ""


def _code(obj: dict, name: str) -> str:
    """One of Stripe's codes (`expired_or_canceled_card`), or "" for anything else."""
    value = _text(obj, name, limit=60)
    return value if STRIPE_CODE.fullmatch(value) else ""


def _operations(payment_intent: str, signed_for):
    """The pending operations of the Stripe payment with this PaymentIntent."""
    if not payment_intent:
        return PaymentTransaction.objects.none()
    found = PaymentTransaction.objects.filter(
        status=Status.PENDING,
        payment__provider="stripe",
        payment__provider_reference=payment_intent,
    ).order_by("pk")
    if signed_for is not None:
        return found.filter(retailer__ref=signed_for)
    return found.exclude(retailer__ref__in=list(settings.STRIPE_WEBHOOK_SECRET_BY_RETAILER))


def _settle(operations, reference: str, failure: str = "") -> int:
    settled = 0
    for operation_id, retailer_id in operations.values_list("pk", "retailer_id"):
        with rls.scoped([retailer_id]):
            payment_operation_settle(
                operation_id=operation_id, reference=reference, failure=failure
            )
        settled += 1
    return settled


def _settle_refund(refund: dict, signed_for) -> int:
    status = _text(refund, "status")
    if status not in ("succeeded", "failed", "canceled"):
        return 0  # still on its way
    key = _text(_dict(refund.get("metadata")), OPERATION_KEY)
    reason = _code(refund, "failure_reason") or status
    failure = "" if status == "succeeded" else f"Stripe could not refund: {reason}."
    return _settle_key(
        key, Kind.REFUND, _id(refund, "id"), _id(refund, "payment_intent"), signed_for, failure
    )


def _settle_key(key, kind, reference, payment_intent, signed_for, failure: str = "") -> int:
    if not key:
        return 0
    with rls.all_retailers():
        found = _operations(payment_intent, signed_for).filter(kind=kind, idempotency_key=key)
        return _settle(found, reference, failure)


def _settle_kind(payment_intent, kind, reference, signed_for) -> int:
    with rls.all_retailers():
        return _settle(_operations(payment_intent, signed_for).filter(kind=kind), reference)


def _ask_again(payment_intent, signed_for) -> int:
    with rls.all_retailers():
        sent = list(
            _operations(payment_intent, signed_for)
            .filter(attempts__gt=0)
            .values_list("pk", "retailer_id")
        )
    for operation_id, retailer_id in sent:
        run_payment_operation.delay(operation_id, retailer_id=retailer_id)
    return len(sent)
