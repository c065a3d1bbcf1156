"""Background work goes to one queue per kind of work (money, email, intake, bulk), so a worker
busy with a long bulk job does not hold up a refund."""

import os
from decimal import Decimal

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

from billing.models import Payment, PaymentTransaction
from oms import emails
from oms.celery import app
from orders import services
from orders.models import BulkJob, Order, SystemState
from orders.services import bulk
from tests.factories import OrderFactory, PaymentFactory
from tests.test_worker import _database_url, _wait_for, start_worker, stop, wait_until_ready

QUEUES = {"money", "email", "intake", "bulk"}
# each relay hands its kind of work to a worker again, so it runs where that work runs
RELAYS = {
    "orders.tasks.relay_payment_operations": "orders.tasks.run_payment_operation",
    "oms.tasks.relay_emails": "oms.tasks.send_email",
    "orders.tasks.relay_intake_messages": "orders.tasks.process_intake_message",
    "orders.tasks.relay_bulk_jobs": "orders.tasks.run_bulk_job",
}


def _queue_of(task_name: str) -> str:
    """The queue a message for this task is sent to, as `delay()` and beat send it."""
    task = app.tasks[task_name]
    options = {"queue": task.queue} if getattr(task, "queue", None) else {}
    return app.amqp.router.route(options, task_name)["queue"].name


def _our_tasks() -> list[str]:
    app.loader.import_default_modules()  # every app's tasks module, as a worker loads them
    # celery's own, and tasks the tests define for themselves, are not the project's
    return sorted(name for name in app.tasks if not name.startswith(("celery.", "tests.")))


def test_there_are_four_queues_and_unrouted_work_goes_to_bulk():
    assert set(app.amqp.queues) == QUEUES
    assert app.conf.task_default_queue == "bulk"
    assert _queue_of("celery.backend_cleanup") == "bulk"


@pytest.mark.django_db  # loading the tasks as a worker does runs Django's checks, which ask Postgres
def test_every_task_is_routed_by_name_to_one_of_the_four_queues():
    # given every task a worker would load
    names = _our_tasks()
    assert set(RELAYS) | set(RELAYS.values()) <= set(names)

    # then each is named in the routing table (a new task is sorted on purpose, not left to
    # the default) and lands on a queue some worker consumes
    unrouted = [name for name in names if name not in settings.CELERY_TASK_ROUTES]
    assert not unrouted, f"add these tasks to CELERY_TASK_ROUTES: {unrouted}"
    assert {name: _queue_of(name) for name in names if _queue_of(name) not in QUEUES} == {}


def test_money_email_intake_and_bulk_work_each_run_on_their_own_queue():
    work = {
        "orders.tasks.run_payment_operation": "money",
        "oms.tasks.send_email": "email",
        "orders.tasks.process_intake_message": "intake",
        "orders.tasks.run_bulk_job": "bulk",
        "fulfilments.tasks.retry_escalated_fulfilments": "bulk",
    }
    assert {name: _queue_of(name) for name in work} == work


def test_beat_relays_go_to_the_queue_of_the_work_they_relay():
    for relay, work in RELAYS.items():
        assert _queue_of(relay) == _queue_of(work), relay
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert set(RELAYS) <= scheduled
    assert {task: _queue_of(task) for task in scheduled if _queue_of(task) not in QUEUES} == {}


@pytest.mark.django_db(transaction=True)
def test_work_queued_on_commit_lands_on_its_kind_of_queue(celery_broker, retailer, manager):
    # given a broker and no worker
    celery_broker()
    with app.connection_for_write() as conn:
        redis = conn.default_channel.client
        redis.flushdb()

        # when a refund is requested, an email queued and a bulk job started
        order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
        payment = PaymentFactory(order=order, captured=order.total)
        services.order_payment_refund(payment=payment, amount="1.00", by=manager)
        emails.email_queue(retailer=retailer, to="jane@example.com", subject="Hi", body="Hello")
        bulk.start(by=manager, orders=[order], action_name="export", data={})

        # then each waits on the broker in its own queue, once
        lengths = {queue: redis.llen(queue) for queue in QUEUES}
    assert lengths == {"money": 1, "email": 1, "intake": 0, "bulk": 1}


# --- with real workers, one per queue as compose runs them ---

WAIT = 60  # seconds, at most, for a worker on a busy machine


def _env(broker: str) -> dict:
    return os.environ | {"DATABASE_URL": _database_url(), "REDIS_URL": broker}


