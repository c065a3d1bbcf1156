"""Background work through a real Celery worker process on Redis."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from oms import emails
from oms.celery import app
from oms.models import Activity, OutboundEmail

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("the worker test needs the Postgres test database")
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"


def queues() -> str:
    """Every queue, as compose's workers take them between them (`-Q money`, `-Q bulk`, ...)."""
    return ",".join(app.conf.task_queues)


def start_worker(log_path: Path, env: dict, *, queues: str, hostname: str) -> subprocess.Popen:
    """A `celery worker` process on `queues`, taking one task at a time, logging to `log_path`."""
    with log_path.open("w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "oms",
                "worker",
                "--pool=solo",
                f"--queues={queues}",
                f"--hostname={hostname}",
                "--loglevel=INFO",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_until_ready(processes: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + 60
    while not all("ready." in path.read_text() for path in logs):
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            pytest.fail("workers did not start:\n" + "\n".join(p.read_text() for p in logs))
        time.sleep(0.2)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


@pytest.fixture
def worker(request, tmp_path, celery_broker):
    """A `celery worker` process on every queue, the test broker and the test database.

    Parametrize it indirectly with a dict to give the worker more environment."""
    broker = celery_broker()
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    env = os.environ | {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": broker,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        **getattr(request, "param", {}),
    }
    log = tmp_path / "worker.log"
    process = start_worker(log, env, queues=queues(), hostname="all@%h")
    try:
        wait_until_ready([process], [log])
        yield tmp_path
    finally:
        stop([process])


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_worker_sends_a_queued_email_after_commit(worker, retailer):
    # given an email queued in a committed transaction
    email = emails.email_queue(
        retailer=retailer, to="jane@example.com", subject="Order ACME-1 shipped", body="On its way."
    )

    # when the worker picks it up
    sent = _wait_for(
        lambda: OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.SENT
    )

    # then it was sent once, through the configured mail backend
    log = (worker / "worker.log").read_text()
    assert sent, f"the email was not sent; worker log:\n{log}"
    assert OutboundEmail.objects.get(pk=email.pk).attempts == 1
    messages = list((worker / "mail").iterdir())
    assert len(messages) == 1
    content = messages[0].read_text()
    assert "Subject: Order ACME-1 shipped" in content
    assert "To: jane@example.com" in content
    assert "oms.tasks.send_email" in log


def test_a_worker_captures_a_payment_end_to_end(worker, retailer, manager):
    from decimal import Decimal

    from billing.models import Payment, PaymentTransaction, SimulatedGatewayRecord
    from orders import services
    from orders.models import SystemState
    from tests.factories import OrderFactory, PaymentFactory

    # given an authorised payment of a processing order
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)
    payment = PaymentFactory(order=order, authorised=order.total, provider_reference="psp_worker")

    # when a manager captures part of it (the request commits, the worker does the rest)
    operation = services.order_payment_capture(payment=payment, amount="45.00", by=manager)

    # then the worker moves the money once and records it
    done = _wait_for(
        lambda: PaymentTransaction.objects.get(pk=operation.pk).status != "pending", timeout=30
    )
    log = (worker / "worker.log").read_text()
    assert done, f"the capture was not run; worker log:\n{log}"
    operation.refresh_from_db()
    assert operation.status == "succeeded", operation.message
    assert Payment.objects.get(pk=payment.pk).captured == Decimal("45.00")
    assert SimulatedGatewayRecord.objects.get().reference == operation.reference
    assert "orders.tasks.run_payment_operation" in log


def _returned_order(retailer, manager):
    from decimal import Decimal

    from orders.models import SystemState
    from returns import services as returns
    from tests.factories import OrderFactory, OrderLineFactory, PaymentFactory

    order = OrderFactory(retailer=retailer, state=SystemState.COMPLETED)
    OrderLineFactory(order=order, sku="JKT", unit_price=Decimal("60.50"))
    from tests.factories import recalculate_totals, ship

    recalculate_totals(order)
    ship(order)  # delivered
    PaymentFactory(
        order=order,
        authorised=order.total,
        captured=order.total,
        provider_reference=f"psp_{order.pk}",
    )
    data = returns.ReturnInput(
        retailer_id=retailer.pk,
        type="CUSTOMER_RETURN",
        order=order,
        customer=returns.CustomerInput(email=order.customer.email),
        items=[returns.ItemInput(sku_ref="JKT", reason="DAMAGED")],
        fulfilment_choice={"fulfilmentType": "R_RTDC", "preferredLocationRef": "DC1"},
    )
    ret = returns.return_create(data=data, by=manager)
    # the parcel arrives: the refund goes to the worker
    returns.return_fulfilment_move(fulfilment=ret.fulfilments.get(), to="ARRIVED", by=manager)
    return ret


def test_a_worker_refunds_a_returned_parcel_and_the_return_completes(worker, retailer, manager):
    from returns.models import Return

    ret = _returned_order(retailer, manager)
    assert Return.objects.get(pk=ret.pk).status == "LODGED"
    done = _wait_for(lambda: Return.objects.get(pk=ret.pk).status == "COMPLETE")
    assert done, (worker / "worker.log").read_text()
    ret = Return.objects.get(pk=ret.pk)
    assert ret.credit_note is not None or not ret.order.invoices.exists()
    assert ret.refunds.get().status == "succeeded"


@pytest.mark.parametrize("worker", [{"SIMULATED_GATEWAY_FAILURE": "decline"}], indirect=True)
def test_a_declined_refund_leaves_the_return_pending_for_a_manager(worker, retailer, manager):
    from returns.models import Return

    ret = _returned_order(retailer, manager)
    done = _wait_for(lambda: Return.objects.get(pk=ret.pk).status == "PENDING_REFUND")
    assert done, (worker / "worker.log").read_text()
    refund = Return.objects.get(pk=ret.pk).refunds.get()
    assert (refund.status, refund.error_code) == ("failed", "declined")


def test_a_worker_runs_a_bulk_cancel_and_reports_each_order(worker, retailer, manager, client_for):
    from django.urls import reverse

    from orders.models import BulkJob, Order, SystemState
    from orders.services import order_cancel
    from tests.factories import OrderFactory

    # given six open orders, one of which gets cancelled by hand between preview and run
    orders = [OrderFactory(retailer=retailer, state=SystemState.PROCESSING) for _ in range(6)]
    client = client_for(manager)
    preview = client.post(
        reverse("orders:bulk_preview"), {"ids": [o.pk for o in orders], "action": "cancel"}
    )
    assert "6 of 6 can be cancelled" in " ".join(preview.content.decode().split())
    order_cancel(order=orders[0], by=manager, notify=False)

    # when the manager starts the job and a worker runs it
    response = client.post(
        reverse("orders:bulk_start"),
        {"ids": [o.pk for o in orders], "action": "cancel", "reason": "Warehouse fire"},
    )
    assert response.status_code == 302
    job = BulkJob.objects.get()
    finished = _wait_for(lambda: BulkJob.objects.get(pk=job.pk).status == BulkJob.Status.DONE)

    # then the worker cancelled the five still open ones, each once, with its activity
    log = (worker / "worker.log").read_text()
    assert finished, f"the job did not finish; worker log:\n{log}"
    job.refresh_from_db()
    assert (job.total, job.succeeded, job.skipped, job.failed) == (5, 5, 0, 0)
    assert Order.objects.filter(status__system_state=SystemState.CANCELLED).count() == 6
    assert (
        Activity.objects.filter(
            action="orders.order.cancelled", data__reason="Warehouse fire"
        ).count()
        == 5
    )
    assert "orders.tasks.run_bulk_job" in log
