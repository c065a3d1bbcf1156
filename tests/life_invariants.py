"""What must hold of a retailer's orders at every moment of their lives, across apps: units,
money, states, returns, credit notes and stock. The whole-life state machine checks these after
every step, and the concurrency soak at its end.

Each check reads the database afresh and returns the broken rules in words (empty: all hold).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum

from billing import ledger
from billing.models import Invoice, Payment, PaymentTransaction, SimulatedGatewayRecord
from fulfilments.models import LIVE, Fulfilment, FulfilmentItem, FulfilmentStatus, StockPosition
from oms.models import Activity, WebhookDelivery, WebhookEndpoint
from oms.webhooks.registry import sources_of
from orders import consistency
from orders.models import Order, OrderLine, ShipmentStatus, SystemState
from returns.models import Return, ReturnItem, ReturnType

ZERO = Decimal("0.00")
Kind = PaymentTransaction.Kind
Op = PaymentTransaction.Status
S = FulfilmentStatus
# where a unit counted out of a location's stock is now (picked, on its way or delivered)
OFF_THE_SHELF = (
    S.PICKED,
    S.PACKED,
    S.READY_FOR_COLLECTION,
    S.SHIPPED,
    S.DELIVERED,
    S.COLLECTED,
)


def units_add_up(retailer_id: int) -> list[str]:
    """Every unit ordered is open, shipped or cancelled; a customer returns only what shipped;
    the open units of a confirmed order wait in exactly one live fulfilment; a completed or
    cancelled order has nothing open."""
    broken = []
    lines = list(OrderLine.objects.filter(retailer_id=retailer_id).select_related("order__status"))
    units = OrderLine.objects.filter(retailer_id=retailer_id).units()
    live = defaultdict(int)
    for line_id, requested in FulfilmentItem.objects.filter(
        retailer_id=retailer_id, fulfilment__status__in=LIVE
    ).values_list("order_line_id", "requested"):
        live[line_id] += requested
    confirmed = set(
        Fulfilment.objects.filter(retailer_id=retailer_id).values_list("order_id", flat=True)
    )
    for line in lines:
        each, state = units[line.pk], line.order.status.system_state
        name = f"{line.order.ref}/{line.sku}"
        if each.open < 0:
            broken.append(f"{name}: {each.shipped} shipped + {each.cancelled} cancelled > ordered")
        if each.returned > each.shipped:
            broken.append(f"{name}: {each.returned} returned of {each.shipped} shipped")
        if line.order_id in confirmed and state not in (SystemState.COMPLETED,):
            if live[line.pk] != max(each.open, 0):
                broken.append(f"{name}: {each.open} open but {live[line.pk]} in fulfilments")
        elif live[line.pk]:
            broken.append(f"{name}: an unconfirmed or finished order is being fulfilled")
        if state in (SystemState.COMPLETED, SystemState.CANCELLED) and each.open:
            broken.append(f"{name}: {state.lower()} with {each.open} unit(s) open")
        if line.shipment_status == ShipmentStatus.CANCELLED and each.cancelled != each.ordered:
            broken.append(f"{name}: reads cancelled with {each.cancelled} of {each.ordered}")
    return broken


def money_adds_up(retailer_id: int) -> list[str]:
    """Captured never beyond what is authorised and not released; refunded, by the gateway and
    by hand, never beyond what was captured; every movement is one ledger row and moved money
    at the gateway exactly once; the order's payment status says what its payments do."""
    broken = []
    payments = list(Payment.objects.filter(retailer_id=retailer_id))
    done = defaultdict(lambda: defaultdict(lambda: ZERO))
    for payment_id, kind, total in (
        PaymentTransaction.objects.filter(retailer_id=retailer_id, status=Op.SUCCEEDED)
        .values_list("payment_id", "kind")
        .annotate(total=Sum("amount"))
    ):
        done[payment_id][kind] = total
    gateway = defaultdict(lambda: defaultdict(lambda: ZERO))
    references = {p.provider_reference or f"payment-{p.pk}": p.pk for p in payments}
    for reference, kind, total in (
        SimulatedGatewayRecord.objects.filter(payment_reference__in=list(references))
        .values_list("payment_reference", "kind")
        .annotate(total=Sum("amount"))
    ):
        gateway[references[reference]][kind] = total
    for p in payments:
        name = f"payment {p.pk}"
        if not ZERO <= p.captured <= p.authorised - p.voided:
            broken.append(f"{name}: captured {p.captured} of {p.authorised} less {p.voided}")
        if p.refunded + p.refunded_by_hand > p.captured:
            broken.append(f"{name}: {p.refunded} + {p.refunded_by_hand} refunded of {p.captured}")
        for field, kind in (
            ("captured", Kind.CAPTURE),
            ("refunded", Kind.REFUND),
            ("voided", Kind.VOID),
            ("refunded_by_hand", Kind.MANUAL_REFUND),
        ):
            if getattr(p, field) != done[p.pk][kind]:
                broken.append(f"{name}: {field} {getattr(p, field)}, ledger {done[p.pk][kind]}")
        for field, kind in (("captured", "capture"), ("refunded", "refund"), ("voided", "void")):
            if getattr(p, field) != gateway[p.pk][kind]:
                broken.append(f"{name}: {field} {getattr(p, field)}, gateway {gateway[p.pk][kind]}")
    keys = PaymentTransaction.objects.filter(
        retailer_id=retailer_id,
        status=Op.SUCCEEDED,
        kind__in=[Kind.CAPTURE, Kind.REFUND, Kind.VOID],
    ).values_list("idempotency_key", flat=True)
    moved = SimulatedGatewayRecord.objects.filter(idempotency_key__in=list(keys)).count()
    if moved != len(keys):
        broken.append(f"{len(keys)} operations succeeded, the gateway moved {moved} times")
    for order in Order.objects.filter(retailer_id=retailer_id).prefetch_related("payments"):
        if order.payment_status != ledger.payment_status_of(order):
            broken.append(f"{order.ref}: payment status {order.payment_status}")
    return broken


