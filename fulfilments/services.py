"""Sourcing: where each line of a confirmed order ships from, with its stock reserved.

A location can fulfil a line when it is active, ships to the order's country (home delivery),
an available carrier delivers there, it has capacity left on the promised date, and it holds
the SKU above its safety threshold. One location for the whole order is preferred; otherwise
lines are split across locations; what cannot be sourced becomes an ESCALATED fulfilment with
the reason, for a manager to resolve.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from fulfilments import events
from fulfilments.models import (
    FULFILMENT_TRANSITIONS,
    Carrier,
    Fulfilment,
    FulfilmentItem,
    FulfilmentStatus,
    Location,
    StockPosition,
)
from oms import state
from oms.roles import Role, require_role
from orders.models import Order, OrderLine, OrderType, ShipmentStatus

S = FulfilmentStatus
LIVE = [
    S.CREATED,
    S.ASSIGNED,
    S.PICKED,
    S.PACKED,
    S.SHIPPED,
    S.READY_FOR_COLLECTION,
    S.DELIVERED,
    S.COLLECTED,
    S.ESCALATED,
]


@dataclass
class Sourcing:
    """The outcome: fulfilments made, and what could not be sourced and why."""

    assigned: list[Fulfilment] = field(default_factory=list)
    escalated: Fulfilment | None = None
    reasons: list[str] = field(default_factory=list)


def _country(order: Order) -> str:
    return order.shipping_address.country if order.shipping_address_id else ""


def _day_load(location_ids, day) -> dict[int, int]:
    """Fulfilments each location already has for orders promised on `day`."""
    if day is None:
        return {}
    return dict(
        Fulfilment.objects.filter(
            location_id__in=location_ids,
            order__promised_date=day,
            status__in=[S.ASSIGNED, S.PICKED, S.PACKED],
        )
        .values_list("location_id")
        .annotate(n=Count("pk"))
    )


def eligible_locations(order: Order, *, only: Location | None = None) -> tuple[list, list[str]]:
    """Locations that may fulfil the order, and why the others may not (in words)."""
    reasons: list[str] = []
    country = _country(order)
    home = order.type == OrderType.HOME_DELIVERY
    if home:
        carriers = [
            c for c in Carrier.objects.filter(retailer_id=order.retailer_id) if country in c.zones
        ]
        if not any(c.is_available for c in carriers):
            if carriers:
                names = ", ".join(c.name for c in carriers)
                reasons.append(
                    f"no carrier available to deliver to {country} ({names} unavailable)"
                )
            else:
                reasons.append(f"no carrier delivers to {country or 'the address'}")
            return [], reasons
    locations = Location.objects.filter(retailer_id=order.retailer_id, is_active=True)
    if only is not None:
        locations = locations.filter(pk=only.pk)
    locations = list(locations.order_by("ref"))
    load = _day_load([loc.pk for loc in locations], order.promised_date)
    eligible = []
    for location in locations:
        if home and country not in location.zones:
            reasons.append(f"{location.name} does not ship to {country}")
        elif load.get(location.pk, 0) >= location.daily_capacity:
            day = order.promised_date.strftime("%d %b") if order.promised_date else "that day"
            reasons.append(
                f"{location.name} is at capacity on {day} "
                f"({load[location.pk]} of {location.daily_capacity})"
            )
        else:
            eligible.append(location)
    return eligible, reasons


def _needs(order: Order, lines=None) -> dict[OrderLine, int]:
    """Units of each line still to source: ordered, less what open fulfilments hold."""
    lines = list(
        lines
        if lines is not None
        else order.lines.exclude(shipment_status=ShipmentStatus.CANCELLED)
    )
    held = dict(
        FulfilmentItem.objects.filter(order_line__in=lines)
        .exclude(fulfilment__status__in=[S.CANCELLED, S.ESCALATED])
        .values_list("order_line_id")
        .annotate(n=Sum("requested"))
    )
    return {
        line: line.quantity - held.get(line.pk, 0)
        for line in lines
        if line.quantity - held.get(line.pk, 0) > 0
    }


def _plan(needs: dict[OrderLine, int], locations: list[Location]):
    """Which location gives how many of each line, and what is left over."""
    stock = {
        (s.location_id, s.sku): s
        for s in StockPosition.objects.select_for_update()
        .filter(location__in=locations, sku__in={line.sku for line in needs})
        .order_by("pk")
    }

    used: dict[tuple[int, str], int] = defaultdict(int)

    def available(location, sku):
        position = stock.get((location.pk, sku))
        return (position.available if position else 0) - used[(location.pk, sku)]

    per_sku: dict[str, int] = defaultdict(int)
    for line, qty in needs.items():
        per_sku[line.sku] += qty
    for location in locations:  # one parcel when one location has everything
        if all(available(location, sku) >= qty for sku, qty in per_sku.items()):
            return {location: dict(needs)}, {}, stock
    plan: dict[Location, dict[OrderLine, int]] = defaultdict(dict)
    short: dict[OrderLine, int] = {}
    for line, qty in needs.items():
        remaining = qty
        for location in sorted(locations, key=lambda loc: -available(loc, line.sku)):
            take = min(remaining, available(location, line.sku))
            if take > 0:
                plan[location][line] = plan[location].get(line, 0) + take
                used[(location.pk, line.sku)] += take
                remaining -= take
            if not remaining:
                break
        if remaining:
            short[line] = remaining
    return {loc: lines for loc, lines in plan.items() if lines}, short, stock


def _ref(order: Order) -> str:
    return f"{order.ref}-F{uuid.uuid4().hex[:6].upper()}"


def _assign(
    order: Order,
    location: Location,
    lines: dict,
    stock,
    *,
    by,
    fulfilment: Fulfilment | None = None,
) -> Fulfilment:
    now = timezone.now()
    if fulfilment is None:
        fulfilment = Fulfilment.objects.create(
            retailer_id=order.retailer_id,
            order=order,
            ref=_ref(order),
            location=location,
            type=order.type,
            status=S.ASSIGNED,
            history={S.CREATED: now.isoformat(), S.ASSIGNED: now.isoformat()},
        )
    for line, qty in lines.items():
        FulfilmentItem.objects.create(
            retailer_id=order.retailer_id, fulfilment=fulfilment, order_line=line, requested=qty
        )
        position = stock[(location.pk, line.sku)]
        position.reserved += qty
        position.updated_at = now
        position.save(update_fields=["reserved", "updated_at"])
    events.fulfilment_assigned(fulfilment, lines=lines, by=by)
    return fulfilment


def _short_reasons(short: dict, locations: list, extra: list[str]) -> list[str]:
    """Why lines could not be sourced, in words a person understands."""
    if not locations:
        skus = ", ".join(f"{line.sku} ({qty})" for line, qty in short.items())
        return [f"{skus}: no location can ship this order"] + (extra or [])
    names = ", ".join(loc.name for loc in locations)
    reasons = [
        f"{line.sku}: {qty} of {line.quantity} cannot be sourced (not enough stock above the "
        f"safety threshold at {names})"
        for line, qty in short.items()
    ]
    return reasons + extra


@transaction.atomic
def order_source(*, order: Order, by, refuse_when_nothing: bool = True) -> Sourcing:
    """Source the order's open lines and reserve their stock (called on confirmation)."""
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("shipping_address")
        .get(pk=order.pk)
    )
    result = Sourcing()
    if not Location.objects.filter(retailer_id=order.retailer_id).exists():
        return result  # a retailer without locations fulfils outside the back office
    needs = _needs(order)
    if not needs:
        return result
    locations, rejected = eligible_locations(order)
    plan, short, stock = _plan(needs, locations) if locations else ({}, dict(needs), {})
    if not plan and refuse_when_nothing:
        raise state.InvalidTransition(
            f"Order {order.ref} cannot ship: "
            + "; ".join(_short_reasons(short, locations, rejected))
        )
    for location, lines in plan.items():
        result.assigned.append(_assign(order, location, lines, stock, by=by))
    if short:
        result.reasons = _short_reasons(short, locations, rejected)
        result.escalated = _escalate(order, short, result.reasons, by=by)
    return result


