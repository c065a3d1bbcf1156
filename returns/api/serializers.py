"""The declared schema of the Returns API v4.1: every request and response body, field by field.

Requests are read by these serializers, each field holding the bounds of `oms.bounds` (texts as
long as their column, amounts finite with two decimals and within the column, quantities and ids
in ASCII digits, email addresses and phone numbers checked, one line for every text). Responses
are built by `representation`; the response serializers below declare their shape. The OpenAPI
document (`openapi`) is generated from both.

A refusal names the field by its path in the body (`items[0].skuPrice`) and says why; every
faulty field of a request is listed.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import empty

from customers.models import Address
from oms import bounds
from orders.models import Order
from returns.models import (
    ATTRIBUTE_NAME_MAX,
    ATTRIBUTE_VALUE_MAX,
    ATTRIBUTES_MAX,
    AttributeType,
    FulfilmentType,
    Return,
    ReturnFulfilment,
    ReturnItem,
    ReturnStatus,
    ReturnType,
    TaxType,
)
from returns.services import (
    CustomerInput,
    FulfilmentInput,
    ItemInput,
    ReturnInput,
    check_attribute,
)

# a count of units the database holds in one item (a PositiveIntegerField)
MAX_QUANTITY = 2**31 - 1
# the first amount too large for a money column (shown to callers as the limit)
AMOUNT_LIMIT = bounds.MONEY_MAX + Decimal("0.01")
MAX_ITEMS = 10_000
MAX_FULFILMENTS = 100
# the longest search text: nothing searched for is longer than a customer's full name
QUERY_MAX = 200

COMPULSORY = {"required": "is compulsory.", "null": "is compulsory.", "blank": "is compulsory."}


def refused(reason: str):
    return serializers.ValidationError(reason)


class Text(serializers.CharField):
    """A one-line text (a JSON string, or a whole number sent for an id), at most `max_length`
    characters once trimmed; `check` is a bound of `oms.bounds` applied after these."""

    def __init__(self, *, max_length: int | None = None, check=None, schema=None, **kwargs):
        kwargs.setdefault("required", False)
        if not kwargs["required"]:
            kwargs.setdefault("allow_null", True)
            kwargs.setdefault("allow_blank", True)
        kwargs["error_messages"] = {**COMPULSORY, **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)
        # bounded here, in order, with the API's own words (not DRF's length validators)
        self.max_length = max_length
        self.check = check
        self.schema = schema or {}

    def run_validation(self, data=empty):
        if data == "" or (self.trim_whitespace and isinstance(data, str) and not data.strip()):
            if not self.allow_blank:
                self.fail("blank")
            return ""
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int):
            raise refused("must be a string.")
        text = str(data).strip()
        if "\x00" in text:
            raise refused("must not contain NUL characters.")
        if self.max_length is not None and len(text) > self.max_length:
            raise refused(f"must be at most {self.max_length} characters.")
        try:
            bounds.check_header(text)
        except DjangoValidationError:
            raise refused("must be one line.") from None
        if self.check is not None and text:
            try:
                text = self.check(text)
            except DjangoValidationError as error:
                raise refused(" ".join(error.messages)) from None
        return text


def column(model, name: str, **kwargs) -> Text:
    """A text as long as the model's column holds."""
    return Text(max_length=bounds.text_limit(model, name), **kwargs)


class Identifier(Text):
    """The id of a record: ASCII digits only (at most 18: "²" and "٣" are no ids)."""

    def __init__(self, *, what: str, **kwargs):
        kwargs["error_messages"] = {"invalid": f"must be {what}'s id."}
        super().__init__(schema={"pattern": "^[0-9]+$"}, **kwargs)

    def run_validation(self, data=empty):
        number = super().run_validation(data)
        return None if number == "" else number

    def to_internal_value(self, data: Any) -> int:
        number = bounds.parse_int(data) if not isinstance(data, float) else None
        if number is None:
            self.fail("invalid")
        return number


def _country(text: str) -> str:
    bounds.country_code(text)
    return text  # kept as given; `country_code` knows it


def _currency(text: str) -> str:
    if len(text) != 3 or not (text.isascii() and text.isalpha()):
        raise DjangoValidationError("must be a 3-letter ISO code.")
    return text.upper()


