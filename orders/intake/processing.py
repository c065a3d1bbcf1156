"""Receiving, validating and applying intake messages.

A message is stored as it arrived before anything else happens to it. A worker then maps it with
its channel's adapter, validates it (completeness, references, state), and creates or changes the
order through the order services, all in one transaction: a message ends ACCEPTED, REJECTED with
its reasons, or DEAD after its last retry; nothing is half-created and nothing is lost.

Messages for one order of a channel are worked on one at a time (a lock on the channel and its
order id), so deliveries that arrive together are judged as if one came after the other: a copy
of a message already accepted ends DUPLICATE, and a version sent before the one applied last
ends STALE; neither changes the order.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from customers.services import customer_for_order
from fulfilments.models import StockPosition
from oms import activity, locking
from oms.bounds import text_limit
from oms.roles import Role, require_role
from oms.state import InvalidTransition
from oms.tasks import enqueue_on_commit
from orders import services
from orders.intake.adapters import (
    CanonicalAddress,
    CanonicalOrder,
    MappingError,
    NotTaken,
    hmac_hex,
)
from orders.intake.channels import rules_of
from orders.intake.kinds import ADAPTERS
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.models import ORDER_CHECKS, Order, SystemState
from orders.tasks import process_intake_message

M = IntakeMessage.Status

activity.describe_as("orders.intakemessage.accepted", "Received from {channel}: {event}")
activity.describe_as("orders.intakemessage.replayed", "Intake message {id} replayed")
activity.describe_as("orders.intakemessage.discarded", "Intake message {id} discarded: {reason}")
activity.describe_as("orders.intakemessage.stale", "Stale message from {channel} refused: {reason}")

DISCARDABLE = (M.REJECTED, M.DEAD)


def signature(secret: str, body: bytes) -> str:
    """The signature of the project's own channel kinds (hex HMAC-SHA256 in X-Signature)."""
    return hmac_hex(secret, body)


def signature_ok(channel: IntakeChannel, body: bytes, given: str | None) -> bool:
    """Whether `given` is the body's signature under the channel's secret, made the way its
    kind signs (`kinds.ADAPTERS`)."""
    return ADAPTERS[channel.kind].signature_ok(channel.secret, body, given)


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def intake_receive(
    *, channel: IntakeChannel, body: str, topic: str = "", delivery_id: str = ""
) -> IntakeMessage:
    """Keep the raw message, then hand it to a worker once that is committed."""
    return intake_receive_once(channel=channel, body=body, topic=topic, delivery_id=delivery_id)[0]


def intake_receive_once(
    *, channel: IntakeChannel, body: str, topic: str = "", delivery_id: str = ""
) -> tuple[IntakeMessage, bool]:
    """Keep the raw message as `intake_receive` does, once per platform delivery: a delivery
    the platform sends again (the same `delivery_id`, as after a timeout) gives the message
    kept the first time, and False."""
    if delivery_id:
        kept = IntakeMessage.objects.filter(channel=channel, delivery_id=delivery_id).first()
        if kept is not None:
            return kept, False
    try:
        with transaction.atomic():
            message = IntakeMessage.objects.create(
                retailer_id=channel.retailer_id,
                channel=channel,
                body=body,
                body_hash=body_hash(body),
                topic=topic,
                delivery_id=delivery_id,
            )
            enqueue_on_commit(process_intake_message, message.pk, retailer_id=message.retailer_id)
    except IntegrityError:
        if not delivery_id:
            raise
        # the same delivery, arriving twice at once: the other one was kept
        return IntakeMessage.objects.get(channel=channel, delivery_id=delivery_id), False
    return message, True


# what working on a message may change
PROCESSED = (
    "status",
    "reasons",
    "processed_at",
    "external_id",
    "event",
    "value",
    "attempts",
    "body_hash",
    "sent_at",
)


def _reject(message: IntakeMessage, reasons: list[str]) -> str:
    return _end(message, M.REJECTED, reasons)


