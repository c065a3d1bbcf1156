"""Payments of a retailer on Stripe, end to end: the provider chosen per retailer, operations
run by the worker against the local Stripe, and Stripe's signed webhooks settling what was left
pending."""

# ruff: noqa: F811 (the fake_stripe fixture is imported, then asked for by name)
import time
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services as billing
from billing.models import Payment, PaymentTransaction
from billing.stripe_gateway import StripeGateway
from oms.models import Activity
from orders import services
from orders.models import PaymentStatus, SystemState
from tests.billing.fake_stripe import WEBHOOK_SECRET, FakeStripe, fake_stripe  # noqa: F401
from tests.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db

Status = PaymentTransaction.Status
WEBHOOK = "/billing/stripe/webhook/"


@pytest.fixture
def payment(retailer, fake_stripe):
    """A 99.90 order of acme, paid by card through Stripe (a manual-capture PaymentIntent)."""
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)  # 99.90
    intent = StripeGateway().authorise(
        amount=order.total, currency=order.currency, idempotency_key=f"order-{order.pk}"
    )
    return PaymentFactory(
        order=order,
        provider="stripe",
        provider_reference=intent.reference,
        authorised=order.total,
    )


def _fresh(payment) -> Payment:
    return Payment.objects.get(pk=payment.pk)


def _post_event(client, fake: FakeStripe, type_: str, obj: dict, secret=WEBHOOK_SECRET, **kw):
    payload = fake.event(type_, obj)
    return client.post(
        WEBHOOK,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake.sign(payload, secret, **kw),
    )


def test_the_webhook_url_is_the_documented_one():
    assert reverse("billing:stripe_webhook") == WEBHOOK


def test_new_payments_take_their_retailers_provider(
    fake_stripe, retailer, other_retailer, django_capture_on_commit_callbacks
):
    # given: acme is on Stripe (the fixture's PAYMENT_PROVIDER_BY_RETAILER), globex is not
    acme_order = OrderFactory(retailer=retailer)
    globex_order = OrderFactory(retailer=other_retailer)
    # when
    acme = billing.payment_authorise(
        order=acme_order, method="card", amount=acme_order.total, provider_reference="pi_1", by=None
    )
    globex = billing.payment_authorise(
        order=globex_order, method="card", amount=globex_order.total, by=None
    )
    # then
    assert (acme.provider, globex.provider) == ("stripe", "simulated")


