"""Channel formats into one canonical order. Each adapter reads its channel's own names, nesting,
money and address shapes; nothing after it knows which channel an order came from."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.models import Payment
from customers.models import Address, Customer
from oms import bounds
from orders.models import Order, OrderLine

MAX_ID_LENGTH = 50
MAX_LINES = 10_000
# a channel's clock may run a little ahead; a message "sent" later than that would make every
# real update after it look stale
SENT_AHEAD = timedelta(days=1)


def _check_id(value: Any, where: str, errors: list[str]) -> None:
    """A channel's order id is a text or a number, short enough to make an order ref."""
    if value in (None, ""):
        return
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.append(f"{where}: must be a text or a number")
    elif len(str(value)) > MAX_ID_LENGTH:
        errors.append(f"{where}: longer than {MAX_ID_LENGTH} characters")


class NotTaken(Exception):
    """The platform sent an order this back office does not take yet (a checkout not paid for):
    the message ends NOT TAKEN with the reason, which is not a failure."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class MappingError(Exception):
    """The message cannot be read as an order; `reasons` say which fields and why, in the
    channel's own names. `order` is what could be read (for the checks that do not depend on
    the faulty fields), or None."""

    def __init__(self, reasons: list[str], order: CanonicalOrder | None = None):
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.order = order


@dataclass
class CanonicalAddress:
    name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""
    phone: str = ""


@dataclass
class CanonicalLine:
    """One line; its total is `unit_price * quantity - discount`, tax included. A channel that
    states the tax it charged gives it in `tax` (and its rate in `tax_rate`); else it is worked
    out from the rate."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal = Decimal("0.00")
    tax: Decimal | None = None
    tax_rate: Decimal | None = None


@dataclass
class CanonicalOrder:
    external_id: str
    event: str = "create"  # create, update or cancel
    currency: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    # None when nothing is sent anywhere (collected in store, a gift card by email)
    shipping_address: CanonicalAddress | None = field(default_factory=CanonicalAddress)
    billing_address: CanonicalAddress | None = None
    type: str = "HD"  # an OrderType: HD home delivery, CC click and collect
    collection_location: str = ""  # where a CC order is collected
    delivery_method: str = ""  # as the channel names it ("Standard", "Local pickup")
    lines: list[CanonicalLine] = field(default_factory=list)
    shipping: Decimal = Decimal("0.00")
    total: Decimal | None = None
    payment_method: str = ""
    payment_reference: str = ""  # the provider's id of the authorisation (a Stripe PaymentIntent)
    vat_number: str = ""  # a business buyer's
    placed_at: datetime | None = None
    sent_at: datetime | None = None  # when the channel sent this version of the order


def _reason(where: str, error: ValidationError) -> str:
    text = " ".join(error.messages).rstrip(".")
    return f"{where}: {text[:1].lower()}{text[1:]}"


