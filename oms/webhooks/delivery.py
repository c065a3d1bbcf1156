"""Sending an endpoint's deliveries: one deliverer per endpoint at a time, oldest first.

A task per endpoint (`oms.tasks.deliver_webhooks`) is sent when a change that gives it events
commits, and by the relay each minute for deliveries still due (the broker was down, a retry is
due, a worker was lost). The deliverer takes a lease on the endpoint's row, so two workers never
send one endpoint's events out of order, and a worker that dies loses its lease when it lapses.
It sends the endpoint's pending deliveries oldest first, holding no transaction and no row lock
while it waits for the receiver (timeouts: `WEBHOOK_CONNECT_TIMEOUT`, `WEBHOOK_READ_TIMEOUT`).

A 2xx answer delivers. Anything else, or no answer, counts as a failed attempt: the delivery
waits `WEBHOOK_BACKOFF_SECONDS[n - 1]` after its n-th attempt, and is FAILED after
`WEBHOOK_MAX_ATTEMPTS`. While the oldest pending delivery waits for its retry the later ones
wait behind it, so a receiver gets an endpoint's events in the order they happened; a FAILED
one no longer holds the line (it can be sent again by hand, `services.delivery_redeliver`).

Without a broker (the embedded default) the task runs in the process that made the change,
once it commits: then the deliverer stops at the first failure and once it has spent
`WEBHOOK_READ_TIMEOUT`, so a receiver that is down slows an action by one timeout at most; what
is left is sent the next time the endpoint has an event (or by the relay, where beat runs).

Unless `WEBHOOK_ALLOW_PRIVATE_HOSTS`, an endpoint whose host resolves to a loopback, private,
link-local or otherwise non-public address is refused at delivery time, with the reason
recorded on the delivery.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Min, Subquery
from django.utils import timezone

from oms import activity, locking
from oms.models import WebhookDelivery, WebhookEndpoint
from oms.webhooks import signing

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status
BODY_EXCERPT = 1000
# a retry due sooner than this is woken by a delayed task; later ones by the relay (each minute)
WAKE_WITHIN_SECONDS = 60

activity.describe_as(
    "oms.webhook.failed", "Webhook {event} to {url} failed after {attempts} attempts: {error}"
)


def backoff() -> list[int | float]:
    return list(settings.WEBHOOK_BACKOFF_SECONDS)


def max_attempts() -> int:
    return int(settings.WEBHOOK_MAX_ATTEMPTS)


def lease_seconds() -> float:
    """Long enough for one attempt, with room to record it."""
    return settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT + 30


def body_of(delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent: the stored payload as compact JSON, keys sorted (the same on every
    attempt)."""
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class Outcome:
    code: int | None = None
    latency_ms: int | None = None
    body: str = ""
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.code is not None and 200 <= self.code < 300 and not self.error


def refusal(url: str) -> str:
    """Why `url` may not be sent to (its host is not public), or an empty string."""
    if settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        return f"Cannot resolve {host}: {exc}"
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            return (
                f"Refused: {host} resolves to {ip}, a loopback, private or link-local address "
                "(WEBHOOK_ALLOW_PRIVATE_HOSTS is off)."
            )
    return ""


def post(
    endpoint_url: str, secret: str, delivery: WebhookDelivery, *, within: float | None = None
) -> Outcome:
    """One attempt to deliver: no database work in here. `within` (seconds) shortens the
    timeouts to what is left of a budget."""
    refused = refusal(endpoint_url)
    if refused:
        return Outcome(error=refused[:500])
    body = body_of(delivery)
    sent_headers = signing.headers(
        secret=secret, event_id=str(delivery.event_id), event=delivery.event, body=body
    )
    connect, read = settings.WEBHOOK_CONNECT_TIMEOUT, settings.WEBHOOK_READ_TIMEOUT
    if within is not None:
        connect, read = min(connect, max(within, 0.5)), min(read, max(within, 0.5))
    started = time.monotonic()
    try:
        with requests.post(
            endpoint_url,
            data=body,
            headers=sent_headers,
            timeout=(connect, read),
            allow_redirects=False,
            stream=True,
        ) as response:
            excerpt = response.raw.read(BODY_EXCERPT * 4, decode_content=True) or b""
            latency = int((time.monotonic() - started) * 1000)
            text = excerpt.decode(response.encoding or "utf-8", errors="replace")[:BODY_EXCERPT]
            outcome = Outcome(code=response.status_code, latency_ms=latency, body=text)
    except (requests.RequestException, OSError) as exc:
        return Outcome(
            latency_ms=int((time.monotonic() - started) * 1000),
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
    if not outcome.delivered:
        outcome.error = f"HTTP {outcome.code}"
    return outcome


# the lease


def _lock_endpoint(endpoint_id: int) -> tuple | None:
    found = locking.lock_rows(WebhookEndpoint, [endpoint_id], "delivering_until", "is_active")
    return found.get(endpoint_id)


@transaction.atomic
def _take_lease(endpoint_id: int) -> datetime | None:
    """Hold the endpoint for this deliverer; None when another holds it (or it is off or gone)."""
    found = _lock_endpoint(endpoint_id)
    now = timezone.now()
    if found is None or not found[1] or (found[0] is not None and found[0] > now):
        return None
    until = now + timedelta(seconds=lease_seconds())
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(delivering_until=until)
    return until


@transaction.atomic
def _release(endpoint_id: int, lease: datetime) -> None:
    found = _lock_endpoint(endpoint_id)
    if found is not None and found[0] == lease:
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(delivering_until=None)


def _head(endpoint_id: int) -> WebhookDelivery | None:
    """The endpoint's oldest pending delivery: the next in line."""
    return (
        WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=Status.PENDING)
        .order_by("pk")
        .first()
    )


