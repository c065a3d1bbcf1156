"""Stripe behind the payment gateway interface, with the official `stripe` library.

A payment is a PaymentIntent authorised with manual capture (`capture_method=manual`): its id is
the payment's `provider_reference`. A capture captures part or all of what it holds, a refund is
a Refund of the PaymentIntent, a release cancels the PaymentIntent (Stripe frees what was not
captured). Each call carries our operation's idempotency key as Stripe's `Idempotency-Key`, so a
call sent again replays Stripe's first answer and moves no money twice.

Partial captures: when the card allows multicapture, a capture leaves the rest authorised
(`final_capture=false`) and a release frees it; otherwise Stripe releases the rest with the first
capture, and a later capture is refused (the next sync shows the rest as released).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import stripe
from django.conf import settings

from billing.gateway import (
    Declined,
    GatewayBalance,
    GatewayError,
    GatewayResult,
    Unavailable,
    for_retailer,
)

# https://docs.stripe.com/currencies#zero-decimal and #three-decimal
ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
# The key in a capture's or refund's metadata that names our operation (webhooks read it).
OPERATION_KEY = "oms_operation"


def exponent(currency: str) -> int:
    currency = currency.upper()
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in Stripe's integer minor units (cents; yen as they are)."""
    minor = amount.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise GatewayError(f"{amount} {currency} cannot be charged: {currency} has no such unit.")
    return int(minor)


def from_minor(minor: int, currency: str) -> Decimal:
    return (Decimal(minor).scaleb(-exponent(currency))).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def _mapped(error: stripe.StripeError) -> GatewayError:
    """Stripe's error as ours: the issuer's no is a decline; no answer, a rate limit or Stripe's
    own fault may pass (retried with the same key); anything else is not retried."""
    message = getattr(error, "user_message", None) or str(error) or type(error).__name__
    if isinstance(error, stripe.CardError):
        return Declined(f"Declined by Stripe: {message}")
    if isinstance(error, stripe.IdempotencyError):
        return GatewayError(f"Stripe refused a reused idempotency key: {message}")
    if isinstance(error, (stripe.APIConnectionError, stripe.RateLimitError)):
        return Unavailable(f"Stripe did not answer: {message}")
    if isinstance(error, stripe.APIError):  # 5xx, or a 409 while another request holds the key
        return Unavailable(f"Stripe is unavailable: {message}")
    return GatewayError(f"Stripe refused: {message}")


class StripeGateway:
    """Money moved by Stripe, with one account's secret key."""

    def __init__(self, api_key: str | None = None) -> None:
        api_key = api_key or settings.STRIPE_API_KEY
        if not api_key:
            raise GatewayError("Stripe is not configured: STRIPE_API_KEY is not set.")
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": settings.STRIPE_API_BASE},
            # our workers retry with backoff, with the same idempotency key
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT),
        )

    @classmethod
    def for_retailer(cls, retailer_id: int) -> StripeGateway:
        """The gateway with the retailer's own key when it has one, else the platform's."""
        return cls(for_retailer(settings.STRIPE_API_KEY_BY_RETAILER, retailer_id, None))

    def authorise(
        self,
        *,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        payment_method: str = "",
    ) -> GatewayResult:
        """Hold `amount` on the card: a confirmed PaymentIntent with manual capture."""
        intent = self._call(
            self.client.v1.payment_intents.create,
            params={
                "amount": to_minor(amount, currency),
                "currency": currency.lower(),
                "capture_method": "manual",
                "confirm": True,
                "payment_method": payment_method or "pm_card_visa",
                "payment_method_types": ["card"],
                "payment_method_options": {"card": {"request_multicapture": "if_available"}},
            },
            options={"idempotency_key": idempotency_key},
        )
        if intent.status != "requires_capture":
            raise Declined(f"Stripe did not authorise the payment (status {intent.status}).")
        return GatewayResult(reference=intent.id)

    def capture(
        self, *, payment_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        params = {
            "amount_to_capture": to_minor(amount, currency),
            "metadata": {OPERATION_KEY: idempotency_key},
        }
        if self._multicapture(payment_reference):
            params["final_capture"] = False
        intent = self._call(
            self.client.v1.payment_intents.capture,
            payment_reference,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return GatewayResult(reference=intent.latest_charge or intent.id)

    def refund(
        self, *, payment_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        refund = self._call(
            self.client.v1.refunds.create,
            params={
                "payment_intent": payment_reference,
                "amount": to_minor(amount, currency),
                "metadata": {OPERATION_KEY: idempotency_key},
            },
            options={"idempotency_key": idempotency_key},
        )
        if refund.status not in ("succeeded", "failed", "canceled"):
            # a replay repeats the first answer: ask for the refund as it is now
            refund = self._call(self.client.v1.refunds.retrieve, refund.id)
        if refund.status == "succeeded":
            return GatewayResult(reference=refund.id)
        if refund.status in ("failed", "canceled"):
            reason = getattr(refund, "failure_reason", None) or refund.status
            raise Declined(f"Stripe could not refund: {reason}.")
        return GatewayResult(reference=refund.id, pending=True)

    def void(
        self, *, payment_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        """Release what is authorised and not captured."""
        try:
            intent = self.client.v1.payment_intents.cancel(
                payment_reference, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as error:
            # a final capture already released the rest: nothing is left to cancel
            intent = self._call(self.client.v1.payment_intents.retrieve, payment_reference)
            if not (intent.status == "succeeded" and intent.amount_capturable == 0):
                raise _mapped(error) from error
        except stripe.StripeError as error:
            raise _mapped(error) from error
        return GatewayResult(reference=intent.id)

    def balance(self, *, payment_reference: str) -> GatewayBalance:
        intent = self._call(self.client.v1.payment_intents.retrieve, payment_reference)
        refunds = self._call(
            self.client.v1.refunds.list,
            params={"payment_intent": payment_reference, "limit": 100},
        )
        refunded = sum((r.amount for r in refunds.auto_paging_iter() if r.status == "succeeded"), 0)
        finished = intent.status in ("succeeded", "canceled")
        released = intent.amount - intent.amount_received if finished else 0
        currency = intent.currency
        return GatewayBalance(
            captured=from_minor(intent.amount_received, currency),
            refunded=from_minor(refunded, currency),
            voided=from_minor(released, currency),
        )

    def _multicapture(self, payment_reference: str) -> bool:
        """Whether the card lets the PaymentIntent be captured more than once (Stripe says so
        on its charge; it does not change, so a call sent again sends the same)."""
        intent = self._call(
            self.client.v1.payment_intents.retrieve,
            payment_reference,
            params={"expand": ["latest_charge"]},
        )
        charge = intent.latest_charge
        if not charge or isinstance(charge, str):
            return False
        card = (charge.to_dict().get("payment_method_details") or {}).get("card") or {}
        return (card.get("multicapture") or {}).get("status") == "available"

    @staticmethod
    def _call(method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except stripe.StripeError as error:
            raise _mapped(error) from error