def _cents(value: Any) -> Decimal:
    """An amount given in cents (a whole number), as money."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError("Not an amount in cents.")
    try:
        cents = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"Not an amount in cents ({str(value)[:40]!r}).") from None
    if not cents.is_finite() or cents != cents.to_integral_value():
        raise ValidationError(f"Not a whole number of cents ({str(value)[:40]!r}).")
    return bounds.check_money(cents.scaleb(-2))


def _quantity(value: Any) -> int:
    return bounds.check_quantity(value, most=bounds.MAX_QUANTITY, least=1)


def line_from_totals(
    *,
    sku: str,
    name: str,
    quantity: int,
    before_discount: Decimal,
    after_discount: Decimal,
    tax: Decimal | None = None,
    tax_rate: Decimal | None = None,
) -> CanonicalLine:
    """A line from what a platform says its units came to before and after discounts, tax
    included. The line's total is exactly `after_discount`. Where `before_discount` does not
    divide into whole cents a unit, the unit price is rounded up and the cent or so it adds is
    part of the discount, so the line still comes to what the platform charged."""
    if quantity <= 0:
        return CanonicalLine(sku, name, quantity, Decimal("0.00"), Decimal("0.00"), tax, tax_rate)
    unit = (before_discount / quantity).quantize(Decimal("0.01"), ROUND_CEILING)
    discount = unit * quantity - after_discount
    return CanonicalLine(sku, name, quantity, unit, discount, tax, tax_rate)


class _Reader:
    """Reads one message, collecting every fault under the channel's own field names; each
    value is held to the bounds of `oms.bounds` and of the column it will land in."""

    def __init__(self, retailer: Any = None):
        self.retailer = retailer
        self.faults: list[str] = []

    def fault(self, where: str, reason: str) -> None:
        self.faults.append(f"{where}: {reason}")

    def check(self, where: str, check, value: Any, default: Any) -> Any:
        try:
            return check(value)
        except ValidationError as error:
            self.faults.append(_reason(where, error))
            return default

    def done(self, order: CanonicalOrder) -> CanonicalOrder:
        if self.faults:
            raise MappingError(self.faults, order)
        return order

    def object(self, value: Any, where: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fault(where, "must be an object")
            return {}
        return value

    def array(self, value: Any, where: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fault(where, "must be a list")
            return []
        return value

    def text(
        self,
        value: Any,
        where: str,
        model: type[models.Model] | None = None,
        name: str = "",
        *,
        required: bool = False,
    ) -> str:
        if value is None or value == "":
            if required:
                self.fault(where, "missing")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fault(where, "must be a text")
            return ""
        text = str(value)
        if required and not text.strip():
            self.fault(where, "missing")
            return ""
        if model is not None:
            text = self.check(where, lambda v: bounds.check_text(v, model, name), text, "")
        return text

    def email(self, value: Any, where: str) -> str:
        text = self.text(value, where, required=True)
        return self.check(where, bounds.check_email, text, "") if text else ""

    def phone(self, value: Any, where: str) -> str:
        text = self.text(value, where)
        return self.check(where, bounds.check_phone, text, "") if text.strip() else ""

    def country(self, value: Any, where: str) -> str:
        text = self.text(value, where, required=True)
        return self.check(where, bounds.country_code, text, "") if text else ""

    def money(self, value: Any, where: str, *, cents: bool = False) -> Decimal:
        return self.check(where, _cents if cents else bounds.check_money, value, Decimal("0.00"))

    def quantity(self, value: Any, where: str) -> int:
        return self.check(where, _quantity, value, 0)

    def moment(self, value: Any, where: str) -> datetime | None:
        """A date and time within the retailer's window; None when not given."""
        if value in (None, ""):
            return None
        parsed = None
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
        if parsed is None:
            self.fault(where, f"not a date and time ({str(value)[:40]!r})")
            return None
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, timezone.get_fixed_timezone(0))
        return self.check(where, lambda v: bounds.check_moment(v, self.retailer), parsed, None)

    def sent(self, value: Any, where: str, fallback: datetime | None) -> datetime | None:
        """When the channel sent this version: its own stamp, else the order date."""
        if value in (None, ""):
            return fallback
        moment = self.moment(value, where)
        if moment is not None and moment > timezone.now() + SENT_AHEAD:
            self.fault(where, f"{moment:%Y-%m-%d %H:%M} is in the future")
            return None
        return moment

    def fits(self, value: str, where: str, model: type[models.Model], name: str) -> str:
        return self.check(where, lambda v: bounds.check_text(v, model, name), value, "")

    def payment_method(self, value: Any, where: str) -> str:
        method = self.text(value, where) or "card"
        if method not in Payment.Method.values:
            self.fault(where, f"{method[:40]!r} is not one of {', '.join(Payment.Method.values)}")
        return method

    def lines_total(self, order: CanonicalOrder, where: str) -> None:
        """The lines and shipping together must fit an amount."""
        total = sum(
            (ln.unit_price * ln.quantity - ln.discount for ln in order.lines), order.shipping
        )
        if total > bounds.MONEY_MAX:
            self.fault(where, f"the order comes to {total:.2E}, more than an amount may be")


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hmac_base64(secret: str, body: bytes) -> str:
    """Base64 of the HMAC-SHA256 of the body: how Shopify and WooCommerce sign."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class Adapter:
    """How one kind of channel sends: the header its signature is in and how it is made, the
    headers naming the event and the delivery, and how its payload reads as an order.

    `topics` maps each event name the platform sends in `topic_header` to what it means here
    (create, update or cancel); a channel whose body says what happened leaves both empty."""

    signature_header = "X-Signature"
    signature_encoding = "hex"  # of the HMAC-SHA256 of the raw body, with the channel's secret
    topic_header = ""
    delivery_header = ""
    topics: dict[str, str] = {}
    # the platform's totals are exact: an order must come to them to the cent, whatever
    # tolerance the channel's rules allow
    exact_total = False
    # canonical names, as this channel calls them (for the checks made after mapping)
    NAMES: dict[str, str] = {}

    def sign(self, secret: str, body: bytes) -> str:
        if self.signature_encoding == "base64":
            return hmac_base64(secret, body)
        return hmac_hex(secret, body)

    def signature_ok(self, secret: str, body: bytes, given: str | None) -> bool:
        return hmac.compare_digest(self.sign(secret, body), (given or "").strip())

    def is_ping(self, body: bytes) -> bool:
        """A platform's unsigned hello when a webhook is set up: answered, never stored."""
        return False

    def delivery_key(self, delivery_id: str, body: bytes) -> str:
        """What names one delivery, from the platform's delivery header: a delivery sent again
        has the same key, two different deliveries never share one."""
        return delivery_id

    def external_id(self, data: dict) -> str:
        raise NotImplementedError

    def read(self, data: dict, retailer: Any = None, topic: str = "") -> CanonicalOrder:
        raise NotImplementedError


