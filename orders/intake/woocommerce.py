"""WooCommerce's order webhooks, as WooCommerce sends them.

WooCommerce signs each delivery with `X-WC-Webhook-Signature`: base64 of the HMAC-SHA256 of the
raw body, keyed with the webhook's secret (here, the channel's secret). `X-WC-Webhook-Topic`
says what happened. When a webhook is saved, WooCommerce first sends an unsigned ping whose body
is only `webhook_id=<id>`, form-encoded (`WC_Webhook::deliver_ping`), and keeps the webhook only
when it is answered 200.

`X-WC-Webhook-Delivery-ID` is a hash of the webhook's id and the current second
(`WC_Webhook::get_new_delivery_id`): two orders delivered by one webhook in the same second share
it. A delivery is therefore known by that id together with a hash of its body, so a delivery
sent again is answered with the message kept the first time, and another order sent in the same
second is still kept.

The body is the order as the REST API (v3) shows it when the delivery is made, and how it is read:

- The order's id is `id`: order.deleted carries only `{"id": n}`, so the id is what every topic
  has; `number` (which a plugin may change) is not used.
- What happened: the topic, except that an order.created or order.updated whose `status` is
  `cancelled`, `refunded` or `trash` cancels the order (a refunded order gave all its money back;
  a shipped one is refused by the order's states and left on the intake desk). An order in
  `pending`, `failed` or `checkout-draft` is not paid: it ends NOT TAKEN, naming its status (not
  a failure), and is taken when WooCommerce sends it again as `processing`, `on-hold` or
  `completed`; when such an abandoned checkout is cancelled, the cancel is NOT TAKEN too.
- When: `date_modified_gmt` is when this version was sent (an older version arriving after a
  newer one is stale), `date_created_gmt` when the order was placed; both are UTC without a
  zone suffix.
- Lines: WooCommerce's line amounts exclude tax whatever `prices_include_tax` says, so a line's
  amount before discounts is `subtotal + subtotal_tax` and after them `total + total_tax`; its
  tax is `total_tax`, and its rate the sum of the `rate_percent` of the `tax_lines` its `taxes`
  name with a non-zero amount (worked out from its amounts where WooCommerce older than 3.7 sends
  no `rate_percent`). Every line needs a `sku`.
- A fee (`fee_lines`) is charged like an item: a positive fee becomes a line with sku `fee` and
  the fee's name, so the order still comes to WooCommerce's total. A negative fee (a discount
  some plugins book as a fee) is refused: nothing here could say what it took off which item.
- Shipping is the sum of the `shipping_lines`, tax included. An order whose shipping method is
  `local_pickup` or `pickup_location` is click and collect at the method's title, with no
  shipping address (WooCommerce puts the pickup location's address there). An order with no
  shipping method and no shipping address (a gift card sent by email) has none either. A
  `state` (a US state, a Spanish province) is kept after the city, as "Portland (OR)"; the
  back office's addresses have no field of their own for it.
- Gift cards redeemed (the WooCommerce Gift Cards extension adds `gift_cards`, each with
  `code` and `amount`, and takes them off the order's `total`) are booked as a discount spread
  over the lines in proportion to what each comes to, so the order comes to WooCommerce's `total`,
  which is what the payment gateway was asked for. Each line keeps the tax WooCommerce charged on
  it; an order whose cards leave a line at less than that tax is refused. A gift card bought is
  an ordinary line.
- Payment: `payment_method` is the gateway's id, read as card (stripe, woocommerce_payments,
  ...), paypal (ppcp-gateway, paypal, ...), bank_transfer (bacs), klarna or ideal (any gateway
  with that in its id), and gift_card when gift cards paid for all of it. Cash on delivery
  (`cod`), cheques and gateways not known here are refused, naming the gateway: no payment method
  of the back office says what they are, and a wrong one would send captures and refunds astray.
  `transaction_id` is the provider's reference.
- Refunds (`refunds`) and coupons (`coupon_lines`) are not read: a coupon's discount is already
  in the lines' totals, and a partial refund is money moved after the order was placed (the
  update that brings it changes nothing here). Nor is a VAT number: the extensions keep it in
  protected meta data, which the REST API leaves out.
- The webhook must use API version "WP REST API Integration v3"; a body in the legacy API's
  shape is refused saying so."""

