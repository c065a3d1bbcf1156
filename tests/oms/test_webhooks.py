"""Webhooks out: each event comes from the service that causes it, goes only to the endpoints
of its retailer that subscribe to it, commits with its change, is signed as documented and
matches its published schema; endpoints are kept by admins only."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from datetime import date, timedelta
from decimal import Decimal

import jsonschema_rs
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from billing import services as billing
from fulfilments.models import Fulfilment
from oms import activity
from oms.models import Activity, WebhookDelivery, WebhookEndpoint
from oms.roles import Role
from oms.webhooks import delivery, outbox, registry, schema, services, signing
from orders import services as order_services
from orders.models import SystemState
from tests.factories import (
    CarrierFactory,
    LocationFactory,
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    StockFactory,
    UserFactory,
    recalculate_totals,
    status_for,
)
from tests.oms import webhook_receiver

pytestmark = pytest.mark.django_db

ALL = [name for name, _ in services.EVENTS]
Status = WebhookDelivery.Status


@pytest.fixture(autouse=True)
def _private_hosts_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True


@pytest.fixture
def receiver():
    server = webhook_receiver.start()
    yield server
    webhook_receiver.stop(server)


@pytest.fixture
def endpoint(retailer, admin_user, receiver):
    return services.endpoint_create(
        retailer_id=retailer.pk, by=admin_user, url=receiver.url, events=ALL, description="ERP"
    )


def _events(endpoint=None) -> list[str]:
    rows = WebhookDelivery.objects.order_by("pk")
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    return [row.event for row in rows]


def _valid(payload: dict) -> None:
    """The body matches the published schema of its event."""
    published = schema.as_json_schema(schema.EVENT_BODY[payload["type"]], strict=True)
    jsonschema_rs.validator_for(published, validate_formats=True).validate(payload)


def _order_input(retailer, ref="WEB-1", sku="TENT", quantity=1) -> order_services.OrderInput:
    return order_services.OrderInput(
        retailer_id=retailer.pk,
        ref=ref,
        currency=retailer.currency,
        shipping_address=order_services.AddressInput(
            name="Jan Smit", line1="Main street 1", postcode="1000 AA", city="Utrecht", country="NL"
        ),
        lines=[
            order_services.LineInput(
                sku=sku, name="Tent", quantity=quantity, unit_price=Decimal("120.00")
            )
        ],
    )


# -- each event from the service that causes it ----------------------------------------------


def test_placing_an_order_and_copying_it_each_tell_order_created_once(retailer, manager, endpoint):
    # when an order is placed, then copied
    order = order_services.order_place(data=_order_input(retailer), by=manager)
    copy = order_services.order_copy(order=order, by=manager)

    # then each new order gave one order.created, with the order as it was
    created = list(WebhookDelivery.objects.filter(event="order.created").order_by("pk"))
    assert [d.payload["data"]["order"]["ref"] for d in created] == ["WEB-1", copy.ref]
    first = created[0].payload
    assert first["type"] == "order.created" and first["retailer"] == "acme"
    assert first["data"]["order"]["status"]["state"] == SystemState.NEW
    assert first["data"]["order"]["total"] == str(order.total)
    assert first["data"]["order"]["lines"][0] | {"id": 0} == {
        "id": 0,
        "sku": "TENT",
        "name": "Tent",
        "quantity": 1,
        "cancelled": 0,
        "unit_price": "120.00",
        "discount": "0.00",
        "tax": str(order.lines.get().tax),
        "total": "120.00",
        "shipment_status": "pending",
        "tracking_number": "",
    }
    assert (created[0].record_label, created[0].record_id, created[0].record_ref) == (
        "orders.order",
        str(order.pk),
        "WEB-1",
    )
    for row in created:
        _valid(row.payload)


def test_confirming_an_order_without_stock_tells_the_status_change_and_the_escalation(
    retailer, manager, endpoint
):
    # given an order of two things, one of which no location holds
    north = LocationFactory(retailer=retailer, ref="NORTH")
    CarrierFactory(retailer=retailer, zones=["NL"])
    StockFactory(location=north, sku="HERE", on_hand=5)
    order = OrderFactory(retailer=retailer, promised_date=date(2026, 12, 1))
    OrderLineFactory(order=order, sku="HERE", quantity=1)
    missing = OrderLineFactory(order=order, sku="NOWHERE", quantity=2)
    recalculate_totals(order)

    # when a manager confirms it
    order_services.order_set_status(
        order=order, status=status_for(retailer, SystemState.PROCESSING), by=manager
    )

    # then the status change and the escalation are told, in that order
    assert _events() == ["order.status_changed", "fulfilment.escalated"]
    changed, escalated = WebhookDelivery.objects.order_by("pk")
    assert changed.payload["data"]["previous_status"]["state"] == SystemState.NEW
    assert changed.payload["data"]["order"]["status"]["state"] == SystemState.PROCESSING
    fulfilment = Fulfilment.objects.get(order=order, status="ESCALATED")
    data = escalated.payload["data"]["fulfilment"]
    assert (data["id"], data["ref"], data["order"]["ref"]) == (
        fulfilment.pk,
        fulfilment.ref,
        order.ref,
    )
    assert data["reason"] == fulfilment.escalation_reason and data["reason"]
    assert data["items"] == [{"order_line_id": missing.pk, "sku": "NOWHERE", "requested": 2}]
    assert (escalated.record_label, escalated.record_ref) == (
        "fulfilments.fulfilment",
        fulfilment.ref,
    )
    assert changed.payload["sequence"] < escalated.payload["sequence"]
    _valid(changed.payload)
    _valid(escalated.payload)


def test_marking_an_order_sent_tells_the_shipment(retailer, manager, endpoint):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)

    order_services.order_mark_sent(
        order=order, by=manager, tracking_number="3SXYZ42", carrier="PostNL"
    )

    (shipped,) = WebhookDelivery.objects.filter(event="order.shipped")
    shipment = shipped.payload["data"]["shipment"]
    assert (shipment["carrier"], shipment["tracking_number"], shipment["service"]) == (
        "PostNL",
        "3SXYZ42",
        order.delivery_method,
    )
    assert {line["tracking_number"] for line in shipped.payload["data"]["order"]["lines"]} == {
        "3SXYZ42"
    }
    _valid(shipped.payload)


def test_captures_and_refunds_tell_the_money_that_moved(
    retailer, manager, endpoint, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)
    payment = PaymentFactory(order=order, authorised=order.total, provider_reference="psp_1")

    # when money is captured, part refunded through the gateway and part by hand
    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_payment_capture(payment=payment, amount="40.00", by=manager)
    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_payment_refund(payment=payment, amount="15.00", by=manager)
    with django_capture_on_commit_callbacks(execute=True):
        billing.refund_by_hand(payments=[payment], amount="5.00", by=manager)

    # then each movement was told once, with its amount, and sent
    rows = list(WebhookDelivery.objects.order_by("pk"))
    assert [(r.event, r.payload["data"]["payment"]["amount"]) for r in rows] == [
        ("payment.captured", "40.00"),
        ("payment.refunded", "15.00"),
        ("payment.refunded", "5.00"),
    ]
    captured = rows[0].payload["data"]
    assert captured["payment"]["reference"].startswith("sim_cap_")
    assert captured["payment"]["method"] == "card" and captured["payment"]["currency"] == "EUR"
    assert captured["order"] == {"id": order.pk, "ref": order.ref}
    assert [r.payload["data"]["payment"]["by_hand"] for r in rows] == [False, False, True]
    assert {r.record_ref for r in rows} == {order.ref}
    for row in rows:
        _valid(row.payload)
    assert {r.status for r in WebhookDelivery.objects.all()} == {Status.DELIVERED}


def test_cancelling_a_paid_order_tells_status_cancellation_return_and_refund_in_order(
    retailer, manager, endpoint, receiver, django_capture_on_commit_callbacks
):
    # given a paid order
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)
    PaymentFactory(order=order, authorised=order.total, captured=order.total)

    # when a manager cancels it (the refund runs after commit and completes the return)
    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_cancel(order=order, by=manager, notify=False, reason="Too late")

    # then the receiver heard, in this order:
    assert _events() == [
        "order.status_changed",
        "order.cancelled",
        "return.created",
        "payment.refunded",
        "return.completed",
    ]
    bodies = [r.json for r in receiver.requests]
    assert [b["type"] for b in bodies] == _events()
    sequences = [b["sequence"] for b in bodies]
    assert sequences == sorted(sequences) and len(set(sequences)) == 5
    cancelled = bodies[1]["data"]
    assert cancelled["reason"] == "Too late"
    assert cancelled["refund"] == str(order.total) and cancelled["release"] == "0.00"
    assert cancelled["order"]["status"]["state"] == SystemState.CANCELLED
    created, completed = bodies[2]["data"]["return"], bodies[4]["data"]["return"]
    assert created["id"] == completed["id"] and created["order"]["ref"] == order.ref
    assert completed["status"] == "COMPLETE" and created["status"] != "COMPLETE"
    assert completed["total"] == str(order.total) and len(completed["items"]) == 2
    for body in bodies:
        _valid(body)


def test_a_return_moving_to_another_status_than_complete_is_not_told(retailer, admin_user):
    # the return.completed source is narrowed to the status changes that complete a return
    (source,) = registry._SOURCES["returns.return.status_changed"].values()
    assert source.event == "return.completed"
    booked = Activity(
        action="returns.return.status_changed", data={"after": "Booked", "after_code": "BOOKED"}
    )
    assert source.when(booked) is False
    assert (
        source.when(Activity(action="x", data={"after": "Complete", "after_code": "COMPLETE"}))
        is True
    )


# -- who is told ---------------------------------------------------------------------------


def test_only_active_subscribed_endpoints_of_the_retailer_get_the_event(
    retailer, other_retailer, admin_user, manager, receiver
):
    # given endpoints: one for cancellations only, one switched off, and another retailer's
    cancels = services.endpoint_create(
        retailer_id=retailer.pk, by=admin_user, url=receiver.url, events=["order.cancelled"]
    )
    off = services.endpoint_create(
        retailer_id=retailer.pk, by=admin_user, url=receiver.url, events=ALL
    )
    services.endpoint_update(endpoint=off, by=admin_user, is_active=False)
    globex_admin = MembershipFactory(
        user=UserFactory(username="globex.admin"), retailer=other_retailer, role=Role.ADMIN
    ).user
    services.endpoint_create(
        retailer_id=other_retailer.pk, by=globex_admin, url=receiver.url, events=ALL
    )

    # when an order of the retailer is placed, then cancelled
    order = order_services.order_place(data=_order_input(retailer), by=manager)
    order_services.order_cancel(order=order, by=manager, notify=False)

    # then only the cancellation went out, to the one endpoint subscribed to it
    assert [(d.endpoint_id, d.event) for d in WebhookDelivery.objects.all()] == [
        (cancels.pk, "order.cancelled")
    ]


def test_a_change_rolled_back_leaves_no_delivery(retailer, manager, endpoint):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)

    with pytest.raises(RuntimeError), transaction.atomic():
        order_services.order_cancel(order=order, by=manager, notify=False)
        assert WebhookDelivery.objects.count() == 2  # written inside the transaction
        raise RuntimeError("the change fails after the outbox rows were written")

    assert not WebhookDelivery.objects.exists()


def test_a_retailer_without_endpoints_pays_one_query_per_event_and_none_for_other_actions(
    retailer, django_assert_num_queries
):
    order = OrderFactory(retailer=retailer, lines=1)
    entry = Activity(
        pk=1, retailer=retailer, action="orders.order.cancelled", target_id=str(order.pk)
    )
    with django_assert_num_queries(1):
        assert outbox.collect(entry) == []
    entry.action = "orders.comment.added"
    with django_assert_num_queries(0):
        assert outbox.collect(entry) == []


def test_every_event_is_given_by_some_activity():
    given = {event for events in registry.registered().values() for event in events}
    assert given == set(registry.EVENT_NAMES)
    assert registry.registered()["orders.payment.refunded_by_hand"] == ["payment.refunded"]
    assert "orders.order.created_as_copy" not in registry.registered()


# -- keeping endpoints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Give the URL"),
        ("ftp://erp.example.com/hooks", "http:// or https://"),
        ("https:///hooks", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https://user:pw@erp.example.com/", "user name and password"),
        ("https://erp.example.com/" + "a" * 500, "At most 500 characters"),
        ("https://erp example.com/", "is not a URL"),
    ],
)
def test_an_endpoint_needs_an_http_url_with_a_host(retailer, admin_user, url, message):
    with pytest.raises(ValidationError) as error:
        services.endpoint_create(
            retailer_id=retailer.pk, by=admin_user, url=url, events=["order.created"]
        )
    assert message in " ".join(error.value.message_dict["url"])
    assert not WebhookEndpoint.objects.exists() and not Activity.objects.exists()


@pytest.mark.parametrize(
    ("events", "message"),
    [([], "at least one"), (["order.created", "order.deleted"], "Unknown events: order.deleted")],
)
def test_an_endpoint_subscribes_to_known_events(retailer, admin_user, events, message):
    with pytest.raises(ValidationError) as error:
        services.endpoint_create(
            retailer_id=retailer.pk, by=admin_user, url="https://erp.example.com/", events=events
        )
    assert message in " ".join(error.value.message_dict["events"])
    assert not WebhookEndpoint.objects.exists()


def test_a_retailer_has_at_most_ten_endpoints(retailer, admin_user):
    for n in range(10):
        services.endpoint_create(
            retailer_id=retailer.pk, by=admin_user, url=f"https://e{n}.example.com/", events=ALL
        )
    with pytest.raises(ValidationError, match="at most 10 webhook endpoints"):
        services.endpoint_create(
            retailer_id=retailer.pk, by=admin_user, url="https://e10.example.com/", events=ALL
        )
    assert WebhookEndpoint.objects.count() == 10


def test_a_new_endpoint_gets_a_secret_that_its_activity_never_shows(retailer, admin_user):
    endpoint = services.endpoint_create(
        retailer_id=retailer.pk,
        by=admin_user,
        url=" https://erp.example.com/hooks ",
        events=["order.cancelled", "order.created", "order.created"],
    )
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) == 6 + 48
    assert endpoint.url == "https://erp.example.com/hooks"
    assert endpoint.events == ["order.created", "order.cancelled"]  # the catalogue's order
    before = endpoint.secret
    rotated = services.endpoint_rotate_secret(endpoint=endpoint, by=admin_user)
    assert rotated.secret != before and rotated.secret.startswith("whsec_")
    assert WebhookEndpoint.objects.get().secret == rotated.secret
    entries = Activity.objects.filter(target_type="oms.webhookendpoint")
    assert entries.count() == 2
    for entry in entries:
        assert before not in json.dumps(entry.data) and rotated.secret not in json.dumps(entry.data)
        assert "whsec_" not in activity.describe(entry)
    assert services.masked(rotated.secret).startswith("whsec_") and rotated.secret[
        12:-4
    ] not in services.masked(rotated.secret)


def test_only_an_admin_of_the_endpoints_retailer_keeps_it(
    retailer, other_retailer, admin_user, manager, endpoint
):
    globex_admin = MembershipFactory(
        user=UserFactory(username="globex.admin"), retailer=other_retailer, role=Role.ADMIN
    ).user
    attempts = [
        lambda by: services.endpoint_update(endpoint=endpoint, by=by, url="https://evil.example/"),
        lambda by: services.endpoint_rotate_secret(endpoint=endpoint, by=by),
        lambda by: services.endpoint_delete(endpoint=endpoint, by=by),
    ]
    for by in (globex_admin, manager):
        for attempt in attempts:
            with pytest.raises(PermissionDenied):
                attempt(by)
        with pytest.raises(PermissionDenied):
            services.endpoint_create(
                retailer_id=retailer.pk, by=by, url="https://evil.example/", events=ALL
            )
    endpoint.refresh_from_db()
    assert WebhookEndpoint.objects.count() == 1 and "evil" not in endpoint.url


def test_an_admin_changes_deletes_and_switches_an_endpoint(retailer, admin_user, endpoint):
    services.endpoint_update(
        endpoint=endpoint, by=admin_user, events=["order.shipped"], description="Warehouse"
    )
    endpoint.refresh_from_db()
    assert (endpoint.events, endpoint.description) == (["order.shipped"], "Warehouse")
    with pytest.raises(ValidationError) as error:
        services.endpoint_update(endpoint=endpoint, by=admin_user, url="gopher://x")
    assert "url" in error.value.message_dict
    services.endpoint_delete(endpoint=endpoint, by=admin_user)
    assert not WebhookEndpoint.objects.exists()
    assert list(
        Activity.objects.filter(target_type="oms.webhookendpoint")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == [
        "oms.webhookendpoint.created",
        "oms.webhookendpoint.updated",
        "oms.webhookendpoint.deleted",
    ]


# -- signing -----------------------------------------------------------------------------------


def test_a_signature_checks_out_only_for_the_same_body_secret_and_a_recent_time():
    secret, body = "whsec_" + "ab" * 24, b'{"id":"1","type":"order.created"}'
    now = int(time.time())
    headers = signing.headers(
        secret=secret, event_id="1", event="order.created", body=body, now=now
    )
    assert headers["OMS-Webhook-Signature"] == signing.sign(secret, now, body)
    assert headers["OMS-Webhook-Signature"].startswith("v1=")
    assert signing.verify(secret, headers, body)
    assert signing.verify(secret, {k.lower(): v for k, v in headers.items()}, body)
    assert not signing.verify(secret, headers, body.replace(b"created", b"cancelled"))
    assert not signing.verify("whsec_other", headers, body)
    # a request replayed later than the tolerance is refused, even with its own signature
    assert not signing.verify(secret, headers, body, now=now + 301)
    assert signing.verify(secret, headers, body, now=now + 299)
    old = signing.headers(
        secret=secret, event_id="1", event="order.created", body=body, now=now - 3600
    )
    assert not signing.verify(secret, old, body)
    assert not signing.verify(secret, {**headers, "OMS-Webhook-Timestamp": "soon"}, body)


def test_the_signature_is_the_documented_hmac():
    expected = hmac.new(b"whsec_k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert signing.sign("whsec_k", 1700000000, b"{}") == f"v1={expected}"


# -- delivering in-process (no broker: make run) -----------------------------------------------


def test_in_process_the_event_is_posted_signed_after_commit(
    retailer, manager, endpoint, receiver, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_cancel(order=order, by=manager, notify=False)

    assert [r.json["type"] for r in receiver.requests] == [
        "order.status_changed",
        "order.cancelled",
    ]
    for request in receiver.requests:
        assert signing.verify(endpoint.secret, request.headers, request.body)
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"] == "OMS-Webhooks/1"
        assert request.headers["OMS-Webhook-Event"] == request.json["type"]
        assert request.headers["OMS-Webhook-Id"] == request.json["id"]
    row = WebhookDelivery.objects.get(event="order.cancelled")
    assert row.status == Status.DELIVERED and row.attempts == 1 and row.response_code == 200
    assert row.latency_ms is not None and '"ok": true' in row.response_body
    assert row.payload == receiver.requests[1].json  # the stored body is the one sent
    assert WebhookEndpoint.objects.get().delivering_until is None  # the lease was given back


def test_a_receiver_that_fails_does_not_fail_the_action(
    retailer, manager, endpoint, receiver, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_BACKOFF_SECONDS = [60, 60]
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answer(then=500)
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)

    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_cancel(order=order, by=manager, notify=False)

    # the order is cancelled; in-process the deliverer stopped at the first failure
    order.refresh_from_db()
    assert order.status.system_state == SystemState.CANCELLED
    assert len(receiver.requests) == 1
    first, second = WebhookDelivery.objects.order_by("pk")
    assert (first.status, first.attempts, first.response_code, first.error) == (
        Status.PENDING,
        1,
        500,
        "HTTP 500",
    )
    assert 55 <= (first.next_attempt_at - first.last_attempt_at).total_seconds() <= 65
    assert second.attempts == 0  # waits behind the first: order kept


def test_a_private_address_is_refused_unless_allowed(
    retailer, manager, endpoint, receiver, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_cancel(order=order, by=manager, notify=False)

    assert receiver.requests == []
    first = WebhookDelivery.objects.order_by("pk").first()
    assert first.status == Status.PENDING and first.attempts == 1
    assert "127.0.0.1" in first.error and "WEBHOOK_ALLOW_PRIVATE_HOSTS" in first.error
    for url in ("http://10.1.2.3/", "http://169.254.169.254/latest", "http://[::1]:8080/"):
        assert "Refused" in delivery.refusal(url), url


def test_a_failed_delivery_is_sent_again_by_hand_as_a_new_delivery(
    retailer, manager, admin_user, endpoint, receiver, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_BACKOFF_SECONDS = [0]
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.answer(500, then=200)
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
    services.endpoint_update(endpoint=endpoint, by=admin_user, events=["order.cancelled"])
    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_cancel(order=order, by=manager, notify=False)
    failed = WebhookDelivery.objects.get()
    assert (failed.status, failed.response_code) == (Status.FAILED, 500)
    assert Activity.objects.filter(action="oms.webhook.failed", target_id=str(failed.pk)).exists()

    with pytest.raises(PermissionDenied):
        services.delivery_redeliver(delivery=failed, by=manager)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.delivery_redeliver(delivery=failed, by=admin_user)

    again.refresh_from_db()
    assert again.redelivery_of == failed and again.status == Status.DELIVERED
    assert again.event_id == failed.event_id and again.payload == failed.payload
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["OMS-Webhook-Id"] == second.headers["OMS-Webhook-Id"]


# -- one deliverer per endpoint, and the relay -------------------------------------------------


def test_one_deliverer_per_endpoint_and_a_lapsed_lease_is_taken_over(
    retailer, manager, endpoint, receiver
):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
    order_services.order_cancel(order=order, by=manager, notify=False)  # callbacks not run
    held = timezone.now() + timedelta(seconds=30)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(delivering_until=held)

    # another deliverer holds the endpoint: this one sends nothing
    assert delivery.endpoint_deliver(endpoint_id=endpoint.pk).busy
    assert receiver.requests == []

    # its lease lapsed (a worker died): the next deliverer sends everything, in order
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        delivering_until=timezone.now() - timedelta(seconds=1)
    )
    done = delivery.endpoint_deliver(endpoint_id=endpoint.pk)
    assert (done.delivered, done.busy) == (2, False)
    assert [r.json["type"] for r in receiver.requests] == [
        "order.status_changed",
        "order.cancelled",
    ]


def test_the_relay_hands_on_endpoints_whose_next_delivery_is_due(
    retailer, manager, admin_user, endpoint, receiver
):
    waiting = services.endpoint_create(
        retailer_id=retailer.pk, by=admin_user, url=receiver.url, events=ALL
    )
    off = services.endpoint_create(
        retailer_id=retailer.pk, by=admin_user, url=receiver.url, events=ALL
    )
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
    order_services.order_cancel(order=order, by=manager, notify=False)  # callbacks not run
    services.endpoint_update(endpoint=off, by=admin_user, is_active=False)
    # the first in line of `waiting` waits for its retry: the later one waits behind it
    head = WebhookDelivery.objects.filter(endpoint=waiting).order_by("pk").first()
    WebhookDelivery.objects.filter(pk=head.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )

    assert delivery.deliveries_relay() == [(endpoint.pk, retailer.pk)]


def test_in_process_a_receiver_that_never_answers_holds_the_action_one_timeout_at_most(
    retailer, manager, admin_user, django_capture_on_commit_callbacks, settings
):
    # given an endpoint whose server takes the connection and never answers
    settings.WEBHOOK_READ_TIMEOUT = 1.0
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    host, port = silent.getsockname()
    services.endpoint_create(
        retailer_id=retailer.pk, by=admin_user, url=f"http://{host}:{port}/", events=ALL
    )
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)

    # when an action gives two events, delivered in-process once it commits
    started = time.monotonic()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            order_services.order_cancel(order=order, by=manager, notify=False)
    finally:
        silent.close()

    # then it waited one read timeout, not one per event, and the events wait for a retry
    assert time.monotonic() - started < 2.5
    first, second = WebhookDelivery.objects.order_by("pk")
    assert first.attempts == 1 and "timed out" in first.error.lower()
    assert second.attempts == 0 and second.status == Status.PENDING
