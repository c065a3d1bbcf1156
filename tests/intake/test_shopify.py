"""Shopify's order webhooks through the real endpoint: each sample payload (as Shopify sends
it, tests/fixtures/channels/shopify) signed as Shopify signs, stored, then made into an order
by the worker."""

import base64
import hashlib
import hmac
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import Payment
from orders import consistency
from orders.intake.adapters import line_from_totals
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.intake.shopify import ShopifyAdapter, payment_method
from orders.models import Order, OrderType, SystemState
from orders.services import order_set_status
from tests.factories import RetailerFactory, status_for

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "channels" / "shopify"
SECRET = "4d1f8c2b9e7a6053f1c2d3e4b5a69788c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2"


def raw(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def changed(name: str, **fields) -> bytes:
    return json.dumps(json.loads(raw(name)) | fields, indent=2).encode()


def shopify_signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(channel, body: bytes, *, topic="orders/create", webhook_id=None, signature=None):
    """POST as Shopify does: the raw body, its signature and Shopify's headers."""
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature or shopify_signature(channel.secret, body),
        "X-Shopify-Shop-Domain": "acme-outfitters.myshopify.com",
        "X-Shopify-API-Version": "2025-10",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-11-24T09:15:35.118Z",
    }
    return Client().post(
        f"/intake/{channel.retailer.ref}/{channel.code}/",
        body,
        content_type="application/json",
        headers=headers,
    )


def processed(channel, body, capture, **kwargs) -> IntakeMessage:
    with capture(execute=True):
        response = deliver(channel, body, **kwargs)
    assert response.status_code == 202, response.content
    return IntakeMessage.objects.get(pk=response.json()["id"])


@pytest.fixture
def shop(retailer):
    return IntakeChannel.objects.create(
        retailer=retailer, code="shop", name="Shopify NL", kind="shopify", secret=SECRET
    )


@pytest.fixture
def us_shop(db):
    retailer = RetailerFactory(
        ref="acme-us", name="Acme US", currency="USD", time_zone="America/New_York"
    )
    return IntakeChannel.objects.create(
        retailer=retailer, code="shopus", name="Shopify US", kind="shopify", secret=SECRET
    )


def lines_of(order):
    return [
        (ln.sku, ln.quantity, ln.unit_price, ln.discount, ln.tax, ln.tax_rate, ln.total)
        for ln in order.lines.order_by("position")
    ]


def line_tax(payload: dict) -> Decimal:
    """What Shopify says it charged in tax on the items still on the order."""
    return sum(
        (
            Decimal(tax["price"])
            * item.get("current_quantity", item["quantity"])
            / item["quantity"]
            for item in payload["line_items"]
            for tax in item["tax_lines"]
        ),
        Decimal(0),
    ).quantize(Decimal("0.01"))


def test_an_eu_order_with_two_tax_rates_a_code_and_shipping(
    shop, django_capture_on_commit_callbacks
):
    payload = json.loads(raw("eu_create"))
    message = processed(shop, raw("eu_create"), django_capture_on_commit_callbacks)
    assert (message.status, message.reasons) == ("ACCEPTED", ["order created"])
    order = message.order
    assert (order.ref, order.currency, order.channel, order.type) == (
        "SHOP-1001",
        "EUR",
        "web",
        OrderType.HOME_DELIVERY,
    )
    assert (order.customer.email, order.customer.first_name, order.customer.last_name) == (
        "sanne.dejong@example.nl",
        "Sanne",
        "de Jong",
    )
    assert lines_of(order) == [
        ("TENT-2P-GRN", 1, Decimal("249.00"), Decimal("24.90"), Decimal("38.89"), Decimal("21.00"), Decimal("224.10")),
        ("SOCK-MER-3", 2, Decimal("24.90"), Decimal("4.98"), Decimal("7.78"), Decimal("21.00"), Decimal("44.82")),
        ("BOOK-TRAIL-NL", 1, Decimal("19.50"), Decimal("1.95"), Decimal("1.45"), Decimal("9.00"), Decimal("17.55")),
    ]  # fmt: skip
    assert order.lines.first().name == "Trail tent 2P - Forest green"
    assert (order.shipping, order.delivery_method) == (
        Decimal("4.95"),
        "Standaard verzending (PostNL)",
    )
    assert order.discount == Decimal(payload["total_discounts"]) == Decimal("31.83")
    assert order.total == Decimal(payload["total_price"]) == Decimal("291.42")
    assert order.tax == line_tax(payload) == Decimal("48.12")
    address = order.shipping_address
    assert (address.name, address.line1, address.line2, address.postcode, address.city) == (
        "Sanne de Jong",
        "Prinsengracht 263",
        "3e etage",
        "1016 GV",
        "Amsterdam",
    )
    assert (address.country, address.phone) == ("NL", "+31612345678")
    payment = order.payments.get()
    assert (payment.method, payment.authorised, payment.provider_reference) == (
        Payment.Method.CARD,
        Decimal("291.42"),
        "gid://shopify/Order/5849712345678",
    )
    assert (message.external_id, message.event, message.value) == (
        "1001",
        "create",
        Decimal("291.42"),
    )


