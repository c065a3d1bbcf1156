"""Contradictions in stored data: records that cannot all be true at once.

An item that reads Shipped while nothing of it left the warehouse, a cancelled line that is
still paid for, a shipment before the order was confirmed, a carrier event dated tomorrow: the
services never write these, but data written around them (loaded, imported, generated) can.
`contradictions()` scans for them with set-based queries, so it runs on millions of orders; each
rule lists its first findings (`LISTED`) and counts the rest. `manage.py check_consistency`
prints them.

What the database refuses by itself (a payment's figures captured over its authorisation or
refunded over its capture, more units cancelled than ordered: see the models' CHECK
constraints) is not re-checked here; the ledger rows behind those figures are
(`payment-disagrees-with-ledger`, `refunded-over-captured`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import (
    Case,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round, TruncDate
from django.utils import timezone

from billing import ledger
from billing.models import BillingAccount, DebitMemo, Invoice, Payment, PaymentTransaction
from customers.models import Customer
from fulfilments.models import (
    HANDED_OVER,
    LIVE,
    RESERVING,
    Fulfilment,
    FulfilmentItem,
    Location,
    StockPosition,
)
from oms.models import Activity, Retailer
from oms.templatetags.money import format_money
from orders.models import (
    Comment,
    Order,
    OrderLine,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
    SystemState,
    Ticket,
    TicketMessage,
)
from orders.services.shipments import BEFORE_SHIPPING
from returns.models import Return, ReturnFulfilment, ReturnItem, ReturnType

# findings listed per rule; the rest are counted
LISTED = 20
ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=14, decimal_places=2)
Kind = PaymentTransaction.Kind
Op = PaymentTransaction.Status
SHIPPED_STATUSES = (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED)
# an order's fulfilments wait only while it is being worked on
FULFILLING_STATES = (SystemState.PROCESSING, SystemState.SUSPENDED)
FINISHED_STATES = (SystemState.COMPLETED, SystemState.CANCELLED)


@dataclass(frozen=True)
class Contradiction:
    rule: str  # short code, e.g. "item-shipped-without-shipped-fulfilment"
    record: str  # what it is about, e.g. "order ACM-00012 item TENT-2"
    detail: str  # one sentence a person can act on


@dataclass(frozen=True)
class Finding:
    """One rule's result: how many records break it, and the first of them."""

    rule: str
    summary: str
    count: int
    listed: list[Contradiction] = field(default_factory=list)


@dataclass(frozen=True)
class Scope:
    retailer_ids: list[int] | None
    now: datetime

    def of(self, queryset: QuerySet, path: str = "retailer_id") -> QuerySet:
        if self.retailer_ids is None:
            return queryset
        return queryset.filter(**{f"{path}__in": self.retailer_ids})


# a probe: the offending rows (values() dicts, in a stable order; a list where they are few by
# nature, e.g. one per stock position) and how to word one of them
Probe = tuple[QuerySet | list[dict], Callable[[dict], tuple[str, str]]]


@dataclass(frozen=True)
class Rule:
    code: str
    summary: str
    probes: Callable[[Scope], Iterator[Probe]]


RULES: list[Rule] = []


def rule(code: str, summary: str):
    def register(probes: Callable[[Scope], Iterator[Probe]]):
        RULES.append(Rule(code, summary, probes))
        return probes

    return register


def contradictions(
    retailers: Iterable[Retailer] | None = None, *, now: datetime | None = None
) -> list[Contradiction]:
    """Every contradiction found in the retailers' data (all retailers when None): the first
    `LISTED` of each rule, and one more entry per rule saying how many were left unlisted."""
    found = []
    for finding in check(retailers, now=now):
        found += finding.listed
        if finding.count > len(finding.listed):
            left = finding.count - len(finding.listed)
            found.append(
                Contradiction(finding.rule, f"{left:,} more", f"{left:,} more records like these.")
            )
    return found


def check(
    retailers: Iterable[Retailer] | None = None,
    *,
    now: datetime | None = None,
    rules: Iterable[str] | None = None,
) -> list[Finding]:
    """Each rule (or those named) with what breaks it; rules that hold are left out.
    `retailers`: Retailer rows or their ids; None for all."""
    ids = None if retailers is None else [getattr(r, "pk", r) for r in retailers]
    scope = Scope(ids, now or timezone.now())
    wanted = None if rules is None else set(rules)
    findings = []
    for each in RULES:
        if wanted is not None and each.code not in wanted:
            continue
        count, listed = 0, []
        for rows, word in each.probes(scope):
            n = len(rows) if isinstance(rows, list) else rows.count()
            count += n
            if n and len(listed) < LISTED:
                listed += [
                    Contradiction(each.code, *word(row)) for row in rows[: LISTED - len(listed)]
                ]
        if count:
            findings.append(Finding(each.code, each.summary, count, listed))
    return findings