@pytest.fixture
def workers(request, tmp_path, celery_broker):
    """`celery worker` processes on the test broker and database, one per group of queues
    given by indirect parametrization (["money", "bulk"]: one on money, one on bulk)."""
    broker = celery_broker()
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    logs, processes = [], []
    try:
        for n, queues in enumerate(request.param, start=1):
            logs.append(tmp_path / f"worker{n}.log")
            processes.append(
                start_worker(logs[-1], _env(broker), queues=queues, hostname=f"w{n}@%h")
            )
        wait_until_ready(processes, logs)
        yield logs
    finally:
        stop(processes)


class OrderHeld:
    """Another transaction holds one order's row, as an update of it not yet committed does (a
    colleague's slow change), until released: a bulk job reaching that order waits there. A
    long bulk job, without making the job itself slower. (FOR NO KEY UPDATE is the lock an
    UPDATE takes: rows pointing at the order can still be written meanwhile.)"""

    def __init__(self, order: Order) -> None:
        self.connection = psycopg.connect(_database_url())
        # let go by itself should the test stop before releasing it
        self.connection.execute("SET idle_in_transaction_session_timeout = '3min'")
        self.connection.execute(
            sql.SQL("SELECT id FROM {} WHERE id = %s FOR NO KEY UPDATE").format(
                sql.Identifier(Order._meta.db_table)
            ),
            [order.pk],
        )

    def release(self) -> None:
        self.connection.close()  # rolls the transaction back


def _long_bulk_job_and_a_refund(retailer, manager, request):
    """Start a bulk suspend of six orders whose fourth is held, and wait until the job is on
    that order; returns the job, the hold and the refund's payment."""
    orders = [OrderFactory(retailer=retailer, state=SystemState.PROCESSING) for _ in range(6)]
    refunded = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
    payment = PaymentFactory(order=refunded, captured=refunded.total)
    hold = OrderHeld(orders[3])
    request.addfinalizer(hold.release)
    job = bulk.start(
        by=manager, orders=orders, action_name="suspend", data={"reason": "Stock count"}
    )
    on_the_fourth = _wait_for(
        lambda: BulkJob.objects.filter(pk=job.pk, status=BulkJob.Status.RUNNING, done=3).exists(),
        timeout=WAIT,
    )
    assert on_the_fourth, BulkJob.objects.filter(pk=job.pk).values().get()
    return job, hold, payment


def _logs(paths) -> str:
    return "\n".join(path.read_text() for path in paths)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("workers", [["money", "bulk"]], indirect=True)
def test_a_refund_is_done_while_a_long_bulk_job_is_still_running(
    workers, retailer, manager, request
):
    # given a bulk job the bulk worker is busy with
    job, hold, payment = _long_bulk_job_and_a_refund(retailer, manager, request)

    # when a manager refunds another order's payment
    refund = services.order_payment_refund(payment=payment, amount="10.00", by=manager)

    # then the money worker refunds it at once, and the bulk job is still running
    done = _wait_for(
        lambda: PaymentTransaction.objects.get(pk=refund.pk).status != "pending", timeout=WAIT
    )
    assert done, _logs(workers)
    refund.refresh_from_db()
    assert refund.status == "succeeded", refund.message
    assert Payment.objects.get(pk=payment.pk).refunded == Decimal("10.00")
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == (BulkJob.Status.RUNNING, 3, 6)

    # and once the held order is free, the bulk job finishes every order
    hold.release()
    assert _wait_for(
        lambda: BulkJob.objects.get(pk=job.pk).status == BulkJob.Status.DONE, timeout=WAIT
    )
    job.refresh_from_db()
    assert (job.succeeded, job.skipped, job.failed) == (6, 0, 0)
    assert refund.completed_at < job.finished_at
    assert Order.objects.filter(status__system_state=SystemState.SUSPENDED).count() == 6
    log = _logs(workers)
    assert "orders.tasks.run_payment_operation" in workers[0].read_text()
    assert "orders.tasks.run_bulk_job" in workers[1].read_text(), log


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("workers", [["money,email,intake,bulk"]], indirect=True)
def test_one_worker_on_every_queue_makes_the_refund_wait_for_the_bulk_job(
    workers, retailer, manager, request
):
    # given one worker for all work (as before the queues were split), busy with a bulk job
    job, hold, payment = _long_bulk_job_and_a_refund(retailer, manager, request)

    # when a manager refunds another order's payment, and later the held order is free
    refund = services.order_payment_refund(payment=payment, amount="10.00", by=manager)
    hold.release()

    # then the refund was only done after the whole bulk job
    done = _wait_for(
        lambda: PaymentTransaction.objects.get(pk=refund.pk).status != "pending", timeout=WAIT
    )
    assert done, _logs(workers)
    refund.refresh_from_db()
    job.refresh_from_db()
    assert refund.status == "succeeded", refund.message
    assert job.status == BulkJob.Status.DONE
    assert job.finished_at < refund.completed_at
