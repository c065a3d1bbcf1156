"""Intake given truncated, oversized and wrongly typed payloads: each is refused with its
reason and kept on the desk, never a server error, and nothing is half-created."""

import copy
import json

import pytest
from django.test import Client

from customers.models import Customer
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.intake.processing import intake_process, signature
from orders.models import Order, OrderLine
from tests.intake.test_intake import WEBSTORE

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(retailer):
    return IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web store", kind="webstore", secret="s3cret"
    )


def _with(path, value):
    payload = copy.deepcopy(WEBSTORE)
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(payload)


def _without(key):
    payload = copy.deepcopy(WEBSTORE)
    payload.pop(key)
    return json.dumps(payload)


GOOD = json.dumps(WEBSTORE)
BODIES = {
    "truncated": GOOD[: len(GOOD) // 2],
    "empty": "",
    "not an object": "[1, 2, 3]",
    "a string": '"order"',
    "null": "null",
    "no lines": _with(("lines",), []),
    "lines not a list": _with(("lines",), {"sku": "X"}),
    "line not an object": _with(("lines",), ["X"]),
    "quantity a word": _with(("lines",), [{"sku": "X", "qty": "many", "price": "1.00"}]),
    "quantity negative": _with(("lines",), [{"sku": "X", "qty": -3, "price": "1.00"}]),
    "quantity huge": _with(("lines",), [{"sku": "X", "qty": 10**30, "price": "1.00"}]),
    "price a list": _with(("lines",), [{"sku": "X", "qty": 1, "price": [1]}]),
    "price NaN": _with(("lines",), [{"sku": "X", "qty": 1, "price": "NaN"}]),
    "price huge": _with(("lines",), [{"sku": "X", "qty": 1, "price": "1e30"}]),
    "customer a string": _with(("customer",), "Jan"),
    "email a number": _with(("customer", "email"), 42),
    "currency wrong": _with(("currency",), "EURO"),
    "date wrong": _with(("created_at",), "yesterday"),
    "id an object": _with(("id",), {"a": 1}),
    "id very long": _with(("id",), "W" * 5000),
    "no id": _without("id"),
    "no customer": _without("customer"),
    "deeply nested": '{"a":' * 5000 + "1" + "}" * 5000,
    "NUL bytes": _with(("customer", "first_name"), "Ja\u0000n"),
}


@pytest.mark.parametrize("name", list(BODIES))
def test_a_bad_payload_is_refused_with_a_reason_and_creates_nothing(web, name):
    body = BODIES[name].encode()
    response = Client(raise_request_exception=False).post(
        f"/intake/{web.retailer.ref}/{web.code}/",
        body,
        content_type="application/json",
        headers={"X-Signature": signature(web.secret, body)},
    )

    assert response.status_code < 500, name
    if response.status_code == 202:  # stored; processing refuses it with its reasons
        message = IntakeMessage.objects.get(pk=response.json()["id"])
        assert intake_process(message_id=message.pk) == "REJECTED", name
        message.refresh_from_db()
        assert message.reasons, name
    assert not Order.objects.exists(), name
    assert not OrderLine.objects.exists() and not Customer.objects.exists(), name


def test_an_oversized_payload_is_refused_before_it_is_read(web, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = _with(("note",), "x" * (2 * 1024 * 1024)).encode()
    response = Client(raise_request_exception=False).post(
        f"/intake/{web.retailer.ref}/{web.code}/",
        body,
        content_type="application/json",
        headers={"X-Signature": signature(web.secret, body)},
    )
    assert response.status_code in (400, 413)
    assert not IntakeMessage.objects.exists() and not Order.objects.exists()
