"""The worker-fault test against the Stripe adapter: a worker dies at every point of a capture or
refund, Stripe's answer is lost on the way back, Stripe is down or rate-limits, and the broker
delivers the task again. Money moves exactly once per operation, counted on Stripe's side.

Then the same through a real `celery worker` process talking to the local Stripe over HTTP."""

# ruff: noqa: F811 (fixtures are imported, then asked for by name)
import os
import random
import time
from collections import Counter
from decimal import Decimal

import pytest
import stripe

from billing import events, ledger
from billing.gateway import Unavailable
from billing.models import Payment, PaymentTransaction
from billing.services import payment_operation_run
from billing.stripe_gateway import StripeGateway
from orders import services
from orders.models import SystemState
from tests.billing.fake_stripe import fake_stripe  # noqa: F401
from tests.factories import OrderFactory, PaymentFactory
from tests.test_worker import worker  # noqa: F401

RUNS = int(os.environ.get("FAULT_RUNS", "200"))  # `make reliability` runs 1,000
WHERE = [
    "before claiming",
    "after claiming",
    "at the gateway",
    "answer lost on the network",
    "stripe unavailable",
    "while recording",
    "after recording",
]


class WorkerLost(BaseException):
    """The worker process died: nothing of it runs on (not an Exception: no handler catches it)."""


def _die_at(where, monkeypatch, fake, *, kind, rng):
    """Arrange for the next run of an operation to fail at `where`; undo with the returned call."""
    money_path = "/capture" if kind == "capture" else "/v1/refunds"
    real_request = stripe.RequestsClient.request
    real_event = events.payment_operation_succeeded

    def before_sending(self, method, *args, **kwargs):
        if method == "post":
            raise WorkerLost(where)
        return real_request(self, method, *args, **kwargs)

    def after_stripe_answered(self, method, *args, **kwargs):
        answer = real_request(self, method, *args, **kwargs)
        if method == "post":
            raise WorkerLost(where)
        return answer

    def while_recording(*args, **kwargs):
        raise WorkerLost(where)

    if where == "after claiming":
        monkeypatch.setattr(stripe.RequestsClient, "request", before_sending)
    elif where == "at the gateway":  # Stripe moved the money; the worker died reading the answer
        monkeypatch.setattr(stripe.RequestsClient, "request", after_stripe_answered)
    elif where == "answer lost on the network":
        fake.lose_next_answer(path=money_path)
    elif where == "stripe unavailable":
        status, type_ = rng.choice([(500, "api_error"), (429, "rate_limit_error")])
        fake.fail_next(status, type_, path=money_path)
    elif where == "while recording":
        monkeypatch.setattr(events, "payment_operation_succeeded", while_recording)

    def undo():
        monkeypatch.setattr(stripe.RequestsClient, "request", real_request)
        monkeypatch.setattr(events, "payment_operation_succeeded", real_event)
        fake.faults.clear()

    return undo


def _stripe_payment(order) -> Payment:
    intent = StripeGateway().authorise(
        amount=order.total, currency=order.currency, idempotency_key=f"order-{order.pk}"
    )
    return PaymentFactory(
        order=order, provider="stripe", provider_reference=intent.reference, authorised=order.total
    )


def _assert_once_each(payment, fake) -> None:
    """Every succeeded operation moved money once at Stripe, and nothing else moved."""
    payment = Payment.objects.get(pk=payment.pk)
    done = PaymentTransaction.objects.filter(payment=payment, status="succeeded")
    for kind, field in (("capture", "captured"), ("refund", "refunded")):
        keys = sorted(done.filter(kind=kind).values_list("idempotency_key", flat=True))
        moved = [m for m in fake.moved(kind) if m["payment_intent"] == payment.provider_reference]
        assert sorted(m["key"] for m in moved) == keys  # one movement per operation, none twice
        total = Decimal(sum(m["amount"] for m in moved)) / 100
        assert getattr(payment, field) == total
    assert payment.captured <= payment.authorised - payment.voided
    assert payment.refunded <= payment.captured


