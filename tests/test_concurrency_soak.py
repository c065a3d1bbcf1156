"""Managers at work on the same few orders at once: real threads, real Postgres connections and
commits, for SOAK_SECONDS (60 by default). Every action goes through the services as the pages
call them; payment operations run as they would in-process after each commit.

It must end with no deadlock, no lock taken out of order, no error but a refusal, and every rule
of `tests/life_invariants.py` holding.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction

from billing import ledger
from billing.models import Invoice, Payment, PaymentTransaction
from billing.services import credit_note_create
from fulfilments import services as fulfilments
from fulfilments.models import Fulfilment, FulfilmentStatus
from oms.roles import Role
from oms.state import InvalidTransition
from orders import services
from orders.models import Order, SystemState
from returns import services as returns
from returns.models import Return, ReturnFulfilment, ReturnStatus
from tests import life_invariants
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

pytestmark = pytest.mark.django_db(transaction=True)

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
THREADS = int(os.environ.get("SOAK_THREADS", "4"))
ORDERS = 6
REFUSED = (InvalidTransition, ValidationError, PermissionDenied, Order.DoesNotExist)
STOCK = {"TENT": 40, "SOCK": 40, "RARE": 2}
PRICES = {"TENT": Decimal("89.95"), "SOCK": Decimal("7.99"), "RARE": Decimal("24.20")}


def _place(retailer, manager, number: int, rng: random.Random) -> Order:
    skus = rng.sample(list(PRICES), rng.randint(1, 3))
    return services.order_place(
        data=services.OrderInput(
            retailer_id=retailer.pk,
            ref=f"SOAK-{number}",
            currency="EUR",
            customer=CustomerFactory(retailer=retailer),
            shipping=Decimal("4.95"),
            shipping_address=services.AddressInput(
                line1="Main street 1", postcode="1000 AA", city="Utrecht", country="NL"
            ),
            lines=[
                services.LineInput(
                    sku=sku, name=sku.title(), quantity=rng.randint(1, 3), unit_price=PRICES[sku]
                )
                for sku in skus
            ],
            payment=services.PaymentInput(method="card", provider_reference=f"psp_soak_{number}"),
        ),
        by=manager,
    )


class Manager:
    """One manager's random actions on the retailer's orders."""

    def __init__(self, retailer, user, seed: int):
        self.retailer, self.user, self.rng = retailer, user, random.Random(seed)

    def order(self) -> Order:
        ids = list(Order.objects.filter(retailer=self.retailer).values_list("pk", flat=True))
        return Order.objects.get(pk=self.rng.choice(ids))

    def payment(self) -> Payment:
        return self.order().payments.order_by("pk").first()

    def amount(self, available: Decimal) -> Decimal:
        return max(
            Decimal("0.01"),
            (available * Decimal(self.rng.choice([1, 0.5]))).quantize(Decimal("0.01")),
        )

    # the actions, each as a page makes it

    def confirm(self):
        services.order_set_status(
            order=self.order(),
            status=status_for(self.retailer, SystemState.PROCESSING),
            by=self.user,
        )

    def complete(self):
        services.order_set_status(
            order=self.order(),
            status=status_for(self.retailer, SystemState.COMPLETED),
            by=self.user,
        )

    def cancel(self):
        services.order_cancel(order=self.order(), by=self.user, notify=False, reason="Soak")

    def suspend(self):
        services.order_suspend(order=self.order(), by=self.user, reason="Soak")

    def resume(self):
        services.order_resume(order=self.order(), by=self.user)

    def cancel_items(self):
        order = self.order()
        line = self.rng.choice(list(order.lines.all()))
        services.order_lines_cancel(
            order=order, line_ids=[line.pk], units={line.pk: 1}, by=self.user
        )

    def correct_quantity(self):
        order = self.order()
        line = self.rng.choice(list(order.lines.all()))
        services.order_line_correct_quantity(
            order=order, line_id=line.pk, quantity=max(1, line.quantity - 1), by=self.user
        )

    def mark_sent(self):
        services.order_mark_sent(order=self.order(), by=self.user, tracking_number="3S1")

    def capture(self):
        payment = self.payment()
        services.order_payment_capture(
            payment=payment, amount=self.amount(ledger.capturable(payment)), by=self.user
        )

    def refund(self):
        payment = self.payment()
        services.order_payment_refund(
            payment=payment, amount=self.amount(ledger.refundable(payment)), by=self.user
        )

    def release(self):
        services.order_payment_release(payment=self.payment(), by=self.user)

    def sync(self):
        services.order_payments_sync(order=self.order(), by=self.user)

    def retry(self):
        failed = PaymentTransaction.objects.filter(
            order=self.order(), status=PaymentTransaction.Status.FAILED
        ).first()
        if failed is not None:
            services.order_payment_retry(operation=failed, by=self.user)

    def pick(self):
        fulfilment = (
            Fulfilment.objects.filter(
                order=self.order(), status__in=[FulfilmentStatus.ASSIGNED, FulfilmentStatus.PICKED]
            )
            .order_by("?")
            .first()
        )
        if fulfilment is not None:
            to = {"ASSIGNED": "PICKED", "PICKED": "PACKED"}[fulfilment.status]
            fulfilments.fulfilment_move(fulfilment=fulfilment, to=to, by=self.user)

    def cancel_a_fulfilment(self):
        fulfilment = Fulfilment.objects.filter(
            order=self.order(), status=FulfilmentStatus.ASSIGNED
        ).first()
        if fulfilment is not None:
            fulfilments.fulfilment_move(
                fulfilment=fulfilment, to=FulfilmentStatus.CANCELLED, by=self.user
            )

    def give_up_an_escalation(self):
        fulfilment = Fulfilment.objects.filter(
            order=self.order(), status=FulfilmentStatus.ESCALATED
        ).first()
        if fulfilment is not None:
            services.fulfilment_lines_cancel(fulfilment=fulfilment, by=self.user)

    def return_an_item(self):
        order = self.order()
        line = self.rng.choice(list(order.lines.all()))
        returns.return_create(
            data=returns.ReturnInput(
                retailer_id=self.retailer.pk,
                type="CUSTOMER_RETURN",
                order=order,
                customer=returns.CustomerInput(email="soak@example.com"),
                items=[returns.ItemInput(sku_ref=line.sku, reason="DAMAGED")],
                fulfilments=[returns.FulfilmentInput(type="R_RTDC")],
            ),
            by=self.user,
        )

    def parcel_arrives(self):
        parcel = ReturnFulfilment.objects.filter(
            return_request__order=self.order(), status=ReturnFulfilment.Status.CREATED
        ).first()
        if parcel is not None:
            returns.return_fulfilment_move(
                fulfilment=parcel, to=ReturnFulfilment.Status.ARRIVED, by=self.user
            )

    def release_by_hand(self):
        ret = Return.objects.filter(order=self.order(), status=ReturnStatus.PENDING_REFUND).first()
        if ret is not None:
            returns.return_release_refund(ret=ret, by=self.user, by_hand=True)

    def credit_a_unit(self):
        invoice = Invoice.objects.filter(order=self.order(), kind=Invoice.Kind.INVOICE).first()
        if invoice is not None:
            credit_note_create(
                invoice=invoice, by=self.user, quantities={invoice.lines[0]["line_id"]: 1}
            )


ACTIONS = [
    name
    for name in vars(Manager)
    if not name.startswith("_") and name not in ("order", "payment", "amount")
]


def test_managers_at_once_never_deadlock_and_break_no_rule(caplog):
    # given a retailer with a warehouse, and orders placed, some confirmed and paid
    retailer = RetailerFactory()
    location = LocationFactory(retailer=retailer, zones=["NL"])
    CarrierFactory(retailer=retailer, zones=["NL"])
    counted = {}
    for sku, on_hand in STOCK.items():
        StockFactory(location=location, sku=sku, on_hand=on_hand)
        counted[(location.pk, sku)] = on_hand
    users = [
        MembershipFactory(user=UserFactory(), retailer=retailer, role=Role.MANAGER).user
        for _ in range(THREADS)
    ]
    rng = random.Random(16)
    for number in range(ORDERS):
        _place(retailer, users[0], number, rng)

    # when managers act on them at random, in parallel, for a while
    done, refused, errors = Counter(), Counter(), []
    lock = threading.Lock()
    stop = time.monotonic() + SOAK_SECONDS

    def work(index: int) -> None:
        manager = Manager(retailer, users[index], seed=index)
        try:
            while time.monotonic() < stop:
                name = manager.rng.choice(ACTIONS)
                try:
                    getattr(manager, name)()
                except REFUSED:
                    with lock:
                        refused[name] += 1
                except Exception as error:  # a deadlock, a lock out of order, a bug
                    with lock:
                        errors.append(f"{name}: {type(error).__name__}: {error}")
                else:
                    with lock:
                        done[name] += 1
        finally:
            connection.close()

    with caplog.at_level(logging.WARNING):
        threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # then nothing deadlocked or broke a rule
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    logged += [
        f"{r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if "deadlock" in f"{r.getMessage()} {r.exc_text or ''}".lower()
        or "Lock order" in r.getMessage()
    ]
    total = sum(done.values()) + sum(refused.values())
    print(  # the figures docs/reliability.md quotes
        f"\nsoak: {THREADS} managers, {SOAK_SECONDS:.0f} s, {total} actions "
        f"({sum(done.values())} done, {sum(refused.values())} refused), "
        f"{len(errors)} errors, {len(logged)} logged errors"
    )
    assert total > 0
    assert not errors, "\n".join(errors[:20])
    assert not logged, "\n".join(logged[:20])
    with transaction.atomic():
        broken = life_invariants.everything(retailer.pk, counted)
    assert not broken, "\n".join(broken)
