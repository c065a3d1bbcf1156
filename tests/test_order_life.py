"""One model-based test over an order's whole life, across apps, on Postgres.

Orders come in through intake (the web store's JSON, and Shopify's with its tax per line and
its discounts) and through the order services, are confirmed (and sourced from a
warehouse with too little of one SKU, so some escalate), captured in full or in part while the
gateway succeeds, declines or times out, synced, marked sent, returned from the page and through
the API (with the caller's prices), refunded through the gateway and by hand, credited, cancelled
whole or in part, corrected, completed, suspended and resumed; workers run the payment
operations, sometimes twice. After every step every rule of `tests/life_invariants.py` must
hold (the retailer's ERP subscribes to every webhook event: each event an activity gives has its
one delivery, in order), a refused step must leave no trace, and a cancellation must move
exactly what its dialog said. `make test` runs 300 sequences; `make reliability` runs 2,000
(LIFE_EXAMPLES).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from rest_framework.authtoken.models import Token

from billing import ledger
from billing import services as billing
from billing.models import Invoice, Payment, PaymentTransaction
from fulfilments.models import Fulfilment, FulfilmentStatus
from oms.models import WebhookDelivery, WebhookEndpoint
from oms.roles import Role
from oms.webhooks.registry import EVENTS
from orders import services
from orders.intake.models import IntakeChannel
from orders.intake.processing import intake_process, intake_receive
from orders.models import OPEN_STATES, HoldRule, Order, OrderLine, SystemState
from returns import services as returns
from returns.models import Return, ReturnFulfilment, ReturnStatus
from tests import life_invariants
from tests.audited_steps import AuditedSteps
from tests.factories import (
    CarrierFactory,
    CustomerFactory,
    LocationFactory,
    MembershipFactory,
    RetailerFactory,
    StockFactory,
    UserFactory,
    status_for,
)

pytestmark = pytest.mark.django_db

Op = PaymentTransaction.Status
# SKUs the warehouse holds plenty of, and one it holds a single unit of (escalations)
CENT = Decimal("0.01")
EVENT_NAMES = [name for name, _ in EVENTS]
CATALOGUE = {"TENT": "89.95", "SOCK": "7.99", "MUG": "10.00", "RARE": "24.20"}
STOCK = {"TENT": 50, "SOCK": 50, "MUG": 50, "RARE": 1}
LINES = st.lists(
    st.tuples(st.sampled_from(list(CATALOGUE)), st.integers(1, 3)),
    min_size=1,
    max_size=3,
    unique_by=lambda line: line[0],
)
OUTCOMES = st.sampled_from(["success", "success", "decline", "timeout"])
FAILURE = {"success": "", "decline": "decline", "timeout": "timeout"}
# how much of what may move a step asks for: all, a part, or a cent too much
SHARES = st.sampled_from(["all", "half", "cent", "too much"])
INDEX = st.integers(0, 9)
# steps that end an order or take units away are drawn less often, so lives get far
RARELY = st.sampled_from([False, False, False, True])


# each watched table as one digest of its rows: (table, the columns a change shows in)
WATCHED = (
    (
        "orders_order",
        "status_id, payment_status, total, hold_compliance, hold_compliance_rule_id, "
        "hold_compliance_why",
    ),
    ("orders_orderline", "quantity, cancelled, shipment_status"),
    ("billing_payment", "authorised, captured, refunded, refunded_by_hand, voided"),
    ("billing_paymenttransaction", "status, amount"),
    ("fulfilments_fulfilment", "status"),
    ("fulfilments_fulfilmentitem", "requested, filled"),
    ("fulfilments_stockposition", "on_hand, reserved"),
    ("returns_return", "status, total_return_price"),
    ("billing_invoice", "total"),
)
# the SQL is made of the constants above, never of input
SNAPSHOT = "SELECT " + ", ".join(  # noqa: S608
    f"(SELECT md5(coalesce(string_agg(concat_ws(',', id, {columns}), ';' ORDER BY id), ''))"  # noqa: S608
    f" FROM {table} WHERE retailer_id = %(retailer)s)"
    for table, columns in WATCHED
)


def _share(available: Decimal, share: str) -> Decimal:
    return {
        "all": available,
        "half": (available / 2).quantize(Decimal("0.01")),
        "cent": Decimal("0.01"),
        "too much": available + Decimal("0.01"),
    }[share]


class OrderLife(AuditedSteps, RuleBasedStateMachine):
    @initialize()
    def a_retailer_with_a_warehouse_and_a_web_shop(self):
        retailer = RetailerFactory()
        self.retailer, self.retailer_id = retailer, retailer.pk
        self.manager = MembershipFactory(
            user=UserFactory(), retailer=retailer, role=Role.MANAGER
        ).user
        self.agent = MembershipFactory(user=UserFactory(), retailer=retailer, role=Role.AGENT).user
        location = LocationFactory(retailer=retailer, zones=["NL"])
        CarrierFactory(retailer=retailer, zones=["NL"])
        self.counted = {}
        for sku, on_hand in STOCK.items():
            StockFactory(location=location, sku=sku, on_hand=on_hand)
            self.counted[(location.pk, sku)] = on_hand
        self.channel = IntakeChannel.objects.create(
            retailer=retailer, code="web", name="Web store", kind="webstore", secret="s3cret"
        )
        self.shop = IntakeChannel.objects.create(
            retailer=retailer, code="shop", name="Shopify", kind="shopify", secret="s3cret"
        )
        # the retailer's ERP hears of every event
        WebhookEndpoint.objects.create(
            retailer=retailer, url="https://erp.example.com/hooks", events=list(EVENT_NAMES)
        )
        self.page = Client()
        self.page.force_login(self.manager)
        self.api = Client(
            headers={"Authorization": f"Bearer {Token.objects.create(user=self.agent).key}"}
        )
        self.placed = 0
        # new customers' larger orders wait for a compliance check
        self.hold_rule = HoldRule.objects.create(
            retailer=retailer,
            name="New customer over 150",
            condition=HoldRule.Condition.NEW_CUSTOMER_OVER,
            amount=Decimal("150.00"),
        )

    # what the machine watches for a refused step to leave alone

    def _snapshot(self) -> tuple:
        """What the machine watches, read in one query: a step that changes none of it changed
        nothing the rules read."""
        with connection.cursor() as cursor:
            cursor.execute(SNAPSHOT, {"retailer": self.retailer_id})
            return cursor.fetchone()

    def _orders(self):
        return Order.objects.filter(retailer_id=self.retailer_id).order_by("pk")

    def _order(self, index: int, among=None) -> Order:
        orders = list((among if among is not None else self._orders()).order_by("pk"))
        return Order.objects.select_related("status").get(pk=orders[index % len(orders)].pk)

    def _payment(self, index: int, among=None) -> Payment:
        payments = list(
            (among if among is not None else Payment.objects.filter(retailer_id=self.retailer_id))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        return Payment.objects.get(pk=payments[index % len(payments)])

    # which orders and payments a step is worth trying on (the others are tried too, less often)

    def _in(self, *states):
        return self._orders().filter(status__system_state__in=states)

    def _capturable(self):
        return Payment.objects.filter(
            retailer_id=self.retailer_id, authorised__gt=F("captured") + F("voided")
        )

    def _refundable(self):
        return Payment.objects.filter(
            retailer_id=self.retailer_id,
            captured__gt=F("refunded") + F("refunded_by_hand"),
        )

    def _ready_to_ship(self):
        return (
            self._in(SystemState.PROCESSING)
            .filter(fulfilments__status__in=[FulfilmentStatus.ASSIGNED, FulfilmentStatus.PACKED])
            .distinct()
        )

    def _shipped(self):
        return self._orders().filter(fulfilments__status=FulfilmentStatus.SHIPPED).distinct()

    def _operations(self, status):
        return PaymentTransaction.objects.filter(retailer_id=self.retailer_id, status=status)

    # orders come in

    @precondition(lambda self: hasattr(self, "retailer_id") and self.placed < 3)
    @rule(lines=LINES, shipping=st.sampled_from(["0.00", "4.95"]))
    def a_channel_sends_an_order(self, lines, shipping):
        self.placed += 1
        total = sum((Decimal(CATALOGUE[sku]) * qty for sku, qty in lines), Decimal(shipping))
        payload = {
            "id": f"W-{self.retailer_id}-{self.placed}",  # payment references stay unique
            "currency": "EUR",
            "customer": {"email": "jan@example.nl", "first_name": "Jan", "last_name": "Smit"},
            "shipping_address": {
                "street": "Oudegracht 12",
                "zip": "3511 AB",
                "city": "Utrecht",
                "country": "NL",
            },
            "lines": [
                {"sku": sku, "title": sku.title(), "qty": qty, "price": CATALOGUE[sku]}
                for sku, qty in lines
            ],
            "shipping_cost": shipping,
            "total": str(total),
            "payment": {"method": "card"},
        }
        message = intake_receive(channel=self.channel, body=json.dumps(payload))
        outcome = intake_process(message_id=message.pk)
        message.refresh_from_db()
        assert outcome == "ACCEPTED", message.reasons

    @rule(lines=LINES, included=st.booleans(), discounted=st.booleans())
    def a_shopify_store_sends_an_order(self, lines, included, discounted):
        """Shopify's order JSON: tax per line as Shopify charged it, included in the prices (an
        EU shop) or added on top (a US-style shop), and a discount code spread over the lines."""
        self.placed += 1
        items, total = [], Decimal(0)
        for n, (sku, quantity) in enumerate(lines):
            price = Decimal(CATALOGUE[sku])
            discount = (price * quantity / 10).quantize(CENT) if discounted else Decimal("0.00")
            net = price * quantity - discount
            if included:
                tax = (net * 21 / 121).quantize(CENT)
                total += net
            else:
                tax = (net * Decimal("0.21")).quantize(CENT)
                total += net + tax
            items.append(
                {
                    "id": n + 1,
                    "sku": sku,
                    "name": sku.title(),
                    "quantity": quantity,
                    "price": str(price),
                    "requires_shipping": True,
                    "tax_lines": [{"price": str(tax), "rate": 0.21, "title": "BTW"}],
                    "discount_allocations": [{"amount": str(discount)}] if discounted else [],
                }
            )
        now = timezone.now().isoformat()
        payload = {
            "id": self.retailer_id * 1000 + self.placed,
            "admin_graphql_api_id": f"gid://shopify/Order/{self.retailer_id}-{self.placed}",
            "order_number": 1000 + self.placed,
            "email": "jan@example.nl",
            "created_at": now,
            "updated_at": now,
            "currency": "EUR",
            "taxes_included": included,
            "financial_status": "paid",
            "customer": {"first_name": "Jan", "last_name": "Smit"},
            "shipping_address": {
                "first_name": "Jan",
                "last_name": "Smit",
                "address1": "Oudegracht 12",
                "zip": "3511 AB",
                "city": "Utrecht",
                "country_code": "NL",
            },
            "shipping_lines": [],
            "line_items": items,
            "total_price": str(total),
            "payment_gateway_names": ["shopify_payments"],
        }
        message = intake_receive(channel=self.shop, body=json.dumps(payload), topic="orders/create")
        outcome = intake_process(message_id=message.pk)
        message.refresh_from_db()
        assert outcome == "ACCEPTED", message.reasons
        assert message.order.total == total

    @precondition(lambda self: hasattr(self, "retailer_id") and self.placed < 3)
    @rule(lines=LINES, discount=st.booleans())
    def a_phone_order_is_placed(self, lines, discount):
        self.placed += 1
        customer = CustomerFactory(retailer=self.retailer)
        services.order_place(
            data=services.OrderInput(
                retailer_id=self.retailer_id,
                ref=f"PHONE-{self.placed}",
                currency="EUR",
                customer=customer,
                channel="phone",
                shipping=Decimal("4.95"),
                shipping_address=services.AddressInput(
                    line1="Main street 1", postcode="1000 AA", city="Utrecht", country="NL"
                ),
                lines=[
                    services.LineInput(
                        sku=sku,
                        name=sku.title(),
                        quantity=qty,
                        unit_price=Decimal(CATALOGUE[sku]),
                        discount=Decimal("1.00") if discount else Decimal("0.00"),
                    )
                    for sku, qty in lines
                ],
                payment=services.PaymentInput(
                    method="card", provider_reference=f"psp_{self.retailer_id}_{self.placed}"
                ),
            ),
            by=self.manager,
        )

    # a manager works them

    @precondition(lambda self: getattr(self, "placed", 0) and self._in(SystemState.NEW).exists())
    @rule(index=INDEX)
    def confirm(self, index):
        self._set_status(self._order(index, self._in(SystemState.NEW)), SystemState.PROCESSING)

    @precondition(
        lambda self: getattr(self, "placed", 0) and self._orders().filter(hold_compliance=True)
    )
    @rule(index=INDEX)
    def a_manager_clears_a_hold(self, index):
        order = self._order(index, self._orders().filter(hold_compliance=True))
        self._try(
            lambda: services.order_hold_clear(
                order=order, flag="compliance", by=self.manager, reason="Identity checked"
            ),
            by=self.manager,
        )

    @precondition(
        lambda self: getattr(self, "placed", 0) and self._in(SystemState.PROCESSING).exists()
    )
    @rule(index=INDEX)
    def complete(self, index):
        self._set_status(
            self._order(index, self._in(SystemState.PROCESSING)), SystemState.COMPLETED
        )

    def _set_status(self, order, to):
        status = status_for(self.retailer, to)
        self._try(
            lambda: services.order_set_status(order=order, status=status, by=self.manager),
            by=self.manager,
        )

    @precondition(lambda self: getattr(self, "placed", 0))
    @rule(index=INDEX, resume=st.booleans(), now=RARELY)
    def suspend_or_resume(self, index, resume, now):
        if not now:
            return
        order = self._order(index)
        if resume:
            change = lambda: services.order_resume(order=order, by=self.manager)  # noqa: E731
        else:
            change = lambda: services.order_suspend(  # noqa: E731
                order=order, by=self.manager, reason="Address check"
            )
        self._try(change, by=self.manager)

    @precondition(lambda self: getattr(self, "placed", 0) and self._capturable().exists())
    @rule(index=INDEX, share=SHARES)
    def capture(self, index, share):
        payment = self._payment(index, self._capturable())
        amount = _share(ledger.capturable(payment), share)
        self._try(
            lambda: services.order_payment_capture(payment=payment, amount=amount, by=self.manager),
            by=self.manager,
        )

    @precondition(lambda self: getattr(self, "placed", 0) and self._refundable().exists())
    @rule(index=INDEX, share=SHARES)
    def refund(self, index, share):
        payment = self._payment(index, self._refundable())
        amount = _share(ledger.refundable(payment), share)
        self._try(
            lambda: services.order_payment_refund(payment=payment, amount=amount, by=self.manager),
            by=self.manager,
        )

    @precondition(lambda self: getattr(self, "placed", 0) and self._capturable().exists())
    @rule(index=INDEX, now=RARELY)
    def release(self, index, now):
        if not now:
            return
        payment = self._payment(index, self._capturable())
        self._try(
            lambda: services.order_payment_release(payment=payment, by=self.manager),
            by=self.manager,
        )

    @precondition(lambda self: getattr(self, "placed", 0) and self._operations(Op.FAILED).exists())
    @rule(index=INDEX)
    def retry_a_failed_operation(self, index):
        failed = list(self._operations(Op.FAILED).order_by("pk"))
        operation = failed[index % len(failed)]
        self._try(
            lambda: services.order_payment_retry(operation=operation, by=self.manager),
            by=self.manager,
        )

    @precondition(lambda self: getattr(self, "placed", 0) and self._operations(Op.FAILED).exists())
    @rule(index=INDEX, outcome=OUTCOMES)
    def sync_payments(self, index, outcome):
        order = self._order(index)
        with override_settings(SIMULATED_GATEWAY_FAILURE=FAILURE[outcome]):
            self._try(
                lambda: services.order_payments_sync(order=order, by=self.manager),
                by=self.manager,
            )

    @precondition(lambda self: getattr(self, "placed", 0))
    @rule(index=INDEX, notify=st.booleans(), now=RARELY)
    def cancel(self, index, notify, now):
        if not now:
            return
        order = self._order(index, self._in(*OPEN_STATES) if self._in(*OPEN_STATES) else None)
        plan = services.cancel_plan(order)
        before = set(PaymentTransaction.objects.filter(order=order).values_list("pk", flat=True))
        if self._try(
            lambda: services.order_cancel(order=order, by=self.manager, notify=notify),
            by=self.manager,
        ):
            queued = PaymentTransaction.objects.filter(order=order).exclude(pk__in=before)
            stated = sorted([r for _, r, _ in plan.moves if r] + [v for _, _, v in plan.moves if v])
            assert sorted(queued.values_list("amount", flat=True)) == stated, (
                "the cancel moved other amounts than its dialog said"
            )

    @precondition(lambda self: getattr(self, "placed", 0))
    @rule(index=INDEX, line=INDEX, units=st.integers(1, 3), now=RARELY)
    def cancel_items(self, index, line, units, now):
        if not now:
            return
        order = self._order(index)
        lines = list(order.lines.order_by("pk"))
        chosen = lines[line % len(lines)]
        self._try(
            lambda: services.order_lines_cancel(
                order=order, line_ids=[chosen.pk], units={chosen.pk: units}, by=self.manager
            ),
            by=self.manager,
        )

    @precondition(lambda self: getattr(self, "placed", 0))
    @rule(index=INDEX, line=INDEX, quantity=st.integers(0, 3), now=RARELY)
    def correct_a_quantity(self, index, line, quantity, now):
        if not now:
            return
        order = self._order(index)
        lines = list(order.lines.order_by("pk"))
        chosen = lines[line % len(lines)]
        self._try(
            lambda: services.order_line_correct_quantity(
                order=order, line_id=chosen.pk, quantity=quantity, by=self.manager
            ),
            by=self.manager,
        )

    @precondition(lambda self: getattr(self, "placed", 0) and self._ready_to_ship().exists())
    @rule(index=INDEX)
    def mark_sent(self, index):
        order = self._order(index, self._ready_to_ship())
        self._try(
            lambda: services.order_mark_sent(order=order, by=self.manager, tracking_number="3S1"),
            by=self.manager,
        )

    @precondition(lambda self: getattr(self, "placed", 0))
    @rule(index=INDEX)
    def give_up_an_escalation(self, index):
        fulfilment = Fulfilment.objects.filter(
            order=self._order(index), status=FulfilmentStatus.ESCALATED
        ).first()
        if fulfilment is None:
            return
        self._try(
            lambda: services.fulfilment_lines_cancel(fulfilment=fulfilment, by=self.manager),
            by=self.manager,
        )

    @precondition(lambda self: getattr(self, "placed", 0) and self._in(*OPEN_STATES).exists())
    @rule(index=INDEX)
    def an_order_goes_out_as_usual(self, index):
        """The common day: confirmed, captured in full, the capture done, marked sent."""
        order = self._order(index, self._in(*OPEN_STATES))
        if order.status.system_state == SystemState.NEW:
            self._set_status(order, SystemState.PROCESSING)
        payment = order.payments.order_by("pk").first()
        if payment is not None and ledger.capturable(payment) > 0:
            self._try(
                lambda: services.order_payment_capture(
                    payment=payment, amount=ledger.capturable(payment), by=self.manager
                ),
                by=self.manager,
            )
            for operation in self._operations(Op.PENDING).filter(payment=payment):
                billing.payment_operation_run(operation_id=operation.pk)
        order = self._order(0, self._orders().filter(pk=order.pk))
        self._try(lambda: services.order_mark_sent(order=order, by=self.manager), by=self.manager)

    # returns

    @precondition(lambda self: getattr(self, "placed", 0) and self._shipped().exists())
    @rule(index=INDEX, line=INDEX, units=st.integers(0, 2))
    def a_return_from_the_order_page(self, index, line, units):
        order = self._order(index, self._shipped())
        lines = list(order.lines.order_by("pk"))
        chosen = lines[line % len(lines)]
        data = {f"qty_{each.pk}": "0" for each in lines}
        data |= {
            f"qty_{chosen.pk}": str(units),
            f"reason_{chosen.pk}": "DAMAGED",
            f"condition_{chosen.pk}": "0",
            "fulfilment_type": "R_RTDC",
            "preferred_location_ref": "DC",
        }
        self._try(lambda: self._page_post(reverse("orders:return_create", args=[order.pk]), data))

    @precondition(lambda self: getattr(self, "placed", 0) and self._shipped().exists())
    @rule(
        index=INDEX,
        line=INDEX,
        price=st.sampled_from([None, "1.00", "9999.00"]),
        shipping=st.sampled_from([None, "0.00", "500.00"]),
    )
    def a_return_through_the_api(self, index, line, price, shipping):
        order = self._order(index, self._shipped())
        lines = list(order.lines.order_by("pk"))
        item = {"skuRef": lines[line % len(lines)].sku, "returnQty": 1, "returnReason": "DAMAGED"}
        if price is not None:
            item |= {"skuPrice": price, "skuTaxPrice": "1.00"}
        body = {
            "retailerId": self.retailer_id,
            "orderId": str(order.pk),
            "type": "CUSTOMER_RETURN",
            "customer": {"email": "jan@example.nl"},
            "items": [item],
            "fulfilmentChoice": {"fulfilmentType": "R_RTDC", "fulfilmentPrice": shipping},
        }
        self._try(
            lambda: self._api_post("/api/v4.1/return", body),
        )

    @precondition(lambda self: getattr(self, "placed", 0))
    @rule()
    def a_return_parcel_arrives(self):
        parcel = (
            ReturnFulfilment.objects.filter(
                retailer_id=self.retailer_id, status=ReturnFulfilment.Status.CREATED
            )
            .order_by("pk")
            .first()
        )
        if parcel is None:
            return
        self._try(
            lambda: returns.return_fulfilment_move(
                fulfilment=parcel, to=ReturnFulfilment.Status.ARRIVED, by=self.manager
            ),
            by=self.manager,
        )

    @precondition(lambda self: getattr(self, "placed", 0))
    @rule(by_hand=st.booleans())
    def a_manager_releases_a_pending_refund(self, by_hand):
        ret = (
            Return.objects.filter(retailer_id=self.retailer_id, status=ReturnStatus.PENDING_REFUND)
            .order_by("pk")
            .first()
        )
        if ret is None:
            return
        self._try(
            lambda: returns.return_release_refund(ret=ret, by=self.manager, by_hand=by_hand),
            by=self.manager,
        )

    @precondition(lambda self: getattr(self, "placed", 0))
    @rule(index=INDEX, units=st.integers(1, 2))
    def a_credit_note(self, index, units):
        invoice = (
            Invoice.objects.filter(order=self._order(index), kind=Invoice.Kind.INVOICE)
            .order_by("-pk")
            .first()
        )
        if invoice is None:
            self._try(
                lambda: billing.invoice_create(order=self._order(index), by=self.manager),
                by=self.manager,
            )
            return
        line = invoice.lines[0]["line_id"]
        self._try(
            lambda: billing.credit_note_create(
                invoice=invoice, by=self.manager, quantities={line: units}
            ),
            by=self.manager,
        )

    # workers

    @precondition(lambda self: getattr(self, "placed", 0) and self._operations(Op.PENDING).exists())
    @rule(outcomes=st.lists(OUTCOMES, min_size=1, max_size=3), twice=st.booleans())
    def workers_run_the_oldest_operations(self, outcomes, twice):
        pending = self._operations(Op.PENDING).order_by("pk")[: len(outcomes)]
        for operation, outcome in zip(list(pending), outcomes, strict=False):
            with override_settings(SIMULATED_GATEWAY_FAILURE=FAILURE[outcome]):
                billing.payment_operation_run(operation_id=operation.pk)
                if twice:  # delivered again
                    billing.payment_operation_run(operation_id=operation.pk)

    # how the pages and the API are used

    def _page_post(self, url, data):
        response = self.page.post(url, data)
        if response.status_code >= 400:
            raise ValidationError(f"answered {response.status_code}")
        return response

    def _api_post(self, url, body):
        response = self.api.post(url, body, content_type="application/json")
        if response.status_code >= 400:
            raise ValidationError(f"answered {response.status_code}")
        return response

    # after every step

    @invariant()
    def every_rule_of_an_orders_life_holds(self):
        if not hasattr(self, "retailer_id"):
            return
        now = self._snapshot()
        if now == getattr(self, "_checked", None):
            return  # nothing the rules read has changed since they last held
        self._checked = now
        broken = life_invariants.everything(self.retailer_id, self.counted)
        assert not broken, "\n".join(broken)


OrderLife.TestCase.settings = settings(
    max_examples=int(os.environ.get("LIFE_EXAMPLES", "300")),  # `make reliability`: 2,000
    stateful_step_count=int(os.environ.get("LIFE_STEPS", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_no_sequence_of_an_orders_life_breaks_a_rule():
    OrderLife.TestCase().runTest()


def test_the_rules_notice_a_broken_order():
    """The invariants are shown to catch what they claim: a line shipped beyond its quantity, a
    refund above the capture, a cancelled order still holding its authorisation."""
    machine = OrderLife()
    machine.a_retailer_with_a_warehouse_and_a_web_shop()
    machine.a_channel_sends_an_order(lines=[("TENT", 1)], shipping="0.00")
    order = machine._order(0)
    assert life_invariants.everything(machine.retailer_id, machine.counted) == []
    # an event its endpoint never got
    WebhookDelivery.objects.filter(retailer_id=machine.retailer_id).delete()
    broken = life_invariants.everything(machine.retailer_id, machine.counted)
    assert any(line.startswith("webhooks to ") for line in broken), broken
    OrderLine.objects.filter(order=order).update(cancelled=1)
    Order.objects.filter(pk=order.pk).update(
        status=status_for(machine.retailer, SystemState.CANCELLED)
    )
    broken = life_invariants.everything(machine.retailer_id, machine.counted)
    assert any("authorisation" in line for line in broken), broken
    Payment.objects.filter(order=order).update(captured=order.total, refunded=order.total)
    broken = life_invariants.everything(machine.retailer_id, machine.counted)
    assert any("ledger" in line for line in broken) and any("gateway" in line for line in broken)
