"""The outbox: a delivery row per subscribed endpoint, written with the change that causes it.

`oms.activity.record` hands every new activity here. Most actions give no webhook event and cost
nothing; one that does costs one query when the retailer has no active endpoint. Otherwise the
event's payload is built now, inside the change's transaction (a snapshot of that moment), and
stored on a delivery row per endpoint: the rows commit with the change or not at all, and a
worker is told once the transaction commits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from oms.models import Activity, WebhookDelivery, WebhookEndpoint
from oms.tasks import deliver_webhooks, enqueue_on_commit
from oms.webhooks.registry import ABOUT, sources_of

VERSION = 1


def iso(moment: datetime | None) -> str | None:
    """A time as webhooks write it: ISO 8601 in UTC, with a Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def envelope(
    *, event_id: uuid.UUID, event: str, entry: Activity, retailer_ref: str, data: dict
) -> dict[str, Any]:
    """The body of an event: the same for every endpoint it goes to.

    `sequence` is the activity's id: it increases in the order changes were recorded, so the
    events about one record (changes to one order are made one at a time under its lock) arrive
    with increasing sequence numbers; it is not contiguous."""
    return {
        "id": str(event_id),
        "type": event,
        "version": VERSION,
        "created_at": iso(entry.created_at),
        "retailer": retailer_ref,
        "sequence": entry.pk,
        "data": data,
    }


def about(event: str, data: dict) -> tuple[str, str, str]:
    """The record an event is about (type label, id, ref), for the deliveries list."""
    key, label = ABOUT[event.split(".", 1)[0]]
    record = data.get(key) or {}
    return label, str(record.get("id", "")), str(record.get("ref", ""))[:100]


def collect(entry: Activity) -> list[WebhookDelivery]:
    """Write the deliveries this activity gives, and have them sent after commit."""
    sources = sources_of(entry)
    if not sources:
        return []
    endpoints = list(
        WebhookEndpoint.objects.filter(retailer_id=entry.retailer_id, is_active=True)
        .select_related("retailer")
        .order_by("pk")
    )
    if not endpoints:
        return []
    now = timezone.now()
    rows = []
    for source in sources:
        subscribed = [e for e in endpoints if source.event in (e.events or [])]
        if not subscribed:
            continue
        data = source.payload(entry)
        event_id = uuid.uuid4()
        body = envelope(
            event_id=event_id,
            event=source.event,
            entry=entry,
            retailer_ref=subscribed[0].retailer.ref,
            data=data,
        )
        label, record_id, ref = about(source.event, data)
        rows += [
            WebhookDelivery(
                retailer_id=entry.retailer_id,
                endpoint=endpoint,
                event=source.event,
                event_id=event_id,
                payload=body,
                next_attempt_at=now,
                created_at=now,
                record_label=label,
                record_id=record_id,
                record_ref=ref,
            )
            for endpoint in subscribed
        ]
    if not rows:
        return []
    created = WebhookDelivery.objects.bulk_create(rows)
    for endpoint_id in sorted({row.endpoint_id for row in created}):
        enqueue_on_commit(deliver_webhooks, endpoint_id, retailer_id=entry.retailer_id)
    return created
