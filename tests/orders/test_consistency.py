"""The consistency check finds each contradiction it names, and none in a life the services
made: orders placed through intake and by phone, confirmed (one escalates), captured, shipped,
returned and refunded, cancelled."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db.models import DecimalField, F, Value
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant

from billing import ledger
from billing import services as billing
from billing.models import DebitMemo, Invoice, Payment, PaymentTransaction
from fulfilments.models import Fulfilment, FulfilmentItem, FulfilmentStatus, StockPosition
from oms.templatetags.money import format_money
from orders import consistency, services
from orders.models import Order, OrderLine, Shipment, ShipmentStatus, SystemState
from returns.models import Return, ReturnItem
from tests import life_invariants
from tests.factories import (
    BillingAccountFactory,
    CustomerFactory,
    InvoiceFactory,
    OrderFactory,
    PaymentFactory,
    PaymentTransactionFactory,
    RetailerFactory,
    ShipmentEventFactory,
    ShipmentFactory,
    ship,
    status_for,
)
from tests.test_order_life import OrderLife

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)
MONEY = DecimalField(max_digits=12, decimal_places=2)


class Life:
    """A retailer's orders as the services leave them (`OrderLife`'s steps, in a fixed order):
    `shipped` went out and came partly back, `escalated` waits for a location, `cancelled` was
    cancelled."""

    def __init__(self):
        machine = OrderLife()
        machine.a_retailer_with_a_warehouse_and_a_web_shop()
        machine.a_channel_sends_an_order(lines=[("TENT", 1), ("SOCK", 1)], shipping="4.95")
        machine.a_phone_order_is_placed(lines=[("MUG", 1), ("RARE", 2)], discount=False)
        machine.a_channel_sends_an_order(lines=[("SOCK", 3)], shipping="0.00")
        machine.an_order_goes_out_as_usual(0)
        machine.confirm(0)  # the phone order: one RARE in stock, so it escalates
        machine.a_return_from_the_order_page(index=0, line=0, units=1)
        machine.a_return_parcel_arrives()
        self._work(machine)
        machine.cancel(2, notify=True, now=True)
        self._work(machine)
        self.machine = machine
        self.retailer = machine.retailer
        self.shipped, self.escalated, self.cancelled = list(machine._orders())

    @staticmethod
    def _work(machine):
        while machine._operations(PaymentTransaction.Status.PENDING).exists():
            machine.workers_run_the_oldest_operations(outcomes=["success"] * 3, twice=False)

    def found(self, **options) -> set[str]:
        return {c.rule for c in consistency.contradictions([self.retailer], **options)}


@pytest.fixture
def life():
    return Life()


def test_a_life_the_services_made_has_no_contradictions(life):
    assert life.shipped.status.system_state == SystemState.PROCESSING
    assert Fulfilment.objects.filter(order=life.escalated, status="ESCALATED").exists()
    assert life.cancelled.status.system_state == SystemState.CANCELLED
    assert Return.objects.filter(order=life.shipped).exists()
    assert Shipment.objects.filter(order=life.shipped).exists()
    assert life_invariants.everything(life.retailer.pk, life.machine.counted) == []

    assert consistency.contradictions([life.retailer]) == []


# ---- items and units


def test_an_item_shipped_while_its_fulfilment_is_escalated(life):
    life.escalated.lines.update(shipment_status=ShipmentStatus.SHIPPED)

    found = consistency.contradictions([life.retailer])

    shipped = [c for c in found if c.rule == "item-shipped-without-shipped-fulfilment"]
    assert shipped and shipped[0].record.startswith(f"order {life.escalated.ref} item ")
    assert "reads Shipped" in shipped[0].detail


def test_an_item_still_waiting_though_it_shipped(life):
    life.shipped.lines.update(shipment_status=ShipmentStatus.PACKED)

    assert "item-waiting-but-shipped" in life.found()


def test_a_cancelled_line_with_a_tracking_number(life):
    life.cancelled.lines.update(tracking_number="3S0001")

    assert "cancelled-line-has-tracking" in life.found()


def test_an_item_reading_cancelled_with_units_left(life):
    life.escalated.lines.update(shipment_status=ShipmentStatus.CANCELLED)

    assert "line-reads-cancelled-with-units-left" in life.found()


def test_more_units_shipped_than_ordered(life):
    FulfilmentItem.objects.filter(order_line__order=life.shipped).update(filled=F("filled") + 5)

    assert "units-over-ordered" in life.found()


def test_more_units_returned_than_shipped(life):
    ReturnItem.objects.filter(return_request__order=life.shipped).update(quantity=9)

    assert "returned-over-shipped" in life.found()


def test_an_item_whose_rest_is_cancelled_after_part_of_it_shipped_reads_shipped(life):
    """Found by the check in lives the services made: the item kept reading Pending."""
    manager = life.machine.manager
    services.order_mark_sent(order=life.escalated, by=manager)
    escalation = Fulfilment.objects.get(order=life.escalated, status="ESCALATED")
    services.fulfilment_lines_cancel(fulfilment=escalation, by=manager)

    rare = life.escalated.lines.get(sku="RARE")
    assert (rare.quantity, rare.cancelled, rare.shipment_status) == (2, 1, ShipmentStatus.SHIPPED)
    assert consistency.contradictions([life.retailer]) == []


# ---- orders and their fulfilments


def test_a_completed_order_with_units_still_open(life):
    Order.objects.filter(pk=life.escalated.pk).update(
        status=status_for(life.retailer, SystemState.COMPLETED)
    )

    assert "finished-order-has-open-units" in life.found()


def test_open_units_that_no_fulfilment_waits_for(life):
    FulfilmentItem.objects.filter(
        order_line__order=life.escalated, fulfilment__status=FulfilmentStatus.ESCALATED
    ).update(requested=F("requested") + 1)

    assert "open-units-not-in-fulfilments" in life.found()


def test_an_escalation_on_an_order_that_is_not_being_worked(life):
    Order.objects.filter(pk=life.escalated.pk).update(
        status=status_for(life.retailer, SystemState.NEW)
    )

    assert "fulfilment-live-on-order-not-processing" in life.found()
    # the same rule is the life's invariant
    assert life_invariants.finished_orders_wait_for_nothing(life.retailer.pk)


def test_stock_reserved_for_other_than_what_waits(life):
    StockPosition.objects.filter(retailer=life.retailer, sku="MUG").update(
        reserved=F("reserved") + 1
    )

    assert "stock-reserved-disagrees" in life.found()


# ---- times


def test_a_fulfilment_before_its_order_was_placed(life):
    Fulfilment.objects.filter(order=life.shipped).update(created_at=F("created_at") - 3 * DAY)

    assert "before-order-placed" in life.found()


def test_a_shipment_before_the_order_was_confirmed():
    now = timezone.now()
    customer = CustomerFactory(created_at=now - 30 * DAY)
    order = OrderFactory(
        retailer=customer.retailer,
        customer=customer,
        state=SystemState.PROCESSING,
        placed_at=now - 5 * DAY,
        lines=1,
    )
    ShipmentFactory(order=order, shipped_at=now - 4 * DAY, created_at=now - 4 * DAY)
    found = consistency.contradictions([order.retailer])
    assert [c.rule for c in found] == ["shipped-before-confirmed"]
    assert "nothing of the order was ever handed over" in found[0].detail

    ship(order)  # sourced and handed over only now, days after the shipment
    found = consistency.contradictions([order.retailer])
    assert [c.rule for c in found] == ["shipped-before-confirmed"]
    assert "before the fulfilment that shipped it was sourced" in found[0].detail


def test_a_delivery_before_shipping_and_an_estimate_already_past(life):
    shipment = Shipment.objects.get(order=life.shipped)
    Shipment.objects.filter(pk=shipment.pk).update(
        delivered_at=shipment.shipped_at - timedelta(hours=1),
        estimated_delivery=(shipment.shipped_at - 2 * DAY).date(),
    )

    found = life.found()

    assert {"delivered-before-shipped", "estimate-before-shipping"} <= found


def test_an_order_that_forgot_or_misdates_its_first_parcel(life):
    shipment = Shipment.objects.get(order=life.shipped)
    # the service set it with the parcel
    assert Order.objects.get(pk=life.shipped.pk).shipped_at == shipment.shipped_at

    Order.objects.filter(pk=life.shipped.pk).update(shipped_at=None)
    Order.objects.filter(pk=life.escalated.pk).update(shipped_at=shipment.shipped_at)
    found = [
        c for f in consistency.check([life.retailer], rules=["order-shipped-at"]) for c in f.listed
    ]

    assert {c.record for c in found} == {f"order {life.shipped.ref}", f"order {life.escalated.ref}"}
    assert {c.detail for c in found} == {
        f"reads shipped never, but its first parcel left {shipment.shipped_at:%Y-%m-%d %H:%M}.",
        f"reads shipped {shipment.shipped_at:%Y-%m-%d %H:%M}, but its first parcel left never.",
    }


def test_events_dated_after_now(life):
    shipment = Shipment.objects.get(order=life.shipped)
    ShipmentEventFactory(shipment=shipment, occurred_at=timezone.now() + DAY)

    found = consistency.contradictions([life.retailer])

    assert [c.record for c in found if c.rule == "after-now"] == [
        f"carrier event {shipment.events.get().pk}"
    ]


def test_return_events_dated_after_now(life):
    ret = Return.objects.get(order=life.shipped)
    Return.objects.filter(pk=ret.pk).update(created_at=timezone.now() + DAY)
    parcel = ret.fulfilments.get()
    parcel.arrived_at = timezone.now() + 2 * DAY
    parcel.save(update_fields=["arrived_at"])

    found = consistency.contradictions([life.retailer])

    assert [c.record for c in found if c.rule == "after-now"] == [
        f"return {ret.return_ref}",
        f"return parcel {parcel.pk}",
    ]


def test_now_is_the_moment_checked_against(life):
    found = consistency.check([life.retailer], now=life.shipped.placed_at - DAY)

    assert [f.rule for f in found] == ["after-now"]


def test_a_customer_since_after_their_first_order():
    now = timezone.now()
    customer = CustomerFactory(created_at=now - DAY)
    OrderFactory(retailer=customer.retailer, customer=customer, placed_at=now - 3 * DAY)

    found = consistency.contradictions([customer.retailer])

    assert [(c.rule, c.record) for c in found] == [
        ("customer-since-after-first-order", f"customer {customer.ref}")
    ]


# ---- money


def test_a_payment_that_disagrees_with_its_ledger(life):
    Payment.objects.filter(order=life.escalated).update(captured=Decimal("1.00"))

    assert "payment-disagrees-with-ledger" in life.found()


def test_refunds_over_what_was_captured(life):
    payment = Payment.objects.get(order=life.shipped)
    PaymentTransactionFactory(
        payment=payment, kind=PaymentTransaction.Kind.MANUAL_REFUND, amount=payment.captured
    )

    assert "refunded-over-captured" in life.found()


def test_a_return_refunded_over_its_worth(life):
    Return.objects.filter(order=life.shipped).update(total_return_price=Decimal("0.01"))

    assert "return-refunded-over-its-worth" in life.found()


def test_a_return_worth_more_than_its_items(life):
    Return.objects.filter(order=life.shipped).update(
        total_return_price=F("total_return_price") + 50
    )

    assert "return-worth-over-its-items" in life.found()


def test_a_payment_status_that_its_payments_do_not_say(life):
    Order.objects.filter(pk=life.shipped.pk).update(payment_status="not_paid")

    found = consistency.contradictions([life.retailer])

    assert [(c.rule, c.record) for c in found] == [
        ("payment-status-disagrees", f"order {life.shipped.ref}")
    ]
    assert "reads not paid but its payments say partially refunded" in found[0].detail


@pytest.mark.parametrize(
    ("captured", "refunded", "authorised", "total"),
    [
        ("0", "0", "0", "10"),
        ("0", "0", "10", "10"),
        ("4", "0", "6", "10"),
        ("10", "0", "0", "10"),
        ("10", "3", "0", "10"),
        ("10", "10", "0", "10"),
        ("4", "5", "0", "10"),
    ],
)
def test_the_database_reads_a_payment_status_as_the_ledger_does(
    captured, refunded, authorised, total
):
    amounts = {
        "captured": Decimal(captured),
        "refunded": Decimal(refunded),
        "open_authorisation": Decimal(authorised),
        "total": Decimal(total),
    }
    expression = ledger.payment_status_expression(
        **{name: Value(amount, output_field=MONEY) for name, amount in amounts.items()}
    )
    order = OrderFactory()

    in_sql = Order.objects.filter(pk=order.pk).annotate(s=expression).values_list("s", flat=True)

    assert in_sql.get() == ledger.payment_status_for(**amounts)


def _paid_order_with_a_cancelled_line() -> Order:
    order = OrderFactory(state=SystemState.PROCESSING, lines=2)
    payment = PaymentFactory(order=order, captured=order.total)
    PaymentTransactionFactory(payment=payment, amount=order.total)
    PaymentTransactionFactory(payment=payment, kind="capture", amount=order.total)
    Order.objects.filter(pk=order.pk).update(payment_status="paid")
    line = order.lines.first()
    OrderLine.objects.filter(pk=line.pk).update(
        cancelled=line.quantity, shipment_status=ShipmentStatus.CANCELLED
    )
    return order


def test_a_cancelled_line_still_captured():
    order = _paid_order_with_a_cancelled_line()

    found = consistency.contradictions([order.retailer])

    assert [c.rule for c in found] == ["cancelled-units-still-paid"]
    line = order.lines.first()
    assert f"refund {format_money(line.total, order.currency)}" in found[0].detail


def test_a_cancelled_line_still_invoiced():
    order = _paid_order_with_a_cancelled_line()
    InvoiceFactory(order=order)

    assert {c.rule for c in consistency.contradictions([order.retailer])} == {
        "cancelled-units-still-paid",
        "cancelled-units-still-invoiced",
    }


def test_cancelled_items_are_not_invoiced(life):
    """Found by the check in lives the services made: an invoice made after items were
    cancelled billed them all the same."""
    manager = life.machine.manager
    escalation = Fulfilment.objects.get(order=life.escalated, status="ESCALATED")
    services.fulfilment_lines_cancel(fulfilment=escalation, by=manager)

    invoice = billing.invoice_create(order=life.escalated, by=manager)

    rare = life.escalated.lines.get(sku="RARE")
    assert [line["quantity"] for line in invoice.lines if line["sku"] == "RARE"] == [1]
    assert invoice.total == life.escalated.total - rare.total / 2
    assert consistency.contradictions([life.retailer]) == []


def test_an_invoice_made_before_items_are_cancelled_is_credited_for_them(life):
    manager = life.machine.manager
    invoice = billing.invoice_create(order=life.escalated, by=manager)
    escalation = Fulfilment.objects.get(order=life.escalated, status="ESCALATED")

    services.fulfilment_lines_cancel(fulfilment=escalation, by=manager)

    (note,) = invoice.credit_notes.all()
    rare = life.escalated.lines.get(sku="RARE")
    assert note.total == rare.total / 2
    assert consistency.contradictions([life.retailer]) == []


def test_cancelled_items_are_not_charged(life):
    """Found by the check in lives the services made: items cancelled before the capture were
    captured all the same."""
    manager = life.machine.manager
    escalation = Fulfilment.objects.get(order=life.escalated, status="ESCALATED")
    services.fulfilment_lines_cancel(fulfilment=escalation, by=manager)
    payment = Payment.objects.get(order=life.escalated)

    with pytest.raises(ValidationError, match="cancelled items are not charged"):
        services.order_payment_capture(
            payment=payment, amount=ledger.capturable(payment), by=manager
        )
    worth = ledger.worth_kept(life.escalated)
    services.order_payment_capture(payment=payment, amount=worth, by=manager)
    Life._work(life.machine)

    payment.refresh_from_db()
    assert payment.captured == worth == life.escalated.total - Decimal("24.20")
    assert consistency.contradictions([life.retailer]) == []


def test_a_cancelled_order_that_holds_its_authorisation(life):
    Payment.objects.filter(order=life.cancelled).update(voided=Decimal("0.00"))

    assert "cancelled-order-holds-authorisation" in life.found()


def test_credit_notes_over_their_invoice():
    invoice = InvoiceFactory()
    InvoiceFactory(
        order=invoice.order,
        kind=Invoice.Kind.CREDIT_NOTE,
        credits=invoice,
        total=invoice.total + Decimal("0.01"),
    )

    found = consistency.contradictions([invoice.retailer])

    assert "credited-over-invoiced" in {c.rule for c in found}


def test_a_debit_memo_for_another_customers_order():
    account = BillingAccountFactory()
    other = OrderFactory(retailer=account.retailer, lines=1)
    DebitMemo.objects.create(
        retailer=account.retailer,
        account=account,
        order=other,
        number="DM-1",
        amount=Decimal("5.00"),
        currency="EUR",
        reason="Late fee",
        created_at=account.created_at - DAY,
    )

    found = consistency.contradictions([account.retailer])

    assert [c.record for c in found if c.rule == "billing-account-disagrees-with-records"] == [
        "debit memo DM-1",
        "debit memo DM-1",
    ]


# ---- what is listed, and where


def test_each_rule_lists_its_first_findings_and_counts_the_rest():
    retailer = RetailerFactory()
    for _ in range(consistency.LISTED + 5):
        order = OrderFactory(retailer=retailer, lines=1)
        order.lines.update(tracking_number="3S1", cancelled=F("quantity"))

    found = consistency.contradictions([retailer])
    (finding,) = consistency.check([retailer])

    assert finding.rule == "cancelled-line-has-tracking" and finding.count == consistency.LISTED + 5
    assert len(found) == consistency.LISTED + 1
    assert found[-1].record == "5 more"


def test_a_retailer_is_checked_on_its_own():
    broken, clean = OrderFactory(lines=1), OrderFactory(lines=1)
    broken.lines.update(shipment_status=ShipmentStatus.SHIPPED)

    assert consistency.contradictions([clean.retailer]) == []
    assert consistency.contradictions([broken.retailer])
    assert consistency.contradictions()


# ---- the command


def test_the_command_says_0_contradictions_when_clean(life):
    out = StringIO()

    call_command("check_consistency", retailer=[life.retailer.ref], stdout=out)

    assert "0 contradictions" in out.getvalue()


def test_the_command_lists_findings_by_rule_and_exits_1(life):
    life.cancelled.lines.update(tracking_number="3S0001")
    out = StringIO()

    with pytest.raises(SystemExit) as exit_status:
        call_command("check_consistency", retailer=[life.retailer.ref], stdout=out)

    assert exit_status.value.code == 1
    text = out.getvalue()
    assert "cancelled-line-has-tracking: 1 (" in text
    assert f"order {life.cancelled.ref} item SOCK: every unit is cancelled" in text
    assert "1 contradictions in 1 rules" in text


def test_the_command_refuses_an_unknown_retailer():
    with pytest.raises(CommandError, match="No retailer nowhere"):
        call_command("check_consistency", retailer=["nowhere"], stdout=StringIO())


# ---- no life the services make contradicts itself


class LifeWithoutContradictions(OrderLife):
    @invariant()
    def nothing_contradicts(self):
        if hasattr(self, "retailer_id"):
            assert consistency.contradictions([self.retailer]) == []


LifeWithoutContradictions.TestCase.settings = settings(
    max_examples=int(os.environ.get("CONSISTENCY_LIFE_EXAMPLES", "10")),
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_no_sequence_of_an_orders_life_contradicts_itself():
    LifeWithoutContradictions.TestCase().runTest()