# ---- shared annotations: the units and money of lines and orders, summed by the database


def _cents(total, output):
    """Money added up to the cent: SQLite adds decimals in floating point."""
    return Round(total, 2, output_field=output) if output is MONEY else total


def _sum(queryset: QuerySet, group: str, value, output=None) -> Subquery:
    """A correlated sum over `queryset` grouped by `group`: 0 when there are no rows."""
    summed = (
        queryset.order_by()
        .values(group)
        .annotate(total=_cents(Sum(value, output_field=output), output))
        .values("total")
    )
    return Coalesce(Subquery(summed, output_field=output), Value(0, output_field=output))


def _with_shipped(lines: QuerySet) -> QuerySet:
    """Lines with their units handed over in fulfilments (`shipped`, as
    `OrderLineQuerySet.units` counts them): one grouped join, not a lookup per line."""
    return lines.annotate(
        shipped=Coalesce(
            Sum(
                "fulfilment_items__filled",
                filter=Q(fulfilment_items__fulfilment__status__in=HANDED_OVER),
            ),
            Value(0),
        )
    )


def _cancelled_value() -> Subquery:
    """What an order's cancelled units are worth: each line's share (`ledger.share`: the line
    total times the units over the quantity, to the cent)."""
    share = ExpressionWrapper(
        Round(F("total") * F("cancelled") / F("quantity"), 2), output_field=MONEY
    )
    return _sum(
        OrderLine.objects.filter(order_id=OuterRef("pk"), cancelled__gt=0),
        "order_id",
        share,
        MONEY,
    )


def _kept() -> Case:
    """What an order may keep (paid or invoiced) once its cancelled units are given back: its
    total less their worth, and nothing (its shipping neither) when every unit is cancelled."""
    left = OrderLine.objects.filter(order_id=OuterRef("pk"), quantity__gt=F("cancelled"))
    return Case(
        When(
            Q(status__system_state=SystemState.CANCELLED) | ~Exists(left),
            then=Value(ZERO, output_field=MONEY),
        ),
        default=_cents(F("total") - F("cancelled_value"), MONEY),
        output_field=MONEY,
    )


def _settled_orders(queryset: QuerySet) -> QuerySet:
    """Orders with no payment operation on its way (`ledger.UNSETTLED`) and none failed and
    waiting for a manager (`OrderQuerySet.payment_failed`): their money has stopped moving."""
    moving = PaymentTransaction.objects.filter(ledger.UNSETTLED, order_id=OuterRef("pk"))
    waiting = Order.objects.payment_failed().filter(pk=OuterRef("pk"))
    return queryset.filter(~Exists(moving), ~Exists(waiting))


def _money(amount) -> Decimal:
    """An amount as summed by the database (SQLite sums in floating point), to the cent."""
    return Decimal(str(amount)).quantize(ledger.CENT)


def _shown(amount, currency: str) -> str:
    """An amount in a finding, as every page writes money."""
    return format_money(_money(amount), currency)


def _line(row: dict, prefix: str = "") -> str:
    return f"order {row[prefix + 'order__ref']} item {row[prefix + 'sku']}"


# ---- items and units


@rule(
    "item-shipped-without-shipped-fulfilment",
    "Items read Shipped or Delivered while units of them were never handed over",
)
def _item_shipped(scope: Scope) -> Iterator[Probe]:
    rows = (
        _with_shipped(scope.of(OrderLine.objects).filter(shipment_status__in=SHIPPED_STATUSES))
        .filter(shipped__lt=F("quantity") - F("cancelled"))
        .order_by("pk")
        .values("order__ref", "sku", "shipment_status", "quantity", "cancelled", "shipped")
    )
    yield (
        rows,
        lambda r: (
            _line(r),
            f"reads {ShipmentStatus(r['shipment_status']).label} but only {r['shipped']} of "
            f"{r['quantity'] - r['cancelled']} unit(s) left in a shipped fulfilment: ship the "
            "fulfilment or set the item back.",
        ),
    )


@rule(
    "item-waiting-but-shipped",
    "Items read Pending, Picked or Packed while every unit was handed over",
)
def _item_waiting(scope: Scope) -> Iterator[Probe]:
    rows = (
        _with_shipped(
            scope.of(OrderLine.objects).filter(
                shipment_status__in=BEFORE_SHIPPING, quantity__gt=F("cancelled")
            )
        )
        .filter(shipped__gte=F("quantity") - F("cancelled"))
        .order_by("pk")
        .values("order__ref", "sku", "shipment_status", "shipped")
    )
    yield (
        rows,
        lambda r: (
            _line(r),
            f"reads {ShipmentStatus(r['shipment_status']).label} but all {r['shipped']} "
            "unit(s) were handed over: it should read Shipped.",
        ),
    )


