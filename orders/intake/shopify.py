"""Shopify's order webhooks, as Shopify sends them.

Shopify signs each delivery with `X-Shopify-Hmac-Sha256`: base64 of the HMAC-SHA256 of the raw
body, keyed with the app's secret (here, the channel's secret). `X-Shopify-Topic` says what
happened and `X-Shopify-Webhook-Id` is the same on every retry of one delivery.

How an order of the REST Admin API's shape reads here:

- Its id is `order_number` (1001 of "#1001"): every topic carries it and people know it, so the
  order's ref reads `<CHANNEL CODE>-1001`.
- The event is the topic's meaning (orders/create, orders/updated, orders/cancelled), except that
  an order with `cancelled_at` set is a cancel whatever the topic. `updated_at` is when Shopify
  sent this version (an older version never overwrites a newer one), `created_at` when it was
  placed.
- Money is the shop's: `currency` and each `*_set.shop_money`, as the plain amounts carry it;
  `presentment_currency` and every `presentment_money` are what the buyer saw and are ignored.
- A line is `current_quantity` units when Shopify sends it (the quantity after order edits and
  removals; a line at 0 is gone), else `quantity`, at `price` less its `discount_allocations`.
  Its tax is the sum of its `tax_lines` prices and its rate the sum of their rates, in percent.
  With `taxes_included` (prices include tax, as in the EU) the line comes to price * quantity
  less its discounts. Without it (tax added on top, as in the US) the discounts are net and the
  tax lines are charged after them: the line comes to price * quantity - discounts + tax, its
  unit price is the price with its tax and its discount the discount with its tax. A line whose
  quantity went down in an edit keeps that share of its discounts and tax. A gift card sold
  (`gift_card`) carries no tax.
- Shipping is each shipping line's `discounted_price` (plus its tax lines when taxes are added
  on top); a line Shopify marks `is_removed` no longer counts. Its first title is the delivery
  method.
- With no `shipping_address`, an order whose items need shipping is collected (Shopify's local
  pickup): click and collect at the location its shipping line names. One with nothing to ship
  (a gift card, a download) has no shipping address.
- The total is `current_total_price` when sent (what the order comes to after edits and
  refunds), else `total_price`, and the order must come to it to the cent: a tip, a duty or a
  refund of money alone is in Shopify's total and on no line, so such an order is refused with
  the difference named, for a person to decide.
- A line without `sku` takes `shopify-variant-<variant_id>`, so a product with no SKU (a gift
  card, often) still makes a line; one with neither is refused.
- The payment method comes from `payment_gateway_names`: the first gateway other than
  `gift_card` decides (PayPal, Klarna and iDEAL by name; manual ones, bank deposit, money order
  and cash on delivery as a bank transfer; Shopify Payments, Stripe and any other as a card). A
  gift card alone is a gift card; a gift card with a card is a card, and the total still
  includes what the gift card paid. The payment's reference is the order's
  `admin_graphql_api_id` (its `id` without one): where Shopify keeps the order's transactions.
- `financial_status`: billing has no way to record money taken on another platform, so the
  order's payment is recorded as authorised for its total, as every channel's is. `pending`
  (money still to come, as by bank transfer), `authorized`, `partially_paid`, `paid` and
  `partially_refunded` are taken (a refund of removed items shows in `current_quantity` and
  `current_total_price`; one of money alone makes the total differ, refused as above).
  `voided` and `expired` are refused: Shopify holds no payment for such an order, so it is
  not to be fulfilled unless a person decides so. `refunded` is taken when the order still adds
  up (every item removed leaves no line, and is refused for that).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from billing.models import Payment
from customers.models import Address, Customer
from oms import bounds
from orders.intake.adapters import (
    MAX_LINES,
    Adapter,
    CanonicalAddress,
    CanonicalLine,
    CanonicalOrder,
    _check_id,
    _Reader,
    line_from_totals,
)
from orders.models import Order, OrderLine

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
TAKEN = ("pending", "authorized", "partially_paid", "paid", "partially_refunded", "refunded")
REFUSED = {
    "voided": "the payment was voided in Shopify",
    "expired": "the authorisation expired in Shopify",
}
# words in a gateway's name, and the method they mean; the first that matches decides
GATEWAYS = (
    ("paypal", Payment.Method.PAYPAL),
    ("klarna", Payment.Method.KLARNA),
    ("ideal", Payment.Method.IDEAL),
    ("manual", Payment.Method.BANK_TRANSFER),
    ("bank", Payment.Method.BANK_TRANSFER),
    ("money order", Payment.Method.BANK_TRANSFER),
    ("cash on delivery", Payment.Method.BANK_TRANSFER),
)


def payment_method(gateways: list[str]) -> str:
    """What `payment_gateway_names` paid with, as a payment method here."""
    names = [name.strip().lower() for name in gateways if name.strip()]
    paid_with = [name for name in names if name != "gift_card"]
    if not paid_with:
        return Payment.Method.GIFT_CARD if names else Payment.Method.CARD
    for word, method in GATEWAYS:
        if word in paid_with[0]:
            return method
    return Payment.Method.CARD


def _rate(value: Any) -> Decimal:
    """A tax rate as Shopify gives it: a fraction (0.21 for 21%)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError("Not a rate.")
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"Not a rate ({str(value)[:20]!r}).") from None
    if not rate.is_finite() or not 0 <= rate <= 1:
        raise ValidationError(f"{str(value)[:20]} is not a rate between 0 and 1.")
    return rate