class Choice(serializers.ChoiceField):
    def __init__(self, choices, *, phrase: str | None = None, **kwargs):
        kwargs.setdefault("required", False)
        if not kwargs["required"]:
            kwargs.setdefault("allow_null", True)
            kwargs.setdefault("allow_blank", True)
        phrase = phrase or f"must be one of {', '.join(choices)}."
        kwargs["error_messages"] = {**COMPULSORY, "invalid_choice": phrase}
        super().__init__(list(choices), **kwargs)

    def run_validation(self, data=empty):
        if isinstance(data, str) and not data.strip():
            if not self.allow_blank:
                self.fail("blank")
            return ""
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data.strip())


class Amount(serializers.DecimalField):
    """An amount of money: `bounds.check_money` (finite, two decimals, within the column, not
    negative). A JSON number or a text; sent back as a number."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(
            max_digits=bounds.MONEY_DIGITS,
            decimal_places=bounds.MONEY_PLACES,
            coerce_to_string=False,
            min_value=Decimal(0),
            max_value=bounds.MONEY_MAX,
            **kwargs,
        )
        self.validators = []

    def run_validation(self, data=empty):
        if data == "":
            return None
        return super().run_validation(data)

    # the API's words for each bound `bounds.check_money` refuses
    REFUSALS = {
        "invalid": "must be a number.",
        "max_value": f"must be less than {AMOUNT_LIMIT:.0f}.",
        "min_value": "must not be negative.",
        "max_decimal_places": f"must have at most {bounds.MONEY_PLACES} decimals.",
    }

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return bounds.check_money(data)
        except DjangoValidationError as error:
            raise refused(self.REFUSALS[error.error_list[0].code]) from None


class Quantity(serializers.IntegerField):
    """A count of units: a JSON whole number from `min_value` to what the column holds."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(min_value=1, max_value=MAX_QUANTITY, **kwargs)
        self.validators = []

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise refused("must be a whole number.")
        if data > self.max_value:
            raise refused(f"must be at most {self.max_value}.")
        try:
            return bounds.check_quantity(data, most=self.max_value, least=self.min_value)
        except DjangoValidationError:
            raise refused(f"must be at least {self.min_value}.") from None


class Whole(serializers.IntegerField):
    """A whole number in a query parameter: ASCII digits, at least `min_value`; a number past
    any the database takes counts as the largest it takes (a page past the end is empty)."""

    LARGEST = 10**18

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(min_value=1, **kwargs)
        self.validators = []

    def run_validation(self, data=empty):
        if data == "":
            return self.default
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> int:
        text = str(data).strip()
        if len(text) > 18 and text.isascii() and text.isdigit():
            return self.LARGEST
        number = bounds.parse_int(text)
        if number is None or number < self.min_value:
            raise refused(f"must be a whole number of at least {self.min_value}.")
        return number