from __future__ import annotations

import hashlib
import re
from decimal import ROUND_DOWN, Decimal
from typing import Any

from billing.models import Payment
from customers.models import Address, Customer
from oms import bounds
from orders.intake.adapters import (
    MAX_LINES,
    Adapter,
    CanonicalAddress,
    CanonicalLine,
    CanonicalOrder,
    MappingError,
    NotTaken,
    _check_id,
    _Reader,
    line_from_totals,
)
from orders.models import Order, OrderLine

PING = re.compile(rb"webhook_id=\d{1,20}")

CANCELLING = {"cancelled", "refunded", "trash"}
UNPAID = {"pending", "failed", "checkout-draft"}
PICKUP = {"local_pickup", "pickup_location"}
CENT = Decimal("0.01")

# WooCommerce's gateway ids, as the back office's payment methods
GATEWAYS = {
    "stripe": Payment.Method.CARD,
    "stripe_cc": Payment.Method.CARD,
    "woocommerce_payments": Payment.Method.CARD,
    "square_credit_card": Payment.Method.CARD,
    "braintree_credit_card": Payment.Method.CARD,
    "mollie_wc_gateway_creditcard": Payment.Method.CARD,
    "ppcp-gateway": Payment.Method.PAYPAL,
    "ppcp": Payment.Method.PAYPAL,
    "paypal": Payment.Method.PAYPAL,
    "ppec_paypal": Payment.Method.PAYPAL,
    "braintree_paypal": Payment.Method.PAYPAL,
    "mollie_wc_gateway_paypal": Payment.Method.PAYPAL,
    "bacs": Payment.Method.BANK_TRANSFER,
    "mollie_wc_gateway_banktransfer": Payment.Method.BANK_TRANSFER,
    "kco": Payment.Method.KLARNA,
}
NOT_BOOKABLE = {
    "cod": "paid in cash on delivery",
    "cheque": "paid by cheque",
}


