"""Moving an order through its statuses: set status, cancel, suspend, resume, copy, holds, paid."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from oms import state
from oms.roles import Role, require_role
from orders import events
from orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    PaymentStatus,
    PaymentTransaction,
    ShipmentStatus,
    SystemState,
)
from orders.services.locking import lock_order
from orders.services.mail import queue_order_email

HOLD_FLAGS = {
    "documentation": ("hold_documentation", "Missing documentation"),
    "compliance": ("hold_compliance", "Compliance"),
}


def _status_in(order: Order, system_state: str) -> OrderStatus:
    status = (
        OrderStatus.objects.filter(retailer_id=order.retailer_id, system_state=system_state)
        .order_by("position", "pk")
        .first()
    )
    if status is None:
        raise state.InvalidTransition(
            f"The retailer has no order status for {SystemState(system_state).label}; "
            "an admin can add one in Settings."
        )
    return status


def check_move(order: Order, target_state: str) -> None:
    """Raise InvalidTransition unless the order may move to `target_state` now."""
    current = order.status.system_state
    if target_state == current and order.transitions()[current]:
        pass  # another status of the same state, e.g. "Picking" to "Packing"
    else:
        state.check(
            order.transitions(),
            current,
            target_state,
            labels=dict(SystemState.choices),
            what=f"Order {order.ref}",
        )
    if target_state == SystemState.PROCESSING and order.is_held:
        raise state.InvalidTransition(
            f"Order {order.ref} is on hold ({', '.join(order.hold_reasons).lower()}): "
            "a manager must clear the hold before it can be processed."
        )


def check_suspend(order: Order) -> None:
    """Raise InvalidTransition unless the order may be suspended now."""
    if order.status.system_state == SystemState.SUSPENDED:
        raise state.InvalidTransition(f"Order {order.ref} is already suspended.")
    check_move(order, SystemState.SUSPENDED)


def check_resume(order: Order) -> None:
    """Raise InvalidTransition unless the order is suspended and may go back where it was."""
    if order.status.system_state != SystemState.SUSPENDED or order.suspended_from is None:
        raise state.InvalidTransition(f"Order {order.ref} is not suspended.")
    check_move(order, order.suspended_from.system_state)


def _move(order: Order, to: OrderStatus, *, by, reason: str = "") -> OrderStatus:
    """Save the new status and record it; the caller has locked and checked."""
    before = order.status
    order.status = to
    if to.system_state == SystemState.SUSPENDED:
        if before.system_state != SystemState.SUSPENDED:  # from one suspended status to
            order.suspended_from = before  # another, it still resumes where it was
    elif before.system_state == SystemState.SUSPENDED:
        order.suspended_from = None
    order.updated_at = timezone.now()
    order.save(update_fields=["status", "suspended_from", "updated_at"])
    events.order_status_changed(order, before=before, by=by, reason=reason)
    return before


@transaction.atomic
def order_set_status(*, order: Order, status: OrderStatus, by, reason: str = "") -> Order:
    """Move the order to one of its retailer's statuses, as the state machine allows."""
    require_role(by, order.retailer_id, Role.MANAGER)
    if status.retailer_id != order.retailer_id:
        raise ValidationError({"status": "That status belongs to another retailer."})
    if status.system_state == SystemState.CANCELLED:
        return order_cancel(order=order, by=by, notify=False, reason=reason, status=status).order
    order = lock_order(order)
    if status.pk == order.status_id:
        return order
    check_move(order, status.system_state)
    confirming = (
        order.status.system_state == SystemState.NEW
        and status.system_state == SystemState.PROCESSING
    )
    _move(order, status, by=by, reason=reason)
    if confirming:
        from fulfilments.services import order_source

        # confirmation decides where each line ships from; refused (and nothing written)
        # when the order cannot ship at all
        order_source(order=order, by=by)
    return order


@dataclass(frozen=True)
class Cancellation:
    order: Order
    refund: Decimal
    release: Decimal


