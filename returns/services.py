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
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from oms import activity, state
from oms.roles import Role, has_role, require_role
from orders.models import Order, OrderLine, PaymentTransaction
from returns.models import (
    MONEY,
    RETURN_TRANSITIONS,
    FulfilmentType,
    Return,
    ReturnAction,
    ReturnCondition,
    ReturnFulfilment,
    ReturnItem,
    ReturnReason,
    ReturnStatus,
    ReturnType,
    TaxType,
)

CENT = Decimal("0.01")
# the largest total a return's money column holds
MAX_TOTAL = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])

activity.describe_as("returns.return.created", "{type_label} {return_ref} created: {summary}")
activity.describe_as("returns.return.status_changed", "Return {return_ref}: {before} → {after}")
activity.describe_as(
    "returns.returnfulfilment.status_changed", "Return parcel {ref}: {before} → {after}"
)
activity.describe_as(
    "returns.return.refund_released",
    "Refund of return {return_ref} released by hand: {amount} {currency}",
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
    custom_attributes: dict = field(default_factory=dict)


def returned_quantities(order: Order) -> Counter:
    """Units of each order line already on a return (by line id)."""
    return Counter(
        dict(
            ReturnItem.objects.filter(return_request__order=order, order_line__isnull=False)
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
    """Tie each item to the order line it returns; refuse items not on the order or more units
    than were ordered and not yet returned."""
    if data.order is None:
        return
    lines = list(data.order.lines.all())
    by_ref = {}
    for line in lines:
        by_ref.setdefault(line.sku, line)
    already = returned_quantities(data.order)
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
    for line in lines:
        left = line.quantity - already[line.pk]
        if wanted[line.pk] > left:
            raise ValidationError(
                {
                    "items": f"{line.sku}: {wanted[line.pk]} returned but only {left} of "
                    f"{line.quantity} ordered can still be returned."
                }
            )


def _price_from_line(item: ItemInput, currency: str) -> None:
    """Price an item by the order line it returns (unit price excluding tax, and its tax); a
    price given for it is kept, but never above what the customer paid for the unit."""
    line = item.order_line
    if line is None:
        return
    unit_total = line.total / line.quantity
    unit_tax = (line.tax / line.quantity).quantize(CENT, ROUND_HALF_UP)
    # the rest of the unit, rounded down: net and tax together never exceed what it cost
    unit_net = (unit_total - unit_tax).quantize(CENT, ROUND_DOWN)
    if item.sku_price is not None:  # priced by the caller: kept as given, within the limit
        item.sku_price = min(item.sku_price, unit_net)
        if item.sku_tax_price is not None:
            item.sku_tax_price = min(item.sku_tax_price, unit_tax)
        return
    item.sku_price = unit_net
    item.sku_tax_price = unit_tax
    item.tax_type = item.tax_type or TaxType.VAT
    item.currency = item.currency or currency
    item.sku_id = item.sku_id or str(line.pk)


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
    for index, item in enumerate(data.items):
        if not item.sku_ref:
            raise ValidationError({f"items[{index}].skuRef": "skuRef is compulsory."})
        if item.quantity < 1:
            raise ValidationError({f"items[{index}].returnQty": "returnQty must be at least 1."})
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
        Order.objects.select_for_update(of=("self",)).filter(pk=data.order.pk).first()
        _match_lines(data)
    currency = (data.order.currency if data.order else "") or (
        (data.fulfilment_choice or {}).get("currency") or ""
    )
    for item in data.items:
        _price_from_line(item, currency)
    customer = data.order.customer if data.order is not None else None
    customer_id = str(data.customer.customer_id or "")
    if customer is None and customer_id.isascii() and customer_id.isdigit():
        from customers.models import Customer

        customer = Customer.objects.filter(
            retailer_id=data.retailer_id, pk=int(customer_id)
        ).first()
    choice = data.fulfilment_choice
    now = timezone.now()
    ret = Return(
        retailer_id=data.retailer_id,
        order=data.order,
        type=data.type,
        status=data.status or ReturnStatus.CREATED,
        customer=customer,
        customer_ref=data.customer.customer_ref or (customer.ref if customer else ""),
        customer_email=data.customer.email,
        customer_first_name=data.customer.first_name or "",
        customer_last_name=data.customer.last_name or "",
        customer_mobile=data.customer.mobile or "",
        fulfilment_choice=choice,
        action=data.action,
        currency=currency,
        custom_attributes=data.custom_attributes or {},
        created_at=now,
        updated_at=now,
    )
    if data.return_ref:
        ret.return_ref = data.return_ref
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
            reason_text=item.reason,
            condition_text=item.condition,
            reason=_lookup(ReturnReason, data.retailer_id, item.reason),
            condition=_lookup(ReturnCondition, data.retailer_id, item.condition),
            action=item.action,
        )
        for item in data.items
    ]
    for item in items:
        if item.action is None and item.reason is not None:
            item.action = item.reason.default_action
    ReturnItem.objects.bulk_create(items)
    ret.total_return_price = _total(items, choice)
    if ret.total_return_price >= MAX_TOTAL:
        raise ValidationError({"totalReturnPrice": f"The total must be less than {MAX_TOTAL}."})
    if ret.action is None:
        ret.action = next((item.action for item in items if item.action), None)
    ret.save(update_fields=["total_return_price", "action"])

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
    if not data.status and fulfilments:
        ret.status = ReturnStatus.BOOKED
        ret.save(update_fields=["status"])
    _record(ret, "returns.return.created", by, summary=_summary(items, ret))
    if (
        ret.action is not None
        and ret.action.refunds
        and (ret.action.timing == ReturnAction.Timing.ON_APPROVAL or not fulfilments)
        and ret.status in (ReturnStatus.CREATED, ReturnStatus.BOOKED)
    ):
        if has_role(by, data.retailer_id, Role.MANAGER):
            return_start_refund(ret=ret, by=by)
        else:  # moving money is a manager's call: it waits for one
            _set_status(_lock(ret), ReturnStatus.PENDING_REFUND, by=by)
    return ret


def _total(items: list[ReturnItem], choice: dict | None) -> Decimal:
    total = sum((item.refund_amount for item in items), Decimal(0))
    if choice:
        for key in ("fulfilmentPrice", "fulfilmentTaxPrice"):
            if choice.get(key) not in (None, ""):
                total += Decimal(str(choice[key]))
    return total.quantize(CENT)


def _summary(items, ret: Return) -> str:
    units = sum(item.quantity for item in items)
    return f"{units} item(s), {ret.total_return_price} {ret.currency}".strip()


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


def _set_status(ret: Return, status: str, *, by) -> None:
    if ret.status == status:
        return
    state.check(
        RETURN_TRANSITIONS,
        ret.status,
        status,
        labels=dict(ReturnStatus.choices),
        what=f"Return {ret.return_ref}",
    )
    before = ret.get_status_display()
    ret.status = status
    ret.updated_at = timezone.now()
    ret.save(update_fields=["status", "updated_at"])
    _record(ret, "returns.return.status_changed", by, before=before, after=ret.get_status_display())


def _lock(ret: Return) -> Return:
    return (
        Return.objects.select_for_update(of=("self",))
        .select_related("order", "action")
        .get(pk=ret.pk)
    )


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


def _unsettled_refunds(ret: Return):
    return ret.refunds.filter(
        Q(status=PaymentTransaction.Status.PENDING)
        | Q(status=PaymentTransaction.Status.FAILED, error_code="unavailable")
    )


def _refunded(ret: Return) -> Decimal:
    return ret.refunds.filter(status=PaymentTransaction.Status.SUCCEEDED).aggregate(
        total=Sum("amount")
    )["total"] or Decimal(0)


def refunded_by_hand(order: Order) -> Decimal:
    """What managers gave back by hand on the order's returns (a bank transfer, store credit at
    the till): still held by the payments, but no longer the customer's to get back."""
    return order.returns.aggregate(total=Sum("refunded_by_hand_amount"))["total"] or Decimal(0)


def refund_amount(ret: Return) -> Decimal:
    """What the return still gives back: its total less what its refunds already paid, and
    never more than the order's payments can still refund (less what was given back by hand)."""
    from orders.services.payments import refundable_now

    left = max(Decimal(0), ret.total_return_price - _refunded(ret))
    if ret.order_id is None:
        return left
    payable = sum((refundable_now(p) for p in ret.order.payments.all()), Decimal(0))
    return min(left, max(payable - refunded_by_hand(ret.order), Decimal(0)))


def return_start_refund(*, ret: Return, by) -> Return:
    """Refund the return: LODGED through the gateway, or PENDING_REFUND for a manager."""
    from orders.services.locking import lock_order, lock_payment
    from orders.services.payments import queue_operation, refundable_now

    if ret.order_id is not None:
        lock_order(ret.order)  # order before return, as payments lock them
    ret = _lock(ret)
    if ret.status not in (ReturnStatus.CREATED, ReturnStatus.BOOKED):
        return ret  # its refund started already
    payment = single_gateway_payment(ret)
    if payment is not None:
        payment = lock_payment(payment)
    amount = refund_amount(ret)
    if amount <= 0:
        _complete(ret, by=by)
        return ret
    if payment is not None and refundable_now(payment) >= amount:
        _set_status(ret, ReturnStatus.LODGED, by=by)
        queue_operation(
            payment, PaymentTransaction.Kind.REFUND, amount, by=by, return_request_id=ret.pk
        )
    else:
        _set_status(ret, ReturnStatus.PENDING_REFUND, by=by)
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
    if _unsettled_refunds(ret).exclude(pk=operation.pk).exists():
        raise state.InvalidTransition(
            f"Another refund of return {ret.return_ref} is on its way: wait for it."
        )
    return refund_amount(ret)


def return_link_refunds(*, ret: Return, operations: list[PaymentTransaction], by) -> Return:
    """A return whose refunds were already asked for (an order cancellation): LODGED on them."""
    PaymentTransaction.objects.filter(pk__in=[op.pk for op in operations]).update(
        return_request=ret
    )
    _set_status(_lock(ret), ReturnStatus.LODGED, by=by)
    return ret


def return_refund_settled(*, operation: PaymentTransaction) -> None:
    """A refund of a return finished at the gateway: complete the return when all of its
    refunds succeeded and nothing more can be refunded; a decline, or a refund that paid only
    part of it, leaves it PENDING_REFUND for a manager. Called inside the payment operation's
    recording transaction."""
    ret = _lock(operation.return_request)
    if ret.status == ReturnStatus.COMPLETE:
        return
    if operation.status == PaymentTransaction.Status.FAILED:
        if operation.error_code == "unavailable":
            return  # the gateway may have paid it: stays LODGED until a retry settles it
        if ret.status == ReturnStatus.LODGED:
            _set_status(ret, ReturnStatus.PENDING_REFUND, by=None)
        return
    if _unsettled_refunds(ret).exists():
        return
    if refund_amount(ret) <= 0:  # all of it refunded, or nothing more can be
        if ret.status == ReturnStatus.PENDING_REFUND:
            _set_status(ret, ReturnStatus.LODGED, by=None)
        _complete(ret, by=None)
    elif ret.status == ReturnStatus.LODGED:  # paid in part: a manager releases the rest
        _set_status(ret, ReturnStatus.PENDING_REFUND, by=None)


def _complete(ret: Return, *, by) -> None:
    _set_status(ret, ReturnStatus.COMPLETE, by=by)
    from billing.services import credit_note_for_return

    note = credit_note_for_return(ret=ret, by=by)
    if note is not None:
        ret.credit_note = note
        ret.save(update_fields=["credit_note"])


@transaction.atomic
def return_release_refund(*, ret: Return, by, by_hand: bool) -> Return:
    """A manager releases a pending refund: through the gateway again, or recorded as paid by
    hand (a bank transfer, store credit given at the till)."""
    require_role(by, ret.retailer_id, Role.MANAGER)
    if ret.order_id is not None:
        from orders.services.locking import lock_order as _lock_order

        _lock_order(ret.order)
    ret = _lock(ret)
    if _unsettled_refunds(ret).exists():
        raise state.InvalidTransition(
            "A refund of this return is on its way or timed out: retry it on the order's "
            "Transactions tab before releasing more."
        )
    if ret.status != ReturnStatus.PENDING_REFUND:
        raise state.InvalidTransition(
            f"Return {ret.return_ref} is {ret.get_status_display()}: there is no refund to release."
        )
    if by_hand:
        amount = refund_amount(ret)
        ret.refunded_by_hand = True
        ret.refunded_by_hand_amount = amount
        ret.save(update_fields=["refunded_by_hand", "refunded_by_hand_amount"])
        _record(ret, "returns.return.refund_released", by, amount=amount, currency=ret.currency)
        _complete(ret, by=by)
        return ret
    payment = single_gateway_payment(ret)
    if payment is None:
        raise state.InvalidTransition(
            "This order was not paid with one tender through the gateway: refund it by hand."
        )
    from orders.services.locking import lock_payment
    from orders.services.payments import queue_operation, refundable_now

    payment = lock_payment(payment)
    amount = refund_amount(ret)
    if refundable_now(payment) < amount:
        raise ValidationError(
            f"Only {refundable_now(payment)} {payment.currency} can still be refunded on the "
            "order's payment: refund the rest by hand."
        )
    _set_status(ret, ReturnStatus.LODGED, by=by)
    queue_operation(
        payment, PaymentTransaction.Kind.REFUND, amount, by=by, return_request_id=ret.pk
    )
    return ret


@transaction.atomic
def return_fulfilment_move(*, fulfilment: ReturnFulfilment, to: str, by) -> ReturnFulfilment:
    """Mark a return parcel ARRIVED at its drop-off point, or COMPLETE at its destination."""
    require_role(by, fulfilment.retailer_id, Role.MANAGER)
    fulfilment = (
        ReturnFulfilment.objects.select_for_update()
        .select_related("return_request")
        .get(pk=fulfilment.pk)
    )
    state.check(
        ReturnFulfilment.TRANSITIONS,
        fulfilment.status,
        to,
        labels=dict(ReturnFulfilment.Status.choices),
        what="The return parcel",
    )
    before = fulfilment.get_status_display()
    fulfilment.status = to
    now = timezone.now()
    if to == ReturnFulfilment.Status.ARRIVED:
        fulfilment.arrived_at = now
    else:
        fulfilment.completed_at = now
    fulfilment.save(update_fields=["status", "arrived_at", "completed_at"])
    ret = fulfilment.return_request
    activity.record(
        action="returns.returnfulfilment.status_changed",
        target=fulfilment,
        root=ret,
        by=by,
        data={
            "ref": fulfilment.ref or fulfilment.pk,
            "before": before,
            "after": fulfilment.get_status_display(),
        },
    )
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
    """An order cancelled after it was paid gets a CANCELLATION return of all its items."""
    if not operations:
        return None
    ret = _items_return(
        order,
        ReturnType.CANCELLATION,
        list(order.lines.all()),
        by=by,
        reason="CANCELLATION",
        allow_empty=True,  # every item may be on a return already: the refund still needs one
    )
    ret.total_return_price = sum((op.amount for op in operations), Decimal(0))
    ret.save(update_fields=["total_return_price"])
    return return_link_refunds(ret=ret, operations=operations, by=by)


def return_for_unfulfillable(*, order: Order, lines: list[OrderLine], by) -> Return:
    """Items that cannot be fulfilled are refunded through a CANNOT_FULFIL return."""
    ret = _items_return(order, ReturnType.CANNOT_FULFIL, lines, by=by, reason="CANNOT_FULFIL")
    return return_start_refund(ret=ret, by=by)


def _items_return(
    order: Order, type_: str, lines: list[OrderLine], *, by, reason: str, allow_empty: bool = False
) -> Return:
    already = returned_quantities(order)
    items = []
    for line in lines:
        left = line.quantity - already[line.pk]
        if left > 0:
            items.append(
                ItemInput(
                    sku_ref=line.sku,
                    quantity=left,
                    order_line=line,
                    reason=reason,
                    condition=reason,
                )
            )
    if not items and not allow_empty:
        raise ValidationError("Every item of this order is on a return already.")
    customer = order.customer
    ret = Return.objects.create(
        retailer_id=order.retailer_id,
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
    )
    rows = []
    for item in items:
        _price_from_line(item, order.currency)
        rows.append(
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
                reason_text=reason,
                condition_text=reason,
            )
        )
    ReturnItem.objects.bulk_create(rows)
    ret.total_return_price = _total(rows, None)
    ret.save(update_fields=["total_return_price"])
    _record(ret, "returns.return.created", by, summary=_summary(rows, ret))
    return ret


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