@rule(
    "cancelled-line-has-tracking",
    "Items cancelled in full still carry a tracking number",
)
def _cancelled_tracking(scope: Scope) -> Iterator[Probe]:
    rows = (
        scope.of(OrderLine.objects)
        .filter(cancelled=F("quantity"), quantity__gt=0)
        .exclude(tracking_number="")
        .order_by("pk")
        .values("order__ref", "sku", "tracking_number")
    )
    yield (
        rows,
        lambda r: (
            _line(r),
            f"every unit is cancelled, yet it carries tracking number {r['tracking_number']}: "
            "clear it.",
        ),
    )


@rule(
    "line-reads-cancelled-with-units-left",
    "Items read Cancelled while some of their units are not cancelled",
)
def _reads_cancelled(scope: Scope) -> Iterator[Probe]:
    rows = (
        scope.of(OrderLine.objects)
        .filter(shipment_status=ShipmentStatus.CANCELLED)
        .exclude(cancelled=F("quantity"))
        .order_by("pk")
        .values("order__ref", "sku", "quantity", "cancelled")
    )
    yield (
        rows,
        lambda r: (
            _line(r),
            f"reads Cancelled with {r['cancelled']} of {r['quantity']} unit(s) cancelled: "
            "cancel the rest or set its real status.",
        ),
    )


@rule(
    "units-over-ordered",
    "Items with more units shipped and cancelled than were ordered",
)
def _units_over(scope: Scope) -> Iterator[Probe]:
    rows = (
        scope.of(FulfilmentItem.objects)
        .filter(fulfilment__status__in=HANDED_OVER)
        .order_by()
        .values(
            "order_line_id",
            "order_line__order__ref",
            "order_line__sku",
            "order_line__quantity",
            "order_line__cancelled",
        )
        .annotate(shipped=Sum("filled"))
        .filter(shipped__gt=F("order_line__quantity") - F("order_line__cancelled"))
        .order_by("order_line_id")
    )
    yield (
        rows,
        lambda r: (
            _line(r, "order_line__"),
            f"{r['shipped']} shipped and {r['order_line__cancelled']} cancelled of "
            f"{r['order_line__quantity']} ordered.",
        ),
    )


@rule("returned-over-shipped", "Items returned by customers more often than they shipped")
def _returned_over(scope: Scope) -> Iterator[Probe]:
    rows = (
        scope.of(ReturnItem.objects)
        .filter(return_request__type=ReturnType.CUSTOMER_RETURN, order_line__isnull=False)
        .order_by()
        .values("order_line_id", "order_line__order__ref", "order_line__sku")
        .annotate(
            returned=Sum("quantity"),
            shipped=_sum(
                FulfilmentItem.objects.filter(
                    order_line_id=OuterRef("order_line_id"), fulfilment__status__in=HANDED_OVER
                ),
                "order_line_id",
                "filled",
                IntegerField(),
            ),
        )
        .filter(returned__gt=F("shipped"))
        .order_by("order_line_id")
    )
    yield (
        rows,
        lambda r: (
            _line(r, "order_line__"),
            f"{r['returned']} unit(s) on customer returns but {r['shipped']} shipped.",
        ),
    )


# ---- orders and their fulfilments


