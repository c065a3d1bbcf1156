"""Moving an order through its statuses, and the workflows that cross apps: place, confirm,
complete, cancel, cancel items, correct a quantity, copy, holds and manual payment status.

Each one locks the order first (`oms.locking`), checks the move against the order's state
machine (`ORDER`), and then calls down into fulfilments, returns and billing; none of those
calls back up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing import ledger
from billing import services as billing
from customers.models import Address, Customer
from fulfilments import services as fulfilments
from oms import bounds, locking, state
from oms.roles import Role, require_role
from orders import events, pricing
from orders.models import (
    ORDER_CHECKS,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    PaymentStatus,
    ShipmentStatus,
    SystemState,
)
from orders.services.holds import holds_apply
from orders.services.mail import queue_order_email
from orders.services.payments import order_payment_status_refresh
from orders.services.shipments import BEFORE_SHIPPING
from returns import services as returns

HOLD_FLAGS = {
    "documentation": ("hold_documentation", "Missing documentation"),
    "compliance": ("hold_compliance", "Compliance"),
}


def _state_of(status) -> str:
    """A retailer's status, or a system state, as the system state it is."""
    return getattr(status, "system_state", status)


def completion_blockers(order: Order) -> list[str]:
    """Why the order may not be completed yet, if anything: every unit must have shipped or be
    cancelled."""
    waiting = sum(units.open for units in order.line_units.values())
    if not waiting:
        return []
    return [f"{waiting} item(s) have not shipped: ship or cancel them first"]


def _guard(order: Order, to) -> None:
    target = _state_of(to)
    if target == SystemState.PROCESSING and order.is_held:
        raise state.InvalidTransition(
            f"Order {order.ref} is on hold ({', '.join(order.hold_reasons).lower()}): "
            "a manager must clear the hold before it can be processed."
        )
    if target == SystemState.COMPLETED and order.status.system_state != SystemState.COMPLETED:
        blockers = completion_blockers(order)
        if blockers:
            raise state.InvalidTransition(
                f"Order {order.ref} cannot be completed: {'; '.join(blockers)}."
            )


ORDER = state.Machine(
    transitions=lambda order: order.transitions(),
    record=events.order_status_changed,
    name=lambda order: f"Order {order.ref}",
    labels=dict(SystemState.choices),
    state_of=_state_of,
    within_state=True,
    guard=_guard,
    touch=("updated_at",),
)


def _lock(order: Order, *related: str) -> Order:
    return locking.lock(order, related=(*ORDER_CHECKS, *related))


def _status_in(order: Order, system_state: str) -> OrderStatus:
    status = (
        OrderStatus.objects.filter(retailer_id=order.retailer_id, system_state=system_state)
        .order_by("position", "pk")
        .first()
    )
    if status is None:
        raise state.InvalidTransition(
            f"The retailer has no order status for {SystemState(system_state).label}; "
            "an admin can add one in Settings."
        )
    return status


def check_move(order: Order, target_state: str) -> None:
    """Raise InvalidTransition unless the order may move to `target_state` now."""
    ORDER.check(order, target_state)


def check_suspend(order: Order) -> None:
    """Raise InvalidTransition unless the order may be suspended now."""
    if order.status.system_state == SystemState.SUSPENDED:
        raise state.InvalidTransition(f"Order {order.ref} is already suspended.")
    check_move(order, SystemState.SUSPENDED)


def check_resume(order: Order) -> None:
    """Raise InvalidTransition unless the order is suspended and may go back where it was."""
    if order.status.system_state != SystemState.SUSPENDED or order.suspended_from is None:
        raise state.InvalidTransition(f"Order {order.ref} is not suspended.")
    check_move(order, order.suspended_from.system_state)


def _move(order: Order, to: OrderStatus, *, by, reason: str = "") -> OrderStatus:
    """Move the (locked) order to `to` through the state machine; the status it had."""
    before = order.status
    suspended_from = order.suspended_from
    if to.system_state == SystemState.SUSPENDED:
        if before.system_state != SystemState.SUSPENDED:  # from one suspended status to
            suspended_from = before  # another, it still resumes where it was
    elif before.system_state == SystemState.SUSPENDED:
        suspended_from = None
    return state.transition(
        ORDER, order, to, by=by, also={"suspended_from": suspended_from}, reason=reason
    )


