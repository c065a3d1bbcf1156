"""Sourcing: where each line of a confirmed order ships from, with its stock reserved; and the
life of a fulfilment from assigned to handed over.

A location can fulfil a line when it is active, ships to the order's country (home delivery),
an available carrier delivers there, it has capacity left on the promised date, and it holds
the SKU above its safety threshold. One location for the whole order is preferred; otherwise
lines are split across locations; what cannot be sourced becomes an ESCALATED fulfilment with
the reason, for a manager to resolve.

Units a fulfilment hands over (shipped, delivered, collected) are the line's shipped units: the
order's workflows ask `OrderLine.objects.units()`, which counts them here. A fulfilment never
calls up into the order: what follows a move there (the line's shipment status) is registered
with `on_moved` by the orders app.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from fulfilments import events
from fulfilments.models import (
    FULFILMENT_TRANSITIONS,
    LIVE,
    Carrier,
    Fulfilment,
    FulfilmentItem,
    FulfilmentStatus,
    Location,
    StockPosition,
)
from fulfilments.tasks import retry_escalated_fulfilments
from oms import bounds, locking, state
from oms.roles import Role, require_role
from oms.tasks import enqueue_on_commit

if TYPE_CHECKING:
    from orders.models import Order, OrderLine

S = FulfilmentStatus
# the steps of a fulfilment's life, in order, as its page lists them
LIFECYCLE = [
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
# sourced and holding reserved or picked stock: its units are spoken for
SOURCED = frozenset({S.CREATED, S.ASSIGNED, S.PICKED, S.PACKED, S.READY_FOR_COLLECTION})


def _moved(fulfilment: Fulfilment, *, before: str, by, note: str = "") -> None:
    events.fulfilment_moved(fulfilment, before=S(before).label, by=by, note=note)
    for follow_up in _follow_ups:
        follow_up(fulfilment, before)


FULFILMENT = state.Machine(
    transitions=lambda fulfilment: FULFILMENT_TRANSITIONS,
    record=_moved,
    name=lambda fulfilment: f"Fulfilment {fulfilment.ref}",
    labels=dict(S.choices),
    touch=("updated_at",),
)

FollowUp = Callable[[Fulfilment, str], None]
_follow_ups: list[FollowUp] = []


def on_moved(follow_up: FollowUp) -> None:
    """Call `follow_up(fulfilment, before)` after every move of a fulfilment, in its
    transaction. Apps above register theirs in `AppConfig.ready`."""
    if follow_up not in _follow_ups:
        _follow_ups.append(follow_up)


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
    home = order.type == Fulfilment.Type.HOME_DELIVERY
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


def held_units(order: Order, statuses=SOURCED) -> dict[int, int]:
    """Units of each line (by id) that the order's fulfilments in `statuses` hold."""
    return dict(
        FulfilmentItem.objects.filter(fulfilment__order=order, fulfilment__status__in=statuses)
        .order_by()
        .values_list("order_line_id")
        .annotate(n=Sum("requested"))
    )


def _needs(order: Order) -> dict[OrderLine, int]:
    """Units of each line still to source: open, less what sourced fulfilments hold."""
    units = order.lines.units()
    held = held_units(order)
    needs = {}
    for line in order.lines.all():
        left = units[line.pk].open - held.get(line.pk, 0)
        if left > 0:
            needs[line] = left
    return needs


def _positions(location_ids, skus) -> dict[tuple[int, str], StockPosition]:
    """The stock positions of these locations and SKUs, locked in one go (in id order)."""
    positions = locking.lock_all(
        StockPosition.objects.filter(location_id__in=location_ids, sku__in=set(skus))
    )
    return {(p.location_id, p.sku): p for p in positions}


def _plan(needs: dict[OrderLine, int], locations: list[Location]):
    """Which location gives how many of each line, and what is left over."""
    stock = _positions([loc.pk for loc in locations], {line.sku for line in needs})
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


def fulfils_inside(retailer_id: int) -> bool:
    """Whether the retailer fulfils in the back office (it has locations); otherwise its orders
    are fulfilled elsewhere and only their shipping is recorded here."""
    return Location.objects.filter(retailer_id=retailer_id).exists()


