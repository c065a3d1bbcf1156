"""Receiving, validating and applying intake messages.

A message is stored as it arrived before anything else happens to it. A worker then maps it with
its channel's adapter, validates it (completeness, references, state), and creates or changes the
order through the order services, all in one transaction: a message ends ACCEPTED, REJECTED with
its reasons, or DEAD after its last retry; nothing is half-created and nothing is lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from customers.services import customer_for_order
from fulfilments.models import StockPosition
from oms import activity, locking
from oms.roles import Role, require_role
from oms.state import InvalidTransition
from oms.tasks import enqueue_on_commit
from orders import services
from orders.intake.adapters import ADAPTERS, CanonicalAddress, CanonicalOrder, MappingError
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.models import ORDER_CHECKS, Order, SystemState
from orders.tasks import process_intake_message

M = IntakeMessage.Status

activity.describe_as("orders.intakemessage.accepted", "Received from {channel}: {event}")
activity.describe_as("orders.intakemessage.replayed", "Intake message {id} replayed")
activity.describe_as("orders.intakemessage.discarded", "Intake message {id} discarded: {reason}")


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(channel: IntakeChannel, body: bytes, given: str) -> bool:
    return hmac.compare_digest(signature(channel.secret, body), given or "")


@transaction.atomic
def intake_receive(*, channel: IntakeChannel, body: str) -> IntakeMessage:
    """Keep the raw message, then hand it to a worker once that is committed."""
    message = IntakeMessage.objects.create(
        retailer_id=channel.retailer_id, channel=channel, body=body
    )
    enqueue_on_commit(process_intake_message, message.pk, retailer_id=message.retailer_id)
    return message


def _reject(message: IntakeMessage, reasons: list[str]) -> str:
    message.status = M.REJECTED
    message.reasons = reasons
    message.processed_at = timezone.now()
    message.save(
        update_fields=[
            "status",
            "reasons",
            "processed_at",
            "external_id",
            "event",
            "value",
            "attempts",
        ]
    )
    return message.status


def intake_process(*, message_id: int, last_attempt: bool = True) -> str:
    """Map, validate and apply one message, once. Transient errors are raised for a retry,
    except on the last attempt, which leaves the message DEAD with the error."""
    try:
        with transaction.atomic():
            message = locking.lock(
                IntakeMessage.objects.get(pk=message_id), related=("channel", "retailer")
            )
            if message.status != M.RECEIVED:
                return message.status
            message.attempts += 1
            return _apply(message)
    except Exception as error:
        if not last_attempt:
            IntakeMessage.objects.filter(pk=message_id).update(
                attempts=F("attempts") + 1, reasons=[f"attempt failed: {error}"]
            )
            raise
        IntakeMessage.objects.filter(pk=message_id, status=M.RECEIVED).update(
            status=M.DEAD, reasons=[f"{type(error).__name__}: {error}"], processed_at=timezone.now()
        )
        return M.DEAD


def _apply(message: IntakeMessage) -> str:
    channel = message.channel
    try:
        data = json.loads(message.body)
    except ValueError as error:
        return _reject(message, [f"body: not JSON ({getattr(error, 'msg', error)})"])
    except RecursionError:
        return _reject(message, ["body: nested too deeply to read"])
    if not isinstance(data, dict):
        return _reject(message, ["body: a JSON object is expected"])
    if "\\u0000" in message.body:
        return _reject(message, ["body: text may not contain NUL characters"])
    adapter = ADAPTERS[channel.kind]
    try:
        message.external_id = str(adapter.external_id(data))[:100]
        canonical = adapter.read(data)
    except MappingError as error:
        return _reject(message, error.reasons)
    except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError) as error:
        # a field of the wrong type: the payload is not in the channel's shape
        return _reject(
            message,
            [f"body: not the {channel.get_kind_display()} shape ({type(error).__name__}: {error})"],
        )
    message.event = canonical.event
    message.value = canonical.total
    if not canonical.external_id:
        return _reject(message, ["id: the channel's order id is missing"])
    ref = f"{channel.code.upper()}-{canonical.external_id}"[:64]
    existing = Order.objects.filter(retailer_id=channel.retailer_id, ref=ref).first()
    if existing is not None:
        existing = locking.lock(existing, related=ORDER_CHECKS)
    if canonical.event == "cancel":
        return _cancel(message, existing)
    reasons = validate(canonical, channel)
    if reasons:
        return _reject(message, reasons)
    if existing is not None:
        return _update(message, existing, canonical)
    order = _create(channel, ref, canonical)
    return _accept(message, order, "order created")


def validate(order: CanonicalOrder, channel: IntakeChannel) -> list[str]:
    """Field-level reasons the order cannot be taken, under the channel's rules."""
    reasons = []
    retailer = channel.retailer
    if not order.email or "@" not in order.email:
        reasons.append("customer.email: missing or not an email address")
    if channel.rule("require_phone", False) and not order.phone:
        reasons.append("customer.phone: required by this channel")
    address = order.shipping_address
    for name in ("line1", "postcode", "city", "country"):
        if not getattr(address, name):
            reasons.append(f"shipping address.{name}: missing")
    if not order.lines:
        reasons.append("lines: an order needs at least one line")
    for index, line in enumerate(order.lines):
        if not line.sku:
            reasons.append(f"lines[{index}].sku: missing")
        if line.quantity < 1:
            reasons.append(f"lines[{index}].quantity: must be at least 1")
        if line.unit_price < 0:
            reasons.append(f"lines[{index}].price: must not be negative")
    if order.currency != retailer.currency:
        reasons.append(
            f"currency: {order.currency or 'missing'}, but {retailer.name} sells in "
            f"{retailer.currency}"
        )
    if order.total is not None:
        expected = sum((line.unit_price * line.quantity for line in order.lines), Decimal(0))
        expected += order.shipping
        tolerance = Decimal(str(channel.rule("total_tolerance", "0.01")))
        if abs(expected - order.total) > tolerance:
            reasons.append(
                f"total: {order.total} does not add up to the lines and shipping ({expected})"
            )
    if channel.rule("require_known_sku", False):
        known = set(
            StockPosition.objects.filter(retailer_id=retailer.pk).values_list("sku", flat=True)
        )
        for index, line in enumerate(order.lines):
            if line.sku and line.sku not in known:
                reasons.append(f"lines[{index}].sku: {line.sku} is not in the catalogue")
    return reasons