def cancelled_orders_hold_nothing(retailer_id: int) -> list[str]:
    """Once its operations settle, a cancelled order holds no authorisation and keeps nothing
    captured, unless an operation failed and waits for a manager."""
    broken = []
    cancelled = Order.objects.filter(
        retailer_id=retailer_id, status__system_state=SystemState.CANCELLED
    )
    for payment in Payment.objects.filter(order__in=cancelled):
        operations = payment.transactions.all()
        if operations.filter(ledger.UNSETTLED).exists():
            continue
        if operations.filter(status=Op.FAILED).exists():
            continue  # a declined refund or release: in the failed payments queue
        if payment.authorised - payment.voided - payment.captured:
            broken.append(f"cancelled {payment.order_id}: authorisation of payment {payment.pk}")
        if payment.captured - payment.refunded - payment.refunded_by_hand:
            broken.append(f"cancelled {payment.order_id}: payment {payment.pk} keeps money")
    return broken


def returns_are_worth_what_they_cover(retailer_id: int) -> list[str]:
    """A return is worth at most its units at the price paid and the shipping it gives back;
    its refunds never exceed it; a line's units are on one return at most and worth at most
    the line; the shipping is given back once."""
    broken = []
    given = defaultdict(lambda: ZERO)  # refunded, by the gateway or by hand, or on its way
    for return_id, status, error_code, total in (
        PaymentTransaction.objects.filter(retailer_id=retailer_id, return_request__isnull=False)
        .values_list("return_request_id", "status", "error_code")
        .annotate(total=Sum("amount"))
    ):
        if status == Op.SUCCEEDED or status == Op.PENDING or error_code == "unavailable":
            given[return_id] += total
    worth = dict(
        ReturnItem.objects.filter(retailer_id=retailer_id)
        .values_list("return_request_id")
        .annotate(total=Sum("amount"))
    )
    for ret in Return.objects.filter(retailer_id=retailer_id, order__isnull=False):
        if given[ret.pk] > ret.total_return_price:
            broken.append(
                f"return {ret.pk}: {given[ret.pk]} given or on its way of {ret.total_return_price}"
            )
        items = worth.get(ret.pk) or ZERO
        if (
            ret.type != ReturnType.CANCELLATION
            and ret.total_return_price > items + ret.shipping_amount
        ):
            broken.append(f"return {ret.pk}: {ret.total_return_price} > {items} + shipping")
    on_lines = defaultdict(lambda: [0, ZERO])
    for line_id, quantity, amount in ReturnItem.objects.filter(
        retailer_id=retailer_id, order_line__isnull=False
    ).values_list("order_line_id", "quantity", "amount"):
        on_lines[line_id][0] += quantity
        on_lines[line_id][1] += amount
    for line in OrderLine.objects.filter(pk__in=list(on_lines)):
        units, worth = on_lines[line.pk]
        if units > line.quantity or worth > line.total:
            broken.append(f"{line.sku}: {units} units worth {worth} on returns of {line.total}")
    for order in Order.objects.filter(retailer_id=retailer_id).annotate(
        given=Sum("returns__shipping_amount")
    ):
        if (order.given or ZERO) > order.shipping:
            broken.append(f"{order.ref}: {order.given} shipping given back of {order.shipping}")
    return broken