@transaction.atomic
def order_cancel(
    *,
    order: Order,
    by,
    notify: bool,
    reason: str = "",
    status: OrderStatus | None = None,
) -> Cancellation:
    """Cancel the order: refund what was captured, release what was only authorised, stop the
    items that have not shipped, and email the customer when asked to."""
    from orders.services.payments import queue_operation

    if by is not None:  # None: the system, e.g. a channel cancelling its own order
        require_role(by, order.retailer_id, Role.MANAGER)
    order = lock_order(order)
    check_move(order, SystemState.CANCELLED)
    _move(order, status or _status_in(order, SystemState.CANCELLED), by=by, reason=reason)
    from fulfilments.services import order_fulfilments_release

    order_fulfilments_release(order, by=by)
    OrderLine.objects.filter(
        order=order,
        shipment_status__in=[ShipmentStatus.PENDING, ShipmentStatus.PICKED, ShipmentStatus.PACKED],
    ).update(shipment_status=ShipmentStatus.CANCELLED)

    from returns.services import refunded_by_hand

    refund_total = void_total = Decimal("0.00")
    refunds = []
    given_by_hand = refunded_by_hand(order)  # the customer has that back already
    for payment in order.payments.select_for_update(of=("self",)).order_by("pk"):
        pending = _pending(payment)
        refundable = payment.captured - payment.refunded - pending[PaymentTransaction.Kind.REFUND]
        kept = min(max(refundable, Decimal(0)), given_by_hand)
        refundable, given_by_hand = refundable - kept, given_by_hand - kept
        releasable = (
            payment.authorised
            - payment.voided
            - payment.captured
            - pending[PaymentTransaction.Kind.CAPTURE]
            - pending[PaymentTransaction.Kind.VOID]
        )
        if refundable > 0:
            refunds.append(
                queue_operation(payment, PaymentTransaction.Kind.REFUND, refundable, by=by)
            )
            refund_total += refundable
        if releasable > 0:
            queue_operation(payment, PaymentTransaction.Kind.VOID, releasable, by=by)
            void_total += releasable
    events.order_cancelled(
        order, by=by, reason=reason, notify=notify, refund=refund_total, release=void_total
    )
    if refunds:
        from returns.services import return_for_cancellation

        return_for_cancellation(order=order, by=by, operations=refunds)
    if notify:
        queue_order_email(
            order,
            "cancelled",
            by=by,
            context={"refund": refund_total, "release": void_total},
            required=False,
        )
    return Cancellation(order, refund_total, void_total)


def _pending(payment) -> dict[str, Decimal]:
    """Amounts of the payment's operations still on their way, by kind: pending ones, and those
    that timed out (the gateway may have carried them out; a retry with their key tells)."""
    totals = dict.fromkeys(PaymentTransaction.Kind.values, Decimal("0.00"))
    for kind, amount in payment.transactions.filter(
        models.Q(status=PaymentTransaction.Status.PENDING)
        | models.Q(status=PaymentTransaction.Status.FAILED, error_code="unavailable")
    ).values_list("kind", "amount"):
        totals[kind] += amount
    return totals


@transaction.atomic
def order_suspend(*, order: Order, by, reason: str) -> Order:
    """Put the order on ice; it resumes to the status it had."""
    require_role(by, order.retailer_id, Role.MANAGER)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the order is suspended."})
    order = lock_order(order)
    check_suspend(order)
    _move(order, _status_in(order, SystemState.SUSPENDED), by=by, reason=reason.strip())
    return order


@transaction.atomic
def order_resume(*, order: Order, by) -> Order:
    """Take a suspended order back to the status it was suspended from."""
    require_role(by, order.retailer_id, Role.MANAGER)
    order = lock_order(order)
    check_resume(order)
    _move(order, order.suspended_from, by=by, reason="Resumed")
    return order


@transaction.atomic
def order_copy(*, order: Order, by) -> Order:
    """A new order in NEW for the same customer, addresses and items, without payments."""
    require_role(by, order.retailer_id, Role.MANAGER)
    source = lock_order(order)
    taken = set(
        Order.objects.filter(
            retailer_id=source.retailer_id, ref__startswith=f"{source.ref}-C"
        ).values_list("ref", flat=True)
    )
    number = 1
    while f"{source.ref}-C{number}" in taken:
        number += 1
    now = timezone.now()
    copy = Order.objects.create(
        retailer_id=source.retailer_id,
        ref=f"{source.ref}-C{number}",
        channel=source.channel,
        type=source.type,
        customer=source.customer,
        status=_status_in(source, SystemState.NEW),
        currency=source.currency,
        subtotal=source.subtotal,
        discount=source.discount,
        shipping=source.shipping,
        tax=source.tax,
        total=source.total,
        item_count=source.item_count,
        payment_status=PaymentStatus.NOT_PAID,
        billing_address=_copy_address(source.billing_address),
        shipping_address=_copy_address(source.shipping_address),
        delivery_method=source.delivery_method,
        carrier=source.carrier,
        collection_location=source.collection_location,
        placed_at=now,
        updated_at=now,
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            retailer_id=line.retailer_id,
            order=copy,
            position=line.position,
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
            tax_rate=line.tax_rate,
            tax=line.tax,
            total=line.total,
            shipping_method=line.shipping_method,
        )
        for line in source.lines.all()
    )
    events.order_copied(source, copy, by=by)
    return copy