@transaction.atomic
def order_source(*, order: Order, by, refuse_when_nothing: bool = True) -> Sourcing:
    """Source the order's open lines and reserve their stock (called on confirmation)."""
    order = locking.lock(order, related=("shipping_address",))
    result = Sourcing()
    if not fulfils_inside(order.retailer_id):
        return result
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
    """The fulfilment under lock (its order's first), with what its rules read."""
    return locking.lock(
        fulfilment, related=("order", "order__shipping_address", "order__status", "location")
    )


def _escalated_needs(fulfilment: Fulfilment) -> dict[OrderLine, int]:
    return {
        item.order_line: item.requested for item in fulfilment.items.select_related("order_line")
    }


def _history(fulfilment: Fulfilment, to: str) -> dict:
    return {**fulfilment.history, to: timezone.now().isoformat()}


def _move(fulfilment: Fulfilment, to: str, *, by, note: str = "") -> str:
    """Move the fulfilment (locked by the caller) and put its stock right; the status it had."""
    FULFILMENT.check(fulfilment, to)
    before = fulfilment.status
    if to == S.CANCELLED:
        if before in (S.CREATED, S.ASSIGNED):
            _release(fulfilment)
        elif before in (S.PICKED, S.PACKED, S.READY_FOR_COLLECTION):
            _restock(fulfilment)
    elif to == S.PICKED:
        _deduct(fulfilment)  # the units leave the shelf
    state.transition(
        FULFILMENT, fulfilment, to, by=by, also={"history": _history(fulfilment, to)}, note=note
    )
    return before


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
        _move(fulfilment, S.CANCELLED, by=by, note="sourced elsewhere")
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
    state.transition(
        FULFILMENT,
        fulfilment,
        S.ASSIGNED,
        by=by,
        also={"history": _history(fulfilment, S.ASSIGNED)},
    )
    return fulfilment


def _items(fulfilment: Fulfilment) -> tuple[list[FulfilmentItem], dict[str, StockPosition]]:
    """The fulfilment's items and its location's stock positions of their SKUs, locked."""
    items = locking.lock_all(fulfilment.items.all(), related=("order_line",))
    if fulfilment.location_id is None:
        return items, {}
    positions = _positions([fulfilment.location_id], {i.order_line.sku for i in items})
    return items, {sku: p for (_, sku), p in positions.items()}


def _lock_stock_of(fulfilments: list[Fulfilment]) -> None:
    """Lock, in one go, the stock positions every one of these fulfilments may touch, so that
    handling them one by one never locks a position after a later one."""
    pairs = list(
        FulfilmentItem.objects.filter(
            fulfilment__in=[f for f in fulfilments if f.location_id is not None]
        ).values_list("fulfilment__location_id", "order_line__sku")
    )
    locations = {location for location, _ in pairs}
    if locations:
        _positions(locations, {sku for _, sku in pairs})


def _release(fulfilment: Fulfilment) -> None:
    """Give the stock a fulfilment reserved back to its location."""
    items, positions = _items(fulfilment)
    for item in items:
        position = positions.get(item.order_line.sku)
        if position is not None:
            position.reserved = max(0, position.reserved - item.requested)
            position.save(update_fields=["reserved"])


def _restock(fulfilment: Fulfilment) -> None:
    """Picked units that will not leave go back on the shelf."""
    items, positions = _items(fulfilment)
    for item in items:
        position = positions.get(item.order_line.sku)
        if position is not None and item.filled:
            position.on_hand += item.filled
            position.save(update_fields=["on_hand"])


