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
from oms.roles import roles_of
from orders.models import OPEN_STATES, Order

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
# the names of the flags `with_risk_flags` sets on each order, one per rule
FLAGS = tuple(f"risk_{rule.code}" for rule in RULES)


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
    shipped = Q(shipped_at__isnull=False)  # a parcel left (Order.shipped_at)

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


def transit_days_for(user) -> dict[tuple[int, str], int]:
    """The carriers' transit days of the user's retailers, read once per request and kept on the
    user like their roles (`oms.roles.roles_of`): the "At risk" view and the list's flags both
    need them."""
    roles = roles_of(user)
    cached = getattr(user, "_oms_transit_days", None)
    if cached is None or cached[0] is not roles:  # read again when the roles were read again
        cached = (roles, _transit_days(list(roles)) if roles else {})
        user._oms_transit_days = cached
    return cached[1]


def at_risk(queryset, retailer_ids, today: date | None = None, *, transit: dict | None = None):
    conditions = list(risk_conditions(retailer_ids, today, transit=transit).values())
    match = conditions[0]
    for condition in conditions[1:]:
        match |= condition
    return queryset.filter(match)


def with_risk_flags(queryset, transit: dict, today: date | None = None):
    """The orders, each with a `risk_<rule code>` flag worked out in the same query: a list
    page learns which of its rows are at risk without a query of its own."""
    conditions = risk_conditions((), today, transit=transit)
    return queryset.annotate(
        **{f"risk_{code}": flag for code, flag in _as_flags(conditions).items()}
    )


def risks_of(orders: list[Order], today: date | None = None) -> dict[int, list[str]]:
    """The reasons each of these orders is at risk, in words (orders not at risk are left out)."""
    if not orders:
        return {}
    transit = _transit_days({order.retailer_id for order in orders})  # for the flags and words
    flags = with_risk_flags(
        Order.objects.filter(pk__in=[order.pk for order in orders]), transit, today
    ).values("pk", *FLAGS)
    flags_by_id = {row["pk"]: row for row in flags}
    return _in_words(orders, lambda order: flags_by_id.get(order.pk, {}), transit)


def flagged_risks(orders, transit: dict) -> dict[int, list[str]]:
    """The reasons each of these orders is at risk, in words, from the flags they carry
    (`with_risk_flags`); orders not at risk are left out."""
    return _in_words(
        orders, lambda order: {flag: getattr(order, flag, False) for flag in FLAGS}, transit
    )


def _in_words(orders, flags_of, transit: dict) -> dict[int, list[str]]:
    reasons: dict[int, list[str]] = {}
    for order in orders:
        flags = flags_of(order)
        found = []
        if flags.get("risk_late_for_carrier"):
            days = transit.get((order.retailer_id, order.carrier), DEFAULT_TRANSIT_DAYS)
            promised = formats.date_format(order.promised_date, "j M")
            carrier = order.carrier or "the carrier"
            found.append(
                f"Promised {promised}, not shipped: {HANDLING_DAYS} day to pack and "
                f"{days} day{'s' if days != 1 else ''} with {carrier}"
            )
        if flags.get("risk_escalated"):
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
