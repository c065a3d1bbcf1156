"""The one writer of `Activity` rows. Services call it through their app's `events.py`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.db import models
from django.utils import timezone

from oms.live import publish as live_publish
from oms.models import Activity, Retailer
from oms.templatetags.money import format_money
from oms.webhooks import outbox as webhooks_outbox


class RecordRef(NamedTuple):
    """A record named by its type label (`orders.order`) and primary key."""

    label: str
    pk: str

    @classmethod
    def of(cls, obj: models.Model | RecordRef) -> RecordRef:
        if isinstance(obj, RecordRef):
            return obj
        return cls(obj._meta.label_lower, str(obj.pk))


def record(
    *,
    action: str,
    target: models.Model,
    by: Any | None,
    root: models.Model | RecordRef | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Activity:
    """Record that `by` (a user, or None for the system) did `action` to `target`.

    `root` is the record whose timeline shows it (the target itself when omitted). Call this
    inside the service's transaction, so the change and its record commit together. `at` is for
    history loaded from elsewhere (intake, demo data); a change made now leaves it out.
    """
    retailer_id = target.pk if isinstance(target, Retailer) else target.retailer_id
    target_ref = RecordRef.of(target)
    root_ref = RecordRef.of(root) if root is not None else target_ref
    actor = by if by is not None and getattr(by, "is_authenticated", False) else None
    entry = Activity.objects.create(
        retailer_id=retailer_id,
        actor=actor,
        action=action,
        target_type=target_ref.label,
        target_id=target_ref.pk,
        root_type=root_ref.label,
        root_id=root_ref.pk,
        data=data or {},
        created_at=at or timezone.now(),
    )
    if at is None:  # a change made now: the pages that have its record open hear of it
        live_publish.announce(entry, order_id=getattr(target, "order_id", None), actor=actor)
    webhooks_outbox.collect(entry)  # the retailer's subscribed systems, told after commit
    return entry


# How each action reads in a timeline: a format string over the activity's data. Apps add theirs
# in their events.py with `describe_as`.
_DESCRIPTIONS: dict[str, str] = {
    "oms.email.queued": "Email “{subject}” to {to} queued",
    "oms.email.sent": "Email “{subject}” sent to {to}",
    "oms.email.failed": "Email could not be sent after {attempts} attempts: {error}",
    "oms.email.refused": "Email “{subject}” to {to} refused by the mail server: {error}",
}


def history_of(record: models.Model, limit: int = 10) -> list[Activity]:
    """The last changes of a record, newest first (what its settings page lists)."""
    return list(
        Activity.objects.filter(
            retailer_id=record.retailer_id,
            target_type=record._meta.label_lower,
            target_id=str(record.pk),
        )
        .select_related("actor")
        .order_by("-created_at", "-pk")[:limit]
    )


def describe_as(action: str, text: str) -> None:
    """Say how `action` reads in a timeline, e.g. `"Comment: “{body}”"`."""
    _DESCRIPTIONS[action] = text


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


# amounts in an entry's data that carries a `currency`: shown in the one money format
MONEY_KEYS = ("amount", "total", "refund", "release")


def _money_data(data: Any) -> Any:
    """The entry's data with its amounts written as money (`€24.95`); an amount stored with its
    currency written after it (`7.90 EUR`, older entries) is read the same way."""
    if not isinstance(data, dict) or not isinstance(data.get("currency"), str):
        return data
    currency = data["currency"]
    shown = dict(data)
    for key in MONEY_KEYS:
        if key not in shown:
            continue
        try:
            amount = Decimal(str(shown[key]).removesuffix(f" {currency}").strip())
        except (InvalidOperation, ValueError):
            continue
        if amount.is_finite():
            shown[key] = format_money(amount, currency)
    return shown


def describe(entry: Activity) -> str:
    """One line of plain text saying what the activity was."""
    text = _DESCRIPTIONS.get(entry.action)
    if text is None:  # "orders.shipment.label_printed" reads "Shipment label printed"
        return entry.action.split(".", 1)[-1].replace(".", " ").replace("_", " ").capitalize()
    return text.format_map(_Blank(_money_data(entry.data)))
