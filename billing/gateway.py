"""The payment gateway interface, and the built-in simulated gateway.

Real providers plug in behind `PaymentGateway` and are chosen by `Payment.provider` in
`settings.PAYMENT_GATEWAYS`; a new payment's provider is its retailer's, as
`settings.PAYMENT_PROVIDER_BY_RETAILER` says (`provider_for`). Every money movement carries an
idempotency key: a gateway asked twice with the same key moves money once and answers the same
both times.
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
from oms.models import Retailer


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
    # accepted but not yet done (a refund some banks take days over): the provider tells the
    # outcome later, by webhook or when asked again with the same key
    pending: bool = False


@dataclass(frozen=True)
class GatewayBalance:
    captured: Decimal
    refunded: Decimal
    voided: Decimal


class PaymentGateway(Protocol):
    def authorise(
        self, *, amount: Decimal, currency: str, idempotency_key: str, payment_method: str = ""
    ) -> GatewayResult: ...

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


def gateway_for(provider: str, *, retailer_id: int | None = None) -> PaymentGateway:
    """The gateway of a payment's provider, as configured in PAYMENT_GATEWAYS, with the
    retailer's own credentials where the provider has per-retailer ones."""
    path = settings.PAYMENT_GATEWAYS.get(provider)
    if path is None:
        raise GatewayError(f"No payment gateway is configured for provider {provider!r}.")
    gateway_class = import_string(path)
    if retailer_id is not None and hasattr(gateway_class, "for_retailer"):
        return gateway_class.for_retailer(retailer_id)
    return gateway_class()


def for_retailer[T](by_ref: dict[str, T], retailer_id: int, default: T) -> T:
    """A per-retailer payment setting (keyed by retailer ref) for this retailer, else `default`;
    the retailer's ref is read only when the setting names any retailer."""
    if not by_ref:
        return default
    ref = Retailer.objects.filter(pk=retailer_id).values_list("ref", flat=True).first()
    return by_ref.get(ref, default)


def provider_for(retailer_id: int) -> str:
    """The provider a retailer's new payments are made with."""
    return for_retailer(
        settings.PAYMENT_PROVIDER_BY_RETAILER, retailer_id, settings.PAYMENT_PROVIDER_DEFAULT
    )


class SimulatedGateway:
    """A deterministic stand-in for a card processor, for the demo and the tests.

    It keeps its ledger in `SimulatedGatewayRecord`, so web and worker processes share it. It can
    be told to fail: the setting SIMULATED_GATEWAY_FAILURE ("decline" or "timeout") fails every
    call; amounts ending in .51 are declined and in .52 time out, as test cards do. A release
    of an authorisation is not an issuer's decision, so only a general failure declines it.
    """

    def authorise(
        self, *, amount: Decimal, currency: str, idempotency_key: str, payment_method: str = ""
    ) -> GatewayResult:
        """Hold an amount on a card: the payment's reference is the answer."""
        return self._move(
            "authorise",
            payment_reference=idempotency_key,
            amount=amount,
            currency=currency,
            idempotency_key=idempotency_key,
        )

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
