"""Property-based: random sequences of what managers and workers do to an order and its payment,
against Postgres; after every step no invariant is broken.

A step is a service call as the pages make it (status change, suspend, resume, hold, cancel,
capture, refund, void), or a worker carrying out a pending payment operation, possibly twice
(Celery delivers at least once). Refused steps must leave everything as it was.
"""

import os
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from billing.ledger import payment_status_of
from billing.models import Payment, PaymentTransaction, SimulatedGatewayRecord
from billing.services import payment_operation_run
from oms.models import Activity
from oms.state import InvalidTransition
from orders import services
from orders.models import TRANSITIONS, Order, SystemState
from tests.factories import (
    MembershipFactory,
    OrderFactory,
    PaymentFactory,
    RetailerFactory,
    UserFactory,
    status_for,
)

pytestmark = pytest.mark.django_db
REFUSED = (InvalidTransition, ValidationError, PermissionDenied)
CENTS = st.integers(min_value=1, max_value=15_000).map(lambda c: Decimal(c) / 100)


class OrderLife(RuleBasedStateMachine):
    @initialize()
    def order(self):
        from oms.roles import Role

        retailer = RetailerFactory()
        self.manager = MembershipFactory(
            user=UserFactory(), retailer=retailer, role=Role.MANAGER
        ).user
        self.order = OrderFactory(retailer=retailer, lines=2, state=SystemState.NEW)
        self.payment = PaymentFactory(order=self.order, authorised=self.order.total)
        self.order.payment_status = payment_status_of(self.order)  # as intake would set it
        self.order.save(update_fields=["payment_status"])
        self.state = SystemState.NEW
        self.pending: list[int] = []
        self.done: list[int] = []

    # what a manager does

    def _snapshot(self) -> tuple:
        order = Order.objects.get(pk=self.order.pk)
        payment = Payment.objects.get(pk=self.payment.pk)
        return (
            order.status_id,
            order.hold_documentation,
            order.hold_compliance,
            order.payment_status,
            payment.captured,
            payment.refunded,
            payment.voided,
            PaymentTransaction.objects.filter(order_id=order.pk).count(),
        )

    def _try(self, change) -> bool:
        """Make a change; a refused one leaves no trace, a real one leaves its activity."""
        history = Activity.objects.filter(retailer_id=self.order.retailer_id)
        before, recorded = self._snapshot(), history.count()
        try:
            change()
        except REFUSED:
            assert self._snapshot() == before, "a refused step changed something"
            assert history.count() == recorded, "a refused step wrote history"
            return False
        if self._snapshot() != before:
            assert history.count() > recorded, "a change without its activity record"
        return True

    def _reload(self):
        self.order = Order.objects.select_related("status").get(pk=self.order.pk)
        self.payment = Payment.objects.get(pk=self.payment.pk)

    @rule(target_state=st.sampled_from([SystemState.PROCESSING, SystemState.COMPLETED]))
    def set_status(self, target_state):
        self._reload()
        status = status_for(self.order.retailer, target_state)
        self._try(
            lambda: services.order_set_status(order=self.order, status=status, by=self.manager)
        )

    @rule()
    def suspend(self):
        self._reload()
        self._try(lambda: services.order_suspend(order=self.order, by=self.manager, reason="Check"))

    @rule()
    def resume(self):
        self._reload()
        self._try(lambda: services.order_resume(order=self.order, by=self.manager))

    @rule(flag=st.sampled_from(["documentation", "compliance"]))
    def hold(self, flag):
        self._reload()
        self._try(
            lambda: services.order_hold_set(
                order=self.order, flag=flag, by=self.manager, reason="Papers"
            )
        )

    @rule()
    def cancel(self):
        self._reload()
        ok = self._try(
            lambda: services.order_cancel(
                order=self.order, by=self.manager, notify=False, reason="Asked"
            )
        )
        if ok:
            self._collect_pending()

    @rule(amount=CENTS)
    def capture(self, amount):
        self._reload()
        if self._try(
            lambda: services.order_payment_capture(
                payment=self.payment, amount=amount, by=self.manager
            )
        ):
            self._collect_pending()

    @rule(amount=CENTS)
    def refund(self, amount):
        self._reload()
        if self._try(
            lambda: services.order_payment_refund(
                payment=self.payment, amount=amount, by=self.manager
            )
        ):
            self._collect_pending()

    @rule()
    def void(self):
        self._reload()
        if self._try(lambda: services.order_payment_release(payment=self.payment, by=self.manager)):
            self._collect_pending()

    def _collect_pending(self):
        self.pending = list(
            PaymentTransaction.objects.filter(order=self.order, status="pending")
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    # what a worker does

    @precondition(lambda self: self.pending)
    @rule(twice=st.booleans())
    def worker_runs_the_oldest_operation(self, twice):
        operation_id = self.pending.pop(0)
        payment_operation_run(operation_id=operation_id)
        if twice:  # redelivered
            payment_operation_run(operation_id=operation_id)
        self.done.append(operation_id)

    @precondition(lambda self: self.done)
    @rule()
    def an_old_operation_is_delivered_again(self):
        payment_operation_run(operation_id=self.done[-1])

    # invariants

    @invariant()
    def the_status_moved_only_as_the_state_machine_allows(self):
        if not hasattr(self, "order"):
            return
        now = Order.objects.select_related("status", "suspended_from").get(pk=self.order.pk)
        state = now.status.system_state
        if state != self.state:
            allowed = TRANSITIONS[self.state] | (
                {now.suspended_from.system_state}
                if self.state == SystemState.SUSPENDED and now.suspended_from
                else set()
            )
            resumed = self.state == SystemState.SUSPENDED  # back to where it was
            assert state in allowed or resumed, f"{self.state} -> {state}"
            self.state = state

    @invariant()
    def money_adds_up_and_moves_once(self):
        if not hasattr(self, "payment"):
            return
        payment = Payment.objects.get(pk=self.payment.pk)
        assert 0 <= payment.captured <= payment.authorised - payment.voided
        assert 0 <= payment.refunded <= payment.captured
        done = PaymentTransaction.objects.filter(payment=payment, status="succeeded")
        for kind, amount in (("capture", payment.captured), ("refund", payment.refunded)):
            ledger = done.filter(kind=kind).aggregate(s=Sum("amount"))["s"] or Decimal(0)
            assert ledger == amount, f"{kind}: ledger {ledger} != payment {amount}"
            keys = set(done.filter(kind=kind).values_list("idempotency_key", flat=True))
            moved = SimulatedGatewayRecord.objects.filter(idempotency_key__in=keys, kind=kind)
            assert moved.count() == len(keys), f"{kind} moved money more than once"

    @invariant()
    def the_payment_status_says_what_the_payments_do(self):
        if not hasattr(self, "order"):
            return
        order = Order.objects.get(pk=self.order.pk)
        assert order.payment_status == payment_status_of(order)


OrderLife.TestCase.settings = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "40")),  # `make reliability`: 300
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_no_sequence_of_actions_breaks_an_invariant():
    OrderLife.TestCase().runTest()