class WooCommerceAdapter(Adapter):
    signature_header = "X-WC-Webhook-Signature"
    topic_header = "X-WC-Webhook-Topic"
    delivery_header = "X-WC-Webhook-Delivery-ID"
    topics = {"order.created": "create", "order.updated": "update", "order.deleted": "cancel"}

    signature_encoding = "base64"
    exact_total = True
    NAMES = {
        "id": "id",
        "phone": "billing.phone",
        "currency": "currency",
        "total": "total",
        "sku": "line_items[{index}].sku",
    }

    def is_ping(self, body: bytes) -> bool:
        return PING.fullmatch(body.strip()) is not None

    def delivery_key(self, delivery_id: str, body: bytes) -> str:
        if not delivery_id:
            return ""
        return f"{delivery_id}:{hashlib.sha256(body).hexdigest()[:32]}"

    def external_id(self, data: dict) -> str:
        value = data.get("id")
        return "" if value in (None, "") or isinstance(value, bool) else str(value)

    def read(self, data: dict, retailer: Any = None, topic: str = "") -> CanonicalOrder:
        r = _Reader(retailer)
        if "order" in data and "line_items" not in data:
            r.fault(
                "body",
                "the legacy REST API's shape (an `order` object); set the webhook's API version "
                "to WP REST API Integration v3",
            )
            raise MappingError(r.faults)
        _check_id(data.get("id"), "id", r.faults)
        order = CanonicalOrder(external_id=self.external_id(data))
        order.event = self.topics.get(topic, "create")
        status = ""
        if order.event != "cancel":
            status = r.text(data.get("status"), "status", required=True)
            if status in CANCELLING:
                order.event = "cancel"
        order.placed_at = r.moment(data.get("date_created_gmt"), "date_created_gmt")
        if topic != "order.deleted" and not data.get("date_modified_gmt"):
            # what tells a newer version from an older one
            r.fault("date_modified_gmt", "missing")
        order.sent_at = r.sent(data.get("date_modified_gmt"), "date_modified_gmt", order.placed_at)
        if order.event == "cancel":
            return r.done(order)
        if status in UNPAID:
            raise NotTaken(
                f"status: {status}: WooCommerce has not been paid for this order; it is taken "
                "when WooCommerce sends it as processing, on-hold or completed"
            )
        billing = r.object(data.get("billing"), "billing")
        shipping = r.object(data.get("shipping"), "shipping")
        order.currency = r.text(data.get("currency"), "currency", Order, "currency").upper()
        order.email = r.email(billing.get("email"), "billing.email")
        order.first_name = r.text(
            billing.get("first_name"), "billing.first_name", Customer, "first_name"
        )
        order.last_name = r.text(
            billing.get("last_name"), "billing.last_name", Customer, "last_name"
        )
        order.phone = r.phone(billing.get("phone"), "billing.phone")
        rates = self._rates(r, data)
        self._lines(r, data, order, rates)
        self._fees(r, data, order, rates)
        methods = self._shipping(r, data, order)
        if methods & PICKUP:
            order.type = "CC"
            order.shipping_address = None
        elif not methods and not shipping.get("address_1"):
            order.shipping_address = None  # nothing is sent (a gift card by email)
        else:
            order.shipping_address = self._address(r, shipping, "shipping", order)
        if billing.get("address_1"):
            order.billing_address = self._address(r, billing, "billing", order)
        r.lines_total(order, "line_items")
        order.total = r.money(data.get("total"), "total") if "total" in data else None
        if order.total is None:
            r.fault("total", "missing")
        cards = self._gift_cards(r, data, order)
        self._payment(r, data, order, cards)
        return r.done(order)

    @staticmethod
    def _rates(r: _Reader, data: dict) -> dict[str, Decimal | None]:
        """Each tax rate the order charged, by its `rate_id`: its percentage."""
        rates: dict[str, Decimal | None] = {}
        for index, tax in enumerate(r.array(data.get("tax_lines"), "tax_lines")):
            where = f"tax_lines[{index}]"
            if not isinstance(tax, dict):
                r.fault(where, "must be an object")
                continue
            percent = tax.get("rate_percent")
            rates[str(tax.get("rate_id"))] = (
                None if percent is None else r.money(percent, f"{where}.rate_percent")
            )
        return rates

    @staticmethod
    def _rate(
        r: _Reader, item: dict, where: str, rates: dict, gross: Decimal, tax: Decimal
    ) -> Decimal:
        """The rate of a line: the rates its taxes name with an amount, added up."""
        total = Decimal("0.00")
        for index, taxed in enumerate(r.array(item.get("taxes"), f"{where}.taxes")):
            if not isinstance(taxed, dict):
                r.fault(f"{where}.taxes[{index}]", "must be an object")
                continue
            amount = taxed.get("total")
            if amount in (None, "") or _zero(amount):
                continue
            if str(taxed.get("id")) not in rates:
                r.fault(f"{where}.taxes[{index}].id", "names no rate of tax_lines")
                continue
            percent = rates[str(taxed.get("id"))]
            if percent is None:  # WooCommerce before 3.7: the rate from the amounts
                net = gross - tax
                return (tax * 100 / net).quantize(CENT) if net > 0 else Decimal("0.00")
            total += percent
        return total

    def _lines(self, r: _Reader, data: dict, order: CanonicalOrder, rates: dict) -> None:
        items = r.array(data.get("line_items"), "line_items")
        if not items:
            r.fault("line_items", "an order needs at least one line")
        elif len(items) > MAX_LINES:
            r.fault(
                "line_items", f"{len(items)} lines, more than the {MAX_LINES} an order may have"
            )
            items = []
        for index, item in enumerate(items):
            where = f"line_items[{index}]"
            if not isinstance(item, dict):
                r.fault(where, "must be an object")
                order.lines.append(CanonicalLine("", "", 0, Decimal("0.00")))  # keeps indexes
                continue
            tax = r.money(item.get("total_tax") or 0, f"{where}.total_tax")
            before = r.money(item.get("subtotal"), f"{where}.subtotal") + r.money(
                item.get("subtotal_tax") or 0, f"{where}.subtotal_tax"
            )
            after = r.money(item.get("total"), f"{where}.total") + tax
            order.lines.append(
                line_from_totals(
                    sku=r.text(item.get("sku"), f"{where}.sku", OrderLine, "sku", required=True),
                    name=r.text(item.get("name"), f"{where}.name", OrderLine, "name"),
                    quantity=r.quantity(item.get("quantity"), f"{where}.quantity"),
                    before_discount=before,
                    after_discount=after,
                    tax=tax,
                    tax_rate=self._rate(r, item, where, rates, after, tax),
                )
            )

    def _fees(self, r: _Reader, data: dict, order: CanonicalOrder, rates: dict) -> None:
        for index, fee in enumerate(r.array(data.get("fee_lines"), "fee_lines")):
            where = f"fee_lines[{index}]"
            if not isinstance(fee, dict):
                r.fault(where, "must be an object")
                continue
            total = r.check(f"{where}.total", _signed_money, fee.get("total"), Decimal("0.00"))
            tax = r.check(
                f"{where}.total_tax",
                _signed_money,
                fee.get("total_tax") or 0,
                Decimal("0.00"),
            )
            gross = total + tax
            if gross < 0:
                r.fault(
                    f"{where}.total",
                    f"a fee of {gross} takes money off the order; a discount booked as a fee "
                    "cannot be read as what it took off each item",
                )
                continue
            if gross == 0:
                continue
            order.lines.append(
                CanonicalLine(
                    sku="fee",
                    name=r.text(fee.get("name"), f"{where}.name", OrderLine, "name") or "Fee",
                    quantity=1,
                    unit_price=gross,
                    tax=tax,
                    tax_rate=self._rate(r, fee, where, rates, gross, tax),
                )
            )

    @staticmethod
    def _shipping(r: _Reader, data: dict, order: CanonicalOrder) -> set[str]:
        """Shipping's cost and method; the ids of the methods."""
        methods, titles = set(), []
        for index, line in enumerate(r.array(data.get("shipping_lines"), "shipping_lines")):
            where = f"shipping_lines[{index}]"
            if not isinstance(line, dict):
                r.fault(where, "must be an object")
                continue
            order.shipping += r.money(line.get("total") or 0, f"{where}.total") + r.money(
                line.get("total_tax") or 0, f"{where}.total_tax"
            )
            methods.add(r.text(line.get("method_id"), f"{where}.method_id"))
            title = r.text(line.get("method_title"), f"{where}.method_title")
            if title:
                titles.append(title)
        order.delivery_method = r.fits(
            ", ".join(titles), "shipping_lines[].method_title", Order, "delivery_method"
        )
        if methods & PICKUP:
            order.collection_location = r.fits(
                order.delivery_method or "Local pickup",
                "shipping_lines[].method_title",
                Order,
                "collection_location",
            )
        return methods

    @staticmethod
    def _address(r: _Reader, raw: dict, where: str, order: CanonicalOrder) -> CanonicalAddress:
        name = f"{raw.get('first_name') or ''} {raw.get('last_name') or ''}".strip()
        if not isinstance(raw.get("first_name") or "", str) or not isinstance(
            raw.get("last_name") or "", str
        ):
            r.fault(f"{where}.first_name", "must be a text")
            name = ""
        name = name or f"{order.first_name} {order.last_name}".strip()
        city = r.text(raw.get("city"), f"{where}.city", required=True)
        state = r.text(raw.get("state"), f"{where}.state")
        return CanonicalAddress(
            name=r.fits(name, f"{where}.first_name and {where}.last_name", Address, "name"),
            company=r.text(raw.get("company"), f"{where}.company", Address, "company"),
            line1=r.text(
                raw.get("address_1"), f"{where}.address_1", Address, "line1", required=True
            ),
            line2=r.text(raw.get("address_2"), f"{where}.address_2", Address, "line2"),
            postcode=r.text(raw.get("postcode"), f"{where}.postcode", Address, "postcode"),
            city=r.fits(
                f"{city} ({state})" if state else city,
                f"{where}.city and {where}.state",
                Address,
                "city",
            ),
            country=r.country(raw.get("country"), f"{where}.country"),
            phone=r.phone(raw.get("phone"), f"{where}.phone") or order.phone,
        )

    @staticmethod
    def _gift_cards(r: _Reader, data: dict, order: CanonicalOrder) -> Decimal:
        """The gift cards redeemed, as a discount over the lines in proportion to what each
        comes to (the last takes what rounding leaves); what they came to."""
        redeemed = Decimal("0.00")
        for index, card in enumerate(r.array(data.get("gift_cards"), "gift_cards")):
            if not isinstance(card, dict):
                r.fault(f"gift_cards[{index}]", "must be an object")
                continue
            redeemed += r.money(card.get("amount"), f"gift_cards[{index}].amount")
        if not redeemed or r.faults:
            return redeemed
        totals = [ln.unit_price * ln.quantity - ln.discount for ln in order.lines]
        base = sum(totals, Decimal(0))
        if redeemed > base:
            r.fault(
                "gift_cards",
                f"{redeemed} redeemed, more than the items come to ({base}); the order cannot "
                "be booked with its shipping paid by gift card",
            )
            return redeemed
        left = redeemed
        for index, (line, total) in enumerate(zip(order.lines, totals, strict=True)):
            share = left if index == len(order.lines) - 1 else (redeemed * total / base)
            share = min(share.quantize(CENT, ROUND_DOWN), left, total)
            line.discount += share
            left -= share
            if line.tax is not None and line.tax > total - share:
                r.fault(
                    "gift_cards",
                    f"{redeemed} redeemed leaves line {index + 1} ({line.sku}) at "
                    f"{total - share}, less than the {line.tax} tax WooCommerce charged on it",
                )
        return redeemed

    @staticmethod
    def _payment(r: _Reader, data: dict, order: CanonicalOrder, cards: Decimal) -> None:
        gateway = r.text(data.get("payment_method"), "payment_method")
        title = r.text(data.get("payment_method_title"), "payment_method_title")
        named = f"{gateway[:40]} ({title[:40]})" if title else gateway[:40]
        if cards and order.total == 0:
            order.payment_method = Payment.Method.GIFT_CARD
        elif gateway in GATEWAYS:
            order.payment_method = GATEWAYS[gateway]
        elif "klarna" in gateway:
            order.payment_method = Payment.Method.KLARNA
        elif "ideal" in gateway:
            order.payment_method = Payment.Method.IDEAL
        elif gateway in NOT_BOOKABLE:
            r.fault(
                "payment_method",
                f"{named} is {NOT_BOOKABLE[gateway]}; no payment method here records that, so "
                "the order is entered by hand",
            )
        elif not gateway and order.total == 0:
            order.payment_method = Payment.Method.CARD  # nothing to pay: nothing is taken
        else:
            r.fault(
                "payment_method",
                f"{named or 'missing'}: not a gateway known here "
                f"(known: {', '.join(sorted(GATEWAYS))}, klarna and ideal gateways)",
            )
        order.payment_reference = r.text(
            data.get("transaction_id"), "transaction_id", Payment, "provider_reference"
        )


def _zero(value: Any) -> bool:
    try:
        return Decimal(str(value).strip()) == 0
    except ArithmeticError:
        return False


def _signed_money(value: Any) -> Decimal:
    """An amount that may be below zero (a WooCommerce fee may be)."""
    return bounds.check_money(value, negative=True)
