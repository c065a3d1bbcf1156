"""A local stand-in for Stripe's API, answering as Stripe does, for the adapter's tests.

A stdlib HTTP server in a thread on a free port: form-encoded requests (`a[b][c]=v`), JSON objects
shaped as Stripe's (`payment_intent`, `charge`, `refund`, `list`, `event`), Stripe's error bodies
and status codes, and idempotency as Stripe keeps it: the first answer to a key is saved and
replayed to the same request (`Idempotent-Replayed: true`); the key with other parameters is a 400
`idempotency_error`, the key while its first request still runs a 409.

Every money movement the server makes is appended to `movements`, so a test counts them on the
provider's side. Faults are queued with `fail_next` (an error answer before anything runs, as a
rate limit or an outage) and `lose_next_answer` (the request runs, its answer never arrives).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

WEBHOOK_SECRET = "whsec_test_platform"


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<ts>,v1=<hex HMAC-SHA256 of "ts.payload">."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class StripeFailure(Exception):
    def __init__(self, status: int, type_: str, code: str = "", message: str = "", **extra):
        super().__init__(message or code or type_)
        self.status = status
        self.body = {"error": {"type": type_, "code": code or None, "message": message, **extra}}


def nested(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (`metadata[k]=v`, `payment_method_types[0]=card`) as a dict."""
    out: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeFailure(
            400, "invalid_request_error", "parameter_invalid_integer", name
        ) from None