def _end(
    message: IntakeMessage, status: str, reasons: list[str], order: Order | None = None
) -> str:
    message.status = status
    message.reasons = reasons
    message.processed_at = timezone.now()
    if order is not None:
        message.order = order
    message.save(update_fields=[*PROCESSED, *(["order"] if order is not None else [])])
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
    message.body_hash = body_hash(message.body)
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
    message.external_id = str(adapter.external_id(data))[:100]
    if message.external_id:
        # one message per order of a channel at a time: deliveries arriving together wait here
        # for each other instead of racing to create the same order
        locking.lock_name("intake", channel.pk, message.external_id)
        twin = (
            IntakeMessage.objects.filter(
                channel=channel, body_hash=message.body_hash, status=M.ACCEPTED
            )
            .exclude(pk=message.pk)
            .order_by("pk")
            .first()
        )
        if twin is not None:
            return _end(message, M.DUPLICATE, [f"duplicate of message {twin.pk}"], twin.order)
    try:
        canonical = adapter.read(data, channel.retailer, topic=message.topic)
    except NotTaken as error:
        return _end(message, M.NOT_TAKEN, [error.reason])
    except MappingError as error:
        reasons = list(error.reasons)
        if error.order is not None and error.order.event != "cancel":
            # what else is wrong, without naming a field twice
            named = {reason.split(": ")[0] for reason in reasons}
            more = validate(error.order, channel, complete=False)
            reasons += [reason for reason in more if reason.split(": ")[0] not in named]
        return _reject(message, reasons)
    except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError) as error:
        # a field of the wrong type: the payload is not in the channel's shape
        return _reject(
            message,
            [f"body: not the {channel.get_kind_display()} shape ({type(error).__name__}: {error})"],
        )
    message.event = canonical.event
    message.value = canonical.total
    message.sent_at = canonical.sent_at
    names = adapter.NAMES
    if not canonical.external_id:
        return _reject(message, [f"{names['id']}: the channel's order id is missing"])
    ref = f"{channel.code.upper()}-{canonical.external_id}"
    if len(ref) > text_limit(Order, "ref"):
        return _reject(
            message,
            [
                f"{names['id']}: too long for an order ref of this channel (at most "
                f"{text_limit(Order, 'ref') - len(channel.code) - 1} characters)"
            ],
        )
    later = _applied_after(message)
    if later is not None:
        return _stale(message, later)
    existing = Order.objects.filter(retailer_id=channel.retailer_id, ref=ref).first()
    if existing is not None:
        existing = locking.lock(existing, related=ORDER_CHECKS)
    if canonical.event == "cancel":
        return _cancel(message, existing, names["id"])
    reasons = validate(canonical, channel)
    if reasons:
        return _reject(message, reasons)
    if existing is not None:
        return _update(message, existing, canonical)
    try:
        with transaction.atomic():  # a refused order leaves no customer or address behind
            order = _create(channel, ref, canonical)
    except ValidationError as error:
        return _reject(message, faults(error))
    return _accept(message, order, "order created")


def faults(error: ValidationError) -> list[str]:
    """Every fault a service found, one reason each, named by its field where it has one."""
    if hasattr(error, "error_dict"):
        return [
            f"{field}: {reason}" if field != "__all__" else reason
            for field, reasons in error.message_dict.items()
            for reason in reasons
        ]
    return list(error.messages)


def _applied_after(message: IntakeMessage) -> IntakeMessage | None:
    """The message applied last to the same order, when it was sent after this one."""
    if message.sent_at is None:
        return None
    return (
        IntakeMessage.objects.filter(
            channel_id=message.channel_id,
            external_id=message.external_id,
            status=M.ACCEPTED,
            sent_at__gt=message.sent_at,
        )
        .exclude(pk=message.pk)
        .order_by("-sent_at", "-pk")
        .first()
    )


def _stale(message: IntakeMessage, later: IntakeMessage) -> str:
    reason = (
        f"stale: sent {message.sent_at:%Y-%m-%d %H:%M:%S %Z}, before message {later.pk} "
        f"(sent {later.sent_at:%Y-%m-%d %H:%M:%S %Z}) was applied to this order"
    )
    _end(message, M.STALE, [reason])
    activity.record(
        action="orders.intakemessage.stale",
        target=message,
        root=later.order,
        by=None,
        data={"channel": message.channel.name, "reason": reason},
    )
    return message.status


