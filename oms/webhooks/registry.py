"""The events webhooks tell of, and which activity gives each one (filled by the apps).

The kernel imports no app: each app says, next to its activity constructors in its `events.py`,
which of its activity actions is which webhook event and how that event's `data` is built:

    webhooks.register("orders.order.cancelled", "order.cancelled", payload=_order_payload)

A payload builder gets the `Activity` and returns the event's `data` (`oms.webhooks.schema`
describes each). It runs inside the transaction of the change, only when an active endpoint of
the retailer subscribes to the event; `when` (optional) narrows an action to some of its
activities (a return's status change that completes it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from oms.models import Activity

# The events, in the order settings pages list them, each with what it tells.
EVENTS: tuple[tuple[str, str], ...] = (
    ("order.created", "An order was placed (by a channel, by hand, or as a copy of another)."),
    ("order.status_changed", "An order moved to another status (cancelling it too)."),
    ("order.cancelled", "An order was cancelled, with the reason and the money given back."),
    ("order.shipped", "Items of an order left the warehouse: carrier, service and tracking."),
    ("payment.captured", "Money was captured on an order's payment."),
    ("payment.refunded", "Money was refunded on an order's payment, by the gateway or by hand."),
    ("return.created", "A return was created (by a customer, or for items that were cancelled)."),
    ("return.completed", "A return was completed: its refund is done."),
    ("fulfilment.escalated", "Items of an order could not be sourced: the fulfilment escalated."),
)
EVENT_NAMES = frozenset(name for name, _ in EVENTS)

# The record each event is about, for the deliveries list: the object of its `data` under this
# key, and that record's type label. A payment event is listed under its order.
ABOUT = {
    "order": ("order", "orders.order"),
    "payment": ("order", "orders.order"),
    "return": ("return", "returns.return"),
    "fulfilment": ("fulfilment", "fulfilments.fulfilment"),
}

PayloadBuilder = Callable[[Activity], dict[str, Any]]


@dataclass(frozen=True)
class Source:
    """An activity action that gives a webhook event."""

    event: str
    payload: PayloadBuilder
    when: Callable[[Activity], bool] | None = None


_SOURCES: dict[str, dict[str, Source]] = {}


def register(
    action: str,
    event: str,
    *,
    payload: PayloadBuilder,
    when: Callable[[Activity], bool] | None = None,
) -> None:
    """Send `event` to the subscribed endpoints when an activity `action` is recorded.
    Registering the same action and event again replaces the entry."""
    if event not in EVENT_NAMES:
        raise ImproperlyConfigured(f"{event!r} is not a webhook event (oms.webhooks.EVENTS).")
    _SOURCES.setdefault(action, {})[event] = Source(event, payload, when)


def sources_of(entry: Activity) -> list[Source]:
    """The webhook events this activity gives (none for most: no query asked)."""
    found = _SOURCES.get(entry.action)
    if not found:
        return []
    return [s for s in found.values() if s.when is None or s.when(entry)]


def registered() -> dict[str, list[str]]:
    """Each registered action with the events it gives (for tests and docs)."""
    return {action: sorted(events) for action, events in sorted(_SOURCES.items())}
