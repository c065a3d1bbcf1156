"""Identical deliveries handed to two real Celery workers on Redis at the same moment."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import transaction

from oms.celery import app
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.intake.processing import intake_receive
from orders.models import Order
from tests.intake.test_intake import WEBSTORE
from tests.test_worker import _database_url

ROOT = Path(__file__).resolve().parents[2]

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
            log = path.open("w")
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "oms",
                        "worker",
                        "--pool=solo",
                        "--prefetch-multiplier=1",
                        f"--hostname=intake{n}@%h",
                        "--loglevel=INFO",
                        "--without-mingle",
                        "--without-gossip",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()
        deadline = time.monotonic() + 60
        while not all("ready." in path.read_text() for path in logs):
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                pytest.fail("workers did not start:\n" + "\n".join(p.read_text() for p in logs))
            time.sleep(0.2)
        yield logs
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


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