class WebstoreAdapter(Adapter):
    """{"id", "event", "created_at", "updated_at", "currency", "customer": {email, first_name,
    last_name, phone, vat_number}, "shipping_address": {name, company, street, street2, zip,
    city, country},
    "billing_address", "lines": [{sku, title, qty, price}], "shipping_cost", "total",
    "payment": {method}}"""

    NAMES = {
        "id": "id",
        "phone": "customer.phone",
        "currency": "currency",
        "total": "total",
        "sku": "lines[{index}].sku",
    }

    def external_id(self, data: dict) -> str:
        return str(data.get("id") or "")

    def read(self, data: dict, retailer: Any = None, topic: str = "") -> CanonicalOrder:
        r = _Reader(retailer)
        _check_id(data.get("id"), "id", r.faults)
        order = CanonicalOrder(external_id=self.external_id(data))
        order.event = {"cancelled": "cancel", "updated": "update"}.get(
            str(data.get("event") or ""), "create"
        )
        order.placed_at = r.moment(data.get("created_at"), "created_at")
        order.sent_at = r.sent(data.get("updated_at"), "updated_at", order.placed_at)
        if order.event == "cancel":
            return r.done(order)
        customer = r.object(data.get("customer"), "customer")
        order.currency = r.text(data.get("currency"), "currency", Order, "currency").upper()
        order.email = r.email(customer.get("email"), "customer.email")
        order.first_name = r.text(
            customer.get("first_name"), "customer.first_name", Customer, "first_name"
        )
        order.last_name = r.text(
            customer.get("last_name"), "customer.last_name", Customer, "last_name"
        )
        order.phone = r.phone(customer.get("phone"), "customer.phone")
        order.vat_number = r.text(
            customer.get("vat_number"), "customer.vat_number", Order, "vat_number"
        )
        order.shipping_address = self._address(
            r, r.object(data.get("shipping_address"), "shipping_address"), "shipping_address", order
        )
        if data.get("billing_address"):
            raw = r.object(data["billing_address"], "billing_address")
            order.billing_address = self._address(r, raw, "billing_address", order)
        lines = r.array(data.get("lines"), "lines")
        if not lines:
            r.fault("lines", "an order needs at least one line")
        elif len(lines) > MAX_LINES:
            r.fault("lines", f"{len(lines)} lines, more than the {MAX_LINES} an order may have")
            lines = []
        for index, line in enumerate(lines):
            where = f"lines[{index}]"
            if not isinstance(line, dict):
                r.fault(where, "must be an object")
                order.lines.append(CanonicalLine("", "", 0, Decimal("0.00")))  # keeps indexes
                continue
            order.lines.append(
                CanonicalLine(
                    sku=r.text(line.get("sku"), f"{where}.sku", OrderLine, "sku", required=True),
                    name=r.text(line.get("title"), f"{where}.title", OrderLine, "name"),
                    quantity=r.quantity(line.get("qty"), f"{where}.qty"),
                    unit_price=r.money(line.get("price"), f"{where}.price"),
                )
            )
        order.shipping = r.money(data.get("shipping_cost") or 0, "shipping_cost")
        r.lines_total(order, "lines")
        if data.get("total") is not None:
            order.total = r.money(data["total"], "total")
        payment = r.object(data.get("payment"), "payment")
        order.payment_method = r.payment_method(payment.get("method"), "payment.method")
        order.payment_reference = r.text(
            payment.get("reference"), "payment.reference", Payment, "provider_reference"
        )
        return r.done(order)

    @staticmethod
    def _address(r: _Reader, raw: dict, where: str, order: CanonicalOrder) -> CanonicalAddress:
        if raw.get("name"):
            name = r.text(raw["name"], f"{where}.name", Address, "name")
        else:
            name = f"{order.first_name} {order.last_name}".strip()
            name = r.fits(name, "customer.first_name and customer.last_name", Address, "name")
        return CanonicalAddress(
            name=name,
            company=r.text(raw.get("company"), f"{where}.company", Address, "company"),
            line1=r.text(raw.get("street"), f"{where}.street", Address, "line1", required=True),
            line2=r.text(raw.get("street2"), f"{where}.street2", Address, "line2"),
            postcode=r.text(raw.get("zip"), f"{where}.zip", Address, "postcode", required=True),
            city=r.text(raw.get("city"), f"{where}.city", Address, "city", required=True),
            country=r.country(raw.get("country"), f"{where}.country"),
            phone=order.phone,
        )