def validate(order: CanonicalOrder, channel: IntakeChannel, *, complete: bool = True) -> list[str]:
    """Reasons the order cannot be taken under the retailer's and the channel's rules, named
    as the channel names its fields (each adapter has checked its own fields already).
    `complete=False` for an order its adapter could read only in part: what depends on every
    field (the total) is left out."""
    reasons = []
    retailer = channel.retailer
    names = ADAPTERS[channel.kind].NAMES
    rules = rules_of(channel)  # as the settings page shows them, defaults filled in
    if rules["require_phone"] and not order.phone:
        reasons.append(f"{names['phone']}: required by this channel")
    if order.currency != retailer.currency:
        reasons.append(
            f"{names['currency']}: {order.currency or 'missing'}, but {retailer.name} sells in "
            f"{retailer.currency}"
        )
    if order.total is not None and complete:
        expected = sum(
            (line.unit_price * line.quantity - line.discount for line in order.lines), Decimal(0)
        )
        expected += order.shipping
        difference = order.total - expected
        if abs(difference) > rules["total_tolerance"]:
            reasons.append(
                f"{names['total']}: {order.total} does not add up to the lines and shipping "
                f"({expected}): {abs(difference)} {'more' if difference > 0 else 'less'}"
            )
    if rules["require_known_sku"]:
        known = set(
            StockPosition.objects.filter(retailer_id=retailer.pk).values_list("sku", flat=True)
        )
        for index, line in enumerate(order.lines):
            if line.sku and line.sku not in known:
                where = names["sku"].format(index=index)
                reasons.append(f"{where}: {line.sku} is not in the catalogue")
    return reasons


def _address(address: CanonicalAddress) -> services.AddressInput:
    return services.AddressInput(
        name=address.name,
        company=address.company,
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
            discount=line.discount,
            tax=line.tax,
            tax_rate=line.tax_rate,
        )
        for line in canonical.lines
    ]


CHANNELS = {
    "webstore": "web",
    "marketplace": "marketplace",
    "batch": "web",
    "shopify": "web",
    "woocommerce": "web",
}


def _create(channel: IntakeChannel, ref: str, canonical: CanonicalOrder) -> Order:
    """The order a channel sent, placed through the order services like any other."""
    customer = customer_for_order(
        retailer_id=channel.retailer_id,
        email=canonical.email,
        first_name=canonical.first_name,
        last_name=canonical.last_name,
        phone=canonical.phone,
        placed_at=canonical.placed_at,
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
            type=canonical.type,
            collection_location=canonical.collection_location,
            delivery_method=canonical.delivery_method or "Standard delivery",
            shipping_address=_address(canonical.shipping_address)
            if canonical.shipping_address
            else None,
            billing_address=_address(canonical.billing_address)
            if canonical.billing_address
            else None,
            placed_at=canonical.placed_at,
            vat_number=canonical.vat_number,
            payment=services.PaymentInput(
                method=canonical.payment_method,
                provider_reference=canonical.payment_reference or f"psp_{ref}",
            ),
        ),
        by=None,
    )


def _unchanged(order: Order, canonical: CanonicalOrder) -> bool:
    """Whether the channel's version has the order's items and shipping as they are (a platform
    also sends an update when only a tag or its own fulfilment changed)."""
    have = [
        (line.sku, line.quantity, line.unit_price, line.discount)
        for line in order.lines.order_by("position")
    ]
    sent = [(line.sku, line.quantity, line.unit_price, line.discount) for line in canonical.lines]
    return have == sent and order.shipping == canonical.shipping


def _update(message: IntakeMessage, order: Order, canonical: CanonicalOrder) -> str:
    if _unchanged(order, canonical):
        return _accept(message, order, "nothing to change")
    try:
        services.order_lines_replace(
            order=order, lines=_lines(canonical), shipping=canonical.shipping, by=None
        )
    except InvalidTransition as error:
        return _reject(message, [f"state: {error}"])
    except ValidationError as error:
        return _reject(message, faults(error))
    return _accept(message, order, "order updated")


def _cancel(message: IntakeMessage, order: Order | None, id_name: str) -> str:
    if order is None:
        never_taken = IntakeMessage.objects.filter(
            channel_id=message.channel_id, external_id=message.external_id, status=M.NOT_TAKEN
        ).exists()
        if never_taken:  # an abandoned checkout, cancelled: there is nothing to undo
            return _end(message, M.NOT_TAKEN, [f"{id_name}: never taken, so nothing to cancel"])
        return _reject(message, [f"{id_name}: no order with this id to cancel"])
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
    _end(message, M.ACCEPTED, [what], order)
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
        message.body_hash = body_hash(body)
    message.status = M.RECEIVED
    message.reasons = []
    message.save(update_fields=["body", "body_hash", "status", "reasons"])
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
    """Set a rejected or dead message aside for good, saying why (admins)."""
    require_role(by, message.retailer_id, Role.ADMIN)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the message is discarded."})
    message = locking.lock(message)
    if message.status not in DISCARDABLE:
        raise InvalidTransition(
            f"Only a rejected or dead message can be discarded; this one is "
            f"{message.get_status_display().lower()}."
        )
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