def _escalate(order: Order, short: dict, reasons: list[str], *, by) -> Fulfilment:
    now = timezone.now()
    fulfilment = Fulfilment.objects.create(
        retailer_id=order.retailer_id,
        order=order,
        ref=_ref(order),
        type=order.type,
        status=S.ESCALATED,
        escalation_reason="; ".join(reasons),
        escalated_at=now,
        history={S.CREATED: now.isoformat(), S.ESCALATED: now.isoformat()},
    )
    FulfilmentItem.objects.bulk_create(
        FulfilmentItem(
            retailer_id=order.retailer_id, fulfilment=fulfilment, order_line=line, requested=qty
        )
        for line, qty in short.items()
    )
    events.fulfilment_escalated(fulfilment, by=by)
    return fulfilment


def _lock(fulfilment: Fulfilment) -> Fulfilment:
    return (
        Fulfilment.objects.select_for_update(of=("self",))
        .select_related("order", "order__shipping_address", "location")
        .get(pk=fulfilment.pk)
    )


def _escalated_needs(fulfilment: Fulfilment) -> dict[OrderLine, int]:
    return {
        item.order_line: item.requested for item in fulfilment.items.select_related("order_line")
    }


def retry_escalated(fulfilment: Fulfilment, *, by) -> Sourcing:
    """Try again to source an escalated fulfilment (stock may have arrived)."""
    fulfilment = _lock(fulfilment)
    if fulfilment.status != S.ESCALATED:
        raise state.InvalidTransition(f"Fulfilment {fulfilment.ref} is not escalated.")
    order = fulfilment.order
    needs = _escalated_needs(fulfilment)
    locations, rejected = eligible_locations(order)
    plan, short, stock = _plan(needs, locations) if locations else ({}, dict(needs), {})
    result = Sourcing()
    if not plan:
        reasons = _short_reasons(short, locations, rejected)
        if fulfilment.escalation_reason != "; ".join(reasons):  # why it waits has changed
            fulfilment.escalation_reason = "; ".join(reasons)
            fulfilment.save(update_fields=["escalation_reason"])
            events.fulfilment_escalated(fulfilment, by=by)
        result.escalated, result.reasons = fulfilment, reasons
        return result
    for location, lines in plan.items():
        result.assigned.append(_assign(order, location, lines, stock, by=by))
    fulfilment.items.all().delete()
    if short:
        FulfilmentItem.objects.bulk_create(
            FulfilmentItem(
                retailer_id=order.retailer_id, fulfilment=fulfilment, order_line=line, requested=qty
            )
            for line, qty in short.items()
        )
        fulfilment.escalation_reason = "; ".join(_short_reasons(short, locations, rejected))
        fulfilment.save(update_fields=["escalation_reason"])
        result.escalated = fulfilment
    else:
        _set(fulfilment, S.CANCELLED, by=by, note="sourced elsewhere")
    return result


