"""JSON log lines that carry the request id, the user and the retailers; the request id's round
trip through X-Request-ID, and into the tasks a request sends."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest
from django.test import Client, RequestFactory

from oms import emails, logs
from oms.celery import app as celery_app
from oms.models import OutboundEmail
from tests.factories import OrderFactory
from tests.test_worker import worker  # noqa: F401 - the real worker fixture

pytestmark = pytest.mark.django_db


@celery_app.task(name="tests.oms.test_logs.says_hello")
def says_hello() -> None:
    logging.getLogger(__name__).info("hello from the task")


@pytest.fixture
def json_lines():
    """What the JSON formatter writes for `django.request` and this module's logger, as parsed
    objects."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    loggers = [logging.getLogger("django.request"), logging.getLogger(__name__)]
    for each in loggers:
        each.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for each in loggers:
        each.removeHandler(handler)


def test_the_request_id_comes_back_in_the_response():
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c2e-0001")
    assert response["X-Request-ID"] == "lb-7f3a9c2e-0001"


def test_a_request_without_an_id_is_given_one():
    first = Client().get("/healthz")["X-Request-ID"]
    second = Client().get("/healthz")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@pytest.mark.parametrize(
    "given",
    ["x" * 101, "two words", "evil\nINFO forged line", '{"json": 1}', "-leading-dash", "é"],
)
def test_an_unfit_request_id_is_replaced(given):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=given)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_a_log_line_carries_the_request_id_user_and_retailer(
    client_for, agent, retailer, other_retailer, json_lines
):
    # given: an agent asks for another retailer's order, which Django logs as not found
    theirs = OrderFactory(retailer=other_retailer)
    client = client_for(agent)
    # when
    response = client.get(f"/orders/{theirs.pk}/", HTTP_X_REQUEST_ID="trace-0042")
    # then
    assert response.status_code == 404
    [line] = [line for line in json_lines() if line["logger"] == "django.request"]
    assert line["level"] == "WARNING"
    assert line["message"] == f"Not Found: /orders/{theirs.pk}/"
    assert line["request_id"] == "trace-0042"
    assert line["user"] == agent.pk
    assert line["retailers"] == [retailer.pk]
    assert line["time"].endswith("+00:00")


def test_an_anonymous_request_logs_no_user(json_lines):
    Client().get("/no-such-page", HTTP_X_REQUEST_ID="anon-1")
    [line] = json_lines()
    assert line["request_id"] == "anon-1"
    assert line["user"] is None


def test_an_error_carries_its_traceback(json_lines):
    logger = logging.getLogger(__name__)
    try:
        raise ValueError("the gateway answered nonsense")
    except ValueError:
        logger.exception("Capture %s failed", 17)
    [line] = json_lines()
    assert line["message"] == "Capture 17 failed"
    assert line["level"] == "ERROR"
    assert line["exc_type"] == "ValueError"
    assert "Traceback" in line["exc_info"]
    assert "the gateway answered nonsense" in line["exc_info"]
    assert line["request_id"] is None


def test_a_task_run_in_process_logs_under_the_request_that_ran_it(json_lines):
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="inline-9")
    logs.bind_request(request)
    try:
        says_hello.delay()
    finally:
        logs.unbind_request()
    says_hello.delay()
    in_request, alone = json_lines()
    assert in_request["message"] == "hello from the task"
    assert in_request["task"] == "tests.oms.test_logs.says_hello"
    assert in_request["request_id"] == "inline-9"
    assert alone["task"] == "tests.oms.test_logs.says_hello"
    assert alone["request_id"] is None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_a_task_under_the_request_that_sent_it(worker, retailer):  # noqa: F811
    # given: a request queues an email, which a worker sends
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="sent-by-req-77")
    logs.bind_request(request)
    try:
        email = emails.email_queue(
            retailer=retailer, to="jane@example.com", subject="Shipped", body="On its way."
        )
    finally:
        logs.unbind_request()
    deadline = time.monotonic() + 30
    while OutboundEmail.objects.get(pk=email.pk).status != OutboundEmail.Status.SENT:
        assert time.monotonic() < deadline, (worker / "worker.log").read_text()
        time.sleep(0.2)
    # then: the worker's lines about the task are JSON and carry the request's id
    deadline = time.monotonic() + 30
    while True:
        text = (worker / "worker.log").read_text()
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        about = [line for line in lines if line.get("task") == "oms.tasks.send_email"]
        if about or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert about, text
    assert all(line["request_id"] == "sent-by-req-77" for line in about)
    assert all(line["retailers"] in ([retailer.pk], None) for line in about)