def test_a_us_order_with_tax_added_on_top_is_booked_in_the_shops_currency(
    us_shop, django_capture_on_commit_callbacks
):
    """Tax is added to the price (two tax lines a line, shipping taxed too); the buyer saw
    Canadian dollars, the shop books US dollars."""
    payload = json.loads(raw("us_create"))
    assert payload["presentment_currency"] == "CAD"
    message = processed(us_shop, raw("us_create"), django_capture_on_commit_callbacks)
    assert message.status == "ACCEPTED", message.reasons
    order = message.order
    assert (order.ref, order.currency) == ("SHOPUS-1042", "USD")
    # the unit price and the discount carry the tax; the line comes to what Shopify charged
    assert lines_of(order) == [
        ("BTL-32-BLK", 2, Decimal("37.97"), Decimal("5.44"), Decimal("5.52"), Decimal("8.50"), Decimal("70.50")),
        ("MUG-ENM", 1, Decimal("13.02"), Decimal("0.00"), Decimal("1.02"), Decimal("8.50"), Decimal("13.02")),
    ]  # fmt: skip
    assert order.shipping == Decimal("10.75")  # 9.90 and its 0.85 tax
    assert order.total == Decimal(payload["total_price"]) == Decimal("94.27")
    assert order.tax == line_tax(payload) == Decimal("6.54")
    assert (order.shipping_address.city, order.shipping_address.country) == ("Brooklyn", "US")
    assert order.payments.get().currency == "USD"


