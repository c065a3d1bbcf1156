"""Shipments of an order's items, and marking the order sent.

What shipped is what fulfilments handed over: marking an order sent ships its sourced
fulfilments (taking their stock off the shelf), or, for a retailer that fulfils elsewhere,
records its open units as shipped. A line's shipment status follows its fulfilments.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from fulfilments import services as fulfilments
from fulfilments.models import Carrier, Fulfilment, FulfilmentStatus
from oms import locking, state
from oms.roles import Role, require_role
from orders import events
from orders.models import ORDER_CHECKS, Order, OrderLine, Shipment, ShipmentStatus
from orders.services.mail import queue_order_email

# shipment statuses a person may set by hand on items still to ship: their progress
BEFORE_SHIPPING = (ShipmentStatus.PENDING, ShipmentStatus.PICKED, ShipmentStatus.PACKED)


def _check_shippable(order: Order) -> None:
    if not order.can_change_shipments:
        raise state.InvalidTransition(
            f"Order {order.ref} is {order.status.label}: shipments can only change while an "
            "order is New or Processing."
        )


def _shipment_status_by_hand(order: Order, lines: list[OrderLine], status: str) -> None:
    """Refuse a shipment status that would contradict the items' units: cancelling, shipping
    and returning have actions of their own, which move stock and money."""
    units = order.lines.units()
    if status == ShipmentStatus.CANCELLED:
        raise ValidationError(
            {"shipment_status": "Cancel items with Cancel items: it also refunds them."}
        )
    if status == ShipmentStatus.RETURNED:
        raise ValidationError({"shipment_status": "Items come back on a return: create one."})
    if status == ShipmentStatus.SHIPPED:
        if fulfilments.fulfils_inside(order.retailer_id):
            raise ValidationError(
                {
                    "shipment_status": "Items ship with their fulfilment: mark the order sent "
                    "or move the fulfilment on."
                }
            )
        return
    for line in lines:
        each = units[line.pk]
        if status in BEFORE_SHIPPING and not each.open:
            raise ValidationError({"shipment_status": f"{line.sku} has nothing left to ship."})
        if status == ShipmentStatus.DELIVERED and (each.open or not each.shipped):
            raise ValidationError(
                {"shipment_status": f"{line.sku} has not shipped: it cannot be delivered."}
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

    Fields left None are not changed; an empty tracking number clears it. Shipped by hand (a
    retailer that fulfils elsewhere) records the items' open units as shipped.
    """
    require_role(by, order.retailer_id, Role.MANAGER)
    order = locking.lock(order, related=ORDER_CHECKS)
    _check_shippable(order)
    if not line_ids:
        raise ValidationError({"lines": "Select the items to update."})
    if shipment_status is not None and shipment_status not in ShipmentStatus.values:
        raise ValidationError({"shipment_status": f"Unknown shipment status {shipment_status!r}."})
    lines = locking.lock_all(order.lines.filter(pk__in=line_ids))
    if len(lines) != len(set(line_ids)):
        raise ValidationError({"lines": "Some selected items are not on this order."})
    wanted = {
        "shipment_status": shipment_status,
        "shipping_method": shipping_method.strip() if shipping_method is not None else None,
        "tracking_number": tracking_number.strip() if tracking_number is not None else None,
    }
    wanted = {name: value for name, value in wanted.items() if value is not None}
    if not wanted:
        raise ValidationError("Choose what to change.")
    if "shipment_status" in wanted:
        _shipment_status_by_hand(order, lines, wanted["shipment_status"])
    if wanted.get("shipment_status") == ShipmentStatus.SHIPPED:
        units = order.lines.units()
        leaving = {line: units[line.pk].open for line in lines if units[line.pk].open}
        if leaving:
            fulfilments.fulfilment_direct(order=order, units=leaving, by=by)
    for line in lines:
        changes = {
            name: (getattr(line, name), value)
            for name, value in wanted.items()
            if getattr(line, name) != value
        }
        if not changes:
            continue
        for name, (_, value) in changes.items():
            setattr(line, name, value)
        line.save(update_fields=list(changes))
        events.line_shipment_updated(line, changes=changes, by=by)
    order.updated_at = timezone.now()
    order.save(update_fields=["updated_at"])
    return lines


