"""/metrics: who may read it, and that its figures move with requests, tasks, queues and the
outboxes; /readyz's outbox age."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.test import Client
from django.utils import timezone
from kombu import Queue
from prometheus_client.parser import text_string_to_metric_families

from billing.models import PaymentTransaction
from oms import metrics
from oms.celery import app as celery_app
from oms.emails import email_queue
from oms.models import OutboundEmail
from oms.tasks import send_email
from orders.intake.models import IntakeChannel
from orders.intake.processing import intake_process, intake_receive
from orders.models import BulkJob
from tests.factories import OrderFactory, PaymentTransactionFactory

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-for-tests"
BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.OUTBOX_MAX_AGE = 30 * 60


def scrape() -> dict[tuple[str, frozenset], float]:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@celery_app.task(bind=True, name="tests.oms.test_metrics.flaky", max_retries=1)
def flaky(self) -> str:
    """Fails its first run and asks to be tried again; the second run succeeds."""
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return "done"


# who may read it


def test_a_scrape_without_the_token_is_refused():
    assert Client().get("/metrics").status_code == 403
    wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 403
    assert b"oms_" not in wrong.content


def test_a_scrape_with_the_token_needs_no_login():
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"oms_http_request_duration_seconds" in response.content


def test_an_allowed_network_scrapes_without_the_token(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.168.1.5").get("/metrics").status_code == 403


def test_with_neither_a_token_nor_a_network_nobody_scrapes(settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


# requests


def test_requests_are_timed_by_url_name_method_and_status_class(client_for, agent, other_retailer):
    # given
    theirs = OrderFactory(retailer=other_retailer)
    before = scrape()
    client = client_for(agent)
    # when
    assert client.get("/orders/").status_code == 200
    assert client.get("/orders/?q=anything").status_code == 200
    assert client.get(f"/orders/{theirs.pk}/").status_code == 404
    assert client.get("/no-such-page/at-all").status_code == 404
    assert client.get("/static/no-such-file.css").status_code == 404
    # then
    after = scrape()
    count = "oms_http_request_duration_seconds_count"

    def grew(**labels):
        return value(after, count, **labels) - value(before, count, **labels)

    assert grew(view="orders:order_list", method="GET", status="2xx") == 2
    assert grew(view="orders:order_detail", method="GET", status="4xx") == 1
    assert grew(view="unresolved", method="GET", status="4xx") == 1
    assert grew(view="static", method="GET", status="4xx") == 1
    # never the raw path: the series stay as few as the pages
    views = {dict(labels)["view"] for name, labels in after if name == count}
    assert views and not any("/" in view for view in views)


# tasks


def test_task_outcomes_are_counted_per_task(retailer, django_capture_on_commit_callbacks):
    runs = "oms_task_runs_total"
    before = scrape()
    # a success: an email sent through the app's own path
    with django_capture_on_commit_callbacks(execute=True):
        email_queue(retailer=retailer, to="jan@example.nl", subject="Hello", body="Hi")
    # a failure: a task about a tenant's row that came without its retailer, run as a worker
    # runs it (the error stays in the task) and in-process (it reaches the caller)
    assert send_email.apply((123456,), throw=False).state == "FAILURE"
    with pytest.raises(Exception, match="came without its retailer"):
        send_email.delay(123456)
    # a retry, then a success
    assert flaky.apply(throw=False).get() == "done"
    after = scrape()

    def grew(task, outcome):
        labels = {"task": task, "outcome": outcome}
        return value(after, runs, **labels) - value(before, runs, **labels)

    assert grew("oms.tasks.send_email", "success") == 1
    assert grew("oms.tasks.send_email", "failure") == 2
    assert grew("tests.oms.test_metrics.flaky", "retry") == 1
    assert grew("tests.oms.test_metrics.flaky", "success") == 1
    seconds = "oms_task_duration_seconds_count"
    assert value(after, seconds, task="oms.tasks.send_email") >= 3


# outboxes, queues, payment operations, intake


def test_outbox_backlog_and_the_age_of_its_oldest_item(retailer):
    # given: two emails queued (the broker never took them), the older ten minutes ago
    for minutes in (10, 1):
        email = email_queue(retailer=retailer, to="jan@example.nl", subject="Hello", body="Hi")
        OutboundEmail.objects.filter(pk=email.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes)
        )
    sent = email_queue(retailer=retailer, to="eva@example.nl", subject="Old", body="Hi")
    OutboundEmail.objects.filter(pk=sent.pk).update(
        status=OutboundEmail.Status.SENT, created_at=timezone.now() - timedelta(days=3)
    )
    # when
    samples = scrape()
    # then
    assert value(samples, "oms_outbox_backlog", outbox="emails") == 2
    age = value(samples, "oms_outbox_oldest_age_seconds", outbox="emails")
    assert 10 * 60 <= age < 60 * 60
    assert value(samples, "oms_outbox_backlog", outbox="bulk_jobs") == 0
    assert value(samples, "oms_outbox_oldest_age_seconds", outbox="bulk_jobs") == 0
    assert value(samples, "oms_metrics_source_up", source="outboxes") == 1


def test_payment_operations_by_state_and_their_outbox(retailer):
    # given
    order = OrderFactory(retailer=retailer)
    pending = PaymentTransactionFactory(
        payment__order=order,
        kind=PaymentTransaction.Kind.CAPTURE,
        status=PaymentTransaction.Status.PENDING,
    )
    PaymentTransaction.objects.filter(pk=pending.pk).update(
        created_at=timezone.now() - timedelta(minutes=20)
    )
    for _ in range(2):
        PaymentTransactionFactory(
            payment=pending.payment,
            kind=PaymentTransaction.Kind.REFUND,
            status=PaymentTransaction.Status.FAILED,
        )
    PaymentTransactionFactory(payment=pending.payment, kind=PaymentTransaction.Kind.AUTHORISE)
    # when
    samples = scrape()
    # then
    operations = "oms_payment_operations"
    assert value(samples, operations, state="pending", kind="capture") == 1
    assert value(samples, operations, state="failed", kind="refund") == 2
    assert value(samples, operations, state="failed", kind="capture") == 0
    assert value(samples, "oms_outbox_backlog", outbox="payment_operations") == 1
    age = value(samples, "oms_outbox_oldest_age_seconds", outbox="payment_operations")
    assert 20 * 60 <= age < 60 * 60


def test_bulk_jobs_waiting_show_in_their_outbox(retailer, manager):
    BulkJob.objects.create(retailer=retailer, action="cancel", created_by=manager)
    BulkJob.objects.create(retailer=retailer, action="cancel", status=BulkJob.Status.DONE)
    samples = scrape()
    assert value(samples, "oms_outbox_backlog", outbox="bulk_jobs") == 1


def test_intake_per_channel_by_what_became_of_the_messages(retailer):
    # given: the web store sends one good and one broken message; the marketplace, none
    web = IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web store", kind="webstore"
    )
    IntakeChannel.objects.create(retailer=retailer, code="mp", name="Market", kind="marketplace")
    intake_receive(channel=web, body="{not json")
    intake_receive(channel=web, body="{not json either")
    waiting = intake_receive(channel=web, body="[]")
    # when
    samples = scrape()
    # then: the two broken ones were not processed yet (nothing committed); all three wait
    per_channel = "oms_intake_messages_last_hour"
    assert value(samples, per_channel, retailer="acme", channel="web", status="RECEIVED") == 3
    assert not any(name == per_channel and ("channel", "mp") in labels for name, labels in samples)
    assert value(samples, "oms_outbox_backlog", outbox="intake_messages") == 3
    # and once worked on, they count under their outcome
    intake_process(message_id=waiting.pk)
    samples = scrape()
    assert value(samples, per_channel, retailer="acme", channel="web", status="REJECTED") == 1
    assert value(samples, per_channel, retailer="acme", channel="web", status="RECEIVED") == 2


def test_queue_lengths_are_read_from_the_broker(celery_broker):
    # given: two messages waiting in a queue of the test's own broker, which no worker reads
    queue = metrics.queue_names()[0]
    url = celery_broker()
    client = redis.Redis.from_url(url)
    client.delete(queue)
    try:
        for _ in range(2):
            celery_app.send_task("tests.oms.test_metrics.nobody", queue=queue)
        # when
        samples = scrape()
    finally:
        client.delete(queue)
        client.close()
    # then
    assert value(samples, "oms_celery_queue_length", queue=queue) == 2
    assert value(samples, "oms_metrics_source_up", source="queues") == 1


def test_a_broker_that_does_not_answer_leaves_the_other_figures(celery_broker):
    celery_broker("redis://127.0.0.1:1/0")
    samples = scrape()
    assert value(samples, "oms_metrics_source_up", source="queues") == 0
    assert value(samples, "oms_metrics_source_up", source="outboxes") == 1


def test_the_queues_come_from_the_settings_or_celerys_default(settings):
    settings.CELERY_TASK_QUEUES = [Queue("money"), Queue("email")]
    assert metrics.queue_names() == ["money", "email"]
    del settings.CELERY_TASK_QUEUES
    assert metrics.queue_names() == ["celery"]


# /readyz


def test_readyz_reports_the_age_of_the_oldest_waiting_email(retailer):
    email = email_queue(retailer=retailer, to="jan@example.nl", subject="Hello", body="Hi")
    OutboundEmail.objects.filter(pk=email.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["outbox"].startswith("ok (oldest 30")


def test_readyz_fails_when_an_email_waits_too_long(retailer, settings):
    # given: the workers stopped sending an hour ago
    settings.OUTBOX_MAX_AGE = 30 * 60
    email = email_queue(retailer=retailer, to="jan@example.nl", subject="Hello", body="Hi")
    OutboundEmail.objects.filter(pk=email.pk).update(created_at=timezone.now() - timedelta(hours=1))
    # when
    response = Client().get("/readyz")
    # then
    assert response.status_code == 503
    answer = response.json()["checks"]["outbox"]
    assert answer.startswith("error: the oldest of emails has waited 360")
    assert answer.endswith("(over 1800 s)")


def test_readyz_only_reports_the_age_when_the_limit_is_off(retailer, settings):
    settings.OUTBOX_MAX_AGE = 0
    email = email_queue(retailer=retailer, to="jan@example.nl", subject="Hello", body="Hi")
    OutboundEmail.objects.filter(pk=email.pk).update(created_at=timezone.now() - timedelta(days=2))
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["outbox"].startswith("ok (oldest 172")


# several processes


def test_processes_sharing_a_folder_are_added_up(tmp_path):
    """gunicorn's workers and Celery's: each writes its counts to PROMETHEUS_MULTIPROC_DIR, one
    scrape answers for all of them."""
    script = textwrap.dedent(
        """
        import multiprocessing, os, django
        django.setup()
        from oms import metrics

        def work():
            metrics.TASK_RUNS.labels("oms.tasks.send_email", "success").inc()

        if __name__ == "__main__":
            multiprocessing.set_start_method("fork")
            workers = [multiprocessing.Process(target=work) for _ in range(2)]
            for each in workers:
                each.start()
            for each in workers:
                each.join(30)
            print(metrics.exposition().decode())
        """
    )
    env = os.environ | {
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/none",  # down: the counts still answer
        "LOG_LEVEL": "CRITICAL",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = 'oms_task_runs_total{outcome="success",task="oms.tasks.send_email"} 2.0'
    assert line in done.stdout
    assert 'oms_metrics_source_up{source="outboxes"} 0.0' in done.stdout
    files = sorted(path.name for path in tmp_path.iterdir())
    assert len(files) == 2 and all(name.startswith("counter_") for name in files)
