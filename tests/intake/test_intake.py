"""Order intake: two channel formats, signatures, validation, duplicates, events, the desk."""

import copy
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import Payment
from oms.models import Activity
from orders.intake.adapters import MarketplaceAdapter, WebstoreAdapter
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.intake.processing import intake_process, intake_receive, signature
from orders.models import Order, SystemState
from orders.services import order_set_status
from tests.factories import status_for

pytestmark = pytest.mark.django_db

WEBSTORE = {
    "id": "W-1001",
    "created_at": "2026-11-20T10:15:00Z",
    "currency": "EUR",
    "customer": {
        "email": "jan@example.nl",
        "first_name": "Jan",
        "last_name": "Smit",
        "phone": "+31 6 1234 5678",
    },
    "shipping_address": {
        "street": "Oudegracht 12",
        "zip": "3511 AB",
        "city": "Utrecht",
        "country": "nl",
    },
    "lines": [
        {"sku": "TENT-2", "title": "Two-person tent", "qty": 1, "price": "329.00"},
        {"sku": "SOCK-3P", "title": "Socks", "qty": 2, "price": "14.95"},
    ],
    "shipping_cost": "4.95",
    "total": "363.85",
    "payment": {"method": "ideal"},
}
MARKETPLACE = {
    "orderNumber": "MP-77",
    "status": "NEW",
    "orderDate": "2026-11-21T08:00:00+01:00",
    "buyer": {
        "name": {"given": "Eva", "family": "de Vries"},
        "contact": {"mail": "eva@example.nl", "phoneNumber": ""},
    },
    "delivery": {
        "address": {
            "addressLines": ["Kerkstraat 5", "2nd floor"],
            "postalCode": "1017 GC",
            "town": "Amsterdam",
            "countryCode": "NL",
        },
        "fee": {"amount": 495, "currency": "EUR"},
    },
    "items": [
        {
            "offer": {"sku": "BOTTLE", "label": "Bottle"},
            "quantity": 3,
            "unitPrice": {"amount": 2495, "currency": "EUR"},
        }
    ],
    "totals": {"grandTotal": {"amount": 7980, "currency": "EUR"}},
}


@pytest.fixture
def web(retailer):
    return IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web store", kind="webstore", secret="s3cret"
    )


@pytest.fixture
def market(retailer):
    return IntakeChannel.objects.create(
        retailer=retailer, code="bol", name="Marketplace", kind="marketplace", secret="m4rket"
    )


def send(channel, payload, *, sign=True, client=None):
    body = json.dumps(payload).encode()
    headers = {"X-Signature": signature(channel.secret, body)} if sign else {}
    return (client or Client()).post(
        f"/intake/{channel.retailer.ref}/{channel.code}/",
        body,
        content_type="application/json",
        headers=headers,
    )


def test_both_adapters_read_their_own_shapes_into_one_order():
    web = WebstoreAdapter().read(copy.deepcopy(WEBSTORE))
    market = MarketplaceAdapter().read(copy.deepcopy(MARKETPLACE))
    assert (
        web.external_id,
        web.email,
        web.shipping_address.city,
        web.shipping_address.country,
    ) == ("W-1001", "jan@example.nl", "Utrecht", "NL")
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in web.lines] == [
        ("TENT-2", 1, Decimal("329.00")),
        ("SOCK-3P", 2, Decimal("14.95")),
    ]
    assert (market.external_id, market.first_name, market.last_name) == ("MP-77", "Eva", "de Vries")
    assert market.shipping_address.line2 == "2nd floor"
    assert market.lines[0].unit_price == Decimal("24.95")  # cents into money
    assert (market.shipping, market.total, market.currency) == (
        Decimal("4.95"),
        Decimal("79.80"),
        "EUR",
    )