@transaction.atomic
def order_mark_sent(*, order: Order, by, tracking_number: str = "", carrier: str = "") -> Shipment:
    """Record that the order left the warehouse and email the customer: the 'order sent' email,
    or the track-and-trace email when a tracking number is given. Its sourced fulfilments are
    shipped and their stock deducted; a retailer that fulfils elsewhere ships every open unit.
    Units still waiting to be sourced (escalated) stay open."""
    require_role(by, order.retailer_id, Role.MANAGER)
    order = locking.lock(order, related=ORDER_CHECKS)
    _check_shippable(order)
    tracking_number = tracking_number.strip()
    carrier = carrier.strip() or order.carrier or "Carrier"
    units = order.lines.units()
    if fulfilments.fulfils_inside(order.retailer_id):
        shipped = fulfilments.fulfilments_hand_over(order=order, by=by, note="order marked sent")
        if not shipped:
            raise state.InvalidTransition(_nothing_to_ship(order, units))
    else:
        leaving = {line: units[line.pk].open for line in order.lines.all() if units[line.pk].open}
        if not leaving:
            raise state.InvalidTransition(
                f"Every item of order {order.ref} shipped or is cancelled."
            )
        fulfilments.fulfilment_direct(order=order, units=leaving, by=by, note="order marked sent")
    now = timezone.now()
    estimate = delivery_estimate(retailer=order.retailer, carrier=carrier, shipped_at=now)
    shipment = Shipment.objects.create(
        retailer_id=order.retailer_id,
        order=order,
        carrier=carrier,
        service=order.delivery_method,
        tracking_number=tracking_number,
        status=Shipment.Status.IN_TRANSIT,
        estimated_delivery=estimate,
        shipped_at=now,
        created_at=now,
    )
    if tracking_number:  # on the items that left now
        after = order.lines.units()
        order.lines.filter(
            pk__in=[pk for pk, each in after.items() if each.shipped > units[pk].shipped]
        ).update(tracking_number=tracking_number)
    order.updated_at = now
    order.shipped_at = order.shipped_at or now  # the first parcel's time
    order.save(update_fields=["updated_at", "shipped_at"])
    events.order_sent(order, shipment=shipment, by=by)
    queue_order_email(
        order,
        "sent_tracking" if tracking_number else "sent",
        by=by,
        context={"shipment": shipment, "estimate": estimate},
        required=False,
    )
    return shipment


def delivery_estimate(*, retailer, carrier: str, shipped_at: datetime) -> date | None:
    """The day a parcel handed to `carrier` at `shipped_at` should arrive: the carrier's transit
    days counted in working days (Monday to Friday) after the ship date, in the retailer's time
    zone. None when the carrier is not set up with the retailer, or when that day has passed
    already: then nobody is promised a date."""
    days = (
        Carrier.objects.filter(retailer_id=retailer.pk, name=carrier)
        .values_list("transit_days", flat=True)
        .first()
    )
    if days is None:
        return None
    zone = zoneinfo.ZoneInfo(retailer.time_zone)
    day = shipped_at.astimezone(zone).date()
    left = days
    while left > 0 or day.weekday() >= 5:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    if day < timezone.localtime(timezone=zone).date():
        return None
    return day


def _nothing_to_ship(order: Order, units) -> str:
    waiting = sum(each.open for each in units.values())
    if not waiting:
        return f"Every item of order {order.ref} shipped or is cancelled."
    escalated = Fulfilment.objects.filter(order=order, status=FulfilmentStatus.ESCALATED).exists()
    if escalated:
        return (
            f"Nothing of order {order.ref} is ready to ship: its items wait for a location "
            "(escalated). Resolve the escalation first."
        )
    return (
        f"Nothing of order {order.ref} is ready to ship: its items are not sourced yet. "
        "Confirm the order (Processing) first."
    )


def fulfilment_moved(fulfilment: Fulfilment, before: str) -> None:
    """A fulfilment of the order moved (registered with fulfilments): when it handed its units
    over, its lines with nothing left to ship read Shipped (or Delivered)."""
    if fulfilment.status not in (
        FulfilmentStatus.SHIPPED,
        FulfilmentStatus.DELIVERED,
        FulfilmentStatus.COLLECTED,
    ):
        return
    status = (
        ShipmentStatus.SHIPPED
        if fulfilment.status == FulfilmentStatus.SHIPPED
        else ShipmentStatus.DELIVERED
    )
    line_ids = list(fulfilment.items.values_list("order_line_id", flat=True))
    lines = OrderLine.objects.filter(pk__in=line_ids)
    units = lines.units()
    done = [pk for pk, each in units.items() if not each.open and each.shipped]
    OrderLine.objects.filter(pk__in=done).exclude(
        shipment_status__in=[status, ShipmentStatus.RETURNED]
    ).update(shipment_status=status)