@pytest.mark.django_db
def test_a_worker_killed_anywhere_moves_money_at_stripe_exactly_once(
    manager, retailer, monkeypatch, fake_stripe
):
    rng = random.Random(7)
    order = OrderFactory(
        retailer=retailer,
        state=SystemState.PROCESSING,
        lines=1,
        lines__quantity=1,
        lines__unit_price=Decimal(RUNS * 2),
        lines__discount=Decimal("0.00"),
    )
    payment = _stripe_payment(order)
    faults = Counter()
    for run in range(RUNS):
        payment = Payment.objects.get(pk=payment.pk)
        refund = run % 3 == 2 and ledger.refundable(payment) >= 1
        request = services.order_payment_refund if refund else services.order_payment_capture
        operation = request(payment=payment, amount=Decimal("1.00"), by=manager)

        where = rng.choice(WHERE)
        faults[where] += 1
        if where != "before claiming":
            undo = _die_at(where, monkeypatch, fake_stripe, kind=operation.kind, rng=rng)
            try:
                payment_operation_run(operation_id=operation.pk, last_attempt=False)
                assert where == "after recording", f"{where}: the run should not have finished"
            except (WorkerLost, Unavailable):
                pass
            finally:
                undo()
        # the broker delivers the task again, once or twice
        for _ in range(rng.choice([1, 2])):
            payment_operation_run(operation_id=operation.pk)

        operation.refresh_from_db()
        assert operation.status == "succeeded", (run, where, operation.message)

    _assert_once_each(payment, fake_stripe)
    assert PaymentTransaction.objects.filter(payment=payment, status="succeeded").count() == RUNS
    assert len(faults) == len(WHERE), faults


@pytest.fixture
def stripe_worker(request, fake_stripe, monkeypatch):
    """A real worker process whose Stripe is the local fake (reached over HTTP)."""
    monkeypatch.setenv("STRIPE_API_BASE", fake_stripe.url)
    monkeypatch.setenv("STRIPE_API_KEY", fake_stripe.api_key)
    monkeypatch.setenv("STRIPE_TIMEOUT", "30")
    monkeypatch.setenv("PAYMENT_OPERATION_ATTEMPTS", "5")
    return request.getfixturevalue("worker")


def _wait_for(predicate, timeout=180.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return predicate()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_through_lost_answers_and_outages_moves_money_once(
    manager, retailer, fake_stripe, stripe_worker
):
    # given: a Stripe payment, and Stripe losing answers and failing while the worker works
    order = OrderFactory(
        retailer=retailer,
        state=SystemState.PROCESSING,
        lines=1,
        lines__quantity=1,
        lines__unit_price=Decimal("100.00"),
        lines__discount=Decimal("0.00"),
    )
    payment = _stripe_payment(order)
    fake_stripe.lose_next_answer(times=2, path="/capture")
    fake_stripe.fail_next(500, "api_error", path="/v1/refunds")
    fake_stripe.fail_next(429, "rate_limit_error", path="/capture")
    fake_stripe.lose_next_answer(path="/v1/refunds")
    # when: a manager captures three times and refunds twice; the worker runs each
    operations = [
        services.order_payment_capture(payment=payment, amount=Decimal("10.00"), by=manager)
        for _ in range(3)
    ]
    assert _wait_for(
        lambda: not PaymentTransaction.objects.filter(payment=payment, status="pending").exists()
    ), stripe_worker.joinpath("worker.log").read_text()[-3000:]
    operations += [
        services.order_payment_refund(
            payment=Payment.objects.get(pk=payment.pk), amount=Decimal("5.00"), by=manager
        )
        for _ in range(2)
    ]
    assert _wait_for(
        lambda: not PaymentTransaction.objects.filter(payment=payment, status="pending").exists()
    ), stripe_worker.joinpath("worker.log").read_text()[-3000:]
    # then
    statuses = [PaymentTransaction.objects.get(pk=o.pk).status for o in operations]
    assert statuses == ["succeeded"] * 5
    assert not fake_stripe.faults  # every fault was met
    _assert_once_each(payment, fake_stripe)
    payment = Payment.objects.get(pk=payment.pk)
    assert (payment.captured, payment.refunded) == (Decimal("30.00"), Decimal("10.00"))
