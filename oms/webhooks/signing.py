"""How a webhook is signed, and how a receiver checks it.

Every POST carries these headers:

    Content-Type: application/json
    User-Agent: OMS-Webhooks/1
    OMS-Webhook-Id: <event id, a UUID: the same on every attempt and every resend>
    OMS-Webhook-Event: <event type, e.g. order.cancelled>
    OMS-Webhook-Timestamp: <unix seconds when this attempt was signed>
    OMS-Webhook-Signature: v1=<hex HMAC-SHA256>

The signature is the HMAC-SHA256, keyed with the endpoint's secret (the whole `whsec_...`
string, as UTF-8), of the timestamp, a full stop and the raw request body, exactly as received:

    v1 = hex(HMAC_SHA256(secret, f"{timestamp}.{body}"))

A receiver recomputes it over the bytes it received (before parsing the JSON), compares it in
constant time, and refuses a timestamp more than five minutes from its own clock, so a captured
request cannot be replayed later. The event id lets a receiver ignore an event it has already handled: a delivery is retried until it is
answered with a 2xx status, so the same event can arrive more than once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

SIGNATURE_VERSION = "v1"
USER_AGENT = "OMS-Webhooks/1"
ID_HEADER = "OMS-Webhook-Id"
EVENT_HEADER = "OMS-Webhook-Event"
TIMESTAMP_HEADER = "OMS-Webhook-Timestamp"
SIGNATURE_HEADER = "OMS-Webhook-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`: `v1=<hex>`."""
    message = str(int(timestamp)).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def headers(*, secret: str, event_id: str, event: str, body: bytes, now: int | None = None) -> dict:
    """Every header of one attempt to deliver `body`."""
    timestamp = int(time.time() if now is None else now)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        ID_HEADER: str(event_id),
        EVENT_HEADER: event,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> bool:
    """What a receiver does: True when `body` carries a valid signature of `secret`, signed
    within `tolerance` seconds of now. Header names are matched whatever their case."""
    try:
        timestamp = int(_header(headers, TIMESTAMP_HEADER))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    given = [part.strip() for part in _header(headers, SIGNATURE_HEADER).split(",")]
    return any(hmac.compare_digest(expected, part) for part in given if part)
