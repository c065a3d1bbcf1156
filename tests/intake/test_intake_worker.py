"""Identical deliveries handed to two real Celery workers on Redis at the same moment."""

import json
import os
import time

import pytest
from django.db import transaction

from oms.celery import app
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.intake.processing import intake_receive
from orders.models import Order
from tests.intake.test_intake import WEBSTORE
from tests.test_worker import _database_url, queues, start_worker, stop, wait_until_ready

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_workers(tmp_path, celery_broker):
    """Two `celery worker` processes on the test broker and the test database, each taking
    one task at a time, so identical messages are worked on side by side."""
    broker = celery_broker()
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    env = os.environ | {"DATABASE_URL": _database_url(), "REDIS_URL": broker}
    logs = [tmp_path / f"worker{n}.log" for n in (1, 2)]
    processes = []
    try:
        for n, path in enumerate(logs, start=1):
            processes.append(start_worker(path, env, queues=queues(), hostname=f"intake{n}@%h"))
        wait_until_ready(processes, logs)
        yield logs
    finally:
        stop(processes)


def test_identical_deliveries_on_two_workers_give_one_accepted_and_the_rest_duplicate(
    two_workers, retailer
):
    web = IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web store", kind="webstore", secret="s3cret"
    )
    body = json.dumps(WEBSTORE)
    with transaction.atomic():  # all handed to the broker together, when this commits
        ids = [intake_receive(channel=web, body=body).pk for _ in range(6)]

    deadline = time.monotonic() + 60
    while IntakeMessage.objects.filter(pk__in=ids, status="RECEIVED").exists():
        assert time.monotonic() < deadline, "\n".join(p.read_text() for p in two_workers)
        time.sleep(0.2)

    statuses = sorted(IntakeMessage.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == ["ACCEPTED", *["DUPLICATE"] * 5], [
        (m.status, m.reasons) for m in IntakeMessage.objects.all()
    ]
    assert Order.objects.count() == 1
    assert "orders.tasks.process_intake_message" in "".join(p.read_text() for p in two_workers)