def _deduct(fulfilment: Fulfilment) -> None:
    """The units leave the shelf: on hand and reserved both go down, and the items are filled."""
    items, positions = _items(fulfilment)
    for item in items:
        position = positions.get(item.order_line.sku)
        if position is not None:  # a location keeps no record of what it was never sent
            position.on_hand -= item.requested
            position.reserved = max(0, position.reserved - item.requested)
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
    _move(fulfilment, to, by=by)
    if to == S.CANCELLED:  # the items are still owed: they wait for a manager in the queue
        owed = {
            item.order_line: item.requested
            for item in fulfilment.items.select_related("order_line")
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


# how a sourced fulfilment reaches SHIPPED when the order is marked sent: every step recorded
HAND_OVER_PATH = {
    S.CREATED: (S.ASSIGNED, S.PICKED, S.PACKED, S.SHIPPED),
    S.ASSIGNED: (S.PICKED, S.PACKED, S.SHIPPED),
    S.PICKED: (S.PACKED, S.SHIPPED),
    S.PACKED: (S.SHIPPED,),
}


def fulfilments_hand_over(*, order: Order, by, note: str = "") -> list[Fulfilment]:
    """The order leaves the warehouse: every sourced fulfilment of it not yet on its way is
    picked, packed and shipped, its stock deducted. Parcels waiting at a store for collection
    stay there. The caller holds the order's lock. Returns the fulfilments shipped."""
    fulfilments = locking.lock_all(
        Fulfilment.objects.filter(order=order, status__in=list(HAND_OVER_PATH)),
        related=("location",),
    )
    _lock_stock_of(fulfilments)
    for fulfilment in fulfilments:
        for step in HAND_OVER_PATH[fulfilment.status]:
            _move(fulfilment, step, by=by, note=note)
    return fulfilments


def fulfilment_direct(
    *, order: Order, units: dict[OrderLine, int], by, note: str = ""
) -> Fulfilment:
    """Record units that left without being sourced here (a retailer that fulfils elsewhere):
    a fulfilment without a location, handed over as it is made."""
    now = timezone.now()
    fulfilment = Fulfilment.objects.create(
        retailer_id=order.retailer_id,
        order=order,
        ref=_ref(order),
        type=order.type,
        status=S.SHIPPED,
        history={S.CREATED: now.isoformat(), S.SHIPPED: now.isoformat()},
    )
    FulfilmentItem.objects.bulk_create(
        FulfilmentItem(
            retailer_id=order.retailer_id,
            fulfilment=fulfilment,
            order_line=line,
            requested=count,
            filled=count,
        )
        for line, count in units.items()
        if count > 0
    )
    _moved(fulfilment, before=S.CREATED, by=by, note=note or "shipped outside the back office")
    return fulfilment


def fulfilments_release(
    *, order: Order, units: dict[int, int] | None, by, note: str = "items cancelled"
) -> None:
    """Units of an order's lines are cancelled (`units` by line id; None: every open unit): the
    fulfilments holding them give them up, escalated ones first, then sourced ones, whose
    reserved stock is released and picked stock put back. A fulfilment left with nothing is
    cancelled. Units that left the warehouse cannot be cancelled. The caller holds the order's
    lock and has checked the units are open."""
    fulfilments = locking.lock_all(
        Fulfilment.objects.filter(order=order, status__in=LIVE), related=("location",)
    )
    _lock_stock_of(fulfilments)
    escalated_first = sorted(fulfilments, key=lambda f: (f.status != S.ESCALATED, f.pk))
    wanted = None if units is None else dict(units)
    for fulfilment in escalated_first:
        items, positions = _items(fulfilment)
        kept = 0
        for item in items:
            take = (
                item.requested
                if wanted is None
                else min(item.requested, wanted.get(item.order_line_id, 0))
            )
            if take <= 0:
                kept += 1
                continue
            if wanted is not None:
                wanted[item.order_line_id] -= take
            position = positions.get(item.order_line.sku)
            if fulfilment.status in (S.CREATED, S.ASSIGNED) and position is not None:
                position.reserved = max(0, position.reserved - take)
                position.save(update_fields=["reserved"])
            elif fulfilment.status in (S.PICKED, S.PACKED, S.READY_FOR_COLLECTION):
                back = min(take, item.filled)
                if position is not None and back:
                    position.on_hand += back
                    position.save(update_fields=["on_hand"])
                item.filled -= back
            item.requested -= take
            if item.requested:
                item.save(update_fields=["requested", "filled"])
                kept += 1
            else:
                item.delete()
        if not kept:  # an empty parcel is no parcel
            state.transition(
                FULFILMENT,
                fulfilment,
                S.CANCELLED,
                by=by,
                also={"history": _history(fulfilment, S.CANCELLED)},
                note=note,
            )


def _stock_row(row: dict, locations: dict) -> tuple | str:
    """(location, sku, on_hand, threshold or None) of one CSV row, or why it cannot be taken."""
    if None in row:  # more cells than the header has columns
        return "more cells than the header names."
    ref = (row.get("location_ref") or "").strip()
    location = locations.get(ref)
    if location is None:
        return f"no location {ref[:40]!r}."
    sku = (row.get("sku") or "").strip()
    on_hand = (row.get("on_hand") or "").strip()
    threshold = (row.get("safety_threshold") or "").strip()
    if not sku:
        return "give a SKU."
    try:
        bounds.check_text(sku, StockPosition, "sku")
    except ValidationError as error:
        return f"sku: {' '.join(error.messages)}"
    try:
        count = bounds.check_quantity(on_hand, most=STOCK_UNITS_MAX)
        least = bounds.check_quantity(threshold, most=STOCK_UNITS_MAX) if threshold else None
    except ValidationError as error:
        return f"on_hand and safety_threshold are whole numbers: {' '.join(error.messages)}"
    return location, sku, count, least


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


# what one stock upload may hold: its size, its rows, the units of one position
STOCK_FILE_MAX_BYTES = 2 * 1024 * 1024
STOCK_ROWS_MAX = 10_000
STOCK_UNITS_MAX = 1_000_000_000
STOCK_FAULTS_SHOWN = 20


@transaction.atomic
def stock_import(*, retailer_id: int, csv_text: str, by) -> StockImport:
    """Set stock from a CSV of location_ref, sku, on_hand[, safety_threshold]. All or nothing:
    a bad row refuses the whole file, and every bad row is named with its reason."""
    require_role(by, retailer_id, Role.MANAGER)
    if len(csv_text) > STOCK_FILE_MAX_BYTES:
        raise ValidationError(
            f"The file is too large: at most {STOCK_FILE_MAX_BYTES // (1024 * 1024)} MB."
        )
    if "\x00" in csv_text:
        raise ValidationError("The file holds NUL characters: it is not a CSV text file.")
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    try:
        missing = {"location_ref", "sku", "on_hand"} - set(reader.fieldnames or [])
    except csv.Error as error:
        raise ValidationError(f"Row 1: not a CSV row ({error}).") from None
    if missing:
        raise ValidationError(f"The file needs the columns {', '.join(sorted(missing))}.")
    locations = {loc.ref: loc for loc in Location.objects.filter(retailer_id=retailer_id)}
    rows, faults = [], []
    number = 1
    try:
        for number, row in enumerate(reader, start=2):
            if number - 1 > STOCK_ROWS_MAX:
                raise ValidationError(f"The file has more than {STOCK_ROWS_MAX} rows: split it.")
            parsed = _stock_row(row, locations)
            if isinstance(parsed, str):
                faults.append(f"Row {number}: {parsed}")
            else:
                rows.append((number, *parsed))
    except csv.Error as error:
        faults.append(f"Row {number + 1}: not a CSV row ({error}).")
    if faults:
        more = len(faults) - STOCK_FAULTS_SHOWN
        shown = faults[:STOCK_FAULTS_SHOWN] + ([f"and {more} more rows."] if more > 0 else [])
        raise ValidationError(["Nothing was imported.", *shown])
    positions = _positions([loc.pk for loc in locations.values()], {row[2] for row in rows})
    result = StockImport()
    for number, location, sku, on_hand, threshold in rows:
        position = positions.get((location.pk, sku))
        if position is None:
            positions[(location.pk, sku)] = StockPosition.objects.create(
                retailer_id=retailer_id,
                location=location,
                sku=sku,
                on_hand=on_hand,
                safety_threshold=threshold or 0,
            )
            result.created += 1
            continue
        if on_hand < position.reserved:
            raise ValidationError(
                f"Row {number}: {sku} at {location.ref} has {position.reserved} reserved; "
                f"on hand cannot be {on_hand}."
            )
        position.on_hand = on_hand
        if threshold is not None:
            position.safety_threshold = threshold
        position.updated_at = timezone.now()
        position.save(update_fields=["on_hand", "safety_threshold", "updated_at"])
        result.updated += 1
    events.stock_imported(retailer_id, result=result, by=by)
    enqueue_on_commit(retry_escalated_fulfilments)
    return result