@transaction.atomic
def fulfilment_retry(*, fulfilment: Fulfilment, by) -> Sourcing:
    require_role(by, fulfilment.retailer_id, Role.MANAGER)
    return retry_escalated(fulfilment, by=by)


@transaction.atomic
def fulfilment_assign(*, fulfilment: Fulfilment, location: Location, by) -> Fulfilment:
    """A manager sends an escalated fulfilment to a location, with the same checks as sourcing."""
    require_role(by, fulfilment.retailer_id, Role.MANAGER)
    if location.retailer_id != fulfilment.retailer_id:
        raise ValidationError("That location belongs to another retailer.")
    fulfilment = _lock(fulfilment)
    if fulfilment.status != S.ESCALATED:
        raise state.InvalidTransition(f"Fulfilment {fulfilment.ref} is not escalated.")
    order = fulfilment.order
    needs = _escalated_needs(fulfilment)
    locations, rejected = eligible_locations(order, only=location)
    if not locations:
        raise ValidationError(f"{location.name} cannot take it: " + "; ".join(rejected))
    plan, short, stock = _plan(needs, locations)
    if short:
        raise ValidationError(
            f"{location.name} cannot take it: " + "; ".join(_short_reasons(short, locations, []))
        )
    fulfilment.items.all().delete()
    fulfilment.location = location
    fulfilment.escalation_reason = ""
    fulfilment.save(update_fields=["location", "escalation_reason"])
    _assign(order, location, plan[location], stock, by=by, fulfilment=fulfilment)
    _set(fulfilment, S.ASSIGNED, by=by, check=False)
    return fulfilment


def _set(fulfilment: Fulfilment, to: str, *, by, note: str = "", check: bool = True) -> None:
    if check:
        state.check(
            FULFILMENT_TRANSITIONS,
            fulfilment.status,
            to,
            labels=dict(S.choices),
            what=f"Fulfilment {fulfilment.ref}",
        )
    before = fulfilment.get_status_display()
    now = timezone.now()
    if to == S.CANCELLED:
        if fulfilment.status in (S.CREATED, S.ASSIGNED):
            _release(fulfilment)
        elif fulfilment.status in (S.PICKED, S.PACKED, S.READY_FOR_COLLECTION):
            _restock(fulfilment)
    if to == S.PICKED:
        _deduct(fulfilment)
    fulfilment.status = to
    fulfilment.history = {**fulfilment.history, to: now.isoformat()}
    fulfilment.updated_at = now
    fulfilment.save(update_fields=["status", "history", "updated_at"])
    events.fulfilment_moved(fulfilment, before=before, by=by, note=note)