def _order_units(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(
        left=_sum(
            OrderLine.objects.filter(order_id=OuterRef("pk")),
            "order_id",
            F("quantity") - F("cancelled"),
            IntegerField(),
        ),
        shipped=_sum(
            FulfilmentItem.objects.filter(
                order_line__order_id=OuterRef("pk"), fulfilment__status__in=HANDED_OVER
            ),
            "order_line__order_id",
            "filled",
            IntegerField(),
        ),
        live=_sum(
            FulfilmentItem.objects.filter(
                order_line__order_id=OuterRef("pk"), fulfilment__status__in=LIVE
            ),
            "order_line__order_id",
            "requested",
            IntegerField(),
        ),
    )


@rule(
    "finished-order-has-open-units",
    "Items of completed or cancelled orders with units neither shipped nor cancelled",
)
def _finished_open(scope: Scope) -> Iterator[Probe]:
    rows = (
        _with_shipped(
            scope.of(OrderLine.objects).filter(order__status__system_state__in=FINISHED_STATES)
        )
        .filter(shipped__lt=F("quantity") - F("cancelled"))
        .order_by("pk")
        .values("order__ref", "sku", "order__status__label", "quantity", "cancelled", "shipped")
    )
    yield (
        rows,
        lambda r: (
            _line(r),
            f"the order reads {r['order__status__label']}, yet "
            f"{r['quantity'] - r['cancelled'] - r['shipped']} unit(s) of it are neither shipped "
            "nor cancelled.",
        ),
    )


@rule(
    "open-units-not-in-fulfilments",
    "Confirmed orders whose open units are not exactly what their live fulfilments wait for",
)
def _open_not_fulfilled(scope: Scope) -> Iterator[Probe]:
    fulfils_inside = Location.objects.filter(retailer_id=OuterRef("retailer_id"))
    confirmed = Fulfilment.objects.filter(order_id=OuterRef("pk"))
    rows = (
        _order_units(
            scope.of(Order.objects).filter(
                Exists(fulfils_inside),
                Exists(confirmed),
                status__system_state__in=FULFILLING_STATES,
            )
        )
        .exclude(live=F("left") - F("shipped"))
        .order_by("pk")
        .values("ref", "left", "shipped", "live")
    )
    yield (
        rows,
        lambda r: (
            f"order {r['ref']}",
            f"{r['left'] - r['shipped']} unit(s) still to ship but live fulfilments wait for "
            f"{r['live']}.",
        ),
    )


@rule(
    "fulfilment-live-on-order-not-processing",
    "Fulfilments still waiting (or escalated) on orders that are new, completed or cancelled",
)
def _live_elsewhere(scope: Scope) -> Iterator[Probe]:
    rows = (
        scope.of(Fulfilment.objects)
        .filter(status__in=LIVE)
        .exclude(order__status__system_state__in=FULFILLING_STATES)
        .order_by("pk")
        .values("ref", "status", "order__ref", "order__status__label")
    )
    yield (
        rows,
        lambda r: (
            f"fulfilment {r['ref']}",
            f"is {r['status'].lower().replace('_', ' ')} on order {r['order__ref']}, which "
            f"reads {r['order__status__label']}: cancel it or move the order on.",
        ),
    )


@rule(
    "stock-reserved-disagrees",
    "Stock positions whose reserved units are not what the fulfilments sourced there wait for",
)
def _stock_reserved(scope: Scope) -> Iterator[Probe]:
    # grouped by location and SKU: as many rows as stock positions, whatever the orders
    waiting = {
        (location, sku): units
        for location, sku, units in scope.of(FulfilmentItem.objects)
        .filter(fulfilment__status__in=RESERVING, fulfilment__location__isnull=False)
        .order_by()
        .values_list("fulfilment__location_id", "order_line__sku")
        .annotate(units=Sum("requested"))
    }
    rows = []
    for location, name, sku, reserved in (
        scope.of(StockPosition.objects)
        .order_by("pk")
        .values_list("location_id", "location__name", "sku", "reserved")
    ):
        wanted = waiting.pop((location, sku), 0)
        if reserved != wanted:
            rows.append({"where": f"{sku} at {name}", "reserved": reserved, "wanted": wanted})
    names = dict(
        Location.objects.filter(pk__in={loc for loc, _ in waiting}).values_list("pk", "name")
    )
    rows += [
        {"where": f"{sku} at {names[location]}", "reserved": None, "wanted": units}
        for (location, sku), units in sorted(waiting.items())
    ]
    yield (
        rows,
        lambda r: (
            f"stock of {r['where']}",
            f"{r['reserved']} reserved, but fulfilments sourced there wait for {r['wanted']}."
            if r["reserved"] is not None
            else f"no stock is kept, but fulfilments sourced there wait for {r['wanted']}.",
        ),
    )


# ---- times


@rule("before-order-placed", "Shipments, fulfilments, payments or returns dated before the order")
def _before_placed(scope: Scope) -> Iterator[Probe]:
    def probe(model, field_name, label):
        rows = (
            scope.of(model.objects)
            .filter(**{f"{field_name}__lt": F("order__placed_at")})
            .order_by("pk")
            .values("pk", field_name, "order__ref", "order__placed_at")
        )
        return (
            rows,
            lambda r: (
                f"order {r['order__ref']} {label} {r['pk']}",
                f"{field_name.replace('_', ' ')} {r[field_name]:%Y-%m-%d %H:%M} is before the "
                f"order was placed ({r['order__placed_at']:%Y-%m-%d %H:%M}).",
            ),
        )

    yield probe(Shipment, "created_at", "shipment")
    yield probe(Shipment, "shipped_at", "shipment")
    yield probe(Fulfilment, "created_at", "fulfilment")
    yield probe(PaymentTransaction, "created_at", "payment operation")
    yield probe(Return, "created_at", "return")
    yield probe(Invoice, "issued_at", "invoice")
    events = (
        scope.of(ShipmentEvent.objects)
        .filter(occurred_at__lt=F("shipment__order__placed_at"))
        .order_by("pk")
        .values("pk", "occurred_at", "shipment__order__ref", "shipment__order__placed_at")
    )
    yield (
        events,
        lambda r: (
            f"order {r['shipment__order__ref']} carrier event {r['pk']}",
            f"occurred {r['occurred_at']:%Y-%m-%d %H:%M}, before the order was placed "
            f"({r['shipment__order__placed_at']:%Y-%m-%d %H:%M}).",
        ),
    )


@rule(
    "shipped-before-confirmed",
    "Shipments dated before any fulfilment of their order was sourced",
)
def _shipped_early(scope: Scope) -> Iterator[Probe]:
    sourced = Fulfilment.objects.filter(
        order_id=OuterRef("order_id"),
        status__in=HANDED_OVER,
        created_at__lte=OuterRef("shipped_at"),
    )
    rows = (
        scope.of(Shipment.objects)
        .filter(shipped_at__isnull=False)
        .filter(~Exists(sourced))
        .annotate(
            first=Min(
                "order__fulfilments__created_at",
                filter=Q(order__fulfilments__status__in=HANDED_OVER),
            )
        )
        .order_by("pk")
        .values("pk", "order__ref", "shipped_at", "first")
    )
    yield (
        rows,
        lambda r: (
            f"order {r['order__ref']} shipment {r['pk']}",
            f"shipped {r['shipped_at']:%Y-%m-%d %H:%M}, "
            + (
                f"before the fulfilment that shipped it was sourced ({r['first']:%Y-%m-%d %H:%M})."
                if r["first"]
                else "yet nothing of the order was ever handed over in a fulfilment."
            ),
        ),
    )


@rule("order-shipped-at", "Orders whose time shipped is not their first parcel's")
def _order_shipped_at(scope: Scope) -> Iterator[Probe]:
    first = Subquery(
        Shipment.objects.filter(order_id=OuterRef("pk"), shipped_at__isnull=False)
        .order_by("shipped_at")
        .values("shipped_at")[:1]
    )
    rows = (
        scope.of(Order.objects)
        .annotate(first=first)
        .filter(
            Q(shipped_at__isnull=True, first__isnull=False)
            | Q(shipped_at__isnull=False, first__isnull=True)
            | (Q(shipped_at__isnull=False) & ~Q(shipped_at=F("first")))
        )
        .order_by("pk")
        .values("pk", "ref", "shipped_at", "first")
    )

    def when(moment) -> str:
        return f"{moment:%Y-%m-%d %H:%M}" if moment else "never"

    yield (
        rows,
        lambda r: (
            f"order {r['ref']}",
            f"reads shipped {when(r['shipped_at'])}, but its first parcel left {when(r['first'])}.",
        ),
    )


@rule("delivered-before-shipped", "Shipments delivered before they shipped")
def _delivered_early(scope: Scope) -> Iterator[Probe]:
    rows = (
        scope.of(Shipment.objects)
        .filter(delivered_at__lt=F("shipped_at"))
        .order_by("pk")
        .values("pk", "order__ref", "shipped_at", "delivered_at")
    )
    yield (
        rows,
        lambda r: (
            f"order {r['order__ref']} shipment {r['pk']}",
            f"delivered {r['delivered_at']:%Y-%m-%d %H:%M}, before it shipped "
            f"({r['shipped_at']:%Y-%m-%d %H:%M}).",
        ),
    )


@rule(
    "estimate-before-shipping",
    "Delivery estimates (as the track & trace email gives them) before the parcel shipped",
)
def _estimate_early(scope: Scope) -> Iterator[Probe]:
    rows = (
        scope.of(Shipment.objects)
        .filter(estimated_delivery__isnull=False, shipped_at__isnull=False)
        .filter(estimated_delivery__lt=TruncDate("shipped_at"))
        .order_by("pk")
        .values("pk", "order__ref", "shipped_at", "estimated_delivery")
    )
    yield (
        rows,
        lambda r: (
            f"order {r['order__ref']} shipment {r['pk']}",
            f"estimated delivery {r['estimated_delivery']:%Y-%m-%d} is before it shipped "
            f"({r['shipped_at']:%Y-%m-%d}): the customer was promised a date already past.",
        ),
    )


# (model, its time fields, how to name a row, the values that name it)
DATED = [
    (Order, ("placed_at", "updated_at"), "order {ref}", ("ref",)),
    (Shipment, ("created_at", "shipped_at", "delivered_at"), "shipment {pk}", ("pk",)),
    (ShipmentEvent, ("occurred_at",), "carrier event {pk}", ("pk",)),
    (Fulfilment, ("created_at", "escalated_at"), "fulfilment {ref}", ("ref",)),
    (Payment, ("created_at",), "payment {pk}", ("pk",)),
    (PaymentTransaction, ("created_at", "completed_at"), "payment operation {pk}", ("pk",)),
    (Invoice, ("issued_at",), "document {number}", ("number",)),
    (Return, ("created_at", "updated_at"), "return {return_ref}", ("return_ref",)),
    (
        ReturnFulfilment,
        ("created_at", "arrived_at", "completed_at"),
        "return parcel {pk}",
        ("pk",),
    ),
    (Comment, ("created_at",), "comment {pk}", ("pk",)),
    (Ticket, ("created_at", "updated_at"), "ticket {pk}", ("pk",)),
    (TicketMessage, ("created_at",), "ticket message {pk}", ("pk",)),
    (Customer, ("created_at",), "customer {ref}", ("ref",)),
    (BillingAccount, ("created_at",), "billing account {ref}", ("ref",)),
    (DebitMemo, ("created_at",), "debit memo {number}", ("number",)),
    (Activity, ("created_at",), "activity {pk} ({action})", ("pk", "action")),
]


@rule("after-now", "Events, activity and records dated after now")
def _after_now(scope: Scope) -> Iterator[Probe]:
    for model, fields, name, keys in DATED:
        for field_name in fields:
            rows = (
                scope.of(model.objects)
                .filter(**{f"{field_name}__gt": scope.now})
                .order_by("pk")
                .values(*keys, field_name)
            )
            yield (
                rows,
                lambda r, name=name, field_name=field_name: (
                    name.format(**r),
                    f"{field_name.replace('_', ' ')} {r[field_name]:%Y-%m-%d %H:%M} is after now.",
                ),
            )


@rule("customer-since-after-first-order", "Customers created after their first order")
def _customer_since(scope: Scope) -> Iterator[Probe]:
    rows = (
        scope.of(Customer.objects)
        .annotate(first=Min("orders__placed_at"))
        .filter(first__lt=F("created_at"))
        .order_by("pk")
        .values("ref", "created_at", "first")
    )
    yield (
        rows,
        lambda r: (
            f"customer {r['ref']}",
            f"customer since {r['created_at']:%Y-%m-%d}, yet placed a first order on "
            f"{r['first']:%Y-%m-%d}.",
        ),
    )


# ---- money


# a payment's figures and the kind of ledger row that moves each
FIGURES = (
    ("captured", Kind.CAPTURE),
    ("refunded", Kind.REFUND),
    ("refunded_by_hand", Kind.MANUAL_REFUND),
    ("voided", Kind.VOID),
)


def _with_ledger(payments: QuerySet) -> QuerySet:
    """Payments with what their succeeded operations moved, by kind (`moved_<kind>`): one
    grouped join over the ledger."""
    return payments.annotate(
        **{
            f"moved_{kind}": Coalesce(
                _cents(
                    Sum(
                        "transactions__amount",
                        filter=Q(transactions__kind=kind, transactions__status=Op.SUCCEEDED),
                    ),
                    MONEY,
                ),
                Value(ZERO, output_field=MONEY),
                output_field=MONEY,
            )
            for _, kind in FIGURES
        }
    )


@rule(
    "payment-disagrees-with-ledger",
    "Payments whose captured, refunded or released amounts are not what their operations moved",
)
def _payment_ledger(scope: Scope) -> Iterator[Probe]:
    differs = Q()
    for figure, kind in FIGURES:
        differs |= ~Q(**{figure: F(f"moved_{kind}")})
    rows = (
        _with_ledger(scope.of(Payment.objects))
        .filter(differs)
        .order_by("pk")
        .values(
            "pk",
            "order__ref",
            "currency",
            *(figure for figure, _ in FIGURES),
            *(f"moved_{kind}" for _, kind in FIGURES),
        )
    )

    def word(r: dict) -> tuple[str, str]:
        wrong = [
            f"{figure.replace('_', ' ')} {_shown(r[figure], r['currency'])} where its "
            f"operations moved {_shown(r[f'moved_{kind}'], r['currency'])}"
            for figure, kind in FIGURES
            if _money(r[figure]) != _money(r[f"moved_{kind}"])
        ]
        return f"order {r['order__ref']} payment {r['pk']}", "; ".join(wrong).capitalize() + "."

    yield rows, word


@rule("refunded-over-captured", "Payments whose operations refunded more than they captured")
def _refund_over(scope: Scope) -> Iterator[Probe]:
    rows = (
        _with_ledger(scope.of(Payment.objects))
        .annotate(given=_cents(F(f"moved_{Kind.REFUND}") + F(f"moved_{Kind.MANUAL_REFUND}"), MONEY))
        .filter(given__gt=F(f"moved_{Kind.CAPTURE}"))
        .order_by("pk")
        .values("pk", "order__ref", "currency", f"moved_{Kind.CAPTURE}", "given")
    )
    yield (
        rows,
        lambda r: (
            f"order {r['order__ref']} payment {r['pk']}",
            f"refunded {_shown(r['given'], r['currency'])} of "
            f"{_shown(r[f'moved_{Kind.CAPTURE}'], r['currency'])} captured.",
        ),
    )


@rule("return-refunded-over-its-worth", "Returns whose refunds exceed what the return is worth")
def _return_over(scope: Scope) -> Iterator[Probe]:
    given = _sum(
        PaymentTransaction.objects.filter(return_request_id=OuterRef("pk")).filter(
            Q(status=Op.SUCCEEDED) | ledger.UNSETTLED
        ),
        "return_request_id",
        "amount",
        MONEY,
    )
    rows = (
        scope.of(Return.objects)
        .annotate(given=given)
        .filter(given__gt=F("total_return_price"))
        .order_by("pk")
        .values("return_ref", "given", "total_return_price", "currency")
    )
    yield (
        rows,
        lambda r: (
            f"return {r['return_ref']}",
            f"refunds of {_shown(r['given'], r['currency'])} given or on their way, but the "
            "return "
            f"is worth {_shown(r['total_return_price'], r['currency'])}.",
        ),
    )


@rule(
    "return-worth-over-its-items",
    "Returns worth more than their items at the price paid and the shipping they give back",
)
def _return_worth(scope: Scope) -> Iterator[Probe]:
    items = _sum(
        ReturnItem.objects.filter(return_request_id=OuterRef("pk")),
        "return_request_id",
        "amount",
        MONEY,
    )
    rows = (
        scope.of(Return.objects)
        .filter(order__isnull=False)
        .exclude(type=ReturnType.CANCELLATION)
        .annotate(items_worth=items)
        .filter(total_return_price__gt=_cents(F("items_worth") + F("shipping_amount"), MONEY))
        .order_by("pk")
        .values("return_ref", "total_return_price", "items_worth", "shipping_amount", "currency")
    )
    yield (
        rows,
        lambda r: (
            f"return {r['return_ref']}",
            f"worth {_shown(r['total_return_price'], r['currency'])}, but its items come to "
            f"{_shown(r['items_worth'], r['currency'])} and the shipping it gives back to "
            f"{_shown(r['shipping_amount'], r['currency'])}.",
        ),
    )


@rule("payment-status-disagrees", "Orders whose payment status is not what their payments say")
def _payment_status(scope: Scope) -> Iterator[Probe]:
    def total(value) -> Coalesce:
        return Coalesce(
            _cents(Sum(value, output_field=MONEY), MONEY),
            Value(ZERO, output_field=MONEY),
            output_field=MONEY,
        )

    rows = (
        scope.of(Order.objects)
        .annotate(
            paid_in=total("payments__captured"),
            paid_back=total(F("payments__refunded") + F("payments__refunded_by_hand")),
            authorised_open=total(
                F("payments__authorised") - F("payments__voided") - F("payments__captured")
            ),
        )
        .annotate(
            expected=ledger.payment_status_expression(
                captured=F("paid_in"),
                refunded=F("paid_back"),
                open_authorisation=F("authorised_open"),
                total=F("total"),
            )
        )
        .exclude(payment_status=F("expected"))
        .order_by("pk")
        .values("ref", "payment_status", "expected")
    )
    yield (
        rows,
        lambda r: (
            f"order {r['ref']}",
            f"reads {r['payment_status'].replace('_', ' ')} but its payments say "
            f"{r['expected'].replace('_', ' ')}.",
        ),
    )


def _orders_with_cancelled_units(scope: Scope) -> QuerySet:
    cancelled = OrderLine.objects.filter(order_id=OuterRef("pk"), cancelled__gt=0)
    return (
        _settled_orders(scope.of(Order.objects))
        .filter(Exists(cancelled))
        .annotate(cancelled_value=_cancelled_value())
        .annotate(kept=_kept())
    )


@rule(
    "cancelled-units-still-paid",
    "Orders still holding payment for units that were cancelled",
)
def _cancelled_paid(scope: Scope) -> Iterator[Probe]:
    payments = Payment.objects.filter(order_id=OuterRef("pk"))
    net = F("captured") - F("refunded") - F("refunded_by_hand")
    rows = (
        _orders_with_cancelled_units(scope)
        .annotate(paid=_sum(payments, "order_id", net, MONEY))
        .filter(paid__gt=F("kept"))
        .order_by("pk")
        .values("ref", "currency", "paid", "kept", "cancelled_value")
    )
    yield (
        rows,
        lambda r: (
            f"order {r['ref']}",
            f"keeps {_shown(r['paid'], r['currency'])} captured though cancelled items leave "
            f"{_shown(r['kept'], r['currency'])} to pay: "
            f"refund {_shown(r['paid'] - r['kept'], r['currency'])}.",
        ),
    )


@rule(
    "cancelled-units-still-invoiced",
    "Orders invoiced, less their credit notes, for units that were cancelled",
)
def _cancelled_invoiced(scope: Scope) -> Iterator[Probe]:
    documents = Invoice.objects.filter(order_id=OuterRef("pk"))
    rows = (
        _orders_with_cancelled_units(scope)
        .filter(Exists(documents))
        .annotate(
            invoiced=_sum(documents.filter(kind=Invoice.Kind.INVOICE), "order_id", "total", MONEY),
            credited=_sum(
                documents.filter(kind=Invoice.Kind.CREDIT_NOTE), "order_id", "total", MONEY
            ),
        )
        .annotate(
            net=_cents(F("invoiced") - F("credited"), MONEY),
        )
        .filter(net__gt=F("kept"))
        .order_by("pk")
        .values("ref", "currency", "net", "kept")
    )
    yield (
        rows,
        lambda r: (
            f"order {r['ref']}",
            f"invoiced {_shown(r['net'], r['currency'])} net of credit notes though cancelled "
            f"items leave {_shown(r['kept'], r['currency'])}: "
            f"credit {_shown(r['net'] - r['kept'], r['currency'])}.",
        ),
    )


@rule(
    "cancelled-order-holds-authorisation",
    "Cancelled orders that still hold an authorisation not released",
)
def _cancelled_authorised(scope: Scope) -> Iterator[Probe]:
    rows = (
        scope.of(Payment.objects)
        .filter(order__status__system_state=SystemState.CANCELLED)
        .filter(authorised__gt=_cents(F("voided") + F("captured"), MONEY))
        .filter(order__in=_settled_orders(Order.objects.all()))
        .order_by("pk")
        .values("pk", "order__ref", "currency", "authorised", "voided", "captured")
    )
    yield (
        rows,
        lambda r: (
            f"order {r['order__ref']} payment {r['pk']}",
            f"the order is cancelled but "
            f"{_shown(r['authorised'] - r['voided'] - r['captured'], r['currency'])} is still "
            "authorised: release it.",
        ),
    )


@rule("credited-over-invoiced", "Invoices credited for more than their total")
def _credited_over(scope: Scope) -> Iterator[Probe]:
    rows = (
        scope.of(Invoice.objects)
        .filter(kind=Invoice.Kind.INVOICE)
        .annotate(
            credited=_sum(
                Invoice.objects.filter(credits_id=OuterRef("pk")), "credits_id", "total", MONEY
            )
        )
        .filter(credited__gt=F("total"))
        .order_by("pk")
        .values("number", "order__ref", "total", "credited", "currency")
    )
    yield (
        rows,
        lambda r: (
            f"order {r['order__ref']} invoice {r['number']}",
            f"credited {_shown(r['credited'], r['currency'])} of "
            f"{_shown(r['total'], r['currency'])} invoiced.",
        ),
    )


# ---- billing accounts


@rule(
    "billing-account-disagrees-with-records",
    "Billing accounts whose customer or debit memos belong to someone else",
)
def _accounts(scope: Scope) -> Iterator[Probe]:
    foreign = (
        scope.of(BillingAccount.objects)
        .filter(customer__isnull=False)
        .exclude(customer__retailer_id=F("retailer_id"))
        .order_by("pk")
        .values("ref", "customer__ref")
    )
    yield (
        foreign,
        lambda r: (
            f"billing account {r['ref']}",
            f"its customer {r['customer__ref']} belongs to another retailer.",
        ),
    )
    memos = (
        scope.of(DebitMemo.objects)
        .filter(order__isnull=False)
        .filter(
            Q(account__customer__isnull=True)
            | Q(order__customer__isnull=True)
            | ~Q(order__customer_id=F("account__customer_id"))
        )
        .order_by("pk")
        .values("number", "account__ref", "order__ref")
    )
    yield (
        memos,
        lambda r: (
            f"debit memo {r['number']}",
            f"charges billing account {r['account__ref']} for order {r['order__ref']}, which "
            "is another customer's.",
        ),
    )
    early = (
        scope.of(DebitMemo.objects)
        .filter(created_at__lt=F("account__created_at"))
        .order_by("pk")
        .values("number", "account__ref", "created_at")
    )
    yield (
        early,
        lambda r: (
            f"debit memo {r['number']}",
            f"dated {r['created_at']:%Y-%m-%d}, before billing account {r['account__ref']} "
            "was opened.",
        ),
    )
