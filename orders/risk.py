"""Orders at risk of missing their promised date, by rules a person can read.

An open order is at risk when one of RULES holds. The rules are conditions on the database
(`risk_conditions`), so the "At risk" list, its count on the home page, the flag in the list and
the order page's banner always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import BooleanField, Case, Exists, OuterRef, Q, Value, When
from django.utils import formats, timezone

from fulfilments.models import Carrier, Fulfilment, FulfilmentStatus
from orders.models import OPEN_STATES, Order, Shipment

HANDLING_DAYS = 1  # picking and packing before the carrier has the parcel
DEFAULT_TRANSIT_DAYS = 2  # for a carrier not set up (fulfilments.Carrier.transit_days)


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    explanation: str


RULES = [
    Rule(
        "late_for_carrier",
        "Too little time left for the carrier",
        f"Not shipped yet, and the promised date comes before today plus {HANDLING_DAYS} day to "
        "pack plus the carrier's transit days (set per carrier; "
        f"{DEFAULT_TRANSIT_DAYS} for a carrier not set up). A promised date already passed "
        "counts too.",
    ),
    Rule(
        "escalated",
        "Waiting on an escalation",
        "A fulfilment of the order is escalated: no location ships it until a manager "
        "decides where it comes from.",
    ),
]
RULE_BY_CODE = {rule.code: rule for rule in RULES}


def _transit_days(retailer_ids) -> dict[tuple[int, str], int]:
    return {
        (retailer_id, name): days
        for retailer_id, name, days in Carrier.objects.filter(
            retailer_id__in=retailer_ids
        ).values_list("retailer_id", "name", "transit_days")
    }


def risk_conditions(
    retailer_ids, today: date | None = None, *, transit: dict | None = None
) -> dict[str, Q]:
    """For each rule, the condition on orders that makes it hold (open orders only); `transit`
    is the carriers' transit days when the caller has read them already."""
    today = today or timezone.localdate()
    open_order = Q(status__system_state__in=OPEN_STATES)
    shipped = Exists(
        Shipment.objects.filter(
            order_id=OuterRef("pk"), retailer_id=OuterRef("retailer_id"), shipped_at__isnull=False
        )
    )

    def too_late(days: int) -> Q:
        return Q(promised_date__lt=today + timedelta(days=HANDLING_DAYS + days))

    known = _transit_days(retailer_ids) if transit is None else transit
    by_days: dict[int, Q] = {}
    for (retailer_id, name), days in known.items():
        by_days[days] = by_days.get(days, Q()) | Q(retailer_id=retailer_id, carrier=name)
    any_known = Q()
    late = Q()
    for days, carriers in by_days.items():
        late |= carriers & too_late(days)
        any_known |= carriers
    late |= ~any_known & too_late(DEFAULT_TRANSIT_DAYS) if known else too_late(DEFAULT_TRANSIT_DAYS)
    escalated = Exists(
        Fulfilment.objects.filter(
            order_id=OuterRef("pk"),
            retailer_id=OuterRef("retailer_id"),
            status=FulfilmentStatus.ESCALATED,
        )
    )
    return {
        "late_for_carrier": open_order & Q(promised_date__isnull=False) & late & ~shipped,
        "escalated": open_order & escalated,
    }


def at_risk(queryset, retailer_ids, today: date | None = None):
    conditions = list(risk_conditions(retailer_ids, today).values())
    match = conditions[0]
    for condition in conditions[1:]:
        match |= condition
    return queryset.filter(match)


def risks_of(orders: list[Order], today: date | None = None) -> dict[int, list[str]]:
    """The reasons each of these orders is at risk, in words (orders not at risk are left out)."""
    if not orders:
        return {}
    retailer_ids = {order.retailer_id for order in orders}
    transit = _transit_days(retailer_ids)  # read once: for the conditions and the words
    conditions = risk_conditions(retailer_ids, today, transit=transit)
    flags = Order.objects.filter(pk__in=[order.pk for order in orders]).annotate(
        **{f"risk_{code}": condition for code, condition in _as_flags(conditions).items()}
    )
    by_id = {order.pk: order for order in orders}
    reasons: dict[int, list[str]] = {}
    for row in flags.values("pk", *[f"risk_{code}" for code in conditions]):
        order = by_id[row["pk"]]
        found = []
        if row["risk_late_for_carrier"]:
            days = transit.get((order.retailer_id, order.carrier), DEFAULT_TRANSIT_DAYS)
            promised = formats.date_format(order.promised_date, "j M")
            carrier = order.carrier or "the carrier"
            found.append(
                f"Promised {promised}, not shipped: {HANDLING_DAYS} day to pack and "
                f"{days} day{'s' if days != 1 else ''} with {carrier}"
            )
        if row["risk_escalated"]:
            found.append("Waiting on an escalated fulfilment")
        if found:
            reasons[order.pk] = found
    return reasons


def _as_flags(conditions: dict[str, Q]) -> dict:
    return {
        code: Case(
            When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
        )
        for code, condition in conditions.items()
    }