def credit_notes_stay_within_invoices(retailer_id: int) -> list[str]:
    """Credit notes never credit more than their invoice, per line and in all, to the cent."""
    broken = []
    for invoice in Invoice.objects.filter(
        retailer_id=retailer_id, kind=Invoice.Kind.INVOICE
    ).prefetch_related("credit_notes"):
        notes = list(invoice.credit_notes.all())
        if sum((note.total for note in notes), ZERO) > invoice.total:
            broken.append(f"invoice {invoice.number}: credited more than {invoice.total}")
        for line in invoice.lines:
            credited = [n for note in notes for n in note.lines if n["line_id"] == line["line_id"]]
            if sum(n["quantity"] for n in credited) > line["quantity"]:
                broken.append(f"invoice {invoice.number}: {line['sku']} credited too often")
            if sum((Decimal(n["total"]) for n in credited), ZERO) > Decimal(line["total"]):
                broken.append(f"invoice {invoice.number}: {line['sku']} credited above its total")
    return broken


def stock_is_counted_once(retailer_id: int, counted: dict[tuple[int, str], int]) -> list[str]:
    """What a location reserved is what its sourced fulfilments wait for; every unit counted in
    is on the shelf or on its way in a fulfilment (`counted`: on hand as it was put in)."""
    broken = []
    reserved = defaultdict(int)
    off_shelf = defaultdict(int)
    for location, sku, status, requested, filled in FulfilmentItem.objects.filter(
        retailer_id=retailer_id, fulfilment__location__isnull=False
    ).values_list(
        "fulfilment__location_id",
        "order_line__sku",
        "fulfilment__status",
        "requested",
        "filled",
    ):
        if status in (S.CREATED, S.ASSIGNED):
            reserved[(location, sku)] += requested
        elif status in OFF_THE_SHELF:
            off_shelf[(location, sku)] += filled
    for position in StockPosition.objects.filter(retailer_id=retailer_id):
        key = (position.location_id, position.sku)
        if position.reserved != reserved[key]:
            broken.append(f"{position.sku}: {position.reserved} reserved, {reserved[key]} waiting")
        if key in counted and position.on_hand + off_shelf[key] != counted[key]:
            broken.append(
                f"{position.sku}: {position.on_hand} on hand and {off_shelf[key]} out of "
                f"{counted[key]} counted"
            )
    return broken