def _address(address: CanonicalAddress) -> services.AddressInput:
    return services.AddressInput(
        name=address.name,
        line1=address.line1,
        line2=address.line2,
        postcode=address.postcode,
        city=address.city,
        country=address.country,
        phone=address.phone,
    )


def _lines(canonical: CanonicalOrder) -> list[services.LineInput]:
    return [
        services.LineInput(
            sku=line.sku,
            name=line.name or line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in canonical.lines
    ]


CHANNELS = {"webstore": "web", "marketplace": "marketplace", "batch": "web"}


def _create(channel: IntakeChannel, ref: str, canonical: CanonicalOrder) -> Order:
    """The order a channel sent, placed through the order services like any other."""
    customer = customer_for_order(
        retailer_id=channel.retailer_id,
        email=canonical.email,
        first_name=canonical.first_name,
        last_name=canonical.last_name,
        phone=canonical.phone,
    )
    return services.order_place(
        data=services.OrderInput(
            retailer_id=channel.retailer_id,
            ref=ref,
            currency=canonical.currency,
            customer=customer,
            channel=CHANNELS[channel.kind],
            lines=_lines(canonical),
            shipping=canonical.shipping,
            shipping_address=_address(canonical.shipping_address),
            billing_address=_address(canonical.billing_address)
            if canonical.billing_address
            else None,
            placed_at=canonical.placed_at,
            payment=services.PaymentInput(
                method=canonical.payment_method, provider_reference=f"psp_{ref}"
            ),
        ),
        by=None,
    )


def _update(message: IntakeMessage, order: Order, canonical: CanonicalOrder) -> str:
    try:
        services.order_lines_replace(
            order=order, lines=_lines(canonical), shipping=canonical.shipping, by=None
        )
    except (InvalidTransition, ValidationError) as error:
        return _reject(message, [f"state: {' '.join(getattr(error, 'messages', [str(error)]))}"])
    return _accept(message, order, "order updated")


def _cancel(message: IntakeMessage, order: Order | None) -> str:
    if order is None:
        return _reject(message, ["id: no order with this id to cancel"])
    if order.status.system_state == SystemState.CANCELLED:
        return _accept(message, order, "already cancelled")
    try:
        with transaction.atomic():
            services.order_cancel(
                order=order, by=None, notify=True, reason="Cancelled by the channel"
            )
    except (InvalidTransition, ValidationError) as error:  # an illegal move for its state
        return _reject(message, [f"state: {error}"])
    return _accept(message, order, "order cancelled")


def _accept(message: IntakeMessage, order: Order, what: str) -> str:
    message.status = M.ACCEPTED
    message.order = order
    message.reasons = [what]
    message.processed_at = timezone.now()
    message.save(
        update_fields=[
            "status",
            "order",
            "reasons",
            "processed_at",
            "external_id",
            "event",
            "value",
            "attempts",
        ]
    )
    activity.record(
        action="orders.intakemessage.accepted",
        target=message,
        root=order,
        by=None,
        data={"channel": message.channel.name, "event": what},
    )
    return message.status


@transaction.atomic
def intake_replay(*, message: IntakeMessage, by, body: str | None = None) -> IntakeMessage:
    """Try a rejected or dead message again, as it was or with a corrected payload (admins)."""
    require_role(by, message.retailer_id, Role.ADMIN)
    message = locking.lock(message)
    if message.status not in (M.REJECTED, M.DEAD):
        raise InvalidTransition("Only a rejected or dead message can be replayed.")
    if body is not None:
        message.body = body
    message.status = M.RECEIVED
    message.reasons = []
    message.save(update_fields=["body", "status", "reasons"])
    activity.record(
        action="orders.intakemessage.replayed",
        target=message,
        by=by,
        data={"id": message.pk, "edited": body is not None},
    )
    enqueue_on_commit(process_intake_message, message.pk, retailer_id=message.retailer_id)
    return message


@transaction.atomic
def intake_discard(*, message: IntakeMessage, by, reason: str) -> IntakeMessage:
    require_role(by, message.retailer_id, Role.ADMIN)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the message is discarded."})
    message = locking.lock(message)
    message.status = M.DISCARDED
    message.reasons = [*message.reasons, f"discarded: {reason.strip()}"]
    message.save(update_fields=["status", "reasons"])
    activity.record(
        action="orders.intakemessage.discarded",
        target=message,
        by=by,
        data={"id": message.pk, "reason": reason.strip()},
    )
    return message


def intake_relay(*, older_than_minutes: int = 5) -> int:
    """Beat: hand messages still RECEIVED after a while (broker was down) to a worker again."""
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    ids = list(
        IntakeMessage.objects.filter(status=M.RECEIVED, received_at__lt=cutoff).values_list(
            "pk", "retailer_id"
        )[:500]
    )
    for pk, retailer_id in ids:
        process_intake_message.delay(pk, retailer_id=retailer_id)
    return len(ids)