def _copy_address(address):
    if address is None:
        return None
    address.pk = None
    address._state.adding = True
    address.save()
    return address


@transaction.atomic
def order_hold_set(*, order: Order, flag: str, by, reason: str) -> Order:
    """Hold the order: it cannot be processed until a manager clears the flag."""
    require_role(by, order.retailer_id, Role.MANAGER)
    field, label = _hold(flag)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the order is held."})
    order = lock_order(order)
    if getattr(order, field):
        return order
    setattr(order, field, True)
    order.updated_at = timezone.now()
    order.save(update_fields=[field, "updated_at"])
    events.order_hold_changed(order, hold=label, held=True, reason=reason.strip(), by=by)
    return order


@transaction.atomic
def order_hold_clear(*, order: Order, flag: str, by, reason: str) -> Order:
    """Clear a hold flag, saying why; the reason stays in Activity."""
    require_role(by, order.retailer_id, Role.MANAGER)
    field, label = _hold(flag)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the hold can be cleared."})
    order = lock_order(order)
    if not getattr(order, field):
        raise ValidationError({"flag": f"Order {order.ref} is not held for {label.lower()}."})
    setattr(order, field, False)
    order.updated_at = timezone.now()
    order.save(update_fields=[field, "updated_at"])
    events.order_hold_changed(order, hold=label, held=False, reason=reason.strip(), by=by)
    return order


def _hold(flag: str) -> tuple[str, str]:
    if flag not in HOLD_FLAGS:
        raise ValidationError({"flag": f"Unknown hold {flag!r}."})
    return HOLD_FLAGS[flag]


@transaction.atomic
def order_mark_paid(*, order: Order, by) -> Order:
    """Record that the order is paid outside the gateway (a bank transfer, cash in store)."""
    require_role(by, order.retailer_id, Role.MANAGER)
    order = lock_order(order)
    if order.status.system_state == SystemState.CANCELLED:
        raise state.InvalidTransition(f"Order {order.ref} is cancelled.")
    if order.payment_status == PaymentStatus.PAID:
        return order
    before = order.payment_status
    order.payment_status = PaymentStatus.PAID
    order.updated_at = timezone.now()
    order.save(update_fields=["payment_status", "updated_at"])
    events.order_payment_status_marked(order, before=before, by=by)
    from billing.services import invoices_on_paid

    invoices_on_paid(order=order, by=by)
    return order


@transaction.atomic
def order_mark_not_paid(*, order: Order, by) -> Order:
    """Undo a manual 'paid'. Money captured through the gateway cannot be marked not paid."""
    require_role(by, order.retailer_id, Role.MANAGER)
    order = lock_order(order)
    if any(p.captured > p.refunded for p in order.payments.all()):
        raise state.InvalidTransition(
            f"Order {order.ref} was paid through the payment gateway; refund it instead."
        )
    if order.payment_status == PaymentStatus.NOT_PAID:
        return order
    before = order.payment_status
    order.payment_status = PaymentStatus.NOT_PAID
    order.updated_at = timezone.now()
    order.save(update_fields=["payment_status", "updated_at"])
    events.order_payment_status_marked(order, before=before, by=by)
    return order


@transaction.atomic
def order_invoice_number_set(*, order: Order, by, invoice_number: str) -> Order:
    require_role(by, order.retailer_id, Role.MANAGER)
    invoice_number = invoice_number.strip()
    if len(invoice_number) > 64:
        raise ValidationError({"invoice_number": "At most 64 characters."})
    order = lock_order(order)
    before = order.invoice_number
    if before == invoice_number:
        return order
    order.invoice_number = invoice_number
    order.updated_at = timezone.now()
    order.save(update_fields=["invoice_number", "updated_at"])
    events.order_invoice_number_set(order, before=before, by=by)
    return order


