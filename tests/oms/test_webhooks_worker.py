"""Webhooks through a real Celery worker to a real HTTP server: an order's life arrives once per
event, signed, in the order it happened; a receiver that fails is retried with backoff, in order,
until it answers or the attempts run out; a failed delivery can be sent again."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.models import WebhookDelivery
from oms.webhooks import services, signing
from orders import services as order_services
from orders.models import Order, SystemState
from tests.factories import status_for
from tests.oms import webhook_receiver
from tests.test_worker import _wait_for, worker  # and the worker fixture

# the worker retries after 0.4 s, twice: three attempts in all
WORKER_ENV = {"WEBHOOK_ALLOW_PRIVATE_HOSTS": "true", "WEBHOOK_BACKOFF_SECONDS": "0.4,0.4"}

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("worker", [WORKER_ENV], indirect=True),
    pytest.mark.usefixtures("worker"),  # its log is worker.log in the test's tmp_path
]

Status = WebhookDelivery.Status


@pytest.fixture
def receiver():
    server = webhook_receiver.start()
    yield server
    webhook_receiver.stop(server)


def _endpoint(retailer, admin_user, receiver, events):
    return services.endpoint_create(
        retailer_id=retailer.pk, by=admin_user, url=receiver.url, events=events
    )


def _place(retailer, manager, ref: str) -> Order:
    return order_services.order_place(
        data=order_services.OrderInput(
            retailer_id=retailer.pk,
            ref=ref,
            currency=retailer.currency,
            shipping_address=order_services.AddressInput(
                name="Jan Smit", line1="Main street 1", postcode="1000 AA", city="Utrecht"
            ),
            lines=[
                order_services.LineInput(
                    sku="TENT", name="Tent", quantity=2, unit_price=Decimal("60.00")
                )
            ],
            payment=order_services.PaymentInput(method="card", provider_reference="psp_life"),
        ),
        by=manager,
    )


def _log(tmp_path) -> str:
    return (tmp_path / "worker.log").read_text()


def test_an_orders_life_reaches_the_receiver_once_per_event_signed_and_in_order(
    tmp_path, retailer, manager, admin_user, receiver
):
    # given an endpoint subscribed to every event
    endpoint = _endpoint(retailer, admin_user, receiver, [name for name, _ in services.EVENTS])

    # when an order is placed, confirmed, paid, sent and partly refunded, one step at a time
    order = _place(retailer, manager, "LIFE-1")
    order_services.order_set_status(
        order=order, status=status_for(retailer, SystemState.PROCESSING), by=manager
    )
    payment = order.payments.get()
    order_services.order_payment_capture(payment=payment, amount=order.total, by=manager)
    assert _wait_for(lambda: type(payment).objects.get(pk=payment.pk).captured == order.total), (
        _log(tmp_path)
    )
    order_services.order_mark_sent(
        order=Order.objects.get(pk=order.pk), by=manager, tracking_number="3SLIFE", carrier="DHL"
    )
    order_services.order_payment_refund(
        payment=type(payment).objects.get(pk=payment.pk), amount="20.00", by=manager
    )

    # then the receiver got each event once, in the order it happened, each signed
    expected = [
        "order.created",
        "order.status_changed",
        "payment.captured",
        "order.shipped",
        "payment.refunded",
    ]
    assert receiver.wait_for(len(expected)), _log(tmp_path)
    assert _wait_for(
        lambda: not WebhookDelivery.objects.exclude(status=Status.DELIVERED).exists()
    ), _log(tmp_path)
    received = receiver.requests
    assert [r.json["type"] for r in received] == expected
    assert len({r.json["id"] for r in received}) == len(expected)
    sequences = [r.json["sequence"] for r in received]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    for request in received:
        assert signing.verify(endpoint.secret, request.headers, request.body), request.headers
        assert request.headers["OMS-Webhook-Id"] == request.json["id"]
        assert request.json["data"].get("order", {}).get("ref") == "LIFE-1"
    assert received[3].json["data"]["shipment"]["tracking_number"] == "3SLIFE"
    assert received[4].json["data"]["payment"]["amount"] == "20.00"
    assert set(WebhookDelivery.objects.values_list("attempts", "response_code")) == {(1, 200)}
    assert "oms.tasks.deliver_webhooks" in _log(tmp_path)


def test_a_failing_receiver_is_retried_with_backoff_and_later_events_wait_their_turn(
    tmp_path, retailer, manager, admin_user, receiver
):
    # given a receiver that answers 500 twice, then 200
    receiver.answer(500, 500, then=200)
    _endpoint(retailer, admin_user, receiver, ["order.created", "order.status_changed"])

    # when an order is placed and at once confirmed
    order = _place(retailer, manager, "RETRY-1")
    order_services.order_set_status(
        order=order, status=status_for(retailer, SystemState.PROCESSING), by=manager
    )

    # then the first event is delivered at its third attempt, after the backoff, and the
    # second only after it
    assert receiver.wait_for(4), _log(tmp_path)
    assert _wait_for(
        lambda: not WebhookDelivery.objects.exclude(status=Status.DELIVERED).exists()
    ), _log(tmp_path)
    assert [r.json["type"] for r in receiver.requests] == [
        "order.created",
        "order.created",
        "order.created",
        "order.status_changed",
    ]
    times = [r.at for r in receiver.requests]
    assert times[1] - times[0] >= 0.35 and times[2] - times[1] >= 0.35
    created, changed = WebhookDelivery.objects.order_by("pk")
    assert (created.status, created.attempts, created.response_code, created.error) == (
        Status.DELIVERED,
        3,
        200,
        "",
    )
    assert (changed.attempts, changed.status) == (1, Status.DELIVERED)
    assert len({r.headers["OMS-Webhook-Id"] for r in receiver.requests[:3]}) == 1


def test_a_receiver_that_always_fails_leaves_the_delivery_failed_and_a_resend_delivers(
    tmp_path, retailer, manager, admin_user, receiver
):
    # given a receiver that always answers 500
    receiver.answer(then=500)
    _endpoint(retailer, admin_user, receiver, ["order.created"])

    # when an order is placed
    _place(retailer, manager, "FAIL-1")

    # then after three attempts the delivery is failed, with the receiver's answer recorded
    assert _wait_for(lambda: WebhookDelivery.objects.filter(status=Status.FAILED).exists()), _log(
        worker
    )
    failed = WebhookDelivery.objects.get()
    assert (failed.attempts, failed.response_code, failed.error) == (3, 500, "HTTP 500")
    assert '"code": 500' in failed.response_body
    assert len(receiver.requests) == 3

    # when the receiver is fixed and an admin sends the delivery again
    receiver.answer(then=200)
    again = services.delivery_redeliver(delivery=failed, by=admin_user)

    # then a new delivery of the same event is delivered
    assert _wait_for(lambda: WebhookDelivery.objects.get(pk=again.pk).status == Status.DELIVERED), (
        _log(tmp_path)
    )
    assert len(receiver.requests) == 4
    assert receiver.requests[3].body == receiver.requests[0].body
    assert WebhookDelivery.objects.get(pk=failed.pk).status == Status.FAILED