def _positions(fulfilment: Fulfilment):
    items = list(fulfilment.items.select_related("order_line"))
    positions = {
        p.sku: p
        for p in StockPosition.objects.select_for_update().filter(
            location_id=fulfilment.location_id, sku__in={i.order_line.sku for i in items}
        )
    }
    return items, positions


def _release(fulfilment: Fulfilment) -> None:
    """Give the stock a fulfilment reserved back to its location."""
    if fulfilment.location_id is None:
        return
    items, positions = _positions(fulfilment)
    for item in items:
        position = positions.get(item.order_line.sku)
        if position is not None:
            position.reserved = max(0, position.reserved - item.requested)
            position.save(update_fields=["reserved"])


def _restock(fulfilment: Fulfilment) -> None:
    """Picked units that will not leave go back on the shelf."""
    items, positions = _positions(fulfilment)
    for item in items:
        position = positions.get(item.order_line.sku)
        if position is not None and item.filled:
            position.on_hand += item.filled
            position.save(update_fields=["on_hand"])


def _deduct(fulfilment: Fulfilment) -> None:
    """Picked: the units leave the shelf, so on hand and reserved both go down."""
    items, positions = _positions(fulfilment)
    for item in items:
        position = positions.get(item.order_line.sku)
        if position is not None:  # a location keeps no record of what it was never sent
            position.on_hand -= item.requested
            position.reserved -= item.requested
            position.save(update_fields=["on_hand", "reserved"])
        item.filled = item.requested
        item.save(update_fields=["filled"])


@transaction.atomic
def fulfilment_move(*, fulfilment: Fulfilment, to: str, by) -> Fulfilment:
    """Move a fulfilment along its life: picked, packed, shipped, delivered, collected."""
    require_role(by, fulfilment.retailer_id, Role.MANAGER)
    fulfilment = _lock(fulfilment)
    if to == S.ASSIGNED:
        raise state.InvalidTransition("Assign an escalated fulfilment to a location instead.")
    if to == S.ESCALATED:
        raise state.InvalidTransition(
            "Sourcing escalates what it cannot place; cancel the fulfilment instead and its "
            "items go to the escalation queue."
        )
    if fulfilment.status == S.ESCALATED:  # or its lines would be forgotten
        raise state.InvalidTransition(
            f"Fulfilment {fulfilment.ref} is escalated: retry it, assign it to a location or "
            "cancel its lines."
        )
    _set(fulfilment, to, by=by)
    if to == S.CANCELLED:  # the items are still owed: they wait for a manager in the queue
        owed = {
            item.order_line: item.requested
            for item in fulfilment.items.select_related("order_line")
            if item.order_line.shipment_status != ShipmentStatus.CANCELLED
        }
        if owed:
            where = f" at {fulfilment.location.name}" if fulfilment.location else ""
            _escalate(
                fulfilment.order,
                owed,
                [f"{fulfilment.ref} was cancelled{where}: source its items again"],
                by=by,
            )
    return fulfilment


def fulfilment_emptied(*, fulfilment: Fulfilment, by) -> None:
    """Its last item was corrected away: nothing is left to fulfil (or to escalate)."""
    _set(_lock(fulfilment), S.CANCELLED, by=by, note="no items left")


@transaction.atomic
def fulfilment_cancel_lines(*, fulfilment: Fulfilment, by):
    """Give up on an escalated fulfilment: its lines are cancelled and, when paid, refunded
    through a CANNOT_FULFIL return."""
    from orders.services import order_lines_cancel

    require_role(by, fulfilment.retailer_id, Role.MANAGER)
    fulfilment = _lock(fulfilment)
    if fulfilment.status != S.ESCALATED:
        raise state.InvalidTransition(f"Fulfilment {fulfilment.ref} is not escalated.")
    line_ids = list(fulfilment.items.values_list("order_line_id", flat=True))
    _set(fulfilment, S.CANCELLED, by=by, note="lines cancelled")
    return order_lines_cancel(order=fulfilment.order, line_ids=line_ids, by=by)