# placing


@dataclass
class LineInput:
    """One line of an order as a channel or a person describes it."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal = Decimal("0.00")
    tax_rate: Decimal | None = None
    # the tax included in the line as its channel charged it; worked out from the rate if None
    tax: Decimal | None = None
    shipping_method: str = ""


@dataclass
class AddressInput:
    name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""
    phone: str = ""


@dataclass
class PaymentInput:
    method: str
    provider_reference: str = ""


@dataclass
class OrderInput:
    """A new order: who, what, where to, and how it was paid."""

    retailer_id: int
    ref: str
    currency: str
    lines: list[LineInput]
    customer: Customer | None = None
    channel: str = "web"
    type: str = OrderType.HOME_DELIVERY
    shipping: Decimal = Decimal("0.00")
    shipping_address: AddressInput | None = None
    billing_address: AddressInput | None = None
    placed_at: datetime | None = None
    delivery_method: str = "Standard delivery"
    carrier: str = ""
    promised_date: date | None = None
    collection_location: str = ""
    payment: PaymentInput | None = None
    vat_number: str = ""


def _address(retailer_id: int, customer: Customer | None, given: AddressInput) -> Address:
    """The address as given, its country as an ISO code (an English name becomes its code; an
    unknown country is refused, never cut to two letters)."""
    faults = bounds.check_fits(
        {
            n: getattr(given, n)
            for n in ("name", "company", "line1", "line2", "postcode", "city", "phone")
        },
        Address,
    )
    country = given.country
    try:
        country = bounds.country_code(given.country) if given.country else ""
    except ValidationError as error:
        faults["country"] = " ".join(error.messages)
    if faults:
        raise ValidationError({f"address.{name}": reason for name, reason in faults.items()})
    return Address.objects.create(
        retailer_id=retailer_id,
        customer=customer,
        name=given.name or (customer.full_name if customer else ""),
        company=given.company,
        line1=given.line1,
        line2=given.line2,
        postcode=given.postcode,
        city=given.city,
        country=country,
        phone=given.phone,
    )


def _check_line(position: int, line: LineInput) -> None:
    """A line's discount takes at most what its units cost, and the tax a channel says it
    charged is part of what the line comes to."""
    gross = line.unit_price * line.quantity
    if line.discount < 0 or line.discount > gross:
        raise ValidationError(
            {f"lines[{position}].discount": f"{line.discount} is not between 0 and {gross}."}
        )
    if line.tax is not None and not 0 <= line.tax <= gross - line.discount:
        raise ValidationError(
            {f"lines[{position}].tax": f"{line.tax} is not between 0 and the line's total."}
        )


def _write_lines(order: Order, lines: list[LineInput]) -> list[OrderLine]:
    rows = []
    for position, line in enumerate(lines):
        _check_line(position, line)
        rate = (
            line.tax_rate if line.tax_rate is not None else pricing.default_tax_rate(order.currency)
        )
        amounts = pricing.line_amounts(
            unit_price=line.unit_price,
            quantity=line.quantity,
            discount=line.discount,
            tax_rate=rate,
            tax=line.tax,
        )
        rows.append(
            OrderLine(
                retailer_id=order.retailer_id,
                order=order,
                position=position,
                sku=line.sku,
                name=line.name or line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=line.discount,
                tax_rate=rate,
                tax=amounts.tax,
                total=amounts.total,
                shipping_method=line.shipping_method,
            )
        )
    return OrderLine.objects.bulk_create(rows)


def _check_shipping(shipping: Decimal) -> None:
    """Shipping is what the customer paid for delivery: an amount, never negative."""
    try:
        bounds.check_money(shipping)
    except ValidationError as error:
        raise ValidationError({"shipping": f"Shipping cost: {' '.join(error.messages)}"}) from None


def _total_up(order: Order, lines, shipping: Decimal) -> None:
    totals = pricing.order_totals(lines, shipping)
    for name, value in totals.as_fields().items():
        setattr(order, name, value)
    order.shipping = shipping


@transaction.atomic
def order_place(*, data: OrderInput, by) -> Order:
    """Place a new order, as a channel, a batch import or a copy does: its lines priced and
    totalled one way, its payment authorised, its activity recorded, invoiced when the retailer
    invoices on placing."""
    if by is not None:
        require_role(by, data.retailer_id, Role.MANAGER)
    if not data.lines:
        raise ValidationError({"lines": "An order needs at least one line."})
    _check_shipping(data.shipping)
    vat_number = data.vat_number.strip()
    try:
        bounds.check_text(vat_number, Order, "vat_number")
        bounds.check_header(vat_number)
    except ValidationError as error:
        raise ValidationError({"vat_number": " ".join(error.messages)}) from None
    shipping_address = (
        _address(data.retailer_id, data.customer, data.shipping_address)
        if data.shipping_address
        else None
    )
    billing_address = (
        _address(data.retailer_id, data.customer, data.billing_address)
        if data.billing_address
        else shipping_address
    )
    now = timezone.now()
    order = Order(
        retailer_id=data.retailer_id,
        ref=data.ref,
        channel=data.channel,
        type=data.type,
        customer=data.customer,
        status=_status_in(Order(retailer_id=data.retailer_id), SystemState.NEW),
        currency=data.currency,
        billing_address=billing_address,
        shipping_address=shipping_address,
        delivery_method=data.delivery_method,
        carrier=data.carrier,
        promised_date=data.promised_date,
        collection_location=data.collection_location,
        vat_number=vat_number,
        placed_at=data.placed_at or now,
        updated_at=now,
        payment_status=PaymentStatus.NOT_PAID,
    )
    order.save()
    lines = _write_lines(order, data.lines)
    _total_up(order, lines, data.shipping)
    order.save(update_fields=["subtotal", "discount", "shipping", "tax", "total", "item_count"])
    events.order_placed(order)
    holds_apply(order=order)
    if data.payment is not None:
        billing.payment_authorise(
            order=order,
            method=data.payment.method,
            amount=order.total,
            provider_reference=data.payment.provider_reference,
            by=by,
        )
        order_payment_status_refresh(order)
    billing.invoices_on_placed(order=order)
    return order


@transaction.atomic
def order_lines_replace(*, order: Order, lines: list[LineInput], shipping: Decimal, by) -> Order:
    """A channel changed a new order's items: the lines are replaced and priced one way, the
    totals follow, and the payment is authorised for the new total while nothing was taken."""
    if by is not None:
        require_role(by, order.retailer_id, Role.MANAGER)
    order = _lock(order)
    if order.status.system_state != SystemState.NEW:
        raise state.InvalidTransition(
            f"Order {order.ref} is {order.status.label}; it can only change while it is New."
        )
    if not lines:
        raise ValidationError({"lines": "An order needs at least one line."})
    _check_shipping(shipping)
    if any(units.shipped or units.cancelled for units in order.lines.units().values()):
        raise state.InvalidTransition(f"Items of order {order.ref} shipped or were cancelled.")
    locking.lock_all(order.lines.all())
    order.lines.all().delete()
    written = _write_lines(order, lines)
    _total_up(order, written, shipping)
    order.updated_at = timezone.now()
    order.save(
        update_fields=[
            "subtotal",
            "discount",
            "shipping",
            "tax",
            "total",
            "item_count",
            "updated_at",
        ]
    )
    for payment in order.payments.order_by("pk"):
        billing.payment_authorisation_set(payment=payment, amount=order.total, by=by)
    order_payment_status_refresh(order)
    events.order_updated(order, by=by)
    return order


# moving it along


@transaction.atomic
def order_set_status(*, order: Order, status: OrderStatus, by, reason: str = "") -> Order:
    """Move the order to one of its retailer's statuses, as the state machine allows.
    Confirming it (New to Processing) sources its items; completing it needs every item
    shipped or cancelled."""
    require_role(by, order.retailer_id, Role.MANAGER)
    if status.retailer_id != order.retailer_id:
        raise ValidationError({"status": "That status belongs to another retailer."})
    if status.system_state == SystemState.CANCELLED:
        return order_cancel(order=order, by=by, notify=False, reason=reason, status=status).order
    order = _lock(order)
    if status.pk == order.status_id:
        return order
    confirming = (
        order.status.system_state == SystemState.NEW
        and status.system_state == SystemState.PROCESSING
    )
    _move(order, status, by=by, reason=reason)
    if confirming:
        # confirmation decides where each line ships from; refused (and nothing written)
        # when the order cannot ship at all
        fulfilments.order_source(order=order, by=by)
    return order


@dataclass(frozen=True)
class Cancellation:
    order: Order
    refund: Decimal
    release: Decimal


@transaction.atomic
def order_cancel(
    *,
    order: Order,
    by,
    notify: bool,
    reason: str = "",
    status: OrderStatus | None = None,
) -> Cancellation:
    """Cancel the order: its items stop, and what `cancel_plan` shows moves: what was captured
    is refunded and what was only authorised is released. Operations on their way settle when
    they are done (a capture that went through is refunded, one that did not is released).
    An order with items that left the warehouse is not cancelled: they come back on a return."""
    if by is not None:  # None: the system, e.g. a channel cancelling its own order
        require_role(by, order.retailer_id, Role.MANAGER)
    order = _lock(order)
    check_move(order, SystemState.CANCELLED)
    units = order.lines.units()
    if any(each.shipped for each in units.values()):
        raise state.InvalidTransition(
            "Some of these items have left the warehouse already; create a return instead."
        )
    _move(order, status or _status_in(order, SystemState.CANCELLED), by=by, reason=reason)
    _cancel_units(order, {pk: each.open for pk, each in units.items()}, by=by, record=False)
    fulfilments.fulfilments_release(order=order, units=None, by=by)
    plan, refunds = billing.settle_order_payments(list(order.payments.order_by("pk")), by=by)
    events.order_cancelled(
        order, by=by, reason=reason, notify=notify, refund=plan.refund, release=plan.release
    )
    if refunds:
        returns.return_for_cancellation(order=order, by=by, operations=refunds)
    else:  # nothing was paid to give back: an invoice already made is credited all the same
        billing.credit_note_for_refund(
            order=order,
            quantities={pk: each.open for pk, each in units.items() if each.open},
            include_shipping=True,
            by=by,
        )
    if notify:
        queue_order_email(
            order,
            "cancelled",
            by=by,
            context={"refund": plan.refund, "release": plan.release},
            required=False,
        )
    return Cancellation(order, plan.refund, plan.release)


def _cancel_units(order: Order, counts: dict[int, int], *, by, record: bool) -> list[OrderLine]:
    """Add `counts` (by line id) to the lines' cancelled units; a line with nothing left to
    ship reads Cancelled when nothing of it shipped, and Shipped when the rest of it did. The
    caller checked the units are open."""
    lines = locking.lock_all(order.lines.filter(pk__in=[pk for pk, n in counts.items() if n]))
    units = order.lines.units()
    for line in lines:
        line.cancelled += counts[line.pk]
        changes = {"cancelled": line.cancelled}
        left = units[line.pk].open - counts[line.pk]
        before, after = line.shipment_status, None
        if not left and not units[line.pk].shipped:
            after = ShipmentStatus.CANCELLED
        elif not left and before in BEFORE_SHIPPING:
            after = ShipmentStatus.SHIPPED
        if after is not None:
            line.shipment_status = after
            changes["shipment_status"] = after
        line.save(update_fields=list(changes))
        if record and "shipment_status" in changes:
            events.line_shipment_updated(line, changes={"shipment_status": (before, after)}, by=by)
        elif record:
            events.line_units_cancelled(line, count=counts[line.pk], by=by)
    return lines


@transaction.atomic
def order_lines_cancel(
    *,
    order: Order,
    line_ids: list[int],
    by,
    reason: str = "",
    units: dict[int, int] | None = None,
    note: str = "items cancelled",
):
    """Stop items that cannot be fulfilled (every open unit of the lines, or `units` of each by
    line id): their fulfilments give them up, and what was paid for them is refunded through a
    CANNOT_FULFIL return. Returns the return, or None when nothing had been paid."""
    require_role(by, order.retailer_id, Role.MANAGER)
    order = _lock(order)
    if not order.can_change_shipments:
        raise state.InvalidTransition(
            f"Order {order.ref} is {order.status.label}: only items of a New or Processing "
            "order can be cancelled."
        )
    wanted = set(line_ids) | set(units or {})
    lines = list(order.lines.filter(pk__in=wanted))
    if not lines or len(lines) != len(wanted):
        raise ValidationError({"lines": "Select the items of this order to cancel."})
    now = order.lines.units()
    shipped = [line.sku for line in lines if not now[line.pk].open and now[line.pk].shipped]
    if shipped:
        raise ValidationError(
            {"lines": f"Shipped items cannot be cancelled: {', '.join(shipped)}."}
        )
    counts = {}
    for line in lines:
        count = now[line.pk].open if units is None else units.get(line.pk, now[line.pk].open)
        if count < 1 or count > now[line.pk].open:
            raise ValidationError(
                {"lines": f"{line.sku}: {now[line.pk].open} can still be cancelled."}
            )
        counts[line.pk] = count
    cancelled = _cancel_units(order, counts, by=by, record=True)
    fulfilments.fulfilments_release(order=order, units=counts, by=by, note=note)
    order.updated_at = timezone.now()
    order.save(update_fields=["updated_at"])
    if not any(ledger.paid([p]) > 0 for p in order.payments.all()):
        # nothing was paid for them: an invoice already made is credited all the same, its
        # shipping too once nothing of the order ships any more
        nothing_ships = all(u.shipped == 0 and u.open == 0 for u in order.lines.units().values())
        billing.credit_note_for_refund(
            order=order, quantities=counts, include_shipping=nothing_ships, by=by
        )
        return None
    by_line = {line.pk: line for line in cancelled}
    return returns.return_for_unfulfillable(
        order=order, units={by_line[pk]: n for pk, n in counts.items()}, by=by
    )


@transaction.atomic
def fulfilment_lines_cancel(*, fulfilment, by):
    """Give up on an escalated fulfilment: the units it waits for are cancelled and, when paid,
    refunded through a CANNOT_FULFIL return."""
    require_role(by, fulfilment.retailer_id, Role.MANAGER)
    _lock(fulfilment.order)
    fulfilment = locking.lock(fulfilment)
    if fulfilment.status != fulfilments.S.ESCALATED:
        raise state.InvalidTransition(f"Fulfilment {fulfilment.ref} is not escalated.")
    units: dict[int, int] = {}
    for line_id, requested in fulfilment.items.values_list("order_line_id", "requested"):
        units[line_id] = units.get(line_id, 0) + requested
    return order_lines_cancel(
        order=fulfilment.order, line_ids=list(units), units=units, by=by, note="lines cancelled"
    )


@transaction.atomic
def order_line_correct_quantity(*, order: Order, line_id: int, quantity: int, by) -> OrderLine:
    """Fix a data-entry error in a line's quantity: never below what shipped or was cancelled
    (nor what is on a return), never above what was ordered. The line and order totals follow,
    and the payment status with them; fulfilments give up units they no longer need; no alert
    is raised."""
    require_role(by, order.retailer_id, Role.MANAGER)
    order = _lock(order)
    if not order.can_change_shipments:
        raise state.InvalidTransition(
            f"Order {order.ref} is {order.status.label}: quantities can only be corrected while "
            "it is New or Processing."
        )
    found = locking.lock_all(order.lines.filter(pk=line_id))
    if not found:
        raise ValidationError({"quantity": "That item is not on this order."})
    line = found[0]
    units = order.lines.filter(pk=line.pk).units()[line.pk]
    if quantity > line.quantity:
        raise ValidationError({"quantity": f"{line.sku}: at most {line.quantity} were ordered."})
    if quantity < units.least_quantity:
        raise ValidationError(
            {
                "quantity": f"{line.sku}: at least {units.least_quantity} ({units.shipped} "
                f"shipped, {units.cancelled} cancelled, {units.returned} returned)."
            }
        )
    if quantity == line.quantity:
        return line
    before = line.quantity
    open_after = units.open - (before - quantity)
    held = fulfilments.held_units(order, fulfilments.LIVE).get(line.pk, 0)
    if held > open_after:
        fulfilments.fulfilments_release(order=order, units={line.pk: held - open_after}, by=by)
    line.discount = (line.discount * Decimal(quantity) / Decimal(before)).quantize(pricing.CENT)
    amounts = pricing.line_amounts(
        unit_price=line.unit_price,
        quantity=quantity,
        discount=line.discount,
        tax_rate=line.tax_rate,
    )
    line.quantity, line.total, line.tax = quantity, amounts.total, amounts.tax
    fields = ["quantity", "discount", "total", "tax"]
    if not open_after and line.shipment_status in BEFORE_SHIPPING:
        # nothing left to ship: it reads as what became of its units
        shipped = ShipmentStatus.SHIPPED if units.shipped else ShipmentStatus.CANCELLED
        line.shipment_status = shipped
        fields.append("shipment_status")
    line.save(update_fields=fields)
    _total_up(order, order.lines.all(), order.shipping)
    order.updated_at = timezone.now()
    order.save(update_fields=["subtotal", "discount", "tax", "total", "item_count", "updated_at"])
    order_payment_status_refresh(order)
    events.line_quantity_corrected(line, before=before, by=by)
    return line


@transaction.atomic
def order_suspend(*, order: Order, by, reason: str) -> Order:
    """Put the order on ice; it resumes to the status it had."""
    require_role(by, order.retailer_id, Role.MANAGER)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the order is suspended."})
    order = _lock(order)
    check_suspend(order)
    _move(order, _status_in(order, SystemState.SUSPENDED), by=by, reason=reason.strip())
    return order


@transaction.atomic
def order_resume(*, order: Order, by) -> Order:
    """Take a suspended order back to the status it was suspended from."""
    require_role(by, order.retailer_id, Role.MANAGER)
    order = _lock(order)
    check_resume(order)
    _move(order, order.suspended_from, by=by, reason="Resumed")
    return order


@transaction.atomic
def order_copy(*, order: Order, by) -> Order:
    """A new order in NEW for the same customer, addresses and items, without payments."""
    require_role(by, order.retailer_id, Role.MANAGER)
    source = _lock(order, "billing_address", "shipping_address")
    taken = set(
        Order.objects.filter(
            retailer_id=source.retailer_id, ref__startswith=f"{source.ref}-C"
        ).values_list("ref", flat=True)
    )
    number = 1
    while f"{source.ref}-C{number}" in taken:
        number += 1

    def address(given) -> AddressInput | None:
        if given is None:
            return None
        return AddressInput(
            name=given.name,
            company=given.company,
            line1=given.line1,
            line2=given.line2,
            postcode=given.postcode,
            city=given.city,
            country=given.country,
            phone=given.phone,
        )

    copy = order_place(
        data=OrderInput(
            retailer_id=source.retailer_id,
            ref=f"{source.ref}-C{number}",
            currency=source.currency,
            customer=source.customer,
            channel=source.channel,
            type=source.type,
            shipping=source.shipping,
            shipping_address=address(source.shipping_address),
            billing_address=address(source.billing_address)
            if source.billing_address_id != source.shipping_address_id
            else None,
            delivery_method=source.delivery_method,
            carrier=source.carrier,
            collection_location=source.collection_location,
            vat_number=source.vat_number,
            lines=[
                LineInput(
                    sku=line.sku,
                    name=line.name,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    discount=line.discount,
                    tax_rate=line.tax_rate,
                    shipping_method=line.shipping_method,
                )
                for line in source.lines.all()
            ],
        ),
        by=by,
    )
    events.order_copied(source, copy, by=by)
    return copy


@transaction.atomic
def order_hold_set(*, order: Order, flag: str, by, reason: str) -> Order:
    """Hold the order: it cannot be processed until a manager clears the flag."""
    require_role(by, order.retailer_id, Role.MANAGER)
    name, label = _hold(flag)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the order is held."})
    order = _lock(order)
    if getattr(order, name):
        return order
    setattr(order, name, True)
    setattr(order, f"{name}_rule", None)  # held by hand
    setattr(order, f"{name}_why", reason.strip()[: Order._meta.get_field(f"{name}_why").max_length])
    order.updated_at = timezone.now()
    order.save(update_fields=[name, f"{name}_rule", f"{name}_why", "updated_at"])
    events.order_hold_changed(order, hold=label, held=True, reason=reason.strip(), by=by)
    return order


@transaction.atomic
def order_hold_clear(*, order: Order, flag: str, by, reason: str) -> Order:
    """Clear a hold flag, saying why; the reason stays in Activity."""
    require_role(by, order.retailer_id, Role.MANAGER)
    name, label = _hold(flag)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the hold can be cleared."})
    order = _lock(order)
    if not getattr(order, name):
        raise ValidationError({"flag": f"Order {order.ref} is not held for {label.lower()}."})
    setattr(order, name, False)
    setattr(order, f"{name}_rule", None)
    setattr(order, f"{name}_why", "")
    order.updated_at = timezone.now()
    order.save(update_fields=[name, f"{name}_rule", f"{name}_why", "updated_at"])
    events.order_hold_changed(order, hold=label, held=False, reason=reason.strip(), by=by)
    return order


def _hold(flag: str) -> tuple[str, str]:
    if flag not in HOLD_FLAGS:
        raise ValidationError({"flag": f"Unknown hold {flag!r}."})
    return HOLD_FLAGS[flag]


@transaction.atomic
def order_mark_paid(*, order: Order, by) -> Order:
    """Record that the order is paid outside the gateway (a bank transfer, cash in store)."""
    require_role(by, order.retailer_id, Role.MANAGER)
    order = _lock(order)
    if order.status.system_state == SystemState.CANCELLED:
        raise state.InvalidTransition(f"Order {order.ref} is cancelled.")
    if order.payment_status == PaymentStatus.PAID:
        return order
    before = order.payment_status
    order.payment_status = PaymentStatus.PAID
    order.updated_at = timezone.now()
    order.save(update_fields=["payment_status", "updated_at"])
    events.order_payment_status_marked(order, before=before, by=by)
    billing.invoices_on_paid(order=order, by=by)
    return order


@transaction.atomic
def order_mark_not_paid(*, order: Order, by) -> Order:
    """Undo a manual 'paid'. Money captured through the gateway cannot be marked not paid."""
    require_role(by, order.retailer_id, Role.MANAGER)
    order = _lock(order)
    if ledger.paid(order.payments.all()) > 0:
        raise state.InvalidTransition(
            f"Order {order.ref} was paid through the payment gateway; refund it instead."
        )
    if order.payment_status == PaymentStatus.NOT_PAID:
        return order
    before = order.payment_status
    order.payment_status = PaymentStatus.NOT_PAID
    order.updated_at = timezone.now()
    order.save(update_fields=["payment_status", "updated_at"])
    events.order_payment_status_marked(order, before=before, by=by)
    return order


@transaction.atomic
def order_invoice_number_set(*, order: Order, by, invoice_number: str) -> Order:
    require_role(by, order.retailer_id, Role.MANAGER)
    invoice_number = invoice_number.strip()
    if len(invoice_number) > 64:
        raise ValidationError({"invoice_number": "At most 64 characters."})
    order = _lock(order)
    before = order.invoice_number
    if before == invoice_number:
        return order
    order.invoice_number = invoice_number
    order.updated_at = timezone.now()
    order.save(update_fields=["invoice_number", "updated_at"])
    events.order_invoice_number_set(order, before=before, by=by)
    return order
