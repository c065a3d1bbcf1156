"""Capture, refund and void as payment operations: limits, failures and moving money once."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from billing.gateway import SimulatedGateway, Unavailable
from billing.models import Payment, PaymentTransaction, SimulatedGatewayRecord
from billing.services import payment_operation_run
from billing.tasks import run_payment_operation
from oms.models import Activity
from oms.state import InvalidTransition
from orders import services
from orders.models import PaymentStatus, SystemState
from tests.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db

Status = PaymentTransaction.Status


@pytest.fixture
def payment(retailer):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)  # 99.90
    return PaymentFactory(order=order, authorised=order.total, provider_reference="psp_test_1")


def _fresh(payment) -> Payment:
    return Payment.objects.get(pk=payment.pk)


def test_a_partial_then_the_rest_captured_and_the_order_becomes_paid(
    manager, payment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.order_payment_capture(payment=payment, amount="40.00", by=manager)
    assert _fresh(payment).captured == Decimal("40.00")
    assert payment.order.__class__.objects.get(pk=payment.order_id).payment_status == (
        PaymentStatus.PARTIALLY_PAID
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.order_payment_capture(payment=payment, amount="59.90", by=manager)

    first.refresh_from_db()
    assert first.status == Status.SUCCEEDED and first.reference.startswith("sim_cap_")
    assert _fresh(payment).captured == Decimal("99.90")
    order = payment.order.__class__.objects.get(pk=payment.order_id)
    assert order.payment_status == PaymentStatus.PAID
    assert Activity.objects.filter(action="orders.payment.captured").count() == 2


def test_more_than_is_capturable_is_refused_and_nothing_is_written(manager, payment):
    with pytest.raises(ValidationError, match=r"At most €99\.90 can be captured"):
        services.order_payment_capture(payment=payment, amount="99.91", by=manager)
    assert not PaymentTransaction.objects.exists()


def test_correcting_a_quantity_down_to_what_was_captured_makes_the_order_paid(
    manager, retailer, django_capture_on_commit_callbacks
):
    # given an order of two units (99.90) with one unit's worth captured
    order = OrderFactory(
        retailer=retailer, state=SystemState.PROCESSING, lines=1, lines__quantity=2
    )
    payment = PaymentFactory(order=order, authorised=order.total, provider_reference="psp_test_1")
    with django_capture_on_commit_callbacks(execute=True):
        services.order_payment_capture(payment=payment, amount="49.95", by=manager)
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PARTIALLY_PAID

    # when a manager corrects the quantity to the one unit that was ordered
    line = order.lines.get()
    services.order_line_correct_quantity(order=order, line_id=line.pk, quantity=1, by=manager)

    # then the order costs what was captured and reads paid, as its payments say
    order.refresh_from_db()
    assert order.total == Decimal("49.95")
    assert order.payment_status == PaymentStatus.PAID


def test_captures_on_their_way_count_against_the_limit(manager, payment):
    services.order_payment_capture(payment=payment, amount="90.00", by=manager)  # not run yet
    with pytest.raises(ValidationError, match=r"At most €9\.90"):
        services.order_payment_capture(payment=payment, amount="10.00", by=manager)


def test_a_refund_never_exceeds_captured_minus_refunded(
    manager, payment, django_capture_on_commit_callbacks
):
    Payment.objects.filter(pk=payment.pk).update(
        captured=Decimal("50.00"), refunded=Decimal("20.00")
    )
    with pytest.raises(ValidationError, match=r"At most €30\.00 can be refunded"):
        services.order_payment_refund(payment=_fresh(payment), amount="30.01", by=manager)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_payment_refund(payment=_fresh(payment), amount="30.00", by=manager)
    assert _fresh(payment).refunded == Decimal("50.00")


@pytest.mark.parametrize("amount", ["0", "-5", "abc"])
def test_nonsense_amounts_are_refused(manager, payment, amount):
    with pytest.raises(ValidationError):
        services.order_payment_capture(payment=payment, amount=amount, by=manager)


def test_a_cancelled_order_cannot_be_captured(manager, payment):
    services.order_cancel(order=payment.order, by=manager, notify=False)
    with pytest.raises(InvalidTransition):
        services.order_payment_capture(payment=_fresh(payment), amount="1.00", by=manager)


def test_the_database_refuses_captured_above_authorised(payment):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        Payment.objects.filter(pk=payment.pk).update(captured=Decimal("100.00"))


def test_a_decline_leaves_a_visible_failed_operation_that_can_be_retried(
    manager, payment, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATED_GATEWAY_FAILURE = "decline"
    with django_capture_on_commit_callbacks(execute=True):
        operation = services.order_payment_capture(payment=payment, amount="10.00", by=manager)
    operation.refresh_from_db()
    assert operation.status == Status.FAILED
    assert operation.error_code == "declined"
    assert "Declined by the card issuer" in operation.message
    assert _fresh(payment).captured == 0
    assert Activity.objects.filter(action="orders.payment.failed").exists()

    settings.SIMULATED_GATEWAY_FAILURE = ""
    with django_capture_on_commit_callbacks(execute=True):
        retry = services.order_payment_retry(operation=operation, by=manager)
    retry.refresh_from_db()
    assert retry.pk != operation.pk and retry.idempotency_key != operation.idempotency_key
    assert retry.status == Status.SUCCEEDED
    assert _fresh(payment).captured == Decimal("10.00")


def test_a_timeout_is_retried_with_the_same_key(manager, payment, settings):
    settings.SIMULATED_GATEWAY_FAILURE = "timeout"
    operation = services.order_payment_capture(payment=payment, amount="10.00", by=manager)

    # a worker's attempts that are not the last one raise, so Celery retries with backoff
    with pytest.raises(Unavailable):
        payment_operation_run(operation_id=operation.pk, last_attempt=False)
    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == (Status.PENDING, 1)
    assert "did not answer in time" in operation.message

    # the last attempt gives up, visibly
    payment_operation_run(operation_id=operation.pk, last_attempt=True)
    operation.refresh_from_db()
    assert (operation.status, operation.error_code, operation.attempts) == (
        Status.FAILED,
        "unavailable",
        2,
    )

    # a retry after a timeout asks again with the same key: the gateway may have done it
    settings.SIMULATED_GATEWAY_FAILURE = ""
    retried = services.order_payment_retry(operation=operation, by=manager)
    assert retried.pk == operation.pk and retried.status == Status.PENDING
    payment_operation_run(operation_id=operation.pk)
    assert _fresh(payment).captured == Decimal("10.00")


def test_the_celery_task_gives_up_after_the_configured_attempts(manager, payment, settings):
    settings.SIMULATED_GATEWAY_FAILURE = "timeout"
    settings.PAYMENT_OPERATION_ATTEMPTS = 3
    operation = services.order_payment_capture(payment=payment, amount="10.00", by=manager)

    # run as a worker would: each retry is a new delivery with retries counted by Celery
    for retries in range(3):
        task = run_payment_operation
        request = {"retries": retries, "is_eager": False}
        try:
            task.push_request(**request)
            try:
                run_payment_operation.run(operation.pk, retailer_id=operation.retailer_id)
            except Exception as error:  # Celery's Retry
                assert retries < 2, error
        finally:
            task.pop_request()
    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == (Status.FAILED, 3)


def test_running_the_same_operation_twice_moves_money_once(manager, payment):
    operation = services.order_payment_capture(payment=payment, amount="25.00", by=manager)

    payment_operation_run(operation_id=operation.pk)
    payment_operation_run(operation_id=operation.pk)
    run_payment_operation.apply(args=[operation.pk], kwargs={"retailer_id": operation.retailer_id})

    assert SimulatedGatewayRecord.objects.count() == 1
    assert _fresh(payment).captured == Decimal("25.00")


def test_a_worker_killed_after_the_gateway_call_is_redelivered_and_money_moves_once(
    manager, payment
):
    operation = services.order_payment_capture(payment=payment, amount="25.00", by=manager)
    # the first worker claimed it and the gateway captured, then the worker died before recording
    PaymentTransaction.objects.filter(pk=operation.pk).update(attempts=1)
    SimulatedGateway().capture(
        payment_reference=payment.provider_reference,
        amount=operation.amount,
        currency="EUR",
        idempotency_key=operation.idempotency_key,
    )

    # the broker redelivers the unacknowledged task to another worker
    run_payment_operation.apply(args=[operation.pk], kwargs={"retailer_id": operation.retailer_id})

    operation.refresh_from_db()
    assert operation.status == Status.SUCCEEDED
    assert operation.reference == SimulatedGatewayRecord.objects.get().reference
    assert SimulatedGatewayRecord.objects.count() == 1
    assert _fresh(payment).captured == Decimal("25.00")


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_operation_move_money_once(manager, retailer):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need Postgres")
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)
    payment = PaymentFactory(order=order, authorised=order.total, provider_reference="psp_race")
    operation = services.order_payment_capture(payment=payment, amount="30.00", by=manager)
    start = threading.Barrier(2)
    errors = []

    def worker():
        try:
            start.wait()
            payment_operation_run(operation_id=operation.pk)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors
    assert SimulatedGatewayRecord.objects.count() == 1
    assert _fresh(payment).captured == Decimal("30.00")
    assert PaymentTransaction.objects.get(pk=operation.pk).status == Status.SUCCEEDED


def test_void_releases_what_is_not_captured(manager, payment, django_capture_on_commit_callbacks):
    Payment.objects.filter(pk=payment.pk).update(captured=Decimal("40.00"))
    with django_capture_on_commit_callbacks(execute=True):
        operation = services.order_payment_release(payment=_fresh(payment), by=manager)
    assert operation.amount == Decimal("59.90")
    assert _fresh(payment).voided == Decimal("59.90")
    with pytest.raises(ValidationError, match="Nothing is left to release"):
        services.order_payment_release(payment=_fresh(payment), by=manager)


def test_sync_reads_the_gateway_and_updates_the_order(manager, payment):
    # the gateway captured money outside the back office (say, in its own dashboard)
    SimulatedGateway().capture(
        payment_reference="psp_test_1",
        amount=Decimal("99.90"),
        currency="EUR",
        idempotency_key="dashboard-1",
    )
    changed = services.order_payments_sync(order=payment.order, by=manager)
    assert changed == [payment]
    assert _fresh(payment).captured == Decimal("99.90")
    order = payment.order.__class__.objects.get(pk=payment.order_id)
    assert order.payment_status == PaymentStatus.PAID
    assert Activity.objects.get(action="orders.payment.synced").data["after"]["captured"] == "99.90"
    assert services.order_payments_sync(order=order, by=manager) == []


def test_the_gateway_refuses_one_key_for_two_different_requests():
    from billing.gateway import GatewayError

    gateway = SimulatedGateway()
    gateway.capture(
        payment_reference="p", amount=Decimal("1.00"), currency="EUR", idempotency_key="k"
    )
    with pytest.raises(GatewayError, match="already used"):
        gateway.capture(
            payment_reference="p", amount=Decimal("2.00"), currency="EUR", idempotency_key="k"
        )


def test_cancelling_after_a_refund_timed_out_does_not_refund_it_twice(manager, payment, settings):
    # given 99.90 captured, and a refund of 10.00 that timed out: the gateway may have paid it
    Payment.objects.filter(pk=payment.pk).update(captured=payment.authorised)
    settings.SIMULATED_GATEWAY_FAILURE = "timeout"
    timed_out = services.order_payment_refund(payment=payment, amount="10.00", by=manager)
    payment_operation_run(operation_id=timed_out.pk)
    settings.SIMULATED_GATEWAY_FAILURE = ""

    # when the order is cancelled, and the timed-out refund is retried with its key
    cancellation = services.order_cancel(order=payment.order, by=manager, notify=False)
    services.order_payment_retry(operation=timed_out, by=manager)
    for operation in PaymentTransaction.objects.filter(status=Status.PENDING):
        payment_operation_run(operation_id=operation.pk)

    # then the cancellation refunded only the rest: the customer gets 99.90 back, once
    assert cancellation.refund == Decimal("89.90")
    assert _fresh(payment).refunded == Decimal("99.90")
    assert SimulatedGatewayRecord.objects.filter(kind="refund").count() == 2
