"""Channel formats into one canonical order. Each adapter reads its channel's own names, nesting,
money and address shapes; nothing after it knows which channel an order came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

MAX_AMOUNT = Decimal("1000000000")  # money fields hold 12 digits, two after the point
MAX_ID_LENGTH = 50


def _check_id(value: Any, where: str, errors: list[str]) -> None:
    """A channel's order id is a text or a number, short enough to make an order ref."""
    if value in (None, ""):
        return
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.append(f"{where}: must be a text or a number")
    elif len(str(value)) > MAX_ID_LENGTH:
        errors.append(f"{where}: longer than {MAX_ID_LENGTH} characters")


class MappingError(Exception):
    """The message cannot be read as an order; `reasons` say which fields and why."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass
class CanonicalAddress:
    name: str = ""
    line1: str = ""
    line2: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""
    phone: str = ""


@dataclass
class CanonicalLine:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal


@dataclass
class CanonicalOrder:
    external_id: str
    event: str = "create"  # create, update or cancel
    currency: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    shipping_address: CanonicalAddress = field(default_factory=CanonicalAddress)
    billing_address: CanonicalAddress | None = None
    lines: list[CanonicalLine] = field(default_factory=list)
    shipping: Decimal = Decimal("0.00")
    total: Decimal | None = None
    payment_method: str = ""
    placed_at: datetime | None = None


def _money(value: Any, where: str, errors: list[str], *, cents: bool = False) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError):
        amount = None
    if amount is None or isinstance(value, bool | list | dict) or not amount.is_finite():
        errors.append(f"{where}: not an amount ({str(value)[:40]!r})")
        return Decimal("0.00")
    amount = amount / 100 if cents else amount
    if abs(amount) >= MAX_AMOUNT:
        errors.append(f"{where}: {amount:.2f} is more than any order holds")
        return Decimal("0.00")
    return amount.quantize(Decimal("0.01"))


def _int(value: Any, where: str, errors: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        errors.append(f"{where}: not a whole number ({value!r})")
        return 0
    return int(value)


def _when(value: Any, where: str = "", errors: list[str] | None = None) -> datetime | None:
    try:
        parsed = parse_datetime(str(value)) if value else None
    except ValueError:
        parsed = None
    if value and parsed is None and errors is not None:
        errors.append(f"{where}: not a date and time ({str(value)[:40]!r})")
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_fixed_timezone(0))
    return parsed


class WebstoreAdapter:
    """{"id", "event", "created_at", "currency", "customer": {email, first_name, last_name,
    phone}, "shipping_address": {name, street, street2, zip, city, country}, "billing_address",
    "lines": [{sku, title, qty, price}], "shipping_cost", "total", "payment": {method}}"""

    def external_id(self, data: dict) -> str:
        return str(data.get("id") or "")

    def read(self, data: dict) -> CanonicalOrder:
        errors: list[str] = []
        _check_id(data.get("id"), "id", errors)
        order = CanonicalOrder(external_id=self.external_id(data))
        order.event = {"cancelled": "cancel", "updated": "update"}.get(data.get("event"), "create")
        if order.event == "cancel":
            return order
        customer = data.get("customer") or {}
        order.currency = str(data.get("currency") or "").upper()
        order.email = str(customer.get("email") or "")
        order.first_name = str(customer.get("first_name") or "")
        order.last_name = str(customer.get("last_name") or "")
        order.phone = str(customer.get("phone") or "")
        order.shipping_address = self._address(data.get("shipping_address") or {}, order)
        if data.get("billing_address"):
            order.billing_address = self._address(data["billing_address"], order)
        for index, line in enumerate(data.get("lines") or []):
            where = f"lines[{index}]"
            order.lines.append(
                CanonicalLine(
                    sku=str(line.get("sku") or ""),
                    name=str(line.get("title") or ""),
                    quantity=_int(line.get("qty"), f"{where}.qty", errors),
                    unit_price=_money(line.get("price"), f"{where}.price", errors),
                )
            )
        order.shipping = _money(data.get("shipping_cost") or 0, "shipping_cost", errors)
        if data.get("total") is not None:
            order.total = _money(data["total"], "total", errors)
        order.payment_method = str((data.get("payment") or {}).get("method") or "card")
        order.placed_at = _when(data.get("created_at"), "created_at", errors)
        if errors:
            raise MappingError(errors)
        return order

    @staticmethod
    def _address(raw: dict, order: CanonicalOrder) -> CanonicalAddress:
        return CanonicalAddress(
            name=str(raw.get("name") or f"{order.first_name} {order.last_name}".strip()),
            line1=str(raw.get("street") or ""),
            line2=str(raw.get("street2") or ""),
            postcode=str(raw.get("zip") or ""),
            city=str(raw.get("city") or ""),
            country=str(raw.get("country") or "").upper(),
            phone=order.phone,
        )


class MarketplaceAdapter:
    """{"orderNumber", "status", "orderDate", "buyer": {"name": {given, family}, "contact":
    {mail, phoneNumber}}, "delivery": {"address": {addressLines[], postalCode, town,
    countryCode}, "fee": {amount (cents), currency}}, "items": [{"offer": {sku, label},
    quantity, "unitPrice": {amount (cents), currency}}], "totals": {"grandTotal": {amount,
    currency}}}"""

    def external_id(self, data: dict) -> str:
        return str(data.get("orderNumber") or "")

    def read(self, data: dict) -> CanonicalOrder:
        errors: list[str] = []
        _check_id(data.get("orderNumber"), "orderNumber", errors)
        order = CanonicalOrder(external_id=self.external_id(data))
        status = str(data.get("status") or "NEW").upper()
        order.event = {"CANCELLED": "cancel", "AMENDED": "update"}.get(status, "create")
        if order.event == "cancel":
            return order
        buyer = data.get("buyer") or {}
        name, contact = buyer.get("name") or {}, buyer.get("contact") or {}
        order.first_name, order.last_name = (
            str(name.get("given") or ""),
            str(name.get("family") or ""),
        )
        order.email, order.phone = (
            str(contact.get("mail") or ""),
            str(contact.get("phoneNumber") or ""),
        )
        delivery = data.get("delivery") or {}
        address = delivery.get("address") or {}
        lines = list(address.get("addressLines") or [])
        order.shipping_address = CanonicalAddress(
            name=f"{order.first_name} {order.last_name}".strip(),
            line1=str(lines[0]) if lines else "",
            line2=" ".join(str(x) for x in lines[1:]),
            postcode=str(address.get("postalCode") or ""),
            city=str(address.get("town") or ""),
            country=str(address.get("countryCode") or "").upper(),
            phone=order.phone,
        )
        currencies = set()
        for index, item in enumerate(data.get("items") or []):
            where = f"items[{index}]"
            offer, price = item.get("offer") or {}, item.get("unitPrice") or {}
            currencies.add(str(price.get("currency") or "").upper())
            order.lines.append(
                CanonicalLine(
                    sku=str(offer.get("sku") or ""),
                    name=str(offer.get("label") or ""),
                    quantity=_int(item.get("quantity"), f"{where}.quantity", errors),
                    unit_price=_money(
                        price.get("amount"), f"{where}.unitPrice.amount", errors, cents=True
                    ),
                )
            )
        fee = delivery.get("fee") or {}
        order.shipping = _money(fee.get("amount") or 0, "delivery.fee.amount", errors, cents=True)
        grand = (data.get("totals") or {}).get("grandTotal") or {}
        if grand.get("amount") is not None:
            order.total = _money(grand["amount"], "totals.grandTotal.amount", errors, cents=True)
            currencies.add(str(grand.get("currency") or "").upper())
        currencies.discard("")
        if len(currencies) > 1:
            errors.append(f"items: more than one currency ({', '.join(sorted(currencies))})")
        order.currency = next(iter(currencies), "")
        order.payment_method = "paypal"
        order.placed_at = _when(data.get("orderDate"), "orderDate", errors)
        if errors:
            raise MappingError(errors)
        return order


class BatchAdapter(WebstoreAdapter):
    """Batch files carry the web store's shape, one order a line (JSON lines) or a row (CSV
    with one line per row, grouped by id)."""


ADAPTERS = {
    "webstore": WebstoreAdapter(),
    "marketplace": MarketplaceAdapter(),
    "batch": BatchAdapter(),
}
