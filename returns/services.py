"""Returns: creating them, moving their parcels along, and refunding them.

A return whose action gives money back is refunded when it is approved or when its parcel
arrives (the action says which). When the order was paid with one tender through the integrated
gateway the return goes LODGED and the refund runs by itself; otherwise, or when the gateway
declines, it goes PENDING_REFUND and a manager releases it. A refunded return is COMPLETE and
credited in billing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.forms import ModelForm
from django.utils import timezone
from django.utils.text import slugify

from billing import ledger
from billing import services as billing
from billing.models import BillingSettings, PaymentTransaction
from customers.models import Customer
from fulfilments.models import Location
from oms import activity, bounds, locking, state, webhooks
from oms.emails import email_queue, email_render
from oms.models import Activity, Retailer
from oms.roles import Role, has_role, require_role
from oms.templatetags.money import format_money
from oms.webhooks.outbox import iso
from returns.models import (
    ATTRIBUTE_NAME_MAX,
    ATTRIBUTE_VALUE_MAX,
    ATTRIBUTES_MAX,
    MONEY,
    RETURN_TRANSITIONS,
    AttributeType,
    FulfilmentType,
    Return,
    ReturnAction,
    ReturnCondition,
    ReturnFulfilment,
    ReturnItem,
    ReturnReason,
    ReturnSequence,
    ReturnStatus,
    ReturnType,
    TaxType,
)

if TYPE_CHECKING:
    from orders.models import Order, OrderLine

CENT = Decimal("0.01")
# the largest total a return's money column holds
MAX_TOTAL = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])

activity.describe_as("returns.return.created", "{type_label} {return_ref} created: {summary}")
activity.describe_as("returns.return.status_changed", "Return {return_ref}: {before} → {after}")
activity.describe_as(
    "returns.returnfulfilment.status_changed", "Return parcel {ref}: {before} → {after}"
)
activity.describe_as(
    "returns.return.attribute_set", "Attribute {name} of return {return_ref} set to “{value_text}”"
)
activity.describe_as(
    "returns.return.attribute_removed", "Attribute {name} of return {return_ref} removed"
)
activity.describe_as(
    "returns.return.refund_released",
    "Refund of return {return_ref} released by hand: {amount}",
)


@dataclass
class ItemInput:
    """One returned item as a user or an integration describes it."""

    sku_ref: str
    quantity: int = 1
    sku_id: str = ""
    sku_price: Decimal | None = None
    sku_tax_price: Decimal | None = None
    tax_type: str = ""
    currency: str = ""
    reason: str = ""
    condition: str = ""
    action: ReturnAction | None = None
    order_line: OrderLine | None = None
    amount: Decimal = Decimal("0.00")  # what its units are worth, set by `_value`


@dataclass
class CustomerInput:
    email: str
    first_name: str = ""
    last_name: str = ""
    mobile: str = ""
    customer_ref: str = ""
    customer_id: Any = None


@dataclass
class FulfilmentInput:
    type: str
    ref: str = ""
    status: str = ReturnFulfilment.Status.CREATED
    from_location: str = ""
    to_location: str = ""


@dataclass
class ReturnInput:
    retailer_id: int
    type: str
    customer: CustomerInput
    items: list[ItemInput] = field(default_factory=list)
    order: Order | None = None
    return_ref: str = ""
    status: str = ""
    fulfilment_choice: dict | None = None
    fulfilments: list[FulfilmentInput] = field(default_factory=list)
    action: ReturnAction | None = None
    # [{name, type, value}], as the Returns API sends them (`check_attributes`)
    custom_attributes: list[dict] = field(default_factory=list)
    notify: bool = True  # email the customer of a customer return that it is registered


def _on_returns(order: Order) -> Counter:
    """Units of each order line (by id) already on a return of any kind: each unit of a line is
    valued once, on the first return that covers it."""
    return Counter(
        dict(
            ReturnItem.objects.filter(return_request__order=order, order_line__isnull=False)
            .order_by()
            .values_list("order_line_id")
            .annotate(total=Sum("quantity"))
        )
    )


def _lookup(model, retailer_id: int, text: str):
    if not text:
        return None
    by_code = model.objects.filter(retailer_id=retailer_id, code__iexact=text).first()
    return by_code or model.objects.filter(retailer_id=retailer_id, label__iexact=text).first()


def _match_lines(data: ReturnInput) -> None:
    """Tie each item to the order line it returns; refuse items not on the order, and more
    units than may come back: a customer returns only what was shipped to them and is not on a
    return yet; other returns cover what was ordered and is not on a return yet."""
    if data.order is None:
        return
    lines = list(data.order.lines.all())
    by_ref = {}
    for line in lines:
        by_ref.setdefault(line.sku, line)
    wanted: Counter = Counter()
    for index, item in enumerate(data.items):
        line = item.order_line or by_ref.get(item.sku_ref)
        if line is None or line.order_id != data.order.pk:
            raise ValidationError(
                {
                    f"items[{index}].skuRef": f"{item.sku_ref} is not an item of order "
                    f"{data.order.ref}."
                }
            )
        item.order_line = line
        wanted[line.pk] += item.quantity
    units = data.order.lines.units()
    on_returns = _on_returns(data.order)
    for line in lines:
        if not wanted[line.pk]:
            continue
        left, why = line.quantity - on_returns[line.pk], ""  # a unit is on one return at most
        if data.type == ReturnType.CUSTOMER_RETURN:
            left = min(left, units[line.pk].returnable)
            why = f" ({units[line.pk].shipped} shipped)"
        if wanted[line.pk] > left:
            raise ValidationError(
                {
                    "items": f"{line.sku}: {wanted[line.pk]} returned but only {left} of "
                    f"{line.quantity} ordered can still be returned{why}."
                }
            )


def _value(items: list[ItemInput], order: Order | None, currency: str) -> None:
    """What each item is worth: the share of its order line it covers at the price paid for
    it (`ledger.share`: the last unit of a line takes the remainder), or less when the caller
    offers less; never more. The unit's price excluding tax and its tax are kept for display.
    An item of no order is worth what the caller says (no money of it is held here)."""
    taken = _on_returns(order) if order is not None else Counter()
    for item in items:
        line = item.order_line
        if line is None:
            unit = (item.sku_price or Decimal(0)) + (item.sku_tax_price or Decimal(0))
            item.amount = (unit * item.quantity).quantize(CENT)
            continue
        paid = ledger.share(line.total, line.quantity, taken[line.pk], item.quantity)
        tax = ledger.share(line.tax, line.quantity, taken[line.pk], item.quantity)
        taken[line.pk] += item.quantity
        unit_tax = (tax / item.quantity).quantize(CENT, ROUND_DOWN)
        unit_net = ((paid - tax) / item.quantity).quantize(CENT, ROUND_DOWN)
        if item.sku_price is not None:  # priced by the caller: kept as given when it is less
            given_tax = item.sku_tax_price or Decimal(0)  # as the caller prices it
            offered = ((item.sku_price + given_tax) * item.quantity).quantize(CENT, ROUND_DOWN)
            item.amount = max(Decimal(0), min(paid, offered))
            item.sku_price = min(item.sku_price, unit_net)
            if item.sku_tax_price is not None:
                item.sku_tax_price = min(item.sku_tax_price, unit_tax)
            continue
        item.amount = paid
        item.sku_tax_price = unit_tax
        item.sku_price = unit_net
        item.tax_type = item.tax_type or TaxType.VAT
        item.currency = item.currency or currency
        item.sku_id = item.sku_id or str(line.pk)


def _offered(choice: dict | None) -> Decimal | None:
    """The shipping a caller puts on a return (fulfilmentPrice and its tax), if any."""
    if not choice or all(choice.get(key) in (None, "") for key in SHIPPING_KEYS):
        return None
    amounts = []
    for key in SHIPPING_KEYS:
        if choice.get(key) not in (None, ""):
            try:
                amounts.append(bounds.check_money(str(choice[key])))
            except ValidationError as error:
                raise ValidationError({key: " ".join(error.messages)}) from None
    return sum(amounts, Decimal(0)).quantize(CENT)


SHIPPING_KEYS = ("fulfilmentPrice", "fulfilmentTaxPrice")


def _shipping(order: Order | None, type_: str, items: list[ItemInput], offered) -> Decimal:
    """The order's shipping a return gives back. A customer return gives it back as the
    retailer's rule says (never, always, or when everything shipped comes back); items that
    cannot be fulfilled give it back when nothing of the order ships any more. Never more than
    the shipping paid and not given back by an earlier return, nor than the caller offers."""
    if order is None:
        return offered or Decimal("0.00")
    left = order.shipping - (
        order.returns.aggregate(total=Sum("shipping_amount"))["total"] or Decimal(0)
    )
    if left <= 0:
        return Decimal("0.00")
    units = order.lines.units()
    coming = Counter()
    for item in items:
        if item.order_line is not None:
            coming[item.order_line.pk] += item.quantity
    if type_ == ReturnType.CUSTOMER_RETURN:
        rule = billing.billing_settings(order.retailer_id).return_shipping
        everything_back = all(
            u.open == 0 and u.returned + coming[pk] >= u.shipped for pk, u in units.items()
        )
        include = rule == BillingSettings.ReturnShipping.ALWAYS or (
            rule == BillingSettings.ReturnShipping.WHOLE_ORDER and everything_back
        )
    else:  # the caller has cancelled these units: does anything still ship?
        include = all(u.shipped == 0 and u.open == 0 for u in units.values())
    if not include:
        return Decimal("0.00")
    return min(left, offered) if offered is not None else left


def next_return_ref(retailer_id: int) -> str:
    """The next ref of a return made in the app: the retailer's prefix and its next number
    (`ACM-R00001`), one a person can read out; a number a return holds already (a ref an API
    caller chose) is passed over."""
    sequence, _ = ReturnSequence.objects.get_or_create(retailer_id=retailer_id)
    sequence = locking.lock(sequence)
    retailer_ref = Retailer.objects.values_list("ref", flat=True).get(pk=retailer_id)
    prefix = "".join(char for char in retailer_ref.upper() if char.isalnum())[:3] or "RET"
    number = sequence.next_number
    while Return.objects.filter(
        retailer_id=retailer_id, return_ref=f"{prefix}-R{number:05d}"
    ).exists():
        number += 1
    sequence.next_number = number + 1
    sequence.save(update_fields=["next_number"])
    return f"{prefix}-R{number:05d}"


@transaction.atomic
def return_create(*, data: ReturnInput, by) -> Return:
    """Create a return, from the order page or the API."""
    require_role(by, data.retailer_id, Role.AGENT)
    if data.type not in ReturnType.values:
        raise ValidationError({"type": f"Unknown return type {data.type!r}."})
    if data.status and data.status not in ReturnStatus.values:
        raise ValidationError({"status": f"Unknown return status {data.status!r}."})
    if not data.customer.email:
        raise ValidationError({"customer.email": "The customer's email is compulsory."})
    if not data.items:
        raise ValidationError({"items": "A return needs at least one item."})
    if len(data.items) > bounds.MAX_QUANTITY:
        raise ValidationError({"items": f"A return holds at most {bounds.MAX_QUANTITY} items."})
    for index, item in enumerate(data.items):
        if not item.sku_ref:
            raise ValidationError({f"items[{index}].skuRef": "skuRef is compulsory."})
        if item.quantity < 1:
            raise ValidationError({f"items[{index}].returnQty": "returnQty must be at least 1."})
        if item.quantity > bounds.MAX_QUANTITY:
            raise ValidationError(
                {f"items[{index}].returnQty": f"returnQty is at most {bounds.MAX_QUANTITY}."}
            )
        for name, price in (("skuPrice", item.sku_price), ("skuTaxPrice", item.sku_tax_price)):
            if price is not None:
                try:
                    bounds.check_money(price)
                except ValidationError as error:
                    raise ValidationError(
                        {f"items[{index}].{name}": " ".join(error.messages)}
                    ) from None
        if data.type == ReturnType.CUSTOMER_RETURN and item.quantity != 1:
            raise ValidationError(
                {f"items[{index}].returnQty": "returnQty can only be 1 for CUSTOMER_RETURN."}
            )
        if item.tax_type and item.tax_type not in TaxType.values:
            raise ValidationError({f"items[{index}].taxType": "taxType is GST, VAT or EXCLTAX."})
    if data.order is not None and data.order.retailer_id != data.retailer_id:
        raise ValidationError({"orderId": "The order belongs to another retailer."})
    if (
        data.return_ref
        and Return.objects.filter(retailer_id=data.retailer_id, return_ref=data.return_ref).exists()
    ):
        raise ValidationError({"returnRef": f"A return {data.return_ref} exists already."})
    if data.order is not None:
        data.order = locking.lock(data.order, related=("customer",))
        _match_lines(data)
    currency = (data.order.currency if data.order else "") or (
        (data.fulfilment_choice or {}).get("currency") or ""
    )
    _value(data.items, data.order, currency)
    customer = data.order.customer if data.order is not None else None
    customer_pk = bounds.parse_int(data.customer.customer_id or "")
    if customer is None and customer_pk is not None:
        customer = Customer.objects.filter(retailer_id=data.retailer_id, pk=customer_pk).first()
    attributes = check_attributes(data.custom_attributes or [])
    choice = _with_location_address(data.retailer_id, data.fulfilment_choice)
    parcels = bool(data.fulfilments) or bool(
        choice and choice.get("fulfilmentType") in FulfilmentType.values
    )
    shipping = _shipping(data.order, data.type, data.items, _offered(choice))
    now = timezone.now()
    ret = Return(
        retailer_id=data.retailer_id,
        order=data.order,
        type=data.type,
        # a return with a parcel on its way starts booked
        status=data.status or (ReturnStatus.BOOKED if parcels else ReturnStatus.CREATED),
        customer=customer,
        customer_ref=data.customer.customer_ref or (customer.ref if customer else ""),
        customer_email=data.customer.email,
        customer_first_name=data.customer.first_name or "",
        customer_last_name=data.customer.last_name or "",
        customer_mobile=data.customer.mobile or "",
        fulfilment_choice=choice,
        action=data.action,
        currency=currency,
        custom_attributes=attributes,
        shipping_amount=shipping,
        created_at=now,
        updated_at=now,
    )
    ret.total_return_price = (sum((i.amount for i in data.items), Decimal(0)) + shipping).quantize(
        CENT
    )
    if ret.total_return_price >= MAX_TOTAL:
        raise ValidationError({"totalReturnPrice": f"The total must be less than {MAX_TOTAL}."})
    # a ref the caller gives is kept; a return made without one is numbered
    ret.return_ref = data.return_ref or next_return_ref(data.retailer_id)
    ret.save()
    items = [
        ReturnItem(
            retailer_id=data.retailer_id,
            return_request=ret,
            order_line=item.order_line,
            sku_id=item.sku_id or "",
            sku_ref=item.sku_ref,
            sku_price=item.sku_price,
            sku_tax_price=item.sku_tax_price,
            tax_type=item.tax_type or "",
            currency=item.currency or "",
            quantity=item.quantity,
            amount=item.amount,
            reason_text=item.reason,
            condition_text=item.condition,
            reason=_lookup(ReturnReason, data.retailer_id, item.reason),
            condition=_lookup(ReturnCondition, data.retailer_id, item.condition),
            action=item.action,
        )
        for item in data.items
    ]
    for item in items:  # a reason or condition the retailer knows is kept by its code
        if item.reason is not None:
            item.reason_text = item.reason.code
        if item.condition is not None:
            item.condition_text = item.condition.code
    for item in items:
        if item.action is None and item.reason is not None:
            item.action = item.reason.default_action
    ReturnItem.objects.bulk_create(items)
    if ret.action is None:
        ret.action = next((item.action for item in items if item.action), None)
        ret.save(update_fields=["action"])

    fulfilments = list(data.fulfilments)
    if not fulfilments and choice and choice.get("fulfilmentType") in FulfilmentType.values:
        fulfilments = [
            FulfilmentInput(
                type=choice["fulfilmentType"],
                to_location=choice.get("preferredLocationRef") or "",
                from_location=(ret.customer_name or ret.customer_email)[
                    : ReturnFulfilment._meta.get_field("from_location").max_length
                ],
            )
        ]
    for each in fulfilments:
        ReturnFulfilment.objects.create(
            retailer_id=data.retailer_id,
            return_request=ret,
            ref=each.ref or "",
            type=each.type,
            status=each.status or ReturnFulfilment.Status.CREATED,
            from_location=each.from_location,
            to_location=each.to_location,
        )
    _record(ret, "returns.return.created", by, summary=_summary(items, ret))
    if data.notify:
        _email_customer(
            ret,
            "created",
            by=by,
            items=[
                {"name": item.order_line.name if item.order_line else item.sku_ref}
                for item in items
            ],
            units=sum(item.quantity for item in items),
            parcel=bool(fulfilments),
            refund=bool(fulfilments and ret.action is not None and ret.action.refunds),
        )
    if (
        ret.action is not None
        and ret.action.refunds
        and (ret.action.timing == ReturnAction.Timing.ON_APPROVAL or not fulfilments)
        and ret.status in (ReturnStatus.CREATED, ReturnStatus.BOOKED)
    ):
        if has_role(by, data.retailer_id, Role.MANAGER):
            return_start_refund(ret=ret, by=by)
        else:  # moving money is a manager's call: it waits for one
            state.transition(RETURN, ret, ReturnStatus.PENDING_REFUND, by=by)
    return ret


def _email_customer(ret: Return, template: str, *, by, **context) -> None:
    """Queue `templates/emails/returns/<template>.txt` to the customer of a customer return, in
    their language (else the retailer's), with the change. Returns made for a cancellation or
    for items that could not be fulfilled are told by the order's own emails; a return without a
    usable address is left unwritten."""
    if ret.type != ReturnType.CUSTOMER_RETURN or not ret.customer_email:
        return
    try:
        bounds.check_email(ret.customer_email)
    except ValidationError:
        return
    retailer = ret.retailer
    subject, body = email_render(
        f"emails/returns/{template}.txt",
        {"ret": ret, "order": ret.order, "retailer": retailer, **context},
        language=billing.document_language(retailer, customer=ret.customer),
        time_zone=retailer.time_zone,
    )
    email_queue(
        retailer=retailer, to=ret.customer_email, subject=subject, body=body, about=ret, by=by
    )


def _summary(items, ret: Return) -> str:
    units = sum(item.quantity for item in items)
    return f"{units} item(s), {format_money(ret.total_return_price, ret.currency)}".strip()


def _record(ret: Return, action: str, by, **data) -> None:
    activity.record(
        action=action,
        target=ret,
        by=by,
        data={
            "return_ref": ret.return_ref,
            "type": ret.type,
            "type_label": ret.get_type_display(),
            **{k: str(v) if isinstance(v, Decimal) else v for k, v in data.items()},
        },
    )


def _status_changed(ret: Return, *, before: str, by) -> None:
    _record(
        ret,
        "returns.return.status_changed",
        by,
        before=ReturnStatus(before).label,
        after=ret.get_status_display(),
        after_code=ret.status,
    )


def _return_payload(entry: Activity) -> dict:
    """A return as webhooks send it (oms.webhooks.schema: WebhookReturnData)."""
    ret = Return.objects.select_related("order").get(pk=int(entry.target_id))
    return {
        "return": {
            "id": ret.pk,
            "ref": ret.return_ref,
            "type": ret.type,
            "status": ret.status,
            "status_label": ret.get_status_display(),
            "currency": ret.currency,
            "total": str(ret.total_return_price or Decimal("0.00")),
            "order": {"id": ret.order_id, "ref": ret.order.ref} if ret.order_id else None,
            "customer_email": ret.customer_email,
            "created_at": iso(ret.created_at),
            "items": [
                {
                    "id": item.pk,
                    "sku": item.sku_ref,
                    "quantity": item.quantity,
                    "amount": str(item.amount),
                    "reason": item.reason_text,
                    "condition": item.condition_text,
                    "order_line_id": item.order_line_id,
                }
                for item in ret.items.order_by("pk")
            ],
        }
    }


def _completes(entry: Activity) -> bool:
    return entry.data.get("after_code") == ReturnStatus.COMPLETE


webhooks.register("returns.return.created", "return.created", payload=_return_payload)
webhooks.register(
    "returns.return.status_changed", "return.completed", payload=_return_payload, when=_completes
)


RETURN = state.Machine(
    transitions=lambda ret: RETURN_TRANSITIONS,
    record=_status_changed,
    name=lambda ret: f"Return {ret.return_ref}",
    labels=dict(ReturnStatus.choices),
    touch=("updated_at",),
)


def _with_location_address(retailer_id: int, choice: dict | None) -> dict | None:
    """The fulfilment choice, with the address of the retailer's location it names when the
    caller gave none: where the parcel goes, street and all, whatever made the return."""
    if not choice or choice.get("address") or not choice.get("preferredLocationRef"):
        return choice
    location = Location.objects.filter(
        retailer_id=retailer_id, ref=choice["preferredLocationRef"]
    ).first()
    if location is None:
        return choice
    return {**choice, "address": location_address(location)}


def location_address(location: Location) -> dict:
    """A retailer's location as a return's address (seed 002's Address shape)."""
    return {
        "locationRef": location.ref,
        "companyName": location.name or None,
        "name": None,
        "street": location.line1 or None,
        "city": location.city or None,
        "postcode": location.postcode or None,
        "state": None,
        "country": location.country or None,
    }


def locations_by_ref(retailer_id: int, refs) -> dict[str, Location]:
    """The retailer's locations these refs name, by ref (a ref of none is left out)."""
    refs = {ref for ref in refs if ref}
    if not refs:
        return {}
    return {
        location.ref: location
        for location in Location.objects.filter(retailer_id=retailer_id, ref__in=refs)
    }


# custom attributes


def _attribute_value(kind: str, value) -> str:
    """The value as the text kept for an attribute of this type, or a ValidationError."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | Decimal) or (isinstance(value, float) and value == value):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValidationError("must be a text, a number or true or false.")
    if "\x00" in text:
        raise ValidationError("must not contain NUL characters.")
    if len(text) > ATTRIBUTE_VALUE_MAX:
        raise ValidationError(f"must be at most {ATTRIBUTE_VALUE_MAX} characters.")
    try:
        bounds.check_header(text)
    except ValidationError:
        raise ValidationError("must be one line.") from None
    if kind == AttributeType.INTEGER:
        if bounds.parse_int(text.removeprefix("-")) is None:
            raise ValidationError("must be a whole number for an INTEGER attribute.")
    elif kind == AttributeType.FLOAT:
        try:
            bounds.check_money(text, negative=True, max_digits=24, decimal_places=6)
        except ValidationError:
            raise ValidationError(
                "must be a number (at most 6 decimals) for a FLOAT attribute."
            ) from None
    elif kind == AttributeType.BOOLEAN:
        if text.lower() not in ("true", "false"):
            raise ValidationError("must be true or false for a BOOLEAN attribute.")
        text = text.lower()
    return text


def check_attribute(entry, where: str = "") -> dict[str, str]:
    """One custom attribute `{name, type, value}` within its bounds (a name of at most
    ATTRIBUTE_NAME_MAX characters on one line, a type of `AttributeType`, a value of that type
    of at most ATTRIBUTE_VALUE_MAX characters); a ValidationError names every fault."""
    prefix = f"{where}." if where else ""
    if not isinstance(entry, dict):
        raise ValidationError({where or "attribute": "must be an object {name, type, value}."})
    faults: dict[str, str] = {}
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        faults[f"{prefix}name"] = "is compulsory."
    else:
        name = " ".join(name.split())
        if len(name) > ATTRIBUTE_NAME_MAX or "\x00" in name:
            faults[f"{prefix}name"] = f"must be at most {ATTRIBUTE_NAME_MAX} characters."
    kind = entry.get("type") or AttributeType.STRING
    if kind not in AttributeType.values:
        faults[f"{prefix}type"] = f"must be one of {', '.join(AttributeType.values)}."
        kind = AttributeType.STRING
    value = entry.get("value")
    try:
        value = _attribute_value(kind, "" if value is None else value)
    except ValidationError as error:
        faults[f"{prefix}value"] = " ".join(error.messages)
    if faults:
        raise ValidationError(faults)
    return {"name": name, "type": kind, "value": value}


def check_attributes(entries) -> list[dict[str, str]]:
    """A return's custom attributes, each checked (`check_attribute`), at most ATTRIBUTES_MAX
    with distinct names; a ValidationError names every fault by its place
    (`customAttributes[1].value`)."""
    if not isinstance(entries, list | tuple):
        raise ValidationError({"customAttributes": "must be an array."})
    if len(entries) > ATTRIBUTES_MAX:
        raise ValidationError({"customAttributes": f"must hold at most {ATTRIBUTES_MAX}."})
    kept, faults, names = [], {}, set()
    for index, entry in enumerate(entries):
        where = f"customAttributes[{index}]"
        try:
            attribute = check_attribute(entry, where)
        except ValidationError as error:
            faults.update({k: " ".join(v) for k, v in error.message_dict.items()})
            continue
        if attribute["name"].casefold() in names:
            faults[f"{where}.name"] = f"{attribute['name']} is given twice."
            continue
        names.add(attribute["name"].casefold())
        kept.append(attribute)
    if faults:
        raise ValidationError(faults)
    return kept


@transaction.atomic
def return_attribute_set(
    *, ret: Return, by, name: str, type: str = AttributeType.STRING, value=None
) -> Return:
    """Set a custom attribute of the return (replacing one of the same name), or with value
    None remove it. Agents of its retailer, like making the return."""
    require_role(by, ret.retailer_id, Role.AGENT)
    ret = locking.lock(ret)
    kept = ret.attributes
    if value is None:
        wanted = " ".join(str(name or "").split()).casefold()
        before = next((a for a in kept if a["name"].casefold() == wanted), None)
        if before is None:
            raise ValidationError({"name": f"{name!r} names no attribute of the return."})
        after = None
        kept = [a for a in kept if a is not before]
    else:
        after = check_attribute({"name": name, "type": type, "value": value})
        before = next((a for a in kept if a["name"].casefold() == after["name"].casefold()), None)
        if before is None and len(kept) >= ATTRIBUTES_MAX:
            raise ValidationError(
                {"name": f"is one too many: a return holds at most {ATTRIBUTES_MAX} attributes."}
            )
        kept = [after if a is before else a for a in kept] + ([after] if before is None else [])
    ret.custom_attributes = kept
    ret.updated_at = timezone.now()
    ret.save(update_fields=["custom_attributes", "updated_at"])
    _record(
        ret,
        "returns.return.attribute_removed" if after is None else "returns.return.attribute_set",
        by,
        name=(after or before)["name"],
        before=before,
        after=after,
        value_text=after["value"] if after else "",
    )
    return ret


def _lock(ret: Return) -> Return:
    """The return under lock, after its order's row and its order's payments: a refund locks
    them in that order."""
    if ret.order_id is not None:
        locking.lock_all(ret.order.payments.all())
    return locking.lock(ret, related=("order", "order__retailer", "action"))


def single_gateway_payment(ret: Return):
    """The order's payment when it was paid with one tender through an integrated gateway."""
    if ret.order is None:
        return None
    payments = list(ret.order.payments.all())
    if len(payments) != 1:
        return None
    payment = payments[0]
    if payment.provider not in settings.PAYMENT_GATEWAYS or payment.captured <= 0:
        return None
    return payment


def refund_amount(ret: Return) -> Decimal:
    """What the return still gives back: its worth less what its refunds paid (through the
    gateway or by hand) or have on their way, and never more than the order's payments can
    still refund. A return of no order moves no money here."""
    if ret.order_id is None:
        return Decimal("0.00")
    gateway, by_hand, moving = ledger.refunds_of_return(ret)
    left = max(Decimal("0.00"), ret.total_return_price - gateway - by_hand - moving)
    return min(left, ledger.order_refundable(ret.order)).quantize(CENT)


def return_start_refund(*, ret: Return, by) -> Return:
    """Refund the return: LODGED through the gateway, or PENDING_REFUND for a manager."""
    ret = _lock(ret)
    if ret.status not in (ReturnStatus.CREATED, ReturnStatus.BOOKED):
        return ret  # its refund started already
    amount = refund_amount(ret)
    if amount <= 0:
        _complete(ret, by=by)
        return ret
    payment = single_gateway_payment(ret)
    if payment is not None and ledger.refundable(payment) >= amount:
        state.transition(RETURN, ret, ReturnStatus.LODGED, by=by)
        billing.queue_operation(
            payment, PaymentTransaction.Kind.REFUND, amount, by=by, return_request_id=ret.pk
        )
    else:
        state.transition(RETURN, ret, ReturnStatus.PENDING_REFUND, by=by)
    return ret


def return_refund_retry_limit(*, operation: PaymentTransaction) -> Decimal:
    """A failed refund of a return is retried on the order's Transactions tab: how much it may
    still pay. Refused when the return was settled otherwise (by hand, or by another refund) or
    another of its refunds is on its way, so the return is never paid twice."""
    ret = _lock(operation.return_request)
    if ret.is_complete:
        how = " (refunded by hand)" if ret.refunded_by_hand else ""
        raise state.InvalidTransition(
            f"Return {ret.return_ref} is complete{how}: its refund cannot be retried."
        )
    if ret.refunds.filter(ledger.UNSETTLED).exclude(pk=operation.pk).exists():
        raise state.InvalidTransition(
            f"Another refund of return {ret.return_ref} is on its way: wait for it."
        )
    return refund_amount(ret)


def return_refund_settled(operation: PaymentTransaction) -> None:
    """A refund of a return finished at the gateway: complete the return when all of its
    refunds succeeded and nothing more can be refunded; a decline, or a refund that paid only
    part of it, leaves it PENDING_REFUND for a manager. Registered with billing: it runs inside
    the payment operation's recording transaction."""
    if operation.return_request_id is None or operation.kind != PaymentTransaction.Kind.REFUND:
        return  # a refund by hand is settled by the manager's own action
    ret = _lock(operation.return_request)
    if ret.status == ReturnStatus.COMPLETE:
        return
    if operation.status == PaymentTransaction.Status.FAILED:
        if operation.timed_out:
            return  # the gateway may have paid it: stays LODGED until a retry settles it
        if ret.status == ReturnStatus.LODGED:
            state.transition(RETURN, ret, ReturnStatus.PENDING_REFUND, by=None)
        return
    if ret.refunds.filter(ledger.UNSETTLED).exists():
        return
    if refund_amount(ret) <= 0:  # all of it refunded, or nothing more can be
        if ret.status == ReturnStatus.PENDING_REFUND:
            state.transition(RETURN, ret, ReturnStatus.LODGED, by=None)
        _complete(ret, by=None)
    elif ret.status == ReturnStatus.LODGED:  # paid in part: a manager releases the rest
        state.transition(RETURN, ret, ReturnStatus.PENDING_REFUND, by=None)


def _complete(ret: Return, *, by) -> None:
    """The return is settled: COMPLETE, with a credit note of what it gave back."""
    state.transition(RETURN, ret, ReturnStatus.COMPLETE, by=by)
    if ret.order_id is None:
        return
    quantities: Counter = Counter()
    for item in ret.items.all():
        if item.order_line_id is not None:
            quantities[item.order_line_id] += item.quantity
    note = billing.credit_note_for_refund(
        order=ret.order,
        quantities=dict(quantities),
        include_shipping=ret.type == ReturnType.CANCELLATION or ret.shipping_amount > 0,
        by=by,
    )
    if note is not None:
        ret.credit_note = note
        ret.save(update_fields=["credit_note"])
    gateway, by_hand, _ = ledger.refunds_of_return(ret)
    if gateway + by_hand > 0:
        _email_customer(ret, "refunded", by=by, amount=gateway + by_hand)


@transaction.atomic
def return_release_refund(*, ret: Return, by, by_hand: bool) -> Return:
    """A manager releases a pending refund: through the gateway again, or recorded as paid by
    hand (a bank transfer, store credit given at the till) in the ledger."""
    require_role(by, ret.retailer_id, Role.MANAGER)
    ret = _lock(ret)
    if ret.refunds.filter(ledger.UNSETTLED).exists():
        raise state.InvalidTransition(
            "A refund of this return is on its way or timed out: retry it on the order's "
            "Transactions tab before releasing more."
        )
    if ret.status != ReturnStatus.PENDING_REFUND:
        raise state.InvalidTransition(
            f"Return {ret.return_ref} is {ret.get_status_display()}: there is no refund to release."
        )
    amount = refund_amount(ret)
    if by_hand:
        ret.refunded_by_hand = True
        ret.save(update_fields=["refunded_by_hand"])
        if amount > 0:
            billing.refund_by_hand(
                payments=list(ret.order.payments.all()),
                amount=amount,
                by=by,
                return_request_id=ret.pk,
            )
        _record(ret, "returns.return.refund_released", by, amount=amount, currency=ret.currency)
        _complete(ret, by=by)
        return ret
    payment = single_gateway_payment(ret)
    if payment is None:
        raise state.InvalidTransition(
            "This order was not paid with one tender through the gateway: refund it by hand."
        )
    available = ledger.refundable(payment)
    if available < amount:
        raise ValidationError(
            f"Only {format_money(available, payment.currency)} can still be refunded on the "
            "order's payment: refund the rest by hand."
        )
    state.transition(RETURN, ret, ReturnStatus.LODGED, by=by)
    billing.queue_operation(
        payment, PaymentTransaction.Kind.REFUND, amount, by=by, return_request_id=ret.pk
    )
    return ret


def _parcel_moved(fulfilment: ReturnFulfilment, *, before: str, by) -> None:
    activity.record(
        action="returns.returnfulfilment.status_changed",
        target=fulfilment,
        root=fulfilment.return_request,
        by=by,
        data={
            "ref": fulfilment.ref or fulfilment.pk,
            "before": ReturnFulfilment.Status(before).label,
            "after": fulfilment.get_status_display(),
        },
    )


PARCEL = state.Machine(
    transitions=lambda parcel: ReturnFulfilment.TRANSITIONS,
    record=_parcel_moved,
    name=lambda parcel: "The return parcel",
    labels=dict(ReturnFulfilment.Status.choices),
)


@transaction.atomic
def return_fulfilment_move(
    *, fulfilment: ReturnFulfilment, to: str, by, notify: bool = True
) -> ReturnFulfilment:
    """Mark a return parcel ARRIVED at its drop-off point (and, with `notify`, tell the
    customer), or COMPLETE at its destination."""
    require_role(by, fulfilment.retailer_id, Role.MANAGER)
    ret = _lock(fulfilment.return_request)
    fulfilment = locking.lock(fulfilment)
    fulfilment.return_request = ret
    stamp = "arrived_at" if to == ReturnFulfilment.Status.ARRIVED else "completed_at"
    state.transition(PARCEL, fulfilment, to, by=by, also={stamp: timezone.now()})
    if notify and to == ReturnFulfilment.Status.ARRIVED:
        _email_customer(ret, "arrived", by=by)
    arrived = not ret.fulfilments.filter(status=ReturnFulfilment.Status.CREATED).exists()
    if (
        arrived
        and ret.action is not None
        and ret.action.refunds
        and ret.status in (ReturnStatus.CREATED, ReturnStatus.BOOKED)
    ):
        return_start_refund(ret=ret, by=by)
    return fulfilment


def return_for_cancellation(*, order: Order, by, operations: list) -> Return | None:
    """An order cancelled after it was paid gets a CANCELLATION return of what was still not on
    a return, worth the refunds the cancellation asked for, which it links; LODGED on them."""
    if not operations:
        return None
    units = dict.fromkeys(order.lines.all())
    ret = _items_return(
        order, ReturnType.CANCELLATION, units, by=by, reason="CANCELLATION", allow_empty=True
    )
    ret.total_return_price = sum((op.amount for op in operations), Decimal(0))
    ret.shipping_amount = max(
        Decimal(0),
        order.shipping
        - (order.returns.exclude(pk=ret.pk).aggregate(t=Sum("shipping_amount"))["t"] or 0),
    )
    ret.save(update_fields=["total_return_price", "shipping_amount"])
    PaymentTransaction.objects.filter(pk__in=[op.pk for op in operations]).update(
        return_request=ret
    )
    state.transition(RETURN, ret, ReturnStatus.LODGED, by=by)
    return ret


def return_for_unfulfillable(*, order: Order, units: dict[OrderLine, int], by) -> Return:
    """Cancelled units that were paid for are refunded through a CANNOT_FULFIL return."""
    ret = _items_return(order, ReturnType.CANNOT_FULFIL, units, by=by, reason="CANNOT_FULFIL")
    return return_start_refund(ret=ret, by=by)


def _items_return(
    order: Order,
    type_: str,
    units: dict[OrderLine, int | None],
    *,
    by,
    reason: str,
    allow_empty: bool = False,
) -> Return:
    """A return made by the system of these units of the order's lines (None: every unit not
    on a return yet), each valued at the price paid."""
    on_returns = _on_returns(order)
    items = []
    for line, count in units.items():
        left = line.quantity - on_returns[line.pk]
        take = left if count is None else min(count, left)
        if take > 0:
            items.append(
                ItemInput(
                    sku_ref=line.sku,
                    quantity=take,
                    order_line=line,
                    reason=reason,
                    condition=reason,
                )
            )
    if not items and not allow_empty:
        raise ValidationError("Every item of this order is on a return already.")
    _value(items, order, order.currency)
    shipping = (
        _shipping(order, type_, items, None) if type_ == ReturnType.CANNOT_FULFIL else Decimal(0)
    )
    customer = order.customer
    ret = Return.objects.create(
        retailer_id=order.retailer_id,
        return_ref=next_return_ref(order.retailer_id),
        order=order,
        type=type_,
        status=ReturnStatus.CREATED,
        customer=customer,
        customer_ref=customer.ref if customer else "",
        customer_email=customer.email if customer else "",
        customer_first_name=customer.first_name if customer else "",
        customer_last_name=customer.last_name if customer else "",
        customer_mobile=customer.mobile if customer else "",
        currency=order.currency,
        shipping_amount=shipping,
        total_return_price=sum((i.amount for i in items), Decimal(0)) + shipping,
    )
    rows = [
        ReturnItem(
            retailer_id=order.retailer_id,
            return_request=ret,
            order_line=item.order_line,
            sku_id=item.sku_id,
            sku_ref=item.sku_ref,
            sku_price=item.sku_price,
            sku_tax_price=item.sku_tax_price,
            tax_type=item.tax_type,
            currency=item.currency,
            quantity=item.quantity,
            amount=item.amount,
            reason_text=reason,
            condition_text=reason,
        )
        for item in items
    ]
    ReturnItem.objects.bulk_create(rows)
    _record(ret, "returns.return.created", by, summary=_summary(rows, ret))
    return ret


@transaction.atomic
def config_save(*, form: ModelForm, retailer_id: int, by):
    """Add or change an entry of a retailer's list (admins)."""
    require_role(by, retailer_id, Role.ADMIN)
    entry = form.save(commit=False)
    entry.retailer_id = retailer_id
    entry.code = slugify(entry.code or entry.label).upper()[:50]
    adding = entry.pk is None
    stored = None if adding else type(entry).objects.get(pk=entry.pk)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as error:
        form.add_error("code", f"There is an entry with code {entry.code} already.")
        raise ValueError from error
    data = {"label": entry.label, "code": entry.code}
    if stored is not None:
        changed = [f for f in form.Meta.fields if getattr(stored, f) != getattr(entry, f)]
        data["before"] = {f: _shown(getattr(stored, f)) for f in changed}
        data["after"] = {f: _shown(getattr(entry, f)) for f in changed}
    activity.record(
        action=f"returns.{type(entry).__name__.lower()}.{'created' if adding else 'updated'}",
        target=entry,
        by=by,
        data=data,
    )
    return entry


@transaction.atomic
def config_toggle(*, entry, by):
    """Stop offering an entry (it stays on the returns that use it) or offer it again. The row
    is locked, so two admins toggling at once take turns and each sees the other's change."""
    require_role(by, entry.retailer_id, Role.ADMIN)
    entry = locking.lock(entry)
    entry.is_active = not entry.is_active
    entry.save(update_fields=["is_active"])
    activity.record(
        action=f"returns.{type(entry).__name__.lower()}."
        f"{'activated' if entry.is_active else 'deactivated'}",
        target=entry,
        by=by,
        data={"label": entry.label},
    )
    return entry


def _shown(value):
    """A field's value as the activity keeps it: a related entry by its label."""
    return value if value is None or isinstance(value, str | int | bool) else str(value)


DEFAULT_ACTIONS = [
    ("REFUND", "Refund", ReturnAction.Kind.REFUND, ReturnAction.Timing.ON_RECEIPT),
    ("EXCHANGE", "Exchange", ReturnAction.Kind.EXCHANGE, ReturnAction.Timing.ON_RECEIPT),
    (
        "STORE_CREDIT",
        "Store credit",
        ReturnAction.Kind.STORE_CREDIT,
        ReturnAction.Timing.ON_RECEIPT,
    ),
    ("REJECT", "Reject", ReturnAction.Kind.REJECT, ReturnAction.Timing.ON_RECEIPT),
]
DEFAULT_REASONS = [
    ("DAMAGED", "Damaged", "REFUND"),
    ("WRONG_SIZE", "Wrong size", "EXCHANGE"),
    ("NOT_AS_DESCRIBED", "Not as described", "REFUND"),
    ("CHANGED_MIND", "Changed my mind", "REFUND"),
]
DEFAULT_CONDITIONS = [("0", "Unused", True), ("1", "Used", True), ("2", "Damaged", False)]


def return_config_ensure_defaults(*, retailer) -> None:
    """Give a retailer the usual return actions, reasons and conditions it lacks."""
    actions = {}
    for position, (code, label, kind, timing) in enumerate(DEFAULT_ACTIONS):
        actions[code], _ = ReturnAction.objects.get_or_create(
            retailer=retailer,
            code=code,
            defaults={"label": label, "kind": kind, "timing": timing, "position": position},
        )
    for position, (code, label, action) in enumerate(DEFAULT_REASONS):
        ReturnReason.objects.get_or_create(
            retailer=retailer,
            code=code,
            defaults={"label": label, "default_action": actions[action], "position": position},
        )
    for position, (code, label, restockable) in enumerate(DEFAULT_CONDITIONS):
        ReturnCondition.objects.get_or_create(
            retailer=retailer,
            code=code,
            defaults={"label": label, "restockable": restockable, "position": position},
        )
