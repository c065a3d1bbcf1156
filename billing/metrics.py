"""Billing's figures for /metrics (registered in BillingConfig.ready): payment operations by
state, and the operations waiting to reach the gateway as an outbox."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from django.db import transaction
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from billing.models import GATEWAY_OPERATIONS, PaymentTransaction
from oms import metrics

Status = PaymentTransaction.Status

SETTLED = Counter(
    "oms_payment_operations_settled",
    "Payment operations recorded as succeeded or failed, by kind and outcome.",
    ["kind", "outcome"],
)


def pending_operations_backlog() -> metrics.Backlog:
    """Captures, refunds and releases still to be carried out at the gateway (the partial index
    `transaction_pending` holds the pending ones in time order)."""
    return metrics.backlog_of(
        PaymentTransaction.objects.filter(status=Status.PENDING, kind__in=GATEWAY_OPERATIONS),
        "created_at",
    )


def operations_by_state() -> Iterable[Metric]:
    """Pending and failed operations by kind, read through the partial indexes that hold only
    those (succeeded ones, nearly all of them, are counted as they settle instead)."""
    family = GaugeMetricFamily(
        "oms_payment_operations",
        f"Payment operations pending or failed, by kind (counted up to {metrics.BACKLOG_LIMIT}).",
        labels=["state", "kind"],
    )
    for state in (Status.PENDING, Status.FAILED):
        kinds = Tally(
            PaymentTransaction.objects.filter(status=state)
            .order_by()
            .values_list("kind", flat=True)[: metrics.BACKLOG_LIMIT]
        )
        for kind in PaymentTransaction.Kind.values:
            family.add_metric([state, kind], kinds.get(kind, 0))
    yield family


def count_settled(operation: PaymentTransaction) -> None:
    """Count an operation recorded as settled, once its transaction commits."""
    kind, outcome = operation.kind, operation.status
    transaction.on_commit(lambda: SETTLED.labels(kind, outcome).inc())