def test_a_signed_web_order_is_stored_then_becomes_an_order(
    web, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = send(web, WEBSTORE)
    assert response.status_code == 202
    message = IntakeMessage.objects.get(pk=response.json()["id"])
    assert message.status == "ACCEPTED" and message.body == json.dumps(WEBSTORE)
    order = message.order
    assert (order.ref, order.total, order.channel) == ("WEB-W-1001", Decimal("363.85"), "web")
    assert order.customer.email == "jan@example.nl"
    assert order.shipping_address.city == "Utrecht" and order.payments.get().method == "ideal"
    assert Activity.objects.filter(action="orders.intakemessage.accepted").exists()


def test_the_stores_payment_reference_is_kept_for_the_gateway(
    web, settings, django_capture_on_commit_callbacks
):
    """A store on Stripe sends the PaymentIntent it authorised; captures and refunds use it."""
    settings.PAYMENT_PROVIDER_BY_RETAILER = {web.retailer.ref: "stripe"}
    payload = copy.deepcopy(WEBSTORE) | {"payment": {"method": "card", "reference": "pi_3Abc"}}
    with django_capture_on_commit_callbacks(execute=True):
        send(web, payload)
    other = copy.deepcopy(WEBSTORE) | {"id": "W-1002"}
    with django_capture_on_commit_callbacks(execute=True):
        send(web, other)
    payments = {
        p.order.ref: (p.provider, p.provider_reference)
        for p in Payment.objects.select_related("order")
    }
    assert payments == {
        "WEB-W-1001": ("stripe", "pi_3Abc"),
        "WEB-W-1002": ("stripe", "psp_WEB-W-1002"),
    }


def test_a_marketplace_order_becomes_the_same_kind_of_order(
    market, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = send(market, MARKETPLACE)
    order = IntakeMessage.objects.get(pk=response.json()["id"]).order
    assert (order.ref, order.total, order.channel, order.item_count) == (
        "BOL-MP-77",
        Decimal("79.80"),
        "marketplace",
        3,
    )


@pytest.mark.parametrize("header", [None, "0" * 64])
def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(web, header):
    body = json.dumps(WEBSTORE).encode()
    headers = {"X-Signature": header} if header else {}
    response = Client().post(
        "/intake/acme/web/", body, content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    assert not IntakeMessage.objects.exists()


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"customer": {"email": "nope"}}, "customer.email"),
        (
            {"shipping_address": {"street": "", "zip": "1", "city": "x", "country": "NL"}},
            "shipping_address.street: missing",
        ),
        ({"lines": []}, "lines: an order needs at least one line"),
        ({"lines": [{"sku": "A", "qty": 0, "price": "1"}]}, "lines[0].qty"),
        ({"lines": [{"sku": "A", "qty": "x", "price": "1"}]}, "lines[0].qty: not a whole number"),
        ({"currency": "USD"}, "currency: USD, but Acme Outfitters sells in EUR"),
        ({"total": "999.00"}, "total: 999.00 does not add up"),
        ({"payment": {"method": "card", "reference": "pi_" + "x" * 98}}, "payment.reference"),
    ],
)
def test_each_validation_rule_rejects_with_its_reason_and_creates_nothing(
    web, change, reason, django_capture_on_commit_callbacks
):
    payload = copy.deepcopy(WEBSTORE) | change
    with django_capture_on_commit_callbacks(execute=True):
        response = send(web, payload)
    message = IntakeMessage.objects.get(pk=response.json()["id"])
    assert message.status == "REJECTED"
    assert any(reason in r for r in message.reasons), message.reasons
    assert not Order.objects.exists()


def test_channel_rules_relax_or_tighten_without_code(web, django_capture_on_commit_callbacks):
    web.rules = {"require_phone": True}
    web.save()
    payload = copy.deepcopy(WEBSTORE)
    payload["customer"] = {**payload["customer"], "phone": ""}
    with django_capture_on_commit_callbacks(execute=True):
        strict = send(web, payload)
    assert IntakeMessage.objects.get(pk=strict.json()["id"]).reasons == [
        "customer.phone: required by this channel"
    ]
    web.rules = {}
    web.save()
    payload["id"] = "W-1002"
    with django_capture_on_commit_callbacks(execute=True):
        relaxed = send(web, payload)
    assert IntakeMessage.objects.get(pk=relaxed.json()["id"]).status == "ACCEPTED"


