"""Shipments of an order's items, and marking the order sent."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from oms import state
from oms.roles import Role, require_role
from orders import events
from orders.models import Order, OrderLine, Shipment, ShipmentStatus
from orders.services.locking import lock_order
from orders.services.mail import queue_order_email


def _check_shippable(order: Order) -> None:
    if not order.can_change_shipments:
        raise state.InvalidTransition(
            f"Order {order.ref} is {order.status.label}: shipments can only change while an "
            "order is New or Processing."
        )


@transaction.atomic
def order_lines_update_shipment(
    *,
    order: Order,
    line_ids: list[int],
    by,
    shipment_status: str | None = None,
    shipping_method: str | None = None,
    tracking_number: str | None = None,
) -> list[OrderLine]:
    """Set the shipment status, shipping method and/or tracking number of selected items.

    Fields left None are not changed; an empty tracking number clears it.
    """
    require_role(by, order.retailer_id, Role.MANAGER)
    order = lock_order(order)
    _check_shippable(order)
    if not line_ids:
        raise ValidationError({"lines": "Select the items to update."})
    if shipment_status is not None and shipment_status not in ShipmentStatus.values:
        raise ValidationError({"shipment_status": f"Unknown shipment status {shipment_status!r}."})
    lines = list(order.lines.select_for_update().filter(pk__in=line_ids))
    if len(lines) != len(set(line_ids)):
        raise ValidationError({"lines": "Some selected items are not on this order."})
    wanted = {
        "shipment_status": shipment_status,
        "shipping_method": shipping_method.strip() if shipping_method is not None else None,
        "tracking_number": tracking_number.strip() if tracking_number is not None else None,
    }
    wanted = {field: value for field, value in wanted.items() if value is not None}
    if not wanted:
        raise ValidationError("Choose what to change.")
    for line in lines:
        changes = {
            field: (getattr(line, field), value)
            for field, value in wanted.items()
            if getattr(line, field) != value
        }
        if not changes:
            continue
        for field, (_, value) in changes.items():
            setattr(line, field, value)
        line.save(update_fields=list(changes))
        events.line_shipment_updated(line, changes=changes, by=by)
    order.updated_at = timezone.now()
    order.save(update_fields=["updated_at"])
    return lines


@transaction.atomic
def order_mark_sent(*, order: Order, by, tracking_number: str = "", carrier: str = "") -> Shipment:
    """Record that the order left the warehouse and email the customer: the 'order sent' email,
    or the track-and-trace email when a tracking number is given."""
    require_role(by, order.retailer_id, Role.MANAGER)
    order = lock_order(order)
    _check_shippable(order)
    tracking_number = tracking_number.strip()
    carrier = carrier.strip() or order.carrier or "Carrier"
    now = timezone.now()
    shipment = Shipment.objects.create(
        retailer_id=order.retailer_id,
        order=order,
        carrier=carrier,
        service=order.delivery_method,
        tracking_number=tracking_number,
        status=Shipment.Status.IN_TRANSIT,
        shipped_at=now,
        created_at=now,
    )
    unsent = order.lines.exclude(
        shipment_status__in=[
            ShipmentStatus.SHIPPED,
            ShipmentStatus.DELIVERED,
            ShipmentStatus.CANCELLED,
            ShipmentStatus.RETURNED,
        ]
    )
    update = {"shipment_status": ShipmentStatus.SHIPPED}
    if tracking_number:
        update["tracking_number"] = tracking_number
    unsent.update(**update)
    order.updated_at = now
    order.save(update_fields=["updated_at"])
    events.order_sent(order, shipment=shipment, by=by)
    queue_order_email(
        order,
        "sent_tracking" if tracking_number else "sent",
        by=by,
        context={"shipment": shipment},
        required=False,
    )
    return shipment