@dataclass
class _Claim:
    delivery: WebhookDelivery | None = None
    lease: datetime | None = None
    url: str = ""
    secret: str = ""
    waiting_until: datetime | None = None


@transaction.atomic
def _claim_next(endpoint_id: int, lease: datetime) -> _Claim:
    """Count an attempt on the next due delivery and renew the lease; an empty claim when there
    is none due, the lease was lost or the endpoint was switched off."""
    found = _lock_endpoint(endpoint_id)
    if found is None or found[0] != lease or not found[1]:
        return _Claim()
    head = _head(endpoint_id)
    now = timezone.now()
    if head is None:
        return _Claim()
    if head.next_attempt_at > now:
        return _Claim(waiting_until=head.next_attempt_at)
    endpoint = WebhookEndpoint.objects.only("url", "secret").get(pk=endpoint_id)
    head.attempts += 1
    head.last_attempt_at = now
    # should this worker die during the attempt, the delivery is retried after its backoff
    head.next_attempt_at = now + _wait_after(head.attempts)
    head.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    renewed = now + timedelta(seconds=lease_seconds())
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(delivering_until=renewed)
    return _Claim(delivery=head, lease=renewed, url=endpoint.url, secret=endpoint.secret)


def _wait_after(attempts: int) -> timedelta:
    steps = backoff() or [60]
    return timedelta(seconds=steps[min(attempts, len(steps)) - 1])


@transaction.atomic
def _record(endpoint_id: int, delivery: WebhookDelivery, outcome: Outcome) -> str:
    _lock_endpoint(endpoint_id)  # the endpoint's services and deliverer take turns on it
    now = timezone.now()
    delivery.response_code = outcome.code
    delivery.latency_ms = outcome.latency_ms
    delivery.response_body = outcome.body[:BODY_EXCERPT]
    delivery.error = outcome.error[:500]
    fields = ["response_code", "latency_ms", "response_body", "error", "status"]
    if outcome.delivered:
        delivery.status = Status.DELIVERED
        delivery.delivered_at = now
        fields.append("delivered_at")
    elif delivery.attempts >= max_attempts():
        delivery.status = Status.FAILED
        endpoint = WebhookEndpoint.objects.only("url", "retailer_id").get(pk=endpoint_id)
        activity.record(
            action="oms.webhook.failed",
            target=delivery,
            root=endpoint,
            by=None,
            data={
                "event": delivery.event,
                "url": endpoint.url,
                "attempts": delivery.attempts,
                "error": delivery.error,
            },
        )
    else:
        delivery.next_attempt_at = now + _wait_after(delivery.attempts)
        fields.append("next_attempt_at")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        **{name: getattr(delivery, name) for name in fields}
    )
    return delivery.status


@dataclass
class Round:
    """What one call of `endpoint_deliver` did, and when the line is due again (if it waits)."""

    delivered: int = 0
    failed_attempts: int = 0
    waiting_until: datetime | None = None
    busy: bool = False


def endpoint_deliver(*, endpoint_id: int, budget: float | None = None) -> Round:
    """Send the endpoint's due deliveries, oldest first, as the one deliverer of the endpoint.

    With a `budget` (seconds; in-process, where the action that caused it waits) each attempt's
    timeouts are cut to what is left of it, and it stops at the first failed attempt and once the
    budget is spent."""
    started = time.monotonic()
    result = Round()
    while True:
        lease = _take_lease(endpoint_id)
        if lease is None:
            result.busy = True
            return result
        stopped = False
        try:
            while True:
                claim = _claim_next(endpoint_id, lease)
                if claim.delivery is None:
                    result.waiting_until = claim.waiting_until
                    break
                lease = claim.lease
                left = None if budget is None else budget - (time.monotonic() - started)
                outcome = post(claim.url, claim.secret, claim.delivery, within=left)
                status = _record(endpoint_id, claim.delivery, outcome)
                if status == Status.DELIVERED:
                    result.delivered += 1
                else:
                    result.failed_attempts += 1
                    logger.info(
                        "Webhook %s to endpoint %s: attempt %s failed: %s",
                        claim.delivery.pk,
                        endpoint_id,
                        claim.delivery.attempts,
                        outcome.error,
                    )
                if budget is not None and (
                    status != Status.DELIVERED or time.monotonic() - started > budget
                ):
                    stopped = True
                    break
        finally:
            _release(endpoint_id, lease)
        if stopped or result.waiting_until is not None:
            return result
        # a delivery written while this deliverer was finishing found the lease held: it is
        # this deliverer's to send, now that the lease is released
        head = _head(endpoint_id)
        if head is None or head.next_attempt_at > timezone.now():
            result.waiting_until = head.next_attempt_at if head is not None else None
            return result


def deliveries_relay(*, limit: int = 500) -> list[tuple[int, int]]:
    """The endpoints (id, retailer id) whose next delivery in line is due: each to be handed to
    a deliverer."""
    heads = (
        WebhookDelivery.objects.filter(status=Status.PENDING)
        .order_by()
        .values("endpoint_id")
        .annotate(first=Min("pk"))
        .values("first")
    )
    return list(
        WebhookDelivery.objects.filter(
            pk__in=Subquery(heads),
            next_attempt_at__lte=timezone.now(),
            endpoint__is_active=True,
        )
        .order_by("endpoint_id")
        .values_list("endpoint_id", "retailer_id")[:limit]
    )