def test_captures_in_part_refunds_and_the_release_move_money_at_stripe(
    manager, payment, fake_stripe, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.order_payment_capture(payment=payment, amount="60.00", by=manager)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_payment_refund(payment=_fresh(payment), amount="10.00", by=manager)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_payment_release(payment=_fresh(payment), by=manager)
    # then
    done = PaymentTransaction.objects.filter(payment=payment).order_by("pk")
    assert [(t.kind, t.status, t.amount) for t in done] == [
        ("capture", Status.SUCCEEDED, Decimal("60.00")),
        ("refund", Status.SUCCEEDED, Decimal("10.00")),
        ("void", Status.SUCCEEDED, Decimal("39.90")),
    ]
    assert done[1].reference.startswith("re_")
    paid = _fresh(payment)
    assert (paid.captured, paid.refunded, paid.voided) == (
        Decimal("60.00"),
        Decimal("10.00"),
        Decimal("39.90"),
    )
    assert [(m["kind"], m["amount"]) for m in fake_stripe.moved()][1:] == [
        ("capture", 6000),
        ("refund", 1000),
        ("release", 3990),
    ]
    # each call carried its operation's idempotency key
    keys = [key for method, _, _, key in fake_stripe.requests if method == "POST"][1:]
    assert keys == [t.idempotency_key for t in done]


def test_a_decline_at_stripe_fails_the_operation_with_stripes_reason(
    manager, payment, fake_stripe, django_capture_on_commit_callbacks
):
    fake_stripe.fail_next(402, "card_error", "card_declined", path="/capture")
    with django_capture_on_commit_callbacks(execute=True):
        operation = services.order_payment_capture(payment=payment, amount="10.00", by=manager)
    operation.refresh_from_db()
    assert operation.status == Status.FAILED and operation.error_code == "declined"
    assert "card_declined" in operation.message
    assert _fresh(payment).captured == 0


def test_a_lost_answer_is_resolved_by_sync_with_one_movement(
    manager, payment, fake_stripe, django_capture_on_commit_callbacks
):
    # given: Stripe captures, the answer never arrives (the eager run is the last attempt)
    fake_stripe.lose_next_answer(path="/capture")
    with django_capture_on_commit_callbacks(execute=True):
        operation = services.order_payment_capture(payment=payment, amount="99.90", by=manager)
    operation.refresh_from_db()
    assert operation.status == Status.FAILED and operation.timed_out
    # when: the manager syncs the order's payments
    services.order_payments_sync(order=payment.order, by=manager)
    # then
    operation.refresh_from_db()
    assert operation.status == Status.SUCCEEDED
    assert _fresh(payment).captured == Decimal("99.90")
    assert len(fake_stripe.moved("capture")) == 1
    order = payment.order.__class__.objects.get(pk=payment.order_id)
    assert order.payment_status == PaymentStatus.PAID


def test_sync_reads_what_stripe_holds(manager, payment, fake_stripe):
    # given: money moved at Stripe outside the back office
    gateway = StripeGateway()
    gateway.capture(
        payment_reference=payment.provider_reference,
        amount=Decimal("50.00"),
        currency="EUR",
        idempotency_key="dashboard-capture",
    )
    # when
    changed = services.order_payments_sync(order=payment.order, by=manager)
    # then
    assert changed and _fresh(payment).captured == Decimal("50.00")
    assert Activity.objects.filter(action="orders.payment.synced").exists()


@pytest.fixture
def pending_refund(manager, payment, fake_stripe, django_capture_on_commit_callbacks):
    """A refund of 30.00 Stripe accepted and has not finished (the bank takes days)."""
    with django_capture_on_commit_callbacks(execute=True):
        services.order_payment_capture(payment=payment, amount="99.90", by=manager)
    fake_stripe.refund_status = "pending"
    with django_capture_on_commit_callbacks(execute=True):
        operation = services.order_payment_refund(
            payment=_fresh(payment), amount="30.00", by=manager
        )
    operation.refresh_from_db()
    return operation


def test_a_pending_refund_waits_and_the_webhook_settles_it_once(
    client, payment, pending_refund, fake_stripe
):
    assert pending_refund.status == Status.PENDING
    assert pending_refund.reference.startswith("re_")
    assert _fresh(payment).refunded == 0
    # when: Stripe says the refund succeeded, twice (webhooks are delivered at least once)
    refund = fake_stripe.settle_refund(pending_refund.reference, "succeeded")
    first = _post_event(client, fake_stripe, "refund.updated", refund)
    again = _post_event(client, fake_stripe, "refund.updated", refund)
    # then
    assert (first.status_code, first.json()["settled"]) == (200, 1)
    assert (again.status_code, again.json()["settled"]) == (200, 0)
    pending_refund.refresh_from_db()
    assert pending_refund.status == Status.SUCCEEDED
    assert _fresh(payment).refunded == Decimal("30.00")
    assert Activity.objects.filter(action="orders.payment.refunded").count() == 1


def test_a_refund_the_bank_refused_fails_by_webhook(client, payment, pending_refund, fake_stripe):
    refund = fake_stripe.settle_refund(pending_refund.reference, "failed", "lost_or_stolen_card")
    response = _post_event(client, fake_stripe, "refund.updated", refund)
    assert response.status_code == 200
    pending_refund.refresh_from_db()
    assert pending_refund.status == Status.FAILED and pending_refund.error_code == "declined"
    assert "lost_or_stolen_card" in pending_refund.message
    assert _fresh(payment).refunded == 0


def test_charge_refunded_has_the_worker_ask_stripe_again(
    client, payment, pending_refund, fake_stripe
):
    # charge.refunded names the payment, not the refund: the worker asks with the same key
    fake_stripe.settle_refund(pending_refund.reference, "succeeded")
    charge = {
        "id": fake_stripe.intents[payment.provider_reference]["latest_charge"],
        "object": "charge",
        "payment_intent": payment.provider_reference,
        "amount_refunded": 3000,
        "refunded": False,
    }
    response = _post_event(client, fake_stripe, "charge.refunded", charge)
    assert response.json()["settled"] == 1
    pending_refund.refresh_from_db()
    assert pending_refund.status == Status.SUCCEEDED
    assert len(fake_stripe.moved("refund")) == 1


def test_a_capture_whose_answer_was_lost_is_settled_by_payment_intent_succeeded(
    client, manager, payment, fake_stripe
):
    # given: the worker sent the capture and died before recording Stripe's answer
    operation = services.order_payment_capture(payment=payment, amount="99.90", by=manager)
    fake_stripe.lose_next_answer(path="/capture")
    with pytest.raises(Exception):  # noqa: B017 (the worker's transient error)
        billing.payment_operation_run(operation_id=operation.pk, last_attempt=False)
    intent = fake_stripe._public(fake_stripe.intents[payment.provider_reference])
    # when
    response = _post_event(client, fake_stripe, "payment_intent.succeeded", intent)
    # then
    assert response.json()["settled"] == 1
    operation.refresh_from_db()
    assert operation.status == Status.SUCCEEDED
    assert _fresh(payment).captured == Decimal("99.90")
    # the worker's retry finds it recorded and moves nothing
    assert billing.payment_operation_run(operation_id=operation.pk) == Status.SUCCEEDED
    assert len(fake_stripe.moved("capture")) == 1


def test_payment_intent_canceled_settles_a_pending_release(client, manager, payment, fake_stripe):
    operation = services.order_payment_release(payment=payment, by=manager)
    StripeGateway().void(
        payment_reference=payment.provider_reference,
        amount=operation.amount,
        currency="EUR",
        idempotency_key=operation.idempotency_key,
    )
    intent = fake_stripe._public(fake_stripe.intents[payment.provider_reference])
    response = _post_event(client, fake_stripe, "payment_intent.canceled", intent)
    assert response.json()["settled"] == 1
    operation.refresh_from_db()
    assert operation.status == Status.SUCCEEDED
    assert _fresh(payment).voided == Decimal("99.90")


def _nothing_changed(payment, operation):
    operation.refresh_from_db()
    return operation.status == Status.PENDING and _fresh(payment).refunded == 0


@pytest.mark.parametrize(
    "signature",
    [
        "wrong-secret",
        "old",
        "missing",
        "garbage",
    ],
)
def test_a_bad_signature_is_a_400_and_changes_nothing(
    client, payment, pending_refund, fake_stripe, signature
):
    refund = fake_stripe.settle_refund(pending_refund.reference, "succeeded")
    payload = fake_stripe.event("refund.updated", refund)
    headers = {
        "wrong-secret": {"HTTP_STRIPE_SIGNATURE": fake_stripe.sign(payload, "whsec_other")},
        "old": {
            "HTTP_STRIPE_SIGNATURE": fake_stripe.sign(
                payload, WEBHOOK_SECRET, int(time.time()) - 3600
            )
        },
        "missing": {},
        "garbage": {"HTTP_STRIPE_SIGNATURE": "t=abc,v1=zz"},
    }[signature]
    response = client.post(WEBHOOK, data=payload, content_type="application/json", **headers)
    assert response.status_code == 400
    assert _nothing_changed(payment, pending_refund)


def test_a_signed_body_changed_on_the_way_is_refused(client, payment, pending_refund, fake_stripe):
    refund = fake_stripe.settle_refund(pending_refund.reference, "succeeded")
    payload = fake_stripe.event("refund.updated", refund)
    signature = fake_stripe.sign(payload, WEBHOOK_SECRET)
    tampered = payload.replace(b'"succeeded"', b'"failed"')
    response = client.post(
        WEBHOOK, data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert response.status_code == 400
    assert _nothing_changed(payment, pending_refund)


def test_an_unknown_event_is_acknowledged_and_ignored(client, payment, pending_refund, fake_stripe):
    response = _post_event(client, fake_stripe, "customer.created", {"object": "customer"})
    assert response.status_code == 200 and response.json()["settled"] == 0
    assert _nothing_changed(payment, pending_refund)


def test_an_oversized_body_is_refused_unread(client, fake_stripe):
    payload = b'{"type": "refund.updated", "pad": "' + b"x" * 300_000 + b'"}'
    response = client.post(
        WEBHOOK,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fake_stripe.sign(payload, WEBHOOK_SECRET),
    )
    assert response.status_code == 413


def test_the_webhook_takes_only_post(client):
    assert client.get(WEBHOOK).status_code == 405


def test_a_retailers_own_secret_settles_only_its_own_payments(
    client, settings, payment, pending_refund, fake_stripe
):
    # given: globex has a Stripe account of its own, with its own endpoint secret
    settings.STRIPE_WEBHOOK_SECRET_BY_RETAILER = {"globex": "whsec_globex"}
    refund = fake_stripe.settle_refund(pending_refund.reference, "succeeded")
    # when: an event about acme's refund comes signed with globex's secret
    response = _post_event(client, fake_stripe, "refund.updated", refund, secret="whsec_globex")
    # then: verified, but not globex's to settle
    assert response.status_code == 200 and response.json()["settled"] == 0
    assert _nothing_changed(payment, pending_refund)
