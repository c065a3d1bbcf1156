"""Webhook endpoints, kept by a retailer's admins, and sending a delivery again.

Every change here needs the admin role in the endpoint's retailer, locks the endpoint's row,
and is recorded as an activity of the endpoint (never with its secret). Bad input raises a
`ValidationError` keyed by field, and changes nothing. Signing: `oms.webhooks.signing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from oms import activity, bounds, locking
from oms.models import WebhookDelivery, WebhookEndpoint
from oms.roles import Role, require_role
from oms.tasks import deliver_webhooks, enqueue_on_commit
from oms.webhooks.registry import EVENT_NAMES, EVENTS
from oms.webhooks.signing import sign, verify

__all__ = [
    "EVENTS",
    "delivery_redeliver",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_rotate_secret",
    "endpoint_update",
    "masked",
    "sign",
    "verify",
]

activity.describe_as("oms.webhookendpoint.created", "Webhook endpoint {url} added: {events_text}")
activity.describe_as("oms.webhookendpoint.updated", "Webhook endpoint {url} changed: {changes}")
activity.describe_as("oms.webhookendpoint.secret_rotated", "Webhook endpoint {url}: new secret")
activity.describe_as("oms.webhookendpoint.deleted", "Webhook endpoint {url} deleted")
activity.describe_as(
    "oms.webhookdelivery.redelivered", "Webhook {event} ({event_id}) queued again for {url}"
)

_URL = URLValidator(schemes=["http", "https"])


def masked(secret: str) -> str:
    """The secret as a page may show it after it was first given: its start and its end."""
    if len(secret) <= 12:
        return "•" * len(secret)
    return f"{secret[:10]}…{secret[-4:]}"


def _check_url(url) -> str:
    text = "" if url is None else str(url).strip()
    if not text:
        raise ValidationError({"url": "Give the URL the events are sent to."})
    try:
        bounds.check_text(text, WebhookEndpoint, "url")
    except ValidationError as error:
        raise ValidationError({"url": f"URL: {' '.join(error.messages)}"}) from None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "Give an http:// or https:// URL with a host."})
    if parts.username or parts.password:
        raise ValidationError({"url": "Leave the user name and password out of the URL."})
    try:
        _URL(text)
    except ValidationError:
        raise ValidationError({"url": f"{text[:80]!r} is not a URL."}) from None
    return text


def _check_events(events) -> list[str]:
    if isinstance(events, str) or not isinstance(events, Iterable):
        raise ValidationError({"events": "Choose the events to send."})
    chosen = {str(name) for name in events}
    if not chosen:
        raise ValidationError({"events": "Choose at least one event to send."})
    unknown = sorted(chosen - EVENT_NAMES)
    if unknown:
        raise ValidationError({"events": f"Unknown events: {', '.join(unknown)[:200]}."})
    return [name for name, _ in EVENTS if name in chosen]  # in the catalogue's order


def _check_description(description) -> str:
    text = "" if description is None else str(description).strip()
    try:
        return bounds.check_header(bounds.check_text(text, WebhookEndpoint, "description"))
    except ValidationError as error:
        raise ValidationError({"description": " ".join(error.messages)}) from None


def _shown(endpoint: WebhookEndpoint) -> dict:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events),
        "events_text": ", ".join(endpoint.events),
        "is_active": endpoint.is_active,
    }


@transaction.atomic
def endpoint_create(*, retailer_id: int, by, url, events, description="") -> WebhookEndpoint:
    """A new endpoint of the retailer, on, with a new secret (shown once, on the returned row)."""
    require_role(by, retailer_id, Role.ADMIN)
    url = _check_url(url)
    events = _check_events(events)
    description = _check_description(description)
    # one admin adding at a time, so two cannot pass the limit together
    locking.lock_name("oms.webhookendpoint.create", retailer_id)
    if WebhookEndpoint.objects.filter(retailer_id=retailer_id).count() >= (
        settings.WEBHOOK_MAX_ENDPOINTS
    ):
        raise ValidationError(
            {
                "url": f"A retailer has at most {settings.WEBHOOK_MAX_ENDPOINTS} webhook "
                "endpoints: delete one first."
            }
        )
    endpoint = WebhookEndpoint.objects.create(
        retailer_id=retailer_id, url=url, events=events, description=description
    )
    activity.record(
        action="oms.webhookendpoint.created", target=endpoint, by=by, data=_shown(endpoint)
    )
    return endpoint


def _locked(endpoint: WebhookEndpoint, by) -> WebhookEndpoint:
    require_role(by, endpoint.retailer_id, Role.ADMIN)
    return locking.lock(endpoint)


@transaction.atomic
def endpoint_update(
    *, endpoint: WebhookEndpoint, by, url=None, events=None, description=None, is_active=None
) -> WebhookEndpoint:
    """Change what is given (None: leave it). Switched off, an endpoint is sent nothing; what is
    pending for it waits, and is sent in order once it is switched on again."""
    require_role(by, endpoint.retailer_id, Role.ADMIN)
    wanted = {}
    if url is not None:
        wanted["url"] = _check_url(url)
    if events is not None:
        wanted["events"] = _check_events(events)
    if description is not None:
        wanted["description"] = _check_description(description)
    if is_active is not None:
        wanted["is_active"] = bool(is_active)
    endpoint = _locked(endpoint, by)
    changes = {k: v for k, v in wanted.items() if getattr(endpoint, k) != v}
    if not changes:
        return endpoint
    for name, value in changes.items():
        setattr(endpoint, name, value)
    endpoint.save(update_fields=list(changes))
    activity.record(
        action="oms.webhookendpoint.updated",
        target=endpoint,
        by=by,
        data=_shown(endpoint)
        | {"changes": ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in changes.items())},
    )
    if changes.get("is_active"):  # what waited while it was off
        enqueue_on_commit(deliver_webhooks, endpoint.pk, retailer_id=endpoint.retailer_id)
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, by) -> WebhookEndpoint:
    """A new secret: every attempt from now on is signed with it (the old one stops at once)."""
    endpoint = _locked(endpoint, by)
    endpoint.secret = WebhookEndpoint._meta.get_field("secret").get_default()
    endpoint.save(update_fields=["secret"])
    activity.record(
        action="oms.webhookendpoint.secret_rotated",
        target=endpoint,
        by=by,
        data={"url": endpoint.url},
    )
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, by) -> None:
    """Delete the endpoint and its deliveries; its history stays in the activity log."""
    endpoint = _locked(endpoint, by)
    activity.record(
        action="oms.webhookendpoint.deleted",
        target=endpoint,
        by=by,
        data=_shown(endpoint),
    )
    endpoint.delete()


@transaction.atomic
def delivery_redeliver(*, delivery: WebhookDelivery, by) -> WebhookDelivery:
    """Send a delivery again, whatever became of it: a new pending delivery of the same body and
    event id to the same endpoint, sent after the endpoint's earlier ones."""
    require_role(by, delivery.retailer_id, Role.ADMIN)
    endpoint = locking.lock(WebhookEndpoint(pk=delivery.endpoint_id))
    if not endpoint.is_active:
        raise ValidationError(
            {"endpoint": "This endpoint is switched off: switch it on to send to it."}
        )
    source = WebhookDelivery.objects.get(pk=delivery.pk)
    now = timezone.now()
    again = WebhookDelivery.objects.create(
        retailer_id=source.retailer_id,
        endpoint=endpoint,
        event=source.event,
        event_id=source.event_id,
        payload=source.payload,
        next_attempt_at=now,
        created_at=now,
        record_label=source.record_label,
        record_id=source.record_id,
        record_ref=source.record_ref,
        redelivery_of=source,
    )
    activity.record(
        action="oms.webhookdelivery.redelivered",
        target=again,
        root=endpoint,
        by=by,
        data={"event": source.event, "event_id": str(source.event_id), "url": endpoint.url},
    )
    enqueue_on_commit(deliver_webhooks, endpoint.pk, retailer_id=endpoint.retailer_id)
    return again
