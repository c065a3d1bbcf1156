"""Reads that gather one screen's data in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum, prefetch_related_objects

from fulfilments.models import Fulfilment, FulfilmentItem
from oms.models import Activity, Membership
from orders.models import (
    Order,
    OrderStatus,
    Shipment,
    ShipmentEvent,
    SystemState,
    Task,
)
from returns.models import Return

# Activity kinds an agent can filter the timeline by, each a set of record types.
ACTIVITY_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "order": ("Order and status", ("orders.order",)),
    "items": ("Items", ("orders.orderline",)),
    "payments": ("Payments", ("billing.payment", "billing.paymenttransaction")),
    "shipments": ("Shipments", ("orders.shipment", "orders.shipmentevent")),
    "notes": ("Comments, memos and tasks", ("orders.comment", "orders.memo", "orders.task")),
    "emails": ("Emails", ("oms.outboundemail",)),
    "returns": ("Returns", ("returns.return", "returns.returnitem", "returns.returnfulfilment")),
    "customer": ("Customer", ("customers.customer", "customers.address")),
}


def order_queryset(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """The order with the rows it points at (retailer, customer, status, addresses), in one
    query: what a tab of its page shows about it. The rules that held it are read apart, and
    only when one did: joining them as well tripled the time Postgres took to plan the query."""
    return queryset.select_related(
        "retailer", "customer", "status", "billing_address", "shipping_address"
    ).prefetch_related("hold_documentation_rule", "hold_compliance_rule")


def order_header_queryset(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """The order with everything its page header and sections show: one query for the order,
    its memos (with their authors and recipients, when there are memos) and its payments."""
    return order_queryset(queryset).prefetch_related(
        "memos__author", "memos__recipient", "payments"
    )


LIVE_ITEMS = 20  # the items named under each fulfilment on the order page


def order_fulfilments(order: Order) -> list[Fulfilment]:
    """The order's fulfilments, each with its first LIVE_ITEMS items (`first_items`) and how
    many more it holds (`more_items`): two queries, whatever the number of lines."""
    fulfilments = list(
        order.fulfilments.select_related("location").annotate(item_count=Count("items"))
    )
    items = FulfilmentItem.objects.select_related("order_line").order_by("fulfilment_id", "pk")
    if any(fulfilment.item_count > LIVE_ITEMS for fulfilment in fulfilments):
        # each fulfilment's first items only; the query cut per fulfilment costs twice the
        # time of a plain one, so it is made only when a fulfilment holds more
        items = items[:LIVE_ITEMS]
    prefetch_related_objects(fulfilments, Prefetch("items", queryset=items, to_attr="first_items"))
    for fulfilment in fulfilments:
        fulfilment.more_items = fulfilment.item_count - len(fulfilment.first_items)
    return fulfilments


@dataclass(frozen=True)
class TaxBand:
    rate: Decimal
    net: Decimal
    tax: Decimal
    lines: int  # how many of the order's lines are charged at this rate


def tax_breakdown(order: Order) -> list[TaxBand]:
    """Line totals grouped by tax rate: what was charged at each rate, net and tax, over every
    line of the order (not only the page of lines shown), summed by the database. The bands'
    `lines` add up to the order's number of lines, which the page's pager needs too."""
    rows = (
        order.lines.order_by()
        .values("tax_rate")
        .annotate(net=Sum(F("total") - F("tax")), tax_sum=Sum("tax"), lines=Count("pk"))
        .order_by("tax_rate")
    )
    return [TaxBand(row["tax_rate"], row["net"], row["tax_sum"], row["lines"]) for row in rows]


def order_shipments(order: Order) -> list[Shipment]:
    """The shipping log: shipments with their carrier events, newest event first."""
    return list(
        order.shipments.prefetch_related(
            Prefetch("events", queryset=ShipmentEvent.objects.order_by("-occurred_at", "-pk"))
        )
    )


def order_tasks(order: Order) -> list[Task]:
    return list(order.tasks.select_related("assignee", "created_by"))


def order_activity(order: Order, *, kind: str | None = None) -> QuerySet[Activity]:
    """Everything that happened to the order and what hangs off it, newest first; and the
    changes to its customer since it was placed."""
    return_ids = [str(pk) for pk in Return.objects.filter(order=order).values_list("pk", flat=True)]
    about = Q(root_type="orders.order", root_id=str(order.pk)) | Q(
        root_type="returns.return", root_id__in=return_ids
    )
    if order.customer_id is not None:
        about |= Q(
            root_type="customers.customer",
            root_id=str(order.customer_id),
            created_at__gte=order.placed_at,
        )
    activity = (
        Activity.objects.filter(retailer_id=order.retailer_id).filter(about).select_related("actor")
    )
    if kind in ACTIVITY_KINDS:
        activity = activity.filter(target_type__in=ACTIVITY_KINDS[kind][1])
    return activity.order_by("-created_at", "-pk")


def activity_kind_of(target_type: str) -> str:
    for kind, (_, types) in ACTIVITY_KINDS.items():
        if target_type in types:
            return kind
    return "order"


def retailer_staff(retailer_id: int) -> QuerySet:
    """Members of the retailer, for assigning tasks and addressing memos."""
    return (
        Membership.objects.filter(retailer_id=retailer_id)
        .select_related("user")
        .order_by("user__first_name", "user__username")
    )


def status_choices(order: Order) -> QuerySet:
    """The statuses the order can be moved to from the status dropdown.

    Cancelling and suspending have their own buttons (they ask for a confirmation or a reason),
    so their statuses are not offered here; another status of the current state is.
    """
    states = set(order.available_states())
    if order.available_states():
        states.add(order.status.system_state)
    states -= {SystemState.CANCELLED, SystemState.SUSPENDED}
    return (
        OrderStatus.objects.filter(retailer_id=order.retailer_id, system_state__in=states)
        .exclude(pk=order.status_id)
        .order_by("position", "pk")
    )