def test_a_gift_card_sold_is_a_line_without_tax_sent_nowhere(
    shop, django_capture_on_commit_callbacks
):
    payload = json.loads(raw("giftcard_sold"))
    message = processed(shop, raw("giftcard_sold"), django_capture_on_commit_callbacks)
    assert message.status == "ACCEPTED", message.reasons
    order = message.order
    # a gift card often has no SKU: its variant names it
    assert lines_of(order) == [
        ("shopify-variant-44012345609050", 1, Decimal("50.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("50.00")),
    ]  # fmt: skip
    assert (order.shipping_address, order.shipping, order.delivery_method) == (
        None,
        Decimal("0.00"),
        "No shipping required",
    )
    assert order.billing_address.city == "Utrecht"
    assert order.total == Decimal(payload["total_price"])
    assert order.payments.get().method == Payment.Method.PAYPAL


def test_an_order_paid_partly_with_a_gift_card_is_a_card_payment_of_the_whole_total(
    shop, django_capture_on_commit_callbacks
):
    payload = json.loads(raw("giftcard_paid"))
    assert payload["payment_gateway_names"] == ["gift_card", "shopify_payments"]
    message = processed(shop, raw("giftcard_paid"), django_capture_on_commit_callbacks)
    order = message.order
    assert order.total == Decimal(payload["total_price"]) == Decimal("189.00")
    assert order.tax == line_tax(payload) == Decimal("32.80")
    payment = order.payments.get()
    assert (payment.method, payment.authorised) == (Payment.Method.CARD, Decimal("189.00"))


def test_a_pickup_order_is_click_and_collect_at_the_shipping_lines_location(
    shop, django_capture_on_commit_callbacks
):
    payload = json.loads(raw("pickup"))
    assert payload["shipping_address"] is None
    message = processed(shop, raw("pickup"), django_capture_on_commit_callbacks)
    assert message.status == "ACCEPTED", message.reasons
    order = message.order
    assert (order.type, order.collection_location, order.shipping_address) == (
        OrderType.CLICK_AND_COLLECT,
        "Acme Utrecht Oudegracht",
        None,
    )
    assert order.billing_address.line1 == "Lange Nieuwstraat 40"
    assert (order.total, order.tax) == (Decimal("39.95"), Decimal("6.93"))
    assert order.payments.get().method == Payment.Method.KLARNA


def test_a_tip_the_lines_do_not_carry_is_refused_naming_the_difference(
    shop, django_capture_on_commit_callbacks
):
    payload = json.loads(raw("tip"))
    assert payload["total_tip_received"] == "5.00"
    message = processed(shop, raw("tip"), django_capture_on_commit_callbacks)
    assert message.status == "REJECTED"
    assert message.reasons == [
        "total_price: 34.95 does not add up to the lines and shipping (29.95): 5.00 more"
    ]
    assert not Order.objects.exists()


@pytest.mark.parametrize("secret", ["not-the-signing-key", None])  # None: not a signature at all
def test_a_wrong_or_missing_signature_is_refused_and_nothing_is_stored(shop, secret):
    body = raw("eu_create")
    headers_signature = shopify_signature(secret, body) if secret else "bm90IGEgc2lnbmF0dXJl"
    response = deliver(shop, body, signature=headers_signature)
    assert response.status_code == 401
    assert "X-Shopify-Hmac-Sha256" in response.json()["error"]
    assert not IntakeMessage.objects.exists()


def test_a_signature_of_another_body_is_refused(shop):
    """A signature Shopify made for the order as created does not carry the edited order."""
    old = shopify_signature(SECRET, raw("eu_create"))
    response = deliver(shop, raw("eu_edited"), topic="orders/updated", signature=old)
    assert response.status_code == 401
    assert not IntakeMessage.objects.exists()


def test_a_delivery_shopify_sends_again_is_answered_with_the_first_message(
    shop, django_capture_on_commit_callbacks
):
    webhook_id = "b54557e4-8a5f-4f7d-b0bc-d043aa12f001"
    with django_capture_on_commit_callbacks(execute=True):
        first = deliver(shop, raw("eu_create"), webhook_id=webhook_id)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = deliver(shop, raw("eu_create"), webhook_id=webhook_id)
    assert callbacks == []  # nothing stored, nothing handed to a worker
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"id": first.json()["id"], "status": "ACCEPTED", "repeated": True}
    assert IntakeMessage.objects.count() == 1
    assert Order.objects.count() == 1


def test_the_same_order_under_a_new_webhook_id_is_a_duplicate(
    shop, django_capture_on_commit_callbacks
):
    first = processed(shop, raw("eu_create"), django_capture_on_commit_callbacks)
    second = processed(shop, raw("eu_create"), django_capture_on_commit_callbacks)
    assert (second.status, second.reasons) == ("DUPLICATE", [f"duplicate of message {first.pk}"])
    assert Order.objects.count() == 1


def test_an_order_edit_changes_the_orders_lines_and_total(shop, django_capture_on_commit_callbacks):
    """One pair of socks removed (current_quantity 1 of 2) and a mug added."""
    processed(shop, raw("eu_create"), django_capture_on_commit_callbacks)
    payload = json.loads(raw("eu_edited"))
    message = processed(
        shop, raw("eu_edited"), django_capture_on_commit_callbacks, topic="orders/updated"
    )
    assert (message.status, message.reasons) == ("ACCEPTED", ["order updated"])
    order = Order.objects.get()
    assert lines_of(order) == [
        ("TENT-2P-GRN", 1, Decimal("249.00"), Decimal("24.90"), Decimal("38.89"), Decimal("21.00"), Decimal("224.10")),
        ("SOCK-MER-3", 1, Decimal("24.90"), Decimal("2.49"), Decimal("3.89"), Decimal("21.00"), Decimal("22.41")),
        ("BOOK-TRAIL-NL", 1, Decimal("19.50"), Decimal("1.95"), Decimal("1.45"), Decimal("9.00"), Decimal("17.55")),
        ("MUG-ENM", 1, Decimal("12.00"), Decimal("0.00"), Decimal("2.08"), Decimal("21.00"), Decimal("12.00")),
    ]  # fmt: skip
    assert order.total == Decimal(payload["current_total_price"]) == Decimal("281.01")
    assert order.tax == line_tax(payload) == Decimal("46.31")
    assert order.payments.get().authorised == Decimal("281.01")


def test_a_cancelled_order_is_cancelled(shop, django_capture_on_commit_callbacks):
    processed(shop, raw("eu_create"), django_capture_on_commit_callbacks)
    message = processed(
        shop, raw("eu_cancelled"), django_capture_on_commit_callbacks, topic="orders/cancelled"
    )
    assert (message.status, message.event, message.reasons) == (
        "ACCEPTED",
        "cancel",
        ["order cancelled"],
    )
    assert Order.objects.get().status.system_state == SystemState.CANCELLED


def test_an_update_with_cancelled_at_set_is_a_cancel(shop, django_capture_on_commit_callbacks):
    processed(shop, raw("eu_create"), django_capture_on_commit_callbacks)
    message = processed(
        shop, raw("eu_cancelled"), django_capture_on_commit_callbacks, topic="orders/updated"
    )
    assert (message.status, message.event) == ("ACCEPTED", "cancel")
    assert Order.objects.get().status.system_state == SystemState.CANCELLED


def test_an_older_version_arriving_after_a_newer_one_is_stale(
    shop, django_capture_on_commit_callbacks
):
    processed(shop, raw("eu_create"), django_capture_on_commit_callbacks)
    edit = processed(
        shop, raw("eu_edited"), django_capture_on_commit_callbacks, topic="orders/updated"
    )
    stale = processed(
        shop, raw("eu_stale"), django_capture_on_commit_callbacks, topic="orders/updated"
    )
    assert stale.status == "STALE"
    assert f"before message {edit.pk}" in stale.reasons[0]
    order = Order.objects.get()
    assert (order.total, order.item_count) == (Decimal("281.01"), 4)


@pytest.mark.parametrize("topic", ["orders/paid", "products/update", ""])
def test_a_topic_not_subscribed_here_is_refused(shop, topic):
    response = deliver(shop, raw("eu_create"), topic=topic)
    assert response.status_code == 400
    assert "orders/create, orders/updated, orders/cancelled" in response.json()["error"]
    assert not IntakeMessage.objects.exists()


def _with_line(index: int, **fields) -> dict:
    payload = json.loads(raw("eu_create"))
    payload["line_items"][index] |= fields
    return payload


@pytest.mark.parametrize(
    "payload,reason",
    [
        (_with_line(1, quantity="two"), "line_items[1].quantity: not a whole number ('two')"),
        (_with_line(0, price="249,00"), "line_items[0].price: not an amount ('249,00')"),
        (_with_line(2, sku="", variant_id=None), "line_items[2].sku: missing"),
        (_with_line(0, sku="X" * 65), "line_items[0].sku: at most 64 characters (this has 65)"),
        (
            _with_line(0, tax_lines=[{"price": "38.89", "rate": "lots", "title": "BTW"}]),
            "line_items[0].tax_lines[0].rate: not a rate ('lots')",
        ),
        (
            _with_line(1, current_quantity=3),
            "line_items[1].current_quantity: 3 is more than its quantity 2",
        ),
        (
            json.loads(raw("eu_create")) | {"email": "sanne(at)example.nl"},
            "email: 'sanne(at)example.nl' is not an email address",
        ),
        (
            json.loads(raw("eu_create")) | {"currency": "USD"},
            "currency: USD, but Acme Outfitters sells in EUR",
        ),
        (
            json.loads(raw("eu_create")) | {"financial_status": "voided"},
            "financial_status: voided: the payment was voided in Shopify; this order is not taken",
        ),
        (
            json.loads(raw("eu_create")) | {"order_number": "#" + "1" * 60},
            "order_number: longer than 50 characters",
        ),
    ],
)
def test_a_bad_field_is_named_as_shopify_names_it(
    shop, payload, reason, django_capture_on_commit_callbacks
):
    message = processed(shop, json.dumps(payload).encode(), django_capture_on_commit_callbacks)
    assert message.status == "REJECTED"
    assert reason in message.reasons, message.reasons
    assert not Order.objects.exists()


def test_an_update_that_changes_nothing_is_taken_past_new(
    shop, manager, retailer, django_capture_on_commit_callbacks
):
    """Shopify sends orders/updated when only a tag, a note or its own fulfilment changed."""
    processed(shop, raw("eu_create"), django_capture_on_commit_callbacks)
    order = Order.objects.get()
    order_set_status(order=order, status=status_for(retailer, "PROCESSING"), by=manager)
    body = changed("eu_create", updated_at="2026-11-24T16:20:00+01:00", tags="verzonden")
    message = processed(shop, body, django_capture_on_commit_callbacks, topic="orders/updated")
    assert (message.status, message.reasons) == ("ACCEPTED", ["nothing to change"])
    order.refresh_from_db()
    assert (order.status.system_state, order.total) == (SystemState.PROCESSING, Decimal("291.42"))


def test_an_edit_of_an_order_past_new_is_refused(
    shop, manager, retailer, django_capture_on_commit_callbacks
):
    processed(shop, raw("eu_create"), django_capture_on_commit_callbacks)
    order = Order.objects.get()
    order_set_status(order=order, status=status_for(retailer, "PROCESSING"), by=manager)
    message = processed(
        shop, raw("eu_edited"), django_capture_on_commit_callbacks, topic="orders/updated"
    )
    assert message.status == "REJECTED"
    assert "can only change while it is New" in message.reasons[0]
    order.refresh_from_db()
    assert order.total == Decimal("291.42")


def test_the_external_id_is_the_order_number_as_read():
    data = json.loads(raw("eu_create"))
    adapter = ShopifyAdapter()
    assert adapter.external_id(data) == adapter.read(data, topic="orders/create").external_id
    assert adapter.external_id(data) == "1001"


def test_the_signature_is_shopifys():
    body = raw("eu_create")
    assert ShopifyAdapter().sign(SECRET, body) == shopify_signature(SECRET, body)


@pytest.mark.parametrize(
    "gateways,method",
    [
        (["shopify_payments"], "card"),
        (["stripe"], "card"),
        (["paypal"], "paypal"),
        (["Klarna"], "klarna"),
        (["mollie_ideal"], "ideal"),
        (["gift_card"], "gift_card"),
        (["gift_card", "shopify_payments"], "card"),
        (["gift_card", "paypal"], "paypal"),
        (["manual"], "bank_transfer"),
        (["Bank Deposit"], "bank_transfer"),
        (["Cash on Delivery (COD)"], "bank_transfer"),
        ([], "card"),
    ],
)
def test_the_payment_method_from_the_gateways(gateways, method):
    assert payment_method(gateways) == method


@pytest.mark.parametrize(
    "quantity,before,after,unit,discount",
    [
        (2, "49.80", "44.82", "24.90", "4.98"),  # whole cents a unit: as given
        (3, "10.00", "10.00", "3.34", "0.02"),  # 3.333...: rounded up, the cents a discount
        (2, "75.93", "70.50", "37.97", "5.44"),
        (1, "13.02", "13.02", "13.02", "0.00"),
    ],
)
def test_a_line_from_what_its_units_came_to(quantity, before, after, unit, discount):
    line = line_from_totals(
        sku="A",
        name="A",
        quantity=quantity,
        before_discount=Decimal(before),
        after_discount=Decimal(after),
    )
    assert (line.unit_price, line.discount) == (Decimal(unit), Decimal(discount))
    assert line.unit_price * line.quantity - line.discount == Decimal(after)


def test_the_message_page_names_the_topic_and_the_delivery(
    shop, client_for, admin_user, django_capture_on_commit_callbacks
):
    message = processed(shop, raw("tip"), django_capture_on_commit_callbacks)
    page = client_for(admin_user).get(reverse("intake:message", args=[message.pk]))
    text = page.content.decode()
    assert "orders/create" in text and message.delivery_id in text
    assert "total_price: 34.95 does not add up to the lines and shipping (29.95): 5.00 more" in text


def test_a_new_customer_is_a_customer_since_the_order_the_platform_placed_earlier(
    shop, retailer, django_capture_on_commit_callbacks
):
    # given Shopify's order placed on 24 November, taken today
    message = processed(shop, raw("eu_create"), django_capture_on_commit_callbacks)
    order = message.order
    # then its new customer is a customer since that order, which contradicts nothing
    assert order.customer.created_at == order.placed_at < message.received_at
    found = consistency.contradictions([retailer])
    assert not [c for c in found if c.rule == "customer-since-after-first-order"], found
