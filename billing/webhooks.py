"""Stripe's webhook endpoint: POST /billing/stripe/webhook/, signed with the endpoint's secret."""

from __future__ import annotations

import json

import stripe
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from billing.services.stripe_events import stripe_event_settle

# Stripe's events are a few kilobytes; anything much larger is not Stripe.
MAX_BODY_BYTES = 256 * 1024
# How old a signed event may be (Stripe's own default): an older one is a replay.
TOLERANCE_SECONDS = 300


def _signed_by(payload: bytes, header: str | None) -> tuple[bool, str | None]:
    """Whether a configured secret signed the payload, and whose: a retailer's own secret
    (its ref), or the platform's (None)."""
    own = settings.STRIPE_WEBHOOK_SECRET_BY_RETAILER
    candidates: list[tuple[str | None, str]] = list(own.items())
    if settings.STRIPE_WEBHOOK_SECRET:
        candidates.append((None, settings.STRIPE_WEBHOOK_SECRET))
    for ref, secret in candidates:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError:
            continue
        return True, ref
    return False, None


@method_decorator([login_not_required, csrf_exempt], name="dispatch")
class StripeWebhookView(View):
    """Answers 200 to an event it verified (handled or ignored), 400 to a bad signature or body,
    413 to a body too large. Nothing changes unless the signature is good."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> JsonResponse:
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            length = MAX_BODY_BYTES + 1
        if length > MAX_BODY_BYTES:
            return JsonResponse({"error": "The body is too large."}, status=413)
        payload = request.body
        if len(payload) > MAX_BODY_BYTES:
            return JsonResponse({"error": "The body is too large."}, status=413)
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            return JsonResponse({"error": "The body is not UTF-8."}, status=400)
        verified, signed_for = _signed_by(payload, request.headers.get("Stripe-Signature"))
        if not verified:
            return JsonResponse({"error": "Bad or missing Stripe-Signature."}, status=400)
        try:
            event = json.loads(payload)
        except ValueError:
            return JsonResponse({"error": "The body is not JSON."}, status=400)
        if not isinstance(event, dict):
            return JsonResponse({"error": "The body is not an event."}, status=400)
        settled = stripe_event_settle(event=event, signed_for=signed_for)
        return JsonResponse({"received": True, "settled": settled})
