"""Fault injection: a worker dies at every point of a capture or refund, and the broker delivers
the task again (acks_late). Over FAULT_RUNS runs, money moves exactly once per operation, and
captured <= authorised and refunded <= captured always."""

import os
import random
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing import events, ledger
from billing.gateway import SimulatedGateway
from billing.models import Payment, PaymentTransaction, SimulatedGatewayRecord
from billing.services import payment_operation_run
from orders import services
from orders.models import SystemState
from tests.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db
RUNS = int(os.environ.get("FAULT_RUNS", "200"))  # `make reliability` runs 1,000
WHERE = [
    "before claiming",
    "after claiming",
    "at the gateway",
    "while recording",
    "after recording",
]


class WorkerLost(BaseException):
    """The worker process died: nothing of it runs on (not an Exception: no handler catches it)."""


def _die_at(where, monkeypatch):
    """Arrange for the next run of an operation to die at `where`; undo with the returned call."""
    undo = []
    if where == "after claiming":
        real = SimulatedGateway._move

        def dead(self, *args, **kwargs):
            raise WorkerLost(where)

        monkeypatch.setattr(SimulatedGateway, "_move", dead)
        undo.append(lambda: monkeypatch.setattr(SimulatedGateway, "_move", real))
    elif where == "at the gateway":  # the gateway moved the money; its answer never arrived
        real = SimulatedGateway._move

        def lost_answer(self, *args, **kwargs):
            real(self, *args, **kwargs)
            raise WorkerLost(where)

        monkeypatch.setattr(SimulatedGateway, "_move", lost_answer)
        undo.append(lambda: monkeypatch.setattr(SimulatedGateway, "_move", real))
    elif where == "while recording":  # inside the transaction that records the answer
        real = events.payment_operation_succeeded

        def dead(*args, **kwargs):
            raise WorkerLost(where)

        monkeypatch.setattr(events, "payment_operation_succeeded", dead)
        undo.append(lambda: monkeypatch.setattr(events, "payment_operation_succeeded", real))
    return lambda: [u() for u in undo]


def test_a_worker_killed_anywhere_moves_money_exactly_once(manager, retailer, monkeypatch):
    rng = random.Random(7)
    # an order worth what is authorised: captures never go past what the order charges
    order = OrderFactory(
        retailer=retailer,
        state=SystemState.PROCESSING,
        lines=1,
        lines__quantity=1,
        lines__unit_price=Decimal(RUNS * 2),
        lines__discount=Decimal("0.00"),
    )
    payment = PaymentFactory(order=order, authorised=order.total, captured=Decimal("0.00"))
    faults = dict.fromkeys(WHERE, 0)
    for run in range(RUNS):
        payment = Payment.objects.get(pk=payment.pk)
        refund = run % 3 == 2 and ledger.refundable(payment) >= 1
        request = services.order_payment_refund if refund else services.order_payment_capture
        operation = request(payment=payment, amount=Decimal("1.00"), by=manager)

        where = rng.choice(WHERE)
        faults[where] += 1
        if where != "before claiming":
            undo = _die_at(where, monkeypatch)
            try:
                payment_operation_run(operation_id=operation.pk)
                assert where == "after recording", f"{where}: the worker should have died"
            except WorkerLost:
                pass
            finally:
                undo()
        # the broker delivers the task again, once or twice
        for _ in range(rng.choice([1, 2])):
            payment_operation_run(operation_id=operation.pk)

        operation.refresh_from_db()
        assert operation.status == "succeeded", (run, where, operation.message)

    payment = Payment.objects.get(pk=payment.pk)
    done = PaymentTransaction.objects.filter(payment=payment, status="succeeded")
    for kind, field in (("capture", "captured"), ("refund", "refunded")):
        keys = list(done.filter(kind=kind).values_list("idempotency_key", flat=True))
        moved = SimulatedGatewayRecord.objects.filter(idempotency_key__in=keys)
        assert moved.count() == len(keys)  # one movement per operation, none twice
        total = moved.aggregate(s=Sum("amount"))["s"] or Decimal(0)
        assert getattr(payment, field) == total
    assert done.count() == RUNS
    assert payment.captured <= payment.authorised - payment.voided
    assert payment.refunded <= payment.captured
    assert min(faults.values()) > 0, faults