class MarketplaceAdapter(Adapter):
    """{"orderNumber", "status", "orderDate", "lastModified", "buyer": {"name": {given,
    family}, "contact": {mail, phoneNumber}}, "delivery": {"address": {addressLines[],
    postalCode, town, countryCode}, "fee": {amount (cents), currency}}, "items": [{"offer":
    {sku, label}, quantity, "unitPrice": {amount (cents), currency}}], "totals": {"grandTotal":
    {amount, currency}}}"""

    NAMES = {
        "id": "orderNumber",
        "phone": "buyer.contact.phoneNumber",
        "currency": "items[].unitPrice.currency",
        "total": "totals.grandTotal.amount",
        "sku": "items[{index}].offer.sku",
    }

    def external_id(self, data: dict) -> str:
        return str(data.get("orderNumber") or "")

    def read(self, data: dict, retailer: Any = None, topic: str = "") -> CanonicalOrder:
        r = _Reader(retailer)
        _check_id(data.get("orderNumber"), "orderNumber", r.faults)
        order = CanonicalOrder(external_id=self.external_id(data))
        status = str(data.get("status") or "NEW").upper()
        order.event = {"CANCELLED": "cancel", "AMENDED": "update"}.get(status, "create")
        order.placed_at = r.moment(data.get("orderDate"), "orderDate")
        order.sent_at = r.sent(data.get("lastModified"), "lastModified", order.placed_at)
        if order.event == "cancel":
            return r.done(order)
        buyer = r.object(data.get("buyer"), "buyer")
        name = r.object(buyer.get("name"), "buyer.name")
        contact = r.object(buyer.get("contact"), "buyer.contact")
        order.first_name = r.text(name.get("given"), "buyer.name.given", Customer, "first_name")
        order.last_name = r.text(name.get("family"), "buyer.name.family", Customer, "last_name")
        order.email = r.email(contact.get("mail"), "buyer.contact.mail")
        order.phone = r.phone(contact.get("phoneNumber"), "buyer.contact.phoneNumber")
        delivery = r.object(data.get("delivery"), "delivery")
        address = r.object(delivery.get("address"), "delivery.address")
        where = "delivery.address.addressLines"
        lines = r.array(address.get("addressLines"), where)
        rest = [r.text(x, f"{where}[{i}]") for i, x in enumerate(lines[1:], start=1)]
        full_name = f"{order.first_name} {order.last_name}".strip()
        order.shipping_address = CanonicalAddress(
            name=r.fits(full_name, "buyer.name", Address, "name"),
            line1=r.text(
                lines[0] if lines else None, f"{where}[0]", Address, "line1", required=True
            ),
            line2=r.fits(" ".join(x for x in rest if x), f"{where}[1:]", Address, "line2"),
            postcode=r.text(
                address.get("postalCode"),
                "delivery.address.postalCode",
                Address,
                "postcode",
                required=True,
            ),
            city=r.text(
                address.get("town"), "delivery.address.town", Address, "city", required=True
            ),
            country=r.country(address.get("countryCode"), "delivery.address.countryCode"),
            phone=order.phone,
        )
        currencies = set()
        items = r.array(data.get("items"), "items")
        if not items:
            r.fault("items", "an order needs at least one item")
        elif len(items) > MAX_LINES:
            r.fault("items", f"{len(items)} items, more than the {MAX_LINES} an order may have")
            items = []
        for index, item in enumerate(items):
            where = f"items[{index}]"
            if not isinstance(item, dict):
                r.fault(where, "must be an object")
                order.lines.append(CanonicalLine("", "", 0, Decimal("0.00")))  # keeps indexes
                continue
            offer = r.object(item.get("offer"), f"{where}.offer")
            price = r.object(item.get("unitPrice"), f"{where}.unitPrice")
            currency = r.text(
                price.get("currency"), f"{where}.unitPrice.currency", Order, "currency"
            )
            currencies.add(currency.upper())
            order.lines.append(
                CanonicalLine(
                    sku=r.text(
                        offer.get("sku"), f"{where}.offer.sku", OrderLine, "sku", required=True
                    ),
                    name=r.text(offer.get("label"), f"{where}.offer.label", OrderLine, "name"),
                    quantity=r.quantity(item.get("quantity"), f"{where}.quantity"),
                    unit_price=r.money(
                        price.get("amount"), f"{where}.unitPrice.amount", cents=True
                    ),
                )
            )
        fee = r.object(delivery.get("fee"), "delivery.fee")
        order.shipping = r.money(fee.get("amount") or 0, "delivery.fee.amount", cents=True)
        r.lines_total(order, "items")
        totals = r.object(data.get("totals"), "totals")
        grand = r.object(totals.get("grandTotal"), "totals.grandTotal")
        if grand.get("amount") is not None:
            order.total = r.money(grand["amount"], "totals.grandTotal.amount", cents=True)
            currency = r.text(
                grand.get("currency"), "totals.grandTotal.currency", Order, "currency"
            )
            currencies.add(currency.upper())
        currencies.discard("")
        if len(currencies) > 1:
            r.fault("items", f"more than one currency ({', '.join(sorted(currencies))})")
        order.currency = next(iter(currencies), "")
        order.payment_method = "paypal"
        return r.done(order)


class BatchAdapter(WebstoreAdapter):
    """Batch files carry the web store's shape, one order a line (JSON lines) or a row (CSV
    with one line per row, grouped by id)."""