def order_fulfilments_release(order: Order, *, by, line_ids=None) -> None:
    """An order (or some of its lines) is cancelled: open fulfilments give their stock back,
    picked units go back on the shelf; items that left the warehouse cannot be cancelled."""
    gone = Fulfilment.objects.filter(order=order, status__in=[S.SHIPPED, S.DELIVERED, S.COLLECTED])
    if line_ids is not None:
        gone = gone.filter(items__order_line_id__in=line_ids)
    if gone.exists():
        raise state.InvalidTransition(
            "Some of these items have left the warehouse already; create a return instead."
        )
    fulfilments = (
        Fulfilment.objects.select_for_update()
        .filter(
            order=order,
            status__in=[
                S.CREATED,
                S.ASSIGNED,
                S.ESCALATED,
                S.PICKED,
                S.PACKED,
                S.READY_FOR_COLLECTION,
            ],
        )
        .order_by("pk")
    )
    for fulfilment in fulfilments:
        items = list(fulfilment.items.select_related("order_line"))
        cancelled = [i for i in items if line_ids is None or i.order_line_id in line_ids]
        if not cancelled:
            continue
        if len(cancelled) == len(items):
            _set(fulfilment, S.CANCELLED, by=by, check=False, note="items cancelled")
            continue
        if fulfilment.status in (S.PICKED, S.PACKED, S.READY_FOR_COLLECTION):
            raise state.InvalidTransition(
                f"Fulfilment {fulfilment.ref} is {fulfilment.get_status_display().lower()} with "
                "other items too: cancel that fulfilment first."
            )
        if fulfilment.status in (S.PICKED, S.PACKED, S.READY_FOR_COLLECTION):
            raise state.InvalidTransition(
                f"Fulfilment {fulfilment.ref} is {fulfilment.get_status_display().lower()} with "
                "other items: cancel that fulfilment first."
            )
        if fulfilment.location_id is not None:  # only some of its items: give those back
            positions = {
                p.sku: p
                for p in StockPosition.objects.select_for_update().filter(
                    location_id=fulfilment.location_id,
                    sku__in={i.order_line.sku for i in cancelled},
                )
            }
            for item in cancelled:
                position = positions.get(item.order_line.sku)
                if position is not None:
                    position.reserved = max(0, position.reserved - item.requested)
                    position.save(update_fields=["reserved"])
        FulfilmentItem.objects.filter(pk__in=[i.pk for i in cancelled]).delete()


def retry_all_escalated(*, limit: int = 200) -> int:
    """Beat: try every escalated fulfilment again; returns how many were (partly) sourced."""
    sourced = 0
    ids = list(
        Fulfilment.objects.escalated().order_by("escalated_at").values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        with transaction.atomic():
            fulfilment = Fulfilment.objects.get(pk=pk)
            if fulfilment.status == S.ESCALATED and retry_escalated(fulfilment, by=None).assigned:
                sourced += 1
    return sourced


@dataclass
class StockImport:
    created: int = 0
    updated: int = 0


@transaction.atomic
def stock_import(*, retailer_id: int, csv_text: str, by) -> StockImport:
    """Set stock from a CSV of location_ref, sku, on_hand[, safety_threshold]. All or nothing:
    a bad row refuses the whole file, naming the row."""
    require_role(by, retailer_id, Role.MANAGER)
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    missing = {"location_ref", "sku", "on_hand"} - set(reader.fieldnames or [])
    if missing:
        raise ValidationError(f"The file needs the columns {', '.join(sorted(missing))}.")
    locations = {loc.ref: loc for loc in Location.objects.filter(retailer_id=retailer_id)}
    result = StockImport()
    for number, row in enumerate(reader, start=2):
        location = locations.get((row.get("location_ref") or "").strip())
        if location is None:
            raise ValidationError(f"Row {number}: no location {row.get('location_ref')!r}.")
        sku = (row.get("sku") or "").strip()
        on_hand = (row.get("on_hand") or "").strip()
        threshold = (row.get("safety_threshold") or "").strip()
        if not sku or not on_hand.isdigit() or (threshold and not threshold.isdigit()):
            raise ValidationError(
                f"Row {number}: give a SKU and whole numbers for on_hand and safety_threshold."
            )
        position = (
            StockPosition.objects.select_for_update().filter(location=location, sku=sku).first()
        )
        if position is None:
            StockPosition.objects.create(
                retailer_id=retailer_id,
                location=location,
                sku=sku,
                on_hand=int(on_hand),
                safety_threshold=int(threshold or 0),
            )
            result.created += 1
            continue
        if int(on_hand) < position.reserved:
            raise ValidationError(
                f"Row {number}: {sku} at {location.ref} has {position.reserved} reserved; "
                f"on hand cannot be {on_hand}."
            )
        position.on_hand = int(on_hand)
        if threshold:
            position.safety_threshold = int(threshold)
        position.updated_at = timezone.now()
        position.save(update_fields=["on_hand", "safety_threshold", "updated_at"])
        result.updated += 1
    events.stock_imported(retailer_id, result=result, by=by)
    from fulfilments.tasks import retry_escalated_fulfilments
    from oms.tasks import enqueue_on_commit

    enqueue_on_commit(retry_escalated_fulfilments)
    return result
