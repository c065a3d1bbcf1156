"""WooCommerce channels: orders arrive exactly as WooCommerce's webhooks send them, signed and
named as WooCommerce does, and become orders that come to WooCommerce's totals to the cent."""

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client

from orders.intake.models import IntakeChannel, IntakeMessage
from orders.models import Order, SystemState
from orders.services import order_set_status
from tests.factories import status_for

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "channels" / "woocommerce"
SECRET = "wc-webhook-secret-typed-in-woocommerce"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


@pytest.fixture
def shop(retailer):
    return IntakeChannel.objects.create(
        retailer=retailer, code="woo", name="WooCommerce", kind="woocommerce", secret=SECRET
    )


def signed(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(
    channel,
    body: bytes | dict,
    topic: str = "order.created",
    *,
    delivery: str = "",
    signature: str | None = None,
):
    """POST as WooCommerce's WC_Webhook::deliver does."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    resource, _, event = topic.partition(".")
    delivery = delivery or hashlib.sha256(body + topic.encode()).hexdigest()[:32]
    return Client().post(
        f"/intake/{channel.retailer.ref}/{channel.code}/",
        body,
        content_type="application/json",
        headers={
            "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
            "X-WC-Webhook-Source": "https://shop.example.nl/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": signed(body) if signature is None else signature,
            "X-WC-Webhook-ID": "14",
            "X-WC-Webhook-Delivery-ID": delivery,
        },
    )


def take(channel, capture, body, topic="order.created", **kwargs) -> IntakeMessage:
    with capture(execute=True):
        response = deliver(channel, body, topic, **kwargs)
    assert response.status_code in (200, 202), response.content
    return IntakeMessage.objects.get(pk=response.json()["id"])


def lines_of(order):
    return [
        (ln.sku, ln.quantity, ln.unit_price, ln.discount, ln.total, ln.tax, ln.tax_rate)
        for ln in order.lines.order_by("position")
    ]


def test_an_order_with_prices_including_tax_two_rates_and_a_coupon(
    shop, django_capture_on_commit_callbacks
):
    # given WooCommerce's order 7311: 21% and 9% goods, a 10% coupon, prices with tax
    # when its order.created webhook arrives
    message = take(
        shop, django_capture_on_commit_callbacks, fixture("order_created_prices_include_tax")
    )
    # then it is the order WooCommerce took, to the cent
    assert (message.status, message.reasons) == ("ACCEPTED", ["order created"])
    order = message.order
    assert (order.ref, order.channel, order.currency) == ("WOO-7311", "web", "EUR")
    assert (order.customer.email, order.customer.first_name, order.customer.last_name) == (
        "anna.deboer@example.nl",
        "Anna",
        "de Boer",
    )
    assert lines_of(order) == [
        (
            "TENT-2",
            1,
            Decimal("121.00"),
            Decimal("12.10"),
            Decimal("108.90"),
            Decimal("18.90"),
            Decimal("21.00"),
        ),
        (
            "BOOK-NL",
            3,
            Decimal("10.90"),
            Decimal("3.27"),
            Decimal("29.43"),
            Decimal("2.43"),
            Decimal("9.00"),
        ),
        (
            "SOCK-M",
            3,
            Decimal("4.99"),
            Decimal("1.50"),
            Decimal("13.47"),
            Decimal("2.34"),
            Decimal("21.00"),
        ),
    ]
    assert (order.shipping, order.total, order.discount) == (
        Decimal("6.05"),
        Decimal("157.85"),
        Decimal("16.87"),
    )
    # WooCommerce's cart tax, line by line
    assert order.tax == Decimal("23.67")
    assert (order.type, order.delivery_method) == ("HD", "Flat rate")
    address = order.shipping_address
    assert (address.name, address.line1, address.postcode, address.city, address.country) == (
        "Anna de Boer",
        "Lange Nieuwstraat 4",
        "3512 PH",
        "Utrecht",
        "NL",
    )
    payment = order.payments.get()
    assert (payment.method, payment.provider_reference, payment.authorised) == (
        "card",
        "pi_3QxYzAbCdEfGh1234567890",
        Decimal("157.85"),
    )
    assert message.sent_at.isoformat() == "2026-11-20T09:15:40+00:00"
    assert order.placed_at.isoformat() == "2026-11-20T09:15:02+00:00"


def test_an_order_with_prices_excluding_tax_and_a_fee(shop, django_capture_on_commit_callbacks):
    message = take(
        shop, django_capture_on_commit_callbacks, fixture("order_created_prices_exclude_tax")
    )
    assert message.status == "ACCEPTED", message.reasons
    order = message.order
    # 3 x 9.99 + 6.29 tax = 36.26 does not divide by 3: the unit is rounded up, the cent is a
    # discount; the fee is a line so the order still comes to WooCommerce's total
    assert lines_of(order) == [
        (
            "CHAIR-F",
            2,
            Decimal("60.50"),
            Decimal("0.00"),
            Decimal("121.00"),
            Decimal("21.00"),
            Decimal("21.00"),
        ),
        (
            "MUG-E",
            3,
            Decimal("12.09"),
            Decimal("0.01"),
            Decimal("36.26"),
            Decimal("6.29"),
            Decimal("21.00"),
        ),
        (
            "fee",
            1,
            Decimal("2.42"),
            Decimal("0.00"),
            Decimal("2.42"),
            Decimal("0.42"),
            Decimal("21.00"),
        ),
    ]
    assert (order.shipping, order.total, order.delivery_method) == (
        Decimal("5.99"),
        Decimal("165.67"),
        "PostNL",
    )
    assert order.lines.get(sku="fee").name == "Gift wrap"
    assert order.payments.get().method == "paypal"


def test_a_gift_card_bought_is_a_line_with_nothing_shipped(
    shop, django_capture_on_commit_callbacks
):
    message = take(
        shop, django_capture_on_commit_callbacks, fixture("order_created_gift_card_bought")
    )
    assert message.status == "ACCEPTED", message.reasons
    order = message.order
    assert lines_of(order) == [
        (
            "GIFTCARD-50",
            1,
            Decimal("50.00"),
            Decimal("0.00"),
            Decimal("50.00"),
            Decimal("0.00"),
            Decimal("0.00"),
        )
    ]
    assert order.shipping_address is None and order.total == Decimal("50.00")
    assert order.billing_address.line1 == "Lange Nieuwstraat 4"


def test_a_gift_card_redeemed_is_a_discount_and_the_total_is_woocommerces(
    shop, django_capture_on_commit_callbacks
):
    # given 131.90 of goods and 6.05 shipping, 40.00 paid by gift card: WooCommerce's total 97.95
    message = take(
        shop, django_capture_on_commit_callbacks, fixture("order_created_gift_card_redeemed")
    )
    assert message.status == "ACCEPTED", message.reasons
    order = message.order
    # the card is spread over the lines by what each came to; each keeps the tax charged on it
    assert lines_of(order) == [
        (
            "JACKET-R",
            1,
            Decimal("121.00"),
            Decimal("36.69"),
            Decimal("84.31"),
            Decimal("21.00"),
            Decimal("21.00"),
        ),
        (
            "BOOK-NL",
            1,
            Decimal("10.90"),
            Decimal("3.31"),
            Decimal("7.59"),
            Decimal("0.90"),
            Decimal("9.00"),
        ),
    ]
    assert order.total == Decimal("97.95") == order.payments.get().authorised


def test_a_gift_card_larger_than_a_lines_tax_allows_is_refused(
    shop, django_capture_on_commit_callbacks
):
    payload = json.loads(fixture("order_created_gift_card_redeemed"))
    payload |= {"gift_cards": [{"id": 12, "code": "7QKD", "amount": 125}], "total": "12.95"}
    message = take(shop, django_capture_on_commit_callbacks, payload)
    assert message.status == "REJECTED" and not Order.objects.exists()
    assert any(
        r.startswith("gift_cards: 125.00 redeemed leaves line 1 (JACKET-R) at 6.33, less than")
        for r in message.reasons
    ), message.reasons


def test_a_pickup_order_is_click_and_collect_without_a_shipping_address(
    shop, django_capture_on_commit_callbacks
):
    message = take(shop, django_capture_on_commit_callbacks, fixture("order_created_local_pickup"))
    assert message.status == "ACCEPTED", message.reasons
    order = message.order
    assert (order.type, order.collection_location, order.shipping_address) == (
        "CC",
        "Utrecht store (Oudegracht 12)",
        None,
    )
    assert (order.shipping, order.total) == (Decimal("0.00"), Decimal("121.00"))
    assert order.payments.get().method == "bank_transfer"


def test_the_first_ping_is_answered_and_not_kept(shop):
    # WC_Webhook::deliver_ping: unsigned, form-encoded, only the webhook's id
    response = Client().post(
        f"/intake/{shop.retailer.ref}/{shop.code}/",
        b"webhook_id=14",
        content_type="application/x-www-form-urlencoded",
    )
    assert (response.status_code, response.json()) == (200, {"ping": "ok"})
    assert not IntakeMessage.objects.exists()


def test_a_wrong_signature_is_refused_and_not_kept(shop):
    body = fixture("order_created_prices_include_tax")
    response = deliver(shop, body, signature=signed(body, "another-secret"))
    assert response.status_code == 401 and "X-WC-Webhook-Signature" in response.json()["error"]
    assert not IntakeMessage.objects.exists()


def test_a_topic_not_subscribed_to_is_refused(shop):
    body = fixture("order_created_prices_include_tax")
    response = deliver(shop, body, "order.restored")
    assert response.status_code == 400 and "order.created" in response.json()["error"]
    assert not IntakeMessage.objects.exists()


def test_a_delivery_sent_again_is_kept_once(shop, django_capture_on_commit_callbacks):
    body = fixture("order_created_prices_include_tax")
    first = take(shop, django_capture_on_commit_callbacks, body, delivery="a1b2c3")
    with django_capture_on_commit_callbacks(execute=True):
        again = deliver(shop, body, delivery="a1b2c3")
    assert (again.status_code, again.json()) == (
        200,
        {"id": str(first.pk), "status": "ACCEPTED", "repeated": True},
    )
    assert IntakeMessage.objects.count() == 1 and Order.objects.count() == 1


def test_two_orders_delivered_in_the_same_second_are_both_kept(
    shop, django_capture_on_commit_callbacks
):
    # WooCommerce's delivery id is a hash of the webhook's id and the second it was sent
    one = take(
        shop,
        django_capture_on_commit_callbacks,
        fixture("order_created_prices_include_tax"),
        delivery="same-second",
    )
    two = take(
        shop,
        django_capture_on_commit_callbacks,
        fixture("order_created_prices_exclude_tax"),
        delivery="same-second",
    )
    assert one.pk != two.pk and (one.status, two.status) == ("ACCEPTED", "ACCEPTED")
    assert set(Order.objects.values_list("ref", flat=True)) == {"WOO-7311", "WOO-7320"}


def test_the_same_order_under_another_delivery_is_a_duplicate(
    shop, django_capture_on_commit_callbacks
):
    body = fixture("order_created_prices_include_tax")
    first = take(shop, django_capture_on_commit_callbacks, body, delivery="d-1")
    # order.updated built at the same moment carries the same body
    second = take(shop, django_capture_on_commit_callbacks, body, "order.updated", delivery="d-2")
    assert second.status == "DUPLICATE" and second.order == first.order
    assert Order.objects.count() == 1


def test_an_update_that_changes_quantities_changes_the_lines(
    shop, django_capture_on_commit_callbacks
):
    take(shop, django_capture_on_commit_callbacks, fixture("order_created_prices_include_tax"))
    message = take(
        shop,
        django_capture_on_commit_callbacks,
        fixture("order_updated_quantities"),
        "order.updated",
    )
    assert (message.status, message.reasons) == ("ACCEPTED", ["order updated"])
    order = Order.objects.get()
    assert [(ln[0], ln[1], ln[3], ln[5]) for ln in lines_of(order)] == [
        ("TENT-2", 1, Decimal("12.10"), Decimal("18.90")),
        ("BOOK-NL", 1, Decimal("1.09"), Decimal("0.81")),
        ("SOCK-M", 3, Decimal("1.50"), Decimal("2.34")),
    ]
    assert order.total == Decimal("138.23") == order.payments.get().authorised


def test_an_older_version_arriving_after_a_newer_one_is_stale(
    shop, django_capture_on_commit_callbacks
):
    take(shop, django_capture_on_commit_callbacks, fixture("order_created_prices_include_tax"))
    take(
        shop,
        django_capture_on_commit_callbacks,
        fixture("order_updated_quantities"),
        "order.updated",
    )
    message = take(
        shop, django_capture_on_commit_callbacks, fixture("order_updated_stale"), "order.updated"
    )
    assert message.status == "STALE" and message.reasons[0].startswith(
        "stale: sent 2026-11-20 10:00:00"
    )
    order = Order.objects.get()
    assert order.total == Decimal("138.23") and order.lines.get(sku="BOOK-NL").quantity == 1


@pytest.mark.parametrize(
    ("name", "topic"),
    [("order_updated_cancelled", "order.updated"), ("order_deleted", "order.deleted")],
)
def test_a_cancelled_or_deleted_order_is_cancelled(
    shop, django_capture_on_commit_callbacks, name, topic
):
    take(shop, django_capture_on_commit_callbacks, fixture("order_created_prices_include_tax"))
    message = take(shop, django_capture_on_commit_callbacks, fixture(name), topic)
    assert (message.status, message.reasons) == ("ACCEPTED", ["order cancelled"])
    assert Order.objects.get().status.system_state == SystemState.CANCELLED


def test_a_status_change_of_an_order_past_new_changes_nothing(
    shop, retailer, manager, django_capture_on_commit_callbacks
):
    take(shop, django_capture_on_commit_callbacks, fixture("order_created_prices_include_tax"))
    order = Order.objects.get()
    order_set_status(order=order, status=status_for(retailer, "PROCESSING"), by=manager)
    payload = json.loads(fixture("order_created_prices_include_tax"))
    payload |= {"status": "completed", "date_modified_gmt": "2026-11-21T08:00:00"}
    message = take(shop, django_capture_on_commit_callbacks, payload, "order.updated")
    assert (message.status, message.reasons) == ("ACCEPTED", ["nothing to change"])
    order.refresh_from_db()
    assert (order.status.system_state, order.total) == (SystemState.PROCESSING, Decimal("157.85"))


def test_a_total_that_does_not_add_up_is_refused_naming_the_difference(
    shop, django_capture_on_commit_callbacks
):
    message = take(shop, django_capture_on_commit_callbacks, fixture("order_created_total_off"))
    assert message.status == "REJECTED" and not Order.objects.exists()
    assert message.reasons == [
        "total: 165.68 does not add up to the lines and shipping (165.67): 0.01 more"
    ]


def test_faults_are_named_in_woocommerces_own_fields(shop, django_capture_on_commit_callbacks):
    payload = json.loads(fixture("order_created_prices_include_tax"))
    payload["line_items"][2]["quantity"] = 0
    payload["line_items"][1]["sku"] = ""
    payload["line_items"][0]["taxes"][0]["id"] = 99
    payload["billing"]["email"] = "not-an-address"
    payload["shipping"]["address_1"] = "x" * 500
    payload["date_modified_gmt"] = "yesterday"
    message = take(shop, django_capture_on_commit_callbacks, payload)
    assert message.status == "REJECTED"
    named = {reason.split(": ")[0] for reason in message.reasons}
    assert {
        "line_items[2].quantity",
        "line_items[1].sku",
        "line_items[0].taxes[0].id",
        "billing.email",
        "shipping.address_1",
        "date_modified_gmt",
    } <= named, message.reasons


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"payment_method": "cod", "payment_method_title": "Cash on delivery"},
            "payment_method: cod (Cash on delivery) is paid in cash on delivery",
        ),
        (
            {"payment_method": "acme_pay", "payment_method_title": "Acme"},
            "payment_method: acme_pay (Acme): not a gateway known here",
        ),
        ({"currency": "USD"}, "currency: USD, but Acme Outfitters sells in EUR"),
    ],
)
def test_orders_that_cannot_be_booked_honestly_are_refused(
    shop, django_capture_on_commit_callbacks, changes, reason
):
    payload = json.loads(fixture("order_created_prices_include_tax")) | changes
    message = take(shop, django_capture_on_commit_callbacks, payload)
    assert message.status == "REJECTED" and not Order.objects.exists()
    assert any(r.startswith(reason) for r in message.reasons), message.reasons


@pytest.mark.parametrize("status", ["pending", "failed", "checkout-draft"])
def test_an_order_not_paid_for_is_not_taken_and_is_no_failure(
    shop, django_capture_on_commit_callbacks, status
):
    pending = json.loads(fixture("order_created_prices_include_tax")) | {"status": status}
    message = take(shop, django_capture_on_commit_callbacks, pending)
    assert message.status == "NOT_TAKEN" and not Order.objects.exists()
    assert message.reasons[0].startswith(
        f"status: {status}: WooCommerce has not been paid for this order"
    )


def test_an_abandoned_checkout_cancelled_is_not_taken_either(
    shop, django_capture_on_commit_callbacks
):
    pending = json.loads(fixture("order_created_prices_include_tax")) | {"status": "pending"}
    take(shop, django_capture_on_commit_callbacks, pending)
    cancelled = pending | {"status": "cancelled", "date_modified_gmt": "2026-11-20T11:00:00"}
    message = take(shop, django_capture_on_commit_callbacks, cancelled, "order.updated")
    assert (message.status, message.reasons) == (
        "NOT_TAKEN",
        ["id: never taken, so nothing to cancel"],
    )
    assert not Order.objects.exists()
    # an order the back office never heard of is still a failure to look at
    other = {"id": 999999}
    message = take(shop, django_capture_on_commit_callbacks, other, "order.deleted")
    assert (message.status, message.reasons) == (
        "REJECTED",
        ["id: no order with this id to cancel"],
    )


def test_a_paid_update_of_an_order_not_taken_while_pending_creates_it(
    shop, django_capture_on_commit_callbacks
):
    pending = json.loads(fixture("order_created_prices_include_tax")) | {"status": "pending"}
    assert take(shop, django_capture_on_commit_callbacks, pending).status == "NOT_TAKEN"
    paid = json.loads(fixture("order_created_prices_include_tax")) | {
        "date_modified_gmt": "2026-11-20T09:16:00"
    }
    message = take(shop, django_capture_on_commit_callbacks, paid, "order.updated")
    assert (message.status, message.order.total) == ("ACCEPTED", Decimal("157.85"))


def test_a_webhook_on_the_legacy_api_is_told_to_use_v3(shop, django_capture_on_commit_callbacks):
    legacy = {"order": json.loads(fixture("order_created_prices_include_tax"))}
    message = take(shop, django_capture_on_commit_callbacks, legacy)
    assert message.status == "REJECTED" and not Order.objects.exists()
    assert message.reasons == [
        "body: the legacy REST API's shape (an `order` object); set the webhook's API version "
        "to WP REST API Integration v3"
    ]


@pytest.mark.parametrize("status", ["refunded", "trash"])
def test_a_refunded_or_trashed_order_is_cancelled(shop, django_capture_on_commit_callbacks, status):
    take(shop, django_capture_on_commit_callbacks, fixture("order_created_prices_include_tax"))
    payload = json.loads(fixture("order_created_prices_include_tax")) | {
        "status": status,
        "date_modified_gmt": "2026-11-20T12:00:00",
    }
    message = take(shop, django_capture_on_commit_callbacks, payload, "order.updated")
    assert (message.status, message.event) == ("ACCEPTED", "cancel")
    assert Order.objects.get().status.system_state == SystemState.CANCELLED