class Several(serializers.ListField):
    """A query parameter given several times, or once with values separated by commas."""

    def __init__(self, choices, **kwargs):
        self.allowed = list(choices)
        super().__init__(child=serializers.ChoiceField(self.allowed), required=False, **kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        values = []
        for raw in data if isinstance(data, list) else [data]:
            if not isinstance(raw, str):
                raise refused(f"must be among {', '.join(self.allowed)}.")
            values.extend(part.strip() for part in raw.split(",") if part.strip())
        wrong = [value for value in values if value not in self.allowed]
        if wrong:
            raise refused(f"must be among {', '.join(self.allowed)}; not {', '.join(wrong)}.")
        return values


class Object(serializers.Serializer):
    """A JSON object of the API: compulsory or null like any field, never anything else."""

    default_error_messages = {**COMPULSORY, "invalid": "must be an object."}

    def to_representation(self, instance):  # responses are built by `representation`
        return instance


def many(child: serializers.Serializer, *, most: int, **kwargs) -> serializers.ListSerializer:
    return serializers.ListSerializer(
        child=child,
        max_length=most,
        error_messages={
            **COMPULSORY,
            "not_a_list": "must be an array.",
            "empty": "must not be empty.",
            "max_length": f"must hold at most {most}.",
        },
        **kwargs,
    )


# ---------------------------------------------------------------------------------------------
# The returnRequest of POST /api/v4.1/return


class CustomerRequest(Object):
    customerId = Text(max_length=64, help_text="A customer of the retailer; else ignored")
    customerRef = column(Return, "customer_ref")
    email = column(
        Return,
        "customer_email",
        required=True,
        check=bounds.check_email,
        schema={"format": "email"},
    )
    firstName = column(Return, "customer_first_name")
    lastName = column(Return, "customer_last_name")
    mobile = column(Return, "customer_mobile", check=bounds.check_phone)


class ItemRequest(Object):
    skuId = column(ReturnItem, "sku_id")
    skuRef = column(ReturnItem, "sku_ref", required=True, schema={"pattern": "\\S"})
    skuPrice = Amount()
    skuTaxPrice = Amount()
    taxType = Choice(TaxType.values)
    currency = Text(max_length=3, check=_currency)
    returnQty = Quantity(help_text="Only 1 for CUSTOMER_RETURN.")
    returnReason = column(ReturnItem, "reason_text")
    returnCondition = column(ReturnItem, "condition_text")


class AddressRequest(Object):
    locationRef = column(ReturnFulfilment, "to_location")
    companyName = column(Address, "company")
    name = column(Address, "name")
    street = column(Address, "line1")
    city = column(Address, "city")
    postcode = column(Address, "postcode")
    state = column(Address, "region")
    country = Text(max_length=60, check=_country, help_text="ISO 3166 code or English name")


class FulfilmentChoiceRequest(Object):
    preferredLocationRef = column(ReturnFulfilment, "to_location")
    fulfilmentType = Choice(FulfilmentType.values)
    fulfilmentPrice = Amount()
    fulfilmentTaxPrice = Amount()
    currency = Text(max_length=3, check=_currency)
    address = AddressRequest(required=False, allow_null=True)


class FulfilmentRequest(Object):
    fulfilmentId = Text(max_length=64, help_text="Assigned by the back office; ignored")
    fulfilmentRef = column(ReturnFulfilment, "ref")
    fulfilmentType = Choice(FulfilmentType.values)
    status = Choice(ReturnFulfilment.Status.values)


class AttributeRequest(Object):
    name = Text(max_length=ATTRIBUTE_NAME_MAX, required=True)
    type = Choice(AttributeType.values, help_text="STRING when left out")
    value = Text(
        max_length=ATTRIBUTE_VALUE_MAX,
        help_text="Of the attribute's type: a whole number for INTEGER, a number for FLOAT, "
        "true or false for BOOLEAN",
    )

    def validate(self, attrs: dict) -> dict:
        try:
            return check_attribute(attrs)
        except DjangoValidationError as error:
            raise refused(
                {key: " ".join(reasons) for key, reasons in error.message_dict.items()}
            ) from None


NEW_STATUSES = [ReturnStatus.CREATED.value, ReturnStatus.BOOKED.value]


class ReturnRequest(Object):
    """Context: `user` and `retailer_id` (already read, and the user's)."""

    default_error_messages = {
        **Object.default_error_messages,
        "invalid": "The body must be a returnRequest object.",
    }

    orderRef = column(Order, "ref")
    orderId = Identifier(what="an order", allow_null=True, allow_blank=True)
    retailerId = Identifier(what="a retailer", required=True)
    returnRef = column(Return, "return_ref")
    type = Choice(ReturnType.values, required=True)
    status = Choice(NEW_STATUSES)
    customer = CustomerRequest(required=True)
    items = many(ItemRequest(), most=MAX_ITEMS, required=True, allow_empty=False)
    fulfilmentChoice = FulfilmentChoiceRequest(required=False, allow_null=True)
    fulfilments = many(FulfilmentRequest(), most=MAX_FULFILMENTS, required=False, allow_null=True)
    customAttributes = many(
        AttributeRequest(), most=ATTRIBUTES_MAX, required=False, allow_null=True
    )

    def validate(self, attrs: dict) -> dict:
        names = [a["name"].casefold() for a in attrs.get("customAttributes") or []]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise refused(
                {"customAttributes": f"names each attribute once; not {', '.join(twice)}."}
            )
        attrs["order"] = self._order(attrs.get("orderId"), attrs.get("orderRef"))
        return attrs

    def _order(self, order_id: int | None, order_ref: str | None):
        if order_id is None and not order_ref:
            return None
        retailer_id = self.context["retailer_id"]
        orders = Order.objects.for_user(self.context["user"]).filter(retailer_id=retailer_id)
        if order_id is not None:
            order = orders.filter(pk=order_id).first()
            if order is None:
                raise refused(
                    {"orderId": f"orderId {order_id} is not an order of retailer {retailer_id}."}
                )
            if order_ref and order_ref != order.ref:
                raise refused(
                    {"orderRef": f"orderRef {order_ref} is not the ref of order {order_id}."}
                )
            return order
        order = orders.filter(ref=order_ref).first()
        if order is None:
            raise refused(
                {"orderRef": f"orderRef {order_ref} is not an order of retailer {retailer_id}."}
            )
        return order

    def return_input(self) -> ReturnInput:
        data = self.validated_data
        customer = data["customer"]
        choice = _choice(data.get("fulfilmentChoice"))
        return ReturnInput(
            retailer_id=data["retailerId"],
            type=data["type"],
            status=data.get("status") or "",
            customer=CustomerInput(
                email=customer["email"],
                first_name=customer.get("firstName") or "",
                last_name=customer.get("lastName") or "",
                mobile=customer.get("mobile") or "",
                customer_ref=customer.get("customerRef") or "",
                # an id that is no number is no customer's: ignored, as an unknown id is
                customer_id=bounds.parse_int(customer.get("customerId") or ""),
            ),
            items=[
                ItemInput(
                    sku_ref=item["skuRef"],
                    sku_id=item.get("skuId") or "",
                    sku_price=item.get("skuPrice"),
                    sku_tax_price=item.get("skuTaxPrice"),
                    tax_type=item.get("taxType") or "",
                    currency=item.get("currency") or "",
                    quantity=item.get("returnQty") or 1,
                    reason=item.get("returnReason") or "",
                    condition=item.get("returnCondition") or "",
                )
                for item in data["items"]
            ],
            order=data["order"],
            # the caller's own ref; without one a UUID, as the API has always answered (returns
            # made in the app are numbered instead)
            return_ref=data.get("returnRef") or str(uuid.uuid4()),
            fulfilment_choice=choice,
            fulfilments=[
                FulfilmentInput(
                    type=each.get("fulfilmentType")
                    or (choice or {}).get("fulfilmentType")
                    or FulfilmentType.R_RTDC,
                    ref=each.get("fulfilmentRef") or "",
                    status=each.get("status") or ReturnFulfilment.Status.CREATED,
                    to_location=(choice or {}).get("preferredLocationRef") or "",
                )
                for each in data.get("fulfilments") or []
            ],
            custom_attributes=list(data.get("customAttributes") or []),
        )


def _choice(choice: dict | None) -> dict | None:
    """The fulfilment choice as the return keeps it (JSON): unset fields null, amounts numbers,
    only the address fields given."""
    if choice is None:
        return None
    address = choice.get("address")
    return {
        "preferredLocationRef": choice.get("preferredLocationRef") or None,
        "fulfilmentType": choice.get("fulfilmentType") or None,
        "fulfilmentPrice": _number(choice.get("fulfilmentPrice")),
        "fulfilmentTaxPrice": _number(choice.get("fulfilmentTaxPrice")),
        "currency": choice.get("currency") or None,
        "address": None
        if address is None
        else {key: value or None for key, value in address.items()},
    }


def _number(amount: Decimal | None) -> float | None:
    return None if amount is None else float(amount)


# ---------------------------------------------------------------------------------------------
# The parameters of GET /api/v4.1/return

SEARCH_SORT = "createdOn DESC"


class ReturnSearch(Object):
    retailerId = Identifier(what="a retailer", required=True)
    start = Whole(default=1)
    count = Whole(default=10)
    sort = Choice([SEARCH_SORT], phrase=f"supports only {SEARCH_SORT!r}.")
    query = Text(max_length=QUERY_MAX, help_text="Return id, customer name or order ref")
    type = Several(ReturnType.values)
    status = Several(ReturnStatus.values)


# ---------------------------------------------------------------------------------------------
# Responses, as `representation` builds them (declared for the OpenAPI document)


def out(field_class=serializers.CharField, **kwargs):
    return field_class(read_only=True, **kwargs)


class Always(serializers.CharField):
    """A text every answer holds (required in the document)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)
        self.required = True


def always():
    return Always()


def out_text(**kwargs):
    return out(allow_null=True, **kwargs)


def out_number():
    return out(serializers.FloatField, allow_null=True)


def out_enum(values, **kwargs):
    return out(serializers.ChoiceField, choices=list(values), **kwargs)


class CustomerResponse(Object):
    customerId = out_text()
    customerRef = out_text()
    email = always()
    firstName = out_text()
    lastName = out_text()
    mobile = out_text()


class ItemResponse(Object):
    skuId = out_text()
    skuRef = always()
    skuPrice = out_number()
    skuTaxPrice = out_number()
    taxType = out_enum(TaxType.values, allow_null=True)
    currency = out_text()
    returnQty = out(serializers.IntegerField, help_text="Only 1 for CUSTOMER_RETURN.")
    returnReason = out_text()
    returnCondition = out_text()


class AddressResponse(Object):
    locationRef = out_text()
    companyName = out_text()
    name = out_text()
    street = out_text()
    city = out_text()
    postcode = out_text()
    state = out_text()
    country = out_text()


class FulfilmentChoiceResponse(Object):
    preferredLocationRef = out_text()
    fulfilmentType = out_enum(FulfilmentType.values, allow_null=True)
    fulfilmentPrice = out_number()
    fulfilmentTaxPrice = out_number()
    currency = out_text()
    address = AddressResponse(read_only=True, allow_null=True)


class FulfilmentResponse(Object):
    fulfilmentId = out()
    fulfilmentRef = out_text()
    fulfilmentType = out_enum(FulfilmentType.values)
    status = out_enum(ReturnFulfilment.Status.values)


class AttributeResponse(Object):
    name = always()
    type = out_enum(AttributeType.values)
    value = always()


class ReturnResponse(Object):
    orderRef = out_text()
    orderId = out_text()
    returnRef = out()
    retailerId = out()
    type = out_enum(ReturnType.values)
    status = out_enum(ReturnStatus.values)
    customer = CustomerResponse(read_only=True)
    items = ItemResponse(many=True, read_only=True)
    fulfilmentChoice = FulfilmentChoiceResponse(read_only=True, allow_null=True)
    fulfilments = FulfilmentResponse(many=True, read_only=True)
    customAttributes = AttributeResponse(many=True, read_only=True)
    totalReturnPrice = out_number()
    createdOn = out()
    updatedOn = out()


class ReturnAt(Object):
    returnId = serializers.CharField()


class OrderAt(Object):
    orderId = serializers.CharField()


class CreatedResponse(Object):
    id = out()


class OrderReturn(ReturnResponse):
    returnId = out()
    orderRef = None
    orderId = None
    retailerId = None


class OrderReturnsResponse(Object):
    orderId = out()
    orderRef = out()
    retailerId = out()
    returns = OrderReturn(many=True, read_only=True)


class SearchResult(Object):
    createdOn = out()
    type = out()
    status = out()
    returnId = out()
    returnRef = out()
    orderId = out_text()
    orderRef = out_text()
    customerId = out_text()
    customerFirstName = out_text()
    customerLastName = out_text()
    currency = out_text()
    preferredLocationRef = out_text()
    totalReturnPrice = out_number()


class SearchResponse(Object):
    start = out(serializers.IntegerField)
    count = out(serializers.IntegerField)
    total = out(serializers.IntegerField)
    retailerId = out()
    results = SearchResult(many=True, read_only=True)
    query = out_text()
    sort = out()
    status = out(serializers.ListField, child=serializers.CharField())
    type = out(serializers.ListField, child=serializers.CharField())


class ErrorEntry(Object):
    code = out()
    message = out()


class ErrorResponse(Object):
    error = ErrorEntry(many=True, read_only=True)


# ---------------------------------------------------------------------------------------------
# Refusals


def _flatten(errors: Any, path: str = ""):
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key == "non_field_errors":
                sub = path
            elif isinstance(key, int) or str(key).isdigit():
                sub = f"{path}[{key}]"
            else:
                sub = f"{path}.{key}" if path else str(key)
            yield from _flatten(value, sub)
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            if isinstance(value, dict | list):
                if value:
                    yield from _flatten(value, f"{path}[{index}]")
            else:
                yield path, str(value)
    else:
        yield path, str(errors)


def refusal(errors: Any) -> str:
    """The serializer's errors as one message naming each field ("items[0].skuRef is
    compulsory. customer.email must be at most 254 characters.")."""
    lines = []
    for path, message in _flatten(errors):
        if not path or message.startswith(path):
            lines.append(message)
        else:
            lines.append(f"{path} {message}")
    return " ".join(lines)


def validation_message(error: DjangoValidationError) -> str:
    """A refusal of the returns service (its fields named as the API names them)."""
    if hasattr(error, "message_dict"):
        return " ".join(
            f"{field}: {message}" if field != "__all__" else message
            for field, messages in error.message_dict.items()
            for message in messages
        )
    return " ".join(error.messages)