def _share(amount: Decimal, part: int, whole: int) -> Decimal:
    """`part` of `whole` units' worth of `amount`, in cents."""
    if part == whole:
        return amount
    return (amount * part / whole).quantize(CENT, ROUND_HALF_UP)


class ShopifyAdapter(Adapter):
    signature_header = "X-Shopify-Hmac-Sha256"
    topic_header = "X-Shopify-Topic"
    delivery_header = "X-Shopify-Webhook-Id"
    topics = {"orders/create": "create", "orders/updated": "update", "orders/cancelled": "cancel"}

    signature_encoding = "base64"
    exact_total = True

    NAMES = {
        "id": "order_number",
        "phone": "phone",
        "currency": "currency",
        "total": "total_price",
        "sku": "line_items[{index}].sku",
    }

    def external_id(self, data: dict) -> str:
        return str(data.get("order_number") or "")

    def read(self, data: dict, retailer: Any = None, topic: str = "") -> CanonicalOrder:
        r = _Reader(retailer)
        _check_id(data.get("order_number"), "order_number", r.faults)
        order = CanonicalOrder(external_id=self.external_id(data))
        order.event = self.topics.get(topic, "create")
        if data.get("cancelled_at"):
            order.event = "cancel"
        order.placed_at = r.moment(data.get("created_at"), "created_at")
        order.sent_at = r.sent(data.get("updated_at"), "updated_at", order.placed_at)
        if order.event == "cancel":
            return r.done(order)
        status = r.text(data.get("financial_status"), "financial_status")
        if status in REFUSED:
            r.fault("financial_status", f"{status}: {REFUSED[status]}; this order is not taken")
        elif status and status not in TAKEN:
            r.fault("financial_status", f"{status[:40]!r} is not a status Shopify gives")
        order.currency = r.text(data.get("currency"), "currency", Order, "currency").upper()
        self._customer(r, data, order)
        included = data.get("taxes_included")
        if not isinstance(included, bool):
            r.fault("taxes_included", "must be true or false")
            included = True
        ships = self._lines(r, data, order, included=included)
        titles = self._shipping(r, data, order, included=included)
        self._delivery(r, data, order, ships=ships, titles=titles)
        r.lines_total(order, "line_items")
        where = self._total_field(data)
        if data.get(where) is None:
            r.fault(where, "missing")
        else:
            order.total = r.money(data[where], where)
            if not r.faults:
                self._check_total(r, order, where)
        gateways = r.array(data.get("payment_gateway_names"), "payment_gateway_names")
        names = [r.text(n, f"payment_gateway_names[{i}]") for i, n in enumerate(gateways)]
        order.payment_method = payment_method(names)
        reference = data.get("admin_graphql_api_id") or data.get("id")
        order.payment_reference = r.text(
            reference,
            "admin_graphql_api_id" if data.get("admin_graphql_api_id") else "id",
            Payment,
            "provider_reference",
        )
        return r.done(order)

    @staticmethod
    def _customer(r: _Reader, data: dict, order: CanonicalOrder) -> None:
        customer = r.object(data.get("customer"), "customer")
        billing = (
            data.get("billing_address") if isinstance(data.get("billing_address"), dict) else {}
        )
        shipping = (
            data.get("shipping_address") if isinstance(data.get("shipping_address"), dict) else {}
        )
        email = next(
            (
                (value, where)
                for value, where in (
                    (data.get("email"), "email"),
                    (data.get("contact_email"), "contact_email"),
                    (customer.get("email"), "customer.email"),
                )
                if value not in (None, "")
            ),
            (None, "email"),
        )
        order.email = r.email(*email)
        for name, column in (("first_name", "first_name"), ("last_name", "last_name")):
            value, where = next(
                (
                    (source.get(name), f"{prefix}{name}")
                    for source, prefix in (
                        (customer, "customer."),
                        (billing, "billing_address."),
                        (shipping, "shipping_address."),
                    )
                    if source.get(name) not in (None, "")
                ),
                (None, f"customer.{name}"),
            )
            setattr(order, name, r.text(value, where, Customer, column))
        if data.get("phone") not in (None, ""):
            order.phone = r.phone(data["phone"], "phone")
        else:
            order.phone = r.phone(customer.get("phone"), "customer.phone")

    @staticmethod
    def _lines(r: _Reader, data: dict, order: CanonicalOrder, *, included: bool) -> bool:
        """Read `line_items` into the order's lines; whether any of them is to be shipped."""
        items = r.array(data.get("line_items"), "line_items")
        if not items:
            r.fault("line_items", "an order needs at least one line")
        elif len(items) > MAX_LINES:
            r.fault(
                "line_items", f"{len(items)} lines, more than the {MAX_LINES} an order may have"
            )
            items = []
        ships = False
        for index, item in enumerate(items):
            where = f"line_items[{index}]"
            if not isinstance(item, dict):
                r.fault(where, "must be an object")
                order.lines.append(CanonicalLine("", "", 0, ZERO))  # keeps indexes
                continue
            line = ShopifyAdapter._line(r, item, where, included=included)
            if line is None:
                continue  # removed from the order in an edit
            order.lines.append(line)
            ships = ships or item.get("requires_shipping") is True
        if items and not order.lines:
            r.fault("line_items", "every line's current_quantity is 0: nothing is left to order")
        return ships

    @staticmethod
    def _line(r: _Reader, item: dict, where: str, *, included: bool) -> CanonicalLine | None:
        quantity = r.quantity(item.get("quantity"), f"{where}.quantity")
        current = quantity
        if item.get("current_quantity") is not None:
            current = r.check(
                f"{where}.current_quantity",
                lambda v: bounds.check_quantity(v, least=0),
                item["current_quantity"],
                quantity,
            )
            if current > quantity > 0:
                r.fault(
                    f"{where}.current_quantity", f"{current} is more than its quantity {quantity}"
                )
                current = quantity
        sku = item.get("sku")
        if sku in (None, "") and item.get("variant_id") not in (None, ""):
            sku = f"shopify-variant-{item['variant_id']}"
        sku = r.text(sku, f"{where}.sku", OrderLine, "sku", required=True)
        if item.get("name") not in (None, ""):
            name = r.text(item["name"], f"{where}.name", OrderLine, "name")
        else:
            name = r.text(item.get("title"), f"{where}.title", OrderLine, "name")
        price = r.money(item.get("price"), f"{where}.price")
        discount = ZERO
        allocations = r.array(item.get("discount_allocations"), f"{where}.discount_allocations")
        for i, allocation in enumerate(allocations):
            at = f"{where}.discount_allocations[{i}]"
            discount += r.money(r.object(allocation, at).get("amount"), f"{at}.amount")
        tax, rate = ZERO, ZERO
        for i, tax_line in enumerate(r.array(item.get("tax_lines"), f"{where}.tax_lines")):
            at = f"{where}.tax_lines[{i}]"
            tax_line = r.object(tax_line, at)
            tax += r.money(tax_line.get("price"), f"{at}.price")
            rate += r.check(f"{at}.rate", _rate, tax_line.get("rate"), ZERO)
        if rate > 1:
            r.fault(f"{where}.tax_lines", f"rates adding up to {rate}, more than 1")
            rate = ZERO
        if item.get("gift_card") is True:
            tax, rate = ZERO, ZERO  # a gift card is taxed when it is spent, not when it is sold
        if current == 0 or quantity == 0:
            return None if current == 0 and quantity > 0 else CanonicalLine(sku, name, 0, ZERO)
        units = price * quantity
        if discount > units:
            r.fault(f"{where}.discount_allocations", f"{discount} is more than the line's {units}")
            discount = ZERO
        if included:
            before, after = units, units - discount
        else:
            after = units - discount + tax
            # the discount with the tax it took off: what the units cost with their tax
            before = after + (discount * (1 + rate)).quantize(CENT, ROUND_HALF_UP)
        return line_from_totals(
            sku=sku,
            name=name,
            quantity=current,
            before_discount=_share(before, current, quantity),
            after_discount=_share(after, current, quantity),
            tax=_share(tax, current, quantity),
            tax_rate=(rate * 100).quantize(CENT, ROUND_HALF_UP),
        )

    @staticmethod
    def _shipping(r: _Reader, data: dict, order: CanonicalOrder, *, included: bool) -> list:
        """Add up the shipping lines still on the order; their titles, as (title, where)."""
        titles = []
        for index, line in enumerate(r.array(data.get("shipping_lines"), "shipping_lines")):
            where = f"shipping_lines[{index}]"
            line = r.object(line, where)
            if not line or line.get("is_removed") is True:
                continue
            if line.get("discounted_price") is not None:
                amount = r.money(line["discounted_price"], f"{where}.discounted_price")
            else:
                amount = r.money(line.get("price"), f"{where}.price")
            if not included:
                for i, tax_line in enumerate(r.array(line.get("tax_lines"), f"{where}.tax_lines")):
                    at = f"{where}.tax_lines[{i}]"
                    amount += r.money(r.object(tax_line, at).get("price"), f"{at}.price")
            order.shipping += amount
            title = line.get("title") if line.get("title") not in (None, "") else line.get("code")
            titles.append((title, f"{where}.title" if line.get("title") else f"{where}.code"))
        return titles

    @staticmethod
    def _delivery(
        r: _Reader, data: dict, order: CanonicalOrder, *, ships: bool, titles: list
    ) -> None:
        """Where the order goes: its shipping address, the location it is collected at, or
        nowhere (nothing to ship)."""
        if titles:
            order.delivery_method = r.text(*titles[0], Order, "delivery_method")
        raw = data.get("shipping_address")
        if raw not in (None, {}):
            raw = r.object(raw, "shipping_address")
            order.shipping_address = ShopifyAdapter._address(r, raw, "shipping_address", order)
        elif ships:
            order.shipping_address = None
            order.type = "CC"
            if not titles:
                r.fault("shipping_address", "missing, and no shipping line names a pickup location")
            else:
                order.collection_location = r.text(*titles[0], Order, "collection_location")
        else:
            order.shipping_address = None
            order.delivery_method = order.delivery_method or "No shipping required"
        raw = data.get("billing_address")
        if raw not in (None, {}):
            raw = r.object(raw, "billing_address")
            order.billing_address = ShopifyAdapter._address(r, raw, "billing_address", order)

    @staticmethod
    def _address(r: _Reader, raw: dict, where: str, order: CanonicalOrder) -> CanonicalAddress:
        if raw.get("name") not in (None, ""):
            name = r.text(raw["name"], f"{where}.name", Address, "name")
        else:
            parts = [raw.get("first_name"), raw.get("last_name")]
            name = " ".join(str(p) for p in parts if p not in (None, "") and isinstance(p, str))
            name = name or f"{order.first_name} {order.last_name}".strip()
            name = r.fits(name, f"{where}.first_name and last_name", Address, "name")
        if raw.get("country_code") not in (None, ""):
            country = r.country(raw["country_code"], f"{where}.country_code")
        else:
            country = r.country(raw.get("country"), f"{where}.country")
        phone = order.phone
        if raw.get("phone") not in (None, ""):
            phone = r.phone(raw["phone"], f"{where}.phone")
        return CanonicalAddress(
            name=name,
            company=r.text(raw.get("company"), f"{where}.company", Address, "company"),
            line1=r.text(raw.get("address1"), f"{where}.address1", Address, "line1", required=True),
            line2=r.text(raw.get("address2"), f"{where}.address2", Address, "line2"),
            postcode=r.text(raw.get("zip"), f"{where}.zip", Address, "postcode"),
            city=r.text(raw.get("city"), f"{where}.city", Address, "city", required=True),
            country=country,
            phone=phone,
        )

    @staticmethod
    def _total_field(data: dict) -> str:
        """What the order comes to now: `current_total_price` once an edit or a refund made it
        differ from `total_price` (named as such, for a person reading why it was refused)."""
        current = data.get("current_total_price")
        if current is None or current == data.get("total_price"):
            return "total_price"
        return "current_total_price"

    @staticmethod
    def _check_total(r: _Reader, order: CanonicalOrder, where: str) -> None:
        """Shopify's total is exact: the order must come to it to the cent (named by the field
        it was read from, `current_total_price` after an edit)."""
        expected = sum(
            (line.unit_price * line.quantity - line.discount for line in order.lines),
            order.shipping,
        )
        difference = order.total - expected
        if difference:
            r.fault(
                where,
                f"{order.total} does not add up to the lines and shipping ({expected}): "
                f"{abs(difference)} {'more' if difference > 0 else 'less'}",
            )
