"""The payment gateway interface, and the built-in simulated gateway.

Real providers plug in behind `PaymentGateway` and are chosen by `Payment.provider` in
`settings.PAYMENT_GATEWAYS`. Every money movement carries an idempotency key: a gateway asked
twice with the same key moves money once and answers the same both times.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.module_loading import import_string

from billing.models import SimulatedGatewayRecord


class GatewayError(Exception):
    """The gateway did not do it. `transient` errors may succeed when tried again."""

    transient = False
    code = "error"


class Declined(GatewayError):
    code = "declined"


class Unavailable(GatewayError):
    transient = True
    code = "unavailable"


@dataclass(frozen=True)
class GatewayResult:
    reference: str


@dataclass(frozen=True)
class GatewayBalance:
    captured: Decimal
    refunded: Decimal
    voided: Decimal


class PaymentGateway(Protocol):
    def capture(
        self, *, payment_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult: ...

    def refund(
        self, *, payment_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult: ...

    def void(
        self, *, payment_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult: ...

    def balance(self, *, payment_reference: str) -> GatewayBalance: ...


def gateway_for(provider: str) -> PaymentGateway:
    """The gateway of a payment's provider, as configured in PAYMENT_GATEWAYS."""
    path = settings.PAYMENT_GATEWAYS.get(provider)
    if path is None:
        raise GatewayError(f"No payment gateway is configured for provider {provider!r}.")
    return import_string(path)()


class SimulatedGateway:
    """A deterministic stand-in for a card processor, for the demo and the tests.

    It keeps its ledger in `SimulatedGatewayRecord`, so web and worker processes share it. It can
    be told to fail: the setting SIMULATED_GATEWAY_FAILURE ("decline" or "timeout") fails every
    call; amounts ending in .51 are declined and in .52 time out, as test cards do. A release
    of an authorisation is not an issuer's decision, so only a general failure declines it.
    """

    def capture(self, **kwargs) -> GatewayResult:
        return self._move("capture", **kwargs)

    def refund(self, **kwargs) -> GatewayResult:
        return self._move("refund", **kwargs)

    def void(self, **kwargs) -> GatewayResult:
        return self._move("void", **kwargs)

    def balance(self, *, payment_reference: str) -> GatewayBalance:
        totals = dict(
            SimulatedGatewayRecord.objects.filter(payment_reference=payment_reference)
            .values_list("kind")
            .annotate(total=Sum("amount"))
        )
        zero = Decimal("0.00")
        return GatewayBalance(
            captured=totals.get("capture", zero),
            refunded=totals.get("refund", zero),
            voided=totals.get("void", zero),
        )

    def _move(
        self,
        kind: str,
        *,
        payment_reference: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
    ) -> GatewayResult:
        existing = SimulatedGatewayRecord.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return self._replay(existing, kind, amount)
        failure = getattr(settings, "SIMULATED_GATEWAY_FAILURE", "")
        cents = f"{amount:.2f}"[-2:]
        if failure == "timeout" or cents == "52":
            raise Unavailable("The payment gateway did not answer in time.")
        if failure == "decline" or (cents == "51" and kind != "void"):
            raise Declined("Declined by the card issuer (do not honour).")
        try:
            with transaction.atomic():
                record = SimulatedGatewayRecord.objects.create(
                    idempotency_key=idempotency_key,
                    payment_reference=payment_reference,
                    kind=kind,
                    amount=amount,
                    currency=currency,
                    reference=f"sim_{kind[:3]}_{uuid.uuid4().hex[:16]}",
                )
        except IntegrityError:
            # another process used the same key a moment ago: answer as it was answered
            record = SimulatedGatewayRecord.objects.get(idempotency_key=idempotency_key)
            return self._replay(record, kind, amount)
        return GatewayResult(reference=record.reference)

    @staticmethod
    def _replay(record, kind: str, amount: Decimal) -> GatewayResult:
        if record.kind != kind or record.amount != amount:
            raise GatewayError("This idempotency key was already used for another request.")
        return GatewayResult(reference=record.reference)