def finished_orders_wait_for_nothing(retailer_id: int) -> list[str]:
    """No fulfilment (an escalation neither) waits on an order that is completed, cancelled or
    never confirmed: the consistency check's rule."""
    found = consistency.check([retailer_id], rules=["fulfilment-live-on-order-not-processing"])
    return [f"{c.record}: {c.detail}" for finding in found for c in finding.listed]


def orders_know_when_they_shipped(retailer_id: int) -> list[str]:
    """An order's time shipped is its first parcel's, which the at-risk rule reads: the
    consistency check's rule."""
    found = consistency.check([retailer_id], rules=["order-shipped-at"])
    return [f"{c.record}: {c.detail}" for finding in found for c in finding.listed]


def holds_say_why(retailer_id: int) -> list[str]:
    """A held order says why (a rule that held it is its retailer's and named in its Activity);
    a flag that is clear keeps no rule and no why."""
    broken = []
    held_by = set(
        Activity.objects.filter(
            retailer_id=retailer_id, action="orders.order.held_by_rule", target_type="orders.order"
        ).values_list("target_id", "data__rule_id")
    )
    orders = Order.objects.filter(retailer_id=retailer_id).select_related(
        "hold_documentation_rule", "hold_compliance_rule"
    )
    for order in orders:
        for flag in ("hold_documentation", "hold_compliance"):
            rule, why = getattr(order, f"{flag}_rule"), getattr(order, f"{flag}_why")
            if getattr(order, flag):
                if not why:
                    broken.append(f"{order.ref}: {flag} set without saying why")
                if rule is not None and rule.retailer_id != retailer_id:
                    broken.append(f"{order.ref}: {flag} set by another retailer's rule")
                if rule is not None and (str(order.pk), rule.pk) not in held_by:
                    broken.append(f"{order.ref}: {flag} set by rule {rule.name} without Activity")
            elif rule is not None or why:
                broken.append(f"{order.ref}: {flag} clear but still names a rule or why")
    return broken


def webhooks_tell_every_event_in_order(retailer_id: int) -> list[str]:
    """Each active endpoint has one delivery for every event an activity gave that it
    subscribes to, in the order the activities were recorded, and no other."""
    endpoints = list(WebhookEndpoint.objects.filter(retailer_id=retailer_id, is_active=True))
    if not endpoints:
        return []
    given = [
        (entry.pk, source.event)
        for entry in Activity.objects.filter(retailer_id=retailer_id).order_by("pk")
        for source in sources_of(entry)
    ]
    broken = []
    for endpoint in endpoints:
        expected = [(pk, event) for pk, event in given if event in endpoint.events]
        sent = [
            (payload["sequence"], payload["type"])
            for payload in WebhookDelivery.objects.filter(endpoint=endpoint)
            .order_by("pk")
            .values_list("payload", flat=True)
        ]
        if sent != expected:
            missing = [e for e in expected if e not in sent][:3]
            extra = [e for e in sent if e not in expected][:3]
            broken.append(
                f"webhooks to {endpoint.url}: {len(sent)} deliveries for {len(expected)} events"
                f" (missing {missing}, not given {extra}, or out of order)"
            )
    return broken


def everything(retailer_id: int, counted: dict[tuple[int, str], int] | None = None) -> list[str]:
    return (
        units_add_up(retailer_id)
        + money_adds_up(retailer_id)
        + cancelled_orders_hold_nothing(retailer_id)
        + returns_are_worth_what_they_cover(retailer_id)
        + credit_notes_stay_within_invoices(retailer_id)
        + stock_is_counted_once(retailer_id, counted or {})
        + finished_orders_wait_for_nothing(retailer_id)
        + orders_know_when_they_shipped(retailer_id)
        + holds_say_why(retailer_id)
        + webhooks_tell_every_event_in_order(retailer_id)
    )
