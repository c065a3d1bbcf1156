"""What a change looks like to an open page, and which changes an action cares about.

Every change writes an `Activity` (oms/activity.py), so every change is published from there,
once its transaction commits, as an event on its retailer's channel. The same event is built
from the table when a page polls or reconnects, so a page that missed the live one (the stream
was down, the tab slept) reads the same facts.

Each action belongs to a *topic* (status, payment, items, ...). A page's action names the topics
it depends on (`STATE`, for the actions that move an order): a change of one of them since the
page was drawn makes the action stale (oms/live/guard.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

# oms.activity imports this package (to announce its records): read it as a module
from oms import activity
from oms.models import Activity

# The topic of each action, by the longest dotted prefix that names one.
_TOPICS: dict[str, str] = {
    "orders.order.status_changed": "status",
    "orders.order.cancelled": "status",
    "orders.order.hold_set": "status",
    "orders.order.hold_cleared": "status",
    "orders.order.held_by_rule": "status",
    "orders.order.placed": "status",
    "orders.order.copied": "status",
    "orders.order.sent": "shipment",
    "orders.order.updated": "items",
    "orders.order.payment_marked": "payment",
    "orders.order.payments_checked": "payment",
    "orders.order.invoice_number_set": "invoice",
    "orders.order.payment_reminder": "notice",
    "orders.order.customer_notified": "notice",
    "orders.order.email_skipped": "notice",
    "orders.order.created_as_copy": "notice",
    "orders.orderline": "items",
    "orders.payment": "payment",
    "orders.shipment": "shipment",
    "orders.comment": "comment",
    "orders.memo": "comment",
    "orders.task": "comment",
    "orders.ticket": "ticket",
    "orders.ticketmessage": "ticket",
    "fulfilments.fulfilment": "shipment",
    "returns": "return",
    "billing.invoice": "invoice",
    "billing.creditnote": "invoice",
    "billing.debitmemo": "invoice",
    "billing.payment": "payment",
    "billing.paymentoperation": "payment",
    "billing": "payment",
    "customers": "customer",
    "oms.email": "notice",
}

# What the actions that move a record depend on: a change of any of these since the page was
# drawn makes such an action stale. Comments and notes never do.
STATE = frozenset({"status", "payment", "items", "shipment", "return", "customer", "invoice"})
# A ticket answer depends on the messages before it: a customer's new message, or a colleague's
# answer, makes it stale (two answers to one question are what this prevents).
TICKET = frozenset({"ticket", "status"})


# What the system writes on its own, not as the follow-up of someone's action: a customer's
# message, a channel's update of an order. Only these, among the changes with no user, make an
# action stale; the rest (a refund finishing, stock sourced, an email sent) complete what an agent
# started, and an agent acting on the page they were drawn on is not acting on stale facts.
EXTERNAL = frozenset(
    {
        "orders.ticket.customer_message",
        "orders.order.updated",
        "orders.intakemessage.accepted",
        "orders.shipment.delivered",
    }
)


def topic_of(action: str) -> str:
    name = action
    while name:
        if name in _TOPICS:
            return _TOPICS[name]
        name = name.rpartition(".")[0]
    return "other"


def ref(label: str, pk: Any) -> str:
    """A record as pages and events name it: `orders.order:12`."""
    return f"{label}:{pk}"


def parse_ref(value: str) -> tuple[str, str] | None:
    """(label, pk) of a well-formed ref, else None."""
    label, _, pk = value.partition(":")
    if not pk or len(value) > 120 or label.count(".") != 1 or not pk.isdigit():
        return None
    return label, pk


def actor_name(user: Any) -> str:
    if user is None:
        return "System"
    return (user.get_full_name() or user.get_username()).strip() or "Someone"


def stamp(moment: datetime) -> int:
    """A moment as integer microseconds since the epoch: what pages carry as `seen`."""
    return int(moment.timestamp() * 1_000_000)


def moment(value: Any) -> datetime | None:
    """The moment a `seen` or `since` value names; None when it is not one (bounded)."""
    try:
        micros = int(str(value)[:20])
    except (TypeError, ValueError):
        return None
    if not 0 < micros < 10**17:
        return None
    return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.UTC)


def event_of(entry: Activity, *, refs: list[str], actor: str) -> dict[str, Any]:
    """The event an activity makes for the pages that have one of `refs` open."""
    at = timezone.localtime(entry.created_at)
    return {
        "type": "change",
        "id": entry.pk,
        "action": entry.action,
        "topic": topic_of(entry.action),
        "refs": refs,
        "by": actor,
        "by_id": entry.actor_id,
        "at": stamp(entry.created_at),
        "time": at.strftime("%H:%M"),
        "text": activity.describe(entry)[:300],
    }


def refs_of(entry: Activity, order_id: Any = None) -> list[str]:
    """The records whose pages show this change: its target, its root, and its order."""
    found = [ref(entry.root_type, entry.root_id)]
    target = ref(entry.target_type, entry.target_id)
    if target not in found:
        found.append(target)
    if order_id is not None:
        order = ref("orders.order", order_id)
        if order not in found:
            found.append(order)
    return found


def about(label: str, pk: Any = None) -> Q:
    """The activities of one record (or, without `pk`, of any record of its kind): those it is
    the root of, and those it is the target of."""
    if pk is None:
        return Q(root_type=label) | Q(target_type=label)
    return Q(root_type=label, root_id=str(pk)) | Q(target_type=label, target_id=str(pk))


def _changes(retailer_ids: list[int], match: Q, since: datetime, limit: int) -> list[dict]:
    """The changes `match` selects after `since`, oldest first, as events."""
    if not retailer_ids:
        return []
    entries = (
        Activity.objects.filter(match, retailer_id__in=retailer_ids, created_at__gt=since)
        .select_related("actor")
        .order_by("created_at", "pk")[:limit]
    )
    return [
        event_of(entry, refs=refs_of(entry), actor=actor_name(entry.actor)) for entry in entries
    ]


def changes_since(
    retailer_ids: list[int], refs: list[str], since: datetime, *, limit: int = 50
) -> list[dict[str, Any]]:
    """The changes to these records after `since`, oldest first, as events: what a polling or
    reconnecting page missed. Matches roots and targets (not an order through its children:
    a page that shows a return's changes watches the return too)."""
    parsed = [p for p in (parse_ref(r) for r in refs) if p is not None]
    if not parsed:
        return []
    match = Q()
    for label, pk in parsed:
        match |= about(label, pk)
    return _changes(retailer_ids, match, since, limit)


def changes_of_kind(
    retailer_ids: list[int], label: str, since: datetime, *, limit: int = 200
) -> list[dict[str, Any]]:
    """The changes to any record of one kind after `since`: what a polling list missed."""
    return _changes(retailer_ids, about(label), since, limit)
