"""Reading a returnRequest of the Returns API v4.1 into the returns service's input."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from returns.api.representation import ADDRESS_FIELDS
from returns.models import (
    MONEY,
    FulfilmentType,
    Return,
    ReturnFulfilment,
    ReturnItem,
    ReturnStatus,
    ReturnType,
    TaxType,
)
from returns.services import CustomerInput, FulfilmentInput, ItemInput, ReturnInput

# the largest amount and quantity the database holds
MAX_AMOUNT = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])
MAX_QUANTITY = 2**31 - 1


class BadRequest(Exception):
    """The request breaks a rule of the API; the message says which."""


def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


def _text(value: Any, name: str, *, required: bool = False, max_length: int | None = None) -> str:
    if value is None or value == "":
        if required:
            raise BadRequest(f"{name} is compulsory.")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadRequest(f"{name} must be a string.")
    text = str(value).strip()
    if "\x00" in text:
        raise BadRequest(f"{name} must not contain NUL characters.")
    if max_length is not None and len(text) > max_length:
        raise BadRequest(f"{name} must be at most {max_length} characters.")
    return text


def _money(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadRequest(f"{name} must be a number.")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise BadRequest(f"{name} must be a number.") from exc
    if not amount.is_finite():
        raise BadRequest(f"{name} must be a number.")
    if amount < 0:
        raise BadRequest(f"{name} must not be negative.")
    if amount >= MAX_AMOUNT:
        raise BadRequest(f"{name} must be less than {MAX_AMOUNT}.")
    return amount


def _choice(value: Any, name: str, choices: list[str], *, required: bool = False) -> str:
    text = _text(value, name, required=required)
    if text and text not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}.")
    return text


def _object(value: Any, name: str, *, required: bool = False) -> dict | None:
    if value is None:
        if required:
            raise BadRequest(f"{name} is compulsory.")
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be an object.")
    return value


def _array(value: Any, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"{name} must be an array.")
    return value


def is_digits(text: str) -> bool:
    """ASCII digits only, as ids and counts are ("²" is a digit to Python, but no number)."""
    return text.isascii() and text.isdigit()


def retailer_id_of(body: dict) -> int:
    text = _text(body.get("retailerId"), "retailerId", required=True)
    if not is_digits(text):
        raise BadRequest("retailerId must be a retailer's id.")
    return int(text)


def parse_return_request(body: Any, *, retailer_id: int, order) -> ReturnInput:
    if not isinstance(body, dict):
        raise BadRequest("The body must be a returnRequest object.")
    type_ = _choice(body.get("type"), "type", ReturnType.values, required=True)
    status = _choice(body.get("status"), "status", ReturnStatus.values)
    if status not in ("", ReturnStatus.CREATED, ReturnStatus.BOOKED):
        raise BadRequest(
            f"status {status} is reached through the refund; a new return is CREATED or BOOKED."
        )
    raw_customer = _object(body.get("customer"), "customer", required=True)
    customer = CustomerInput(
        email=_text(
            raw_customer.get("email"),
            "customer.email",
            required=True,
            max_length=_max_length(Return, "customer_email"),
        ),
        first_name=_text(
            raw_customer.get("firstName"),
            "customer.firstName",
            max_length=_max_length(Return, "customer_first_name"),
        ),
        last_name=_text(
            raw_customer.get("lastName"),
            "customer.lastName",
            max_length=_max_length(Return, "customer_last_name"),
        ),
        mobile=_text(
            raw_customer.get("mobile"),
            "customer.mobile",
            max_length=_max_length(Return, "customer_mobile"),
        ),
        customer_ref=_text(
            raw_customer.get("customerRef"),
            "customer.customerRef",
            max_length=_max_length(Return, "customer_ref"),
        ),
        customer_id=_text(raw_customer.get("customerId"), "customer.customerId"),
    )
    if "@" not in customer.email:
        raise BadRequest("customer.email must be an email address.")
    items = []
    for index, raw in enumerate(_array(body.get("items"), "items")):
        where = f"items[{index}]"
        raw = _object(raw, where, required=True)
        quantity = raw.get("returnQty", 1)
        if quantity is None:
            quantity = 1
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise BadRequest(f"{where}.returnQty must be a whole number.")
        if quantity > MAX_QUANTITY:
            raise BadRequest(f"{where}.returnQty must be at most {MAX_QUANTITY}.")
        items.append(
            ItemInput(
                sku_ref=_text(
                    raw.get("skuRef"),
                    f"{where}.skuRef",
                    required=True,
                    max_length=_max_length(ReturnItem, "sku_ref"),
                ),
                sku_id=_text(
                    raw.get("skuId"), f"{where}.skuId", max_length=_max_length(ReturnItem, "sku_id")
                ),
                sku_price=_money(raw.get("skuPrice"), f"{where}.skuPrice"),
                sku_tax_price=_money(raw.get("skuTaxPrice"), f"{where}.skuTaxPrice"),
                tax_type=_choice(raw.get("taxType"), f"{where}.taxType", TaxType.values),
                currency=_text(raw.get("currency"), f"{where}.currency").upper()[:3],
                quantity=quantity,
                reason=_text(
                    raw.get("returnReason"),
                    f"{where}.returnReason",
                    max_length=_max_length(ReturnItem, "reason_text"),
                ),
                condition=_text(
                    raw.get("returnCondition"),
                    f"{where}.returnCondition",
                    max_length=_max_length(ReturnItem, "condition_text"),
                ),
            )
        )
    choice = _object(body.get("fulfilmentChoice"), "fulfilmentChoice")
    if choice is not None:
        _choice(
            choice.get("fulfilmentType"), "fulfilmentChoice.fulfilmentType", FulfilmentType.values
        )
        for key in ("fulfilmentPrice", "fulfilmentTaxPrice"):
            price = _money(choice.get(key), f"fulfilmentChoice.{key}")
            choice[key] = None if price is None else float(price)
        choice["preferredLocationRef"] = (
            _text(
                choice.get("preferredLocationRef"),
                "fulfilmentChoice.preferredLocationRef",
                max_length=_max_length(ReturnFulfilment, "to_location"),
            )
            or None
        )
        address = _object(choice.get("address"), "fulfilmentChoice.address")
        if address is not None:
            choice["address"] = {
                key: _text(address[key], f"fulfilmentChoice.address.{key}") or None
                for key in ADDRESS_FIELDS
                if key in address
            }
        currency = _text(choice.get("currency"), "fulfilmentChoice.currency")
        if currency and (len(currency) != 3 or not (currency.isascii() and currency.isalpha())):
            raise BadRequest("fulfilmentChoice.currency must be a 3-letter ISO code.")
        choice["currency"] = currency.upper() or None
        choice = {
            key: choice.get(key)
            for key in (
                "preferredLocationRef",
                "fulfilmentType",
                "fulfilmentPrice",
                "fulfilmentTaxPrice",
                "currency",
                "address",
            )
        }
    fulfilments = []
    for index, raw in enumerate(_array(body.get("fulfilments"), "fulfilments")):
        where = f"fulfilments[{index}]"
        raw = _object(raw, where, required=True)
        fulfilments.append(
            FulfilmentInput(
                type=_choice(
                    raw.get("fulfilmentType"), f"{where}.fulfilmentType", FulfilmentType.values
                )
                or (choice or {}).get("fulfilmentType")
                or FulfilmentType.R_RTDC,
                ref=_text(
                    raw.get("fulfilmentRef"),
                    f"{where}.fulfilmentRef",
                    max_length=_max_length(ReturnFulfilment, "ref"),
                ),
                status=_choice(raw.get("status"), f"{where}.status", ReturnFulfilment.Status.values)
                or ReturnFulfilment.Status.CREATED,
                to_location=(choice or {}).get("preferredLocationRef") or "",
            )
        )
    return ReturnInput(
        retailer_id=retailer_id,
        type=type_,
        status=status,
        customer=customer,
        items=items,
        order=order,
        return_ref=_text(
            body.get("returnRef"), "returnRef", max_length=_max_length(Return, "return_ref")
        ),
        fulfilment_choice=choice,
        fulfilments=fulfilments,
    )


def validation_message(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return " ".join(
            f"{field}: {message}" if field != "__all__" else message
            for field, messages in error.message_dict.items()
            for message in messages
        )
    return " ".join(error.messages)