@transaction.atomic
def order_lines_cancel(*, order: Order, line_ids: list[int], by, reason: str = ""):
    """Stop items that cannot be fulfilled; what was paid for them is refunded through a
    CANNOT_FULFIL return."""
    from returns.services import return_for_unfulfillable

    require_role(by, order.retailer_id, Role.MANAGER)
    order = lock_order(order)
    if not order.can_change_shipments:
        raise state.InvalidTransition(
            f"Order {order.ref} is {order.status.label}: only items of a New or Processing "
            "order can be cancelled."
        )
    lines = list(order.lines.select_for_update().filter(pk__in=line_ids))
    if not lines or len(lines) != len(set(line_ids)):
        raise ValidationError({"lines": "Select the items of this order to cancel."})
    shipped = [
        line.sku
        for line in lines
        if line.shipment_status in (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED)
    ]
    if shipped:
        raise ValidationError(
            {"lines": f"Shipped items cannot be cancelled: {', '.join(shipped)}."}
        )
    from fulfilments.services import order_fulfilments_release

    order_fulfilments_release(order, by=by, line_ids=[line.pk for line in lines])
    for line in lines:
        line.shipment_status = ShipmentStatus.CANCELLED
        line.save(update_fields=["shipment_status"])
        events.line_shipment_updated(
            line, changes={"shipment_status": ("", ShipmentStatus.CANCELLED)}, by=by
        )
    paid = any(p.captured > p.refunded for p in order.payments.all())
    if not paid:
        return None
    return return_for_unfulfillable(order=order, lines=lines, by=by)


@transaction.atomic
def order_line_correct_quantity(*, order: Order, line_id: int, quantity: int, by) -> OrderLine:
    """Fix a data-entry error in a line's quantity: never below what is already fulfilled,
    never above what was ordered. The line and order totals follow; no alert is raised."""
    from django.db.models import Sum

    from fulfilments.models import FulfilmentItem, FulfilmentStatus, StockPosition

    require_role(by, order.retailer_id, Role.MANAGER)
    order = lock_order(order)
    if not order.can_change_shipments:
        raise state.InvalidTransition(
            f"Order {order.ref} is {order.status.label}: quantities can only be corrected while "
            "it is New or Processing."
        )
    line = order.lines.select_for_update().filter(pk=line_id).first()
    if line is None:
        raise ValidationError({"quantity": "That item is not on this order."})
    filled = (
        FulfilmentItem.objects.filter(order_line=line)
        .exclude(fulfilment__status=FulfilmentStatus.CANCELLED)
        .aggregate(n=Sum("filled"))["n"]
        or 0
    )
    if quantity > line.quantity:
        raise ValidationError({"quantity": f"{line.sku}: at most {line.quantity} were ordered."})
    if quantity < max(filled, 1):
        raise ValidationError(
            {"quantity": f"{line.sku}: at least {max(filled, 1)} (already fulfilled: {filled})."}
        )
    if quantity == line.quantity:
        return line
    before = line.quantity
    share = Decimal(quantity) / Decimal(before)
    cent = Decimal("0.01")
    line.discount = (line.discount * share).quantize(cent)
    line.total = (line.unit_price * quantity - line.discount).quantize(cent)
    line.tax = (line.tax * share).quantize(cent)
    line.quantity = quantity
    line.save(update_fields=["quantity", "discount", "total", "tax"])
    # give back what open fulfilments reserved beyond the new quantity
    surplus = before - quantity
    for item in (
        FulfilmentItem.objects.select_for_update()
        .filter(
            order_line=line,
            filled=0,
            fulfilment__status__in=[
                FulfilmentStatus.ASSIGNED,
                FulfilmentStatus.CREATED,
                FulfilmentStatus.ESCALATED,
            ],
        )
        .select_related("fulfilment")
        .order_by("-pk")
    ):
        if not surplus:
            break
        take = min(surplus, item.requested)
        if item.fulfilment.location_id and item.fulfilment.status != FulfilmentStatus.ESCALATED:
            StockPosition.objects.filter(
                location_id=item.fulfilment.location_id, sku=line.sku
            ).update(reserved=models.F("reserved") - take)
        item.requested -= take
        surplus -= take
        if item.requested:
            item.save(update_fields=["requested"])
        else:
            item.delete()
            if not item.fulfilment.items.exists():  # an empty parcel is no parcel
                from fulfilments.services import fulfilment_emptied

                fulfilment_emptied(fulfilment=item.fulfilment, by=by)
    lines = list(order.lines.all())
    order.subtotal = sum((ln.unit_price * ln.quantity for ln in lines), Decimal(0))
    order.discount = sum((ln.discount for ln in lines), Decimal(0))
    order.tax = sum((ln.tax for ln in lines), Decimal(0))
    order.total = order.subtotal - order.discount + order.shipping
    order.item_count = sum(ln.quantity for ln in lines)
    order.updated_at = timezone.now()
    order.save(update_fields=["subtotal", "discount", "tax", "total", "item_count", "updated_at"])
    events.line_quantity_corrected(line, before=before, by=by)
    return line