def test_the_same_order_twice_is_one_order(web, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(web, WEBSTORE)
        send(web, WEBSTORE)
    assert Order.objects.count() == 1
    # the second, identical delivery is a duplicate of the first (newest first)
    assert list(IntakeMessage.objects.values_list("status", flat=True)) == ["DUPLICATE", "ACCEPTED"]


def test_an_update_then_a_cancel_event(web, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(web, WEBSTORE)
        changed = copy.deepcopy(WEBSTORE)
        changed["lines"] = [
            {"sku": "TENT-2", "title": "Two-person tent", "qty": 2, "price": "329.00"}
        ]
        changed["total"] = "662.95"
        send(web, changed)
    order = Order.objects.get()
    assert (order.item_count, order.total) == (2, Decimal("662.95"))
    with django_capture_on_commit_callbacks(execute=True):
        send(web, {"id": "W-1001", "event": "cancelled"})
    order.refresh_from_db()
    assert order.status.system_state == SystemState.CANCELLED


def test_an_update_of_an_order_past_new_is_rejected(
    web, manager, retailer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send(web, WEBSTORE)
    order_set_status(
        order=Order.objects.get(), status=status_for(retailer, "PROCESSING"), by=manager
    )
    with django_capture_on_commit_callbacks(execute=True):
        # an update that changes the shipping
        response = send(
            web, WEBSTORE | {"event": "updated", "shipping_cost": "9.95", "total": "368.85"}
        )
    message = IntakeMessage.objects.get(pk=response.json()["id"])
    assert message.status == "REJECTED" and "can only change while it is New" in message.reasons[0]


def test_an_update_that_changes_nothing_is_taken_past_new(
    web, manager, retailer, django_capture_on_commit_callbacks
):
    """A platform also sends an update when only its own notes or fulfilment changed: the
    items are as they were, so it is accepted and changes nothing."""
    with django_capture_on_commit_callbacks(execute=True):
        send(web, WEBSTORE)
    order = Order.objects.get()
    order_set_status(order=order, status=status_for(retailer, "PROCESSING"), by=manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = send(web, WEBSTORE | {"event": "updated", "updated_at": "2026-11-20T11:00:00Z"})
    message = IntakeMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.reasons) == ("ACCEPTED", ["nothing to change"])
    order.refresh_from_db()
    assert (order.status.system_state, order.total) == (SystemState.PROCESSING, Decimal("363.85"))


def test_messages_arriving_while_the_broker_is_down_are_kept_and_processed_later(
    web, celery_broker, django_capture_on_commit_callbacks
):
    celery_broker("redis://127.0.0.1:1/0")  # nothing listens there
    with django_capture_on_commit_callbacks(execute=True):
        response = send(web, WEBSTORE)
    assert response.status_code == 202
    message = IntakeMessage.objects.get(pk=response.json()["id"])
    assert message.status == "RECEIVED"
    # the broker is back; the relay hands it to a worker (run here in-process)
    assert intake_process(message_id=message.pk) == "ACCEPTED"
    assert Order.objects.count() == 1


def test_a_message_processed_twice_is_applied_once(web):
    message = intake_receive(channel=web, body=json.dumps(WEBSTORE))
    assert intake_process(message_id=message.pk) == "ACCEPTED"
    assert intake_process(message_id=message.pk) == "ACCEPTED"
    assert Order.objects.count() == 1


def test_a_worker_killed_mid_message_leaves_it_to_be_processed_once(web, monkeypatch):
    message = intake_receive(channel=web, body=json.dumps(WEBSTORE))
    from orders.intake import processing

    def crash(*args, **kwargs):
        raise ConnectionError("worker lost")

    monkeypatch.setattr(processing, "_create", crash)
    with pytest.raises(ConnectionError):
        intake_process(message_id=message.pk, last_attempt=False)
    assert not Order.objects.exists()  # nothing half-created
    monkeypatch.undo()
    assert intake_process(message_id=message.pk) == "ACCEPTED"
    assert Order.objects.count() == 1


def test_the_last_failed_attempt_leaves_the_message_dead(web, monkeypatch):
    message = intake_receive(channel=web, body=json.dumps(WEBSTORE))
    from orders.intake import processing

    monkeypatch.setattr(processing, "_create", lambda *a: (_ for _ in ()).throw(OSError("disk")))
    assert intake_process(message_id=message.pk, last_attempt=True) == "DEAD"
    assert "OSError: disk" in IntakeMessage.objects.get(pk=message.pk).reasons[0]


def test_the_desk_lists_failures_and_admins_fix_and_replay(
    client_for, agent, manager, admin_user, web, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = send(web, WEBSTORE | {"currency": "USD"})
    message = IntakeMessage.objects.get(pk=response.json()["id"])
    assert client_for(agent).get(reverse("intake:desk")).status_code == 403
    desk = client_for(manager).get(reverse("intake:desk")).content.decode()
    assert "W-1001" in desk and "currency: USD" in desk
    assert client_for(manager).post(reverse("intake:replay", args=[message.pk])).status_code == 403

    fixed = json.dumps(WEBSTORE)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(admin_user).post(reverse("intake:replay", args=[message.pk]), {"body": fixed})
    message.refresh_from_db()
    assert message.status == "ACCEPTED" and Order.objects.count() == 1
    assert Activity.objects.filter(
        action="orders.intakemessage.replayed", actor=admin_user
    ).exists()


def test_discard_needs_a_reason(client_for, admin_user, web, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = send(web, {"id": "junk"})
    message = IntakeMessage.objects.get(pk=response.json()["id"])
    client = client_for(admin_user)
    client.post(reverse("intake:discard", args=[message.pk]), {"reason": ""})
    assert IntakeMessage.objects.get(pk=message.pk).status == "REJECTED"
    client.post(reverse("intake:discard", args=[message.pk]), {"reason": "Test message"})
    assert IntakeMessage.objects.get(pk=message.pk).status == "DISCARDED"


def test_import_orders_from_csv_through_the_same_flow(retailer, tmp_path, capsys):
    from django.core.management import call_command

    IntakeChannel.objects.create(retailer=retailer, code="batch", name="Batch", kind="batch")
    path = tmp_path / "orders.csv"
    path.write_text(
        "id,email,first_name,last_name,street,zip,city,country,currency,sku,title,qty,price\n"
        "B-1,a@x.nl,A,B,Street 1,1000 AA,Amsterdam,NL,EUR,TENT-2,Tent,1,329.00\n"
        "B-1,a@x.nl,A,B,Street 1,1000 AA,Amsterdam,NL,EUR,SOCK,Socks,2,5.00\n"
        "B-2,bad,A,B,Street 1,1000 AA,Amsterdam,NL,EUR,TENT-2,Tent,1,329.00\n"
    )
    call_command("import_orders", str(path), "--retailer", "acme")
    out = capsys.readouterr().out
    assert "2 messages: 1 accepted, 1 rejected" in out and "B-2: REJECTED" in out
    assert Order.objects.get(ref="BATCH-B-1").item_count == 3


def test_readyz_reports_the_intake_backlog(web):
    response = Client().get("/readyz")
    assert response.json()["checks"]["intake"] == "ok (0 waiting)"