@dataclass
class FakeStripe:
    api_key: str = "sk_test_fake"
    multicapture: bool = True
    refund_status: str = "succeeded"
    intents: dict = field(default_factory=dict)
    refunds: dict = field(default_factory=dict)
    movements: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    idempotency: dict = field(default_factory=dict)
    faults: list = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _key: str | None = None

    # -- faults ---------------------------------------------------------------------------------

    def fail_next(self, status: int, type_: str, code: str = "", *, times: int = 1, path=""):
        """Answer the next matching requests with this error, before doing anything."""
        for _ in range(times):
            self.faults.append(
                ("fail", path, StripeFailure(status, type_, code, f"{type_} {code}"))
            )

    def lose_next_answer(self, *, times: int = 1, path: str = ""):
        """Run the next matching requests, then close the connection without answering."""
        for _ in range(times):
            self.faults.append(("lose", path, None))

    def _take_fault(self, path: str):
        for i, (kind, where, failure) in enumerate(self.faults):
            if where in path:
                del self.faults[i]
                return kind, failure
        return None, None

    # -- what the test reads ----------------------------------------------------------------------

    def moved(self, kind: str | None = None) -> list[dict]:
        with self.lock:
            return [m for m in self.movements if kind is None or m["kind"] == kind]

    def event(self, type_: str, obj: dict) -> bytes:
        """A webhook event as Stripe posts it."""
        return json.dumps(
            {
                "id": f"evt_{secrets.token_hex(12)}",
                "object": "event",
                "api_version": "2025-01-27.acacia",
                "created": int(time.time()),
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": type_,
                "data": {"object": obj},
            }
        ).encode()

    sign = staticmethod(lambda *args, **kwargs: sign(*args, **kwargs))

    def settle_refund(self, refund_id: str, status: str, failure_reason: str = "") -> dict:
        """A pending refund ends (the bank answered): as refund.updated would carry it."""
        with self.lock:
            refund = self.refunds[refund_id]
            refund["status"] = status
            if status == "failed":
                refund["failure_reason"] = failure_reason or "expired_or_canceled_card"
                intent = self.intents[refund["payment_intent"]]
                intent["_refunded"] -= refund["amount"]
            elif status == "succeeded":
                key = refund["metadata"].get("oms_operation")
                self._move("refund", refund["payment_intent"], refund["amount"], refund["id"], key)
            return dict(refund)

    # -- the API --------------------------------------------------------------------------------

    def handle(self, method: str, path: str, params: dict, headers) -> tuple[int, dict]:
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            raise StripeFailure(401, "invalid_request_error", "", "Invalid API Key provided.")
        routes = [
            ("POST", r"/v1/payment_intents", self.create_intent),
            ("GET", r"/v1/payment_intents/(pi_\w+)", self.get_intent),
            ("POST", r"/v1/payment_intents/(pi_\w+)/capture", self.capture),
            ("POST", r"/v1/payment_intents/(pi_\w+)/cancel", self.cancel),
            ("POST", r"/v1/refunds", self.create_refund),
            ("GET", r"/v1/refunds", self.list_refunds),
            ("GET", r"/v1/refunds/(re_\w+)", self.get_refund),
        ]
        for verb, pattern, view in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                with self.lock:
                    self._key = headers.get("Idempotency-Key")
                    return 200, view(params, *match.groups())
        raise StripeFailure(404, "invalid_request_error", "resource_missing", f"No route {path}")

    def _intent(self, intent_id: str) -> dict:
        if intent_id not in self.intents:
            raise StripeFailure(
                404,
                "invalid_request_error",
                "resource_missing",
                f"No such payment_intent: '{intent_id}'",
            )
        return self.intents[intent_id]

    def _move(self, kind: str, intent_id: str, amount: int, reference: str, key=None) -> None:
        self.movements.append(
            {
                "kind": kind,
                "payment_intent": intent_id,
                "amount": amount,
                "reference": reference,
                "key": key or self._key,
            }
        )

    def _public(self, intent: dict, expand: list[str] = ()) -> dict:
        out = {k: v for k, v in intent.items() if not k.startswith("_")}
        if "latest_charge" in expand and intent["latest_charge"]:
            out["latest_charge"] = {
                "id": intent["latest_charge"],
                "object": "charge",
                "amount": intent["amount"],
                "amount_captured": intent["amount_received"],
                "amount_refunded": intent["_refunded"],
                "captured": intent["amount_received"] > 0,
                "currency": intent["currency"],
                "payment_intent": intent["id"],
                "payment_method_details": {
                    "type": "card",
                    "card": {
                        "brand": "visa",
                        "last4": "4242",
                        "multicapture": {
                            "status": "available" if intent["_multicapture"] else "unavailable"
                        },
                    },
                },
            }
        return out

    def create_intent(self, params: dict) -> dict:
        amount = _int(params.get("amount"), "amount")
        if amount < 1:
            raise StripeFailure(400, "invalid_request_error", "amount_too_small", param="amount")
        if params.get("payment_method") == "pm_card_chargeDeclined":
            raise StripeFailure(
                402,
                "card_error",
                "card_declined",
                "Your card was declined.",
                decline_code="generic_decline",
            )
        requested = (
            params.get("payment_method_options", {}).get("card", {}).get("request_multicapture")
        )
        manual = params.get("capture_method") == "manual"
        intent = {
            "id": f"pi_{secrets.token_hex(12)}",
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": amount if manual else 0,
            "amount_received": 0 if manual else amount,
            "capture_method": params.get("capture_method", "automatic"),
            "currency": params.get("currency", "eur"),
            "status": "requires_capture" if manual else "succeeded",
            "latest_charge": f"ch_{secrets.token_hex(12)}",
            "metadata": params.get("metadata", {}),
            "payment_method": params.get("payment_method"),
            "canceled_at": None,
            "cancellation_reason": None,
            "livemode": False,
            "_multicapture": self.multicapture and requested == "if_available",
            "_refunded": 0,
        }
        self.intents[intent["id"]] = intent
        self._move("authorise", intent["id"], amount, intent["id"])
        return self._public(intent)

    def get_intent(self, params: dict, intent_id: str) -> dict:
        return self._public(self._intent(intent_id), list(params.get("expand", {}).values()))

    def capture(self, params: dict, intent_id: str) -> dict:
        intent = self._intent(intent_id)
        if intent["status"] != "requires_capture":
            raise StripeFailure(
                400,
                "invalid_request_error",
                "payment_intent_unexpected_state",
                "This PaymentIntent could not be captured because it has a status of "
                f"{intent['status']}.",
            )
        amount = _int(
            params.get("amount_to_capture", intent["amount_capturable"]), "amount_to_capture"
        )
        if not 0 < amount <= intent["amount_capturable"]:
            raise StripeFailure(
                400, "invalid_request_error", "amount_too_large", param="amount_to_capture"
            )
        final = params.get("final_capture", "true") != "false"
        if not final and not intent["_multicapture"]:
            raise StripeFailure(
                400, "invalid_request_error", "parameter_invalid", "Multicapture is not available."
            )
        intent["amount_received"] += amount
        intent["amount_capturable"] = 0 if final else intent["amount_capturable"] - amount
        if intent["amount_capturable"] == 0:
            intent["status"] = "succeeded"
        intent["metadata"] = {**intent["metadata"], **params.get("metadata", {})}
        self._move("capture", intent_id, amount, intent["latest_charge"])
        return self._public(intent)

    def cancel(self, params: dict, intent_id: str) -> dict:
        intent = self._intent(intent_id)
        if intent["status"] != "requires_capture":
            raise StripeFailure(
                400,
                "invalid_request_error",
                "payment_intent_unexpected_state",
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}.",
            )
        self._move("release", intent_id, intent["amount_capturable"], intent_id)
        intent["amount_capturable"] = 0
        intent["status"] = "canceled"
        intent["canceled_at"] = int(time.time())
        intent["cancellation_reason"] = params.get("cancellation_reason", "requested_by_customer")
        return self._public(intent)

    def create_refund(self, params: dict) -> dict:
        intent = self._intent(params.get("payment_intent", ""))
        left = intent["amount_received"] - intent["_refunded"]
        amount = _int(params.get("amount", left), "amount")
        if not 0 < amount <= left:
            raise StripeFailure(
                400,
                "invalid_request_error",
                "amount_too_large",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                param="amount",
            )
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "charge": intent["latest_charge"],
            "payment_intent": intent["id"],
            "status": self.refund_status,
            "failure_reason": None,
            "metadata": params.get("metadata", {}),
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        intent["_refunded"] += amount
        if refund["status"] == "succeeded":
            self._move("refund", intent["id"], amount, refund["id"])
        return dict(refund)

    def get_refund(self, params: dict, refund_id: str) -> dict:
        if refund_id not in self.refunds:
            raise StripeFailure(404, "invalid_request_error", "resource_missing", refund_id)
        return dict(self.refunds[refund_id])

    def list_refunds(self, params: dict) -> dict:
        found = [
            dict(r)
            for r in self.refunds.values()
            if r["payment_intent"] == params.get("payment_intent", r["payment_intent"])
        ]
        return {"object": "list", "url": "/v1/refunds", "has_more": False, "data": found}

    # -- serving --------------------------------------------------------------------------------

    def serve(self):
        """Start on a free port; returns (base URL, stop)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once, as a server's do

            def log_message(self, *args):
                pass

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

            def _answer(self, method):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                pairs = parse_qsl(body if method == "POST" else url.query, keep_blank_values=True)
                params = nested(pairs)
                key = self.headers.get("Idempotency-Key")
                with fake.lock:
                    fake.requests.append((method, url.path, params, key))
                    fault, failure = fake._take_fault(url.path)
                if fault == "fail":
                    return self._send(failure.status, failure.body)
                replayed, (status, answer) = fake._idempotent(
                    method, url.path, params, key, self.headers
                )
                if fault == "lose":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                return self._send(status, answer, replayed=replayed, key=key)

            def _send(self, status, payload, *, replayed=False, key=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
                if key:
                    self.send_header("Idempotency-Key", key)
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()

        def stop():
            server.shutdown()
            server.server_close()

        return f"http://127.0.0.1:{server.server_address[1]}", stop

    def _idempotent(self, method, path, params, key, headers) -> tuple[bool, tuple[int, dict]]:
        """Run a request once per idempotency key, as Stripe does for POSTs."""
        if method != "POST" or not key:
            return False, self._run(method, path, params, headers)
        with self.lock:
            saved = self.idempotency.get(key)
            if saved is None:
                self.idempotency[key] = {"request": (path, params), "answer": None}
        if saved is not None:
            if saved["request"] != (path, params):
                return False, (
                    400,
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with the "
                            "same parameters they were first used with.",
                        }
                    },
                )
            if saved["answer"] is None:
                return False, (
                    409,
                    {
                        "error": {
                            "type": "idempotency_error",
                            "code": "idempotency_key_in_use",
                            "message": "There is currently another in-progress request using "
                            "this Idempotent Key.",
                        }
                    },
                )
            return True, saved["answer"]
        answer = self._run(method, path, params, headers)
        with self.lock:
            self.idempotency[key]["answer"] = answer
        return False, answer

    def _run(self, method, path, params, headers) -> tuple[int, dict]:
        try:
            return self.handle(method, path, params, headers)
        except StripeFailure as failure:
            return failure.status, failure.body


@pytest.fixture
def fake_stripe(settings):
    """A fake Stripe serving on a free port, and the settings that point the adapter at it:
    retailer "acme" pays through Stripe, every other retailer through the simulated gateway."""
    fake = FakeStripe()
    url, stop = fake.serve()
    fake.url = url
    settings.STRIPE_API_KEY = fake.api_key
    settings.STRIPE_API_BASE = url
    settings.STRIPE_TIMEOUT = 30.0
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_KEY_BY_RETAILER = {}
    settings.STRIPE_WEBHOOK_SECRET_BY_RETAILER = {}
    settings.PAYMENT_PROVIDER_BY_RETAILER = {"acme": "stripe"}
    try:
        yield fake
    finally:
        stop()
