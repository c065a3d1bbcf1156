"""Property-based: random sequences of what agents, managers, the gateway and the workers do to
the returns of a retailer's paid orders and to their refunds, against Postgres; after every step
no invariant is broken.

A step is a service call as the pages and the API make it (create a return for some of an
order's items, move its parcels along, start its refund, release a pending refund through the
gateway or by hand, retry a failed refund on the Transactions tab, cancel the order), or a worker
carrying out a pending payment operation, which the gateway settles as a success, a decline or a
timeout (possibly delivered twice: Celery delivers at least once). Refused steps must leave
everything as it was; every change must be in the activity log under its actor.
"""

import os
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Q, Sum
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from billing.gateway import GatewayError
from billing.models import Payment, PaymentTransaction, SimulatedGatewayRecord
from billing.services import payment_operation_run
from oms.models import Activity
from oms.roles import Role
from orders import services as order_services
from orders.models import Order, OrderLine, SystemState
from orders.services import order_payment_retry as payment_operation_retry
from returns import services
from returns.models import (
    RETURN_TRANSITIONS,
    Return,
    ReturnAction,
    ReturnFulfilment,
    ReturnItem,
    ReturnStatus,
    ReturnType,
)
from tests.audited_steps import AuditedSteps
from tests.factories import (
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    RetailerFactory,
    UserFactory,
    recalculate_totals,
    ship,
)

pytestmark = pytest.mark.django_db

R = ReturnStatus
P = ReturnFulfilment.Status
OP = PaymentTransaction.Status
UNSETTLED = Q(status=OP.PENDING) | Q(status=OP.FAILED, error_code="unavailable")
RELEASED = "returns.return.refund_released"
STATUS_OF_LABEL = {label: value for value, label in R.choices}
PARCEL_STATUS_OF_LABEL = {label: value for value, label in P.choices}
# how the simulated gateway answers: SIMULATED_GATEWAY_FAILURE for the call
OUTCOMES = {"success": "", "decline": "decline", "timeout": "timeout"}

PRICES = st.sampled_from(["10.00", "24.20", "49.95", "121.00", "7.99"]).map(Decimal)
LINES = st.lists(st.tuples(st.integers(1, 3), PRICES), min_size=1, max_size=3)
# one card through the gateway, captured in full or in part; or a card and a gift card
TENDERS = st.sampled_from(["card", "card in part", "card and gift card"])
ORDERS = st.lists(st.tuples(LINES, TENDERS), min_size=1, max_size=2)
# what a return's items ask for: (line index, units)
PICKS = st.lists(st.tuples(st.integers(0, 5), st.integers(1, 2)), min_size=1, max_size=2)
ACTIONS = st.sampled_from(["reason", "REFUND", "REFUND_ON_APPROVAL", "EXCHANGE"])


class ReturnLife(AuditedSteps, RuleBasedStateMachine):
    @initialize(orders=ORDERS)
    def a_retailer_with_paid_orders(self, orders):
        retailer = RetailerFactory()
        self.retailer, self.retailer_id = retailer, retailer.pk
        self.users = {
            "agent": MembershipFactory(user=UserFactory(), retailer=retailer, role=Role.AGENT).user,
            "manager": MembershipFactory(
                user=UserFactory(), retailer=retailer, role=Role.MANAGER
            ).user,
            "outsider": MembershipFactory(user=UserFactory(), role=Role.MANAGER).user,
        }
        ReturnAction.objects.create(
            retailer=retailer,
            code="REFUND_ON_APPROVAL",
            label="Refund on approval",
            kind=ReturnAction.Kind.REFUND,
            timing=ReturnAction.Timing.ON_APPROVAL,
        )
        self.actions = {a.code: a for a in ReturnAction.objects.filter(retailer=retailer)}
        for lines, tender in orders:
            order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
            for quantity, price in lines:
                OrderLineFactory(order=order, quantity=quantity, unit_price=price)
            recalculate_totals(order)
            ship(order)  # customers send back what reached them
            captured = order.total
            if tender == "card in part":
                captured = (order.total / 2).quantize(Decimal("0.01"))
            PaymentFactory(order=order, authorised=order.total, captured=captured)
            if tender == "card and gift card":
                PaymentFactory(
                    order=order,
                    method=Payment.Method.GIFT_CARD,
                    authorised=Decimal("5.00"),
                    captured=Decimal("5.00"),
                )

    # helpers

    def _orders(self):
        return Order.objects.filter(retailer_id=self.retailer_id).order_by("pk")

    def _returns(self):
        return Return.objects.filter(retailer_id=self.retailer_id).order_by("pk")

    def _parcels(self):
        return ReturnFulfilment.objects.filter(retailer_id=self.retailer_id).order_by("pk")

    def _operations(self):
        return PaymentTransaction.objects.filter(retailer_id=self.retailer_id).order_by("pk")

    def _payments(self):
        return Payment.objects.filter(retailer_id=self.retailer_id).order_by("pk")

    def _pick(self, rows, index):
        rows = list(rows)
        return rows[index % len(rows)]

    def _snapshot(self) -> tuple:
        return (
            tuple(self._orders().values_list("pk", "status", "payment_status")),
            tuple(
                OrderLine.objects.filter(retailer_id=self.retailer_id)
                .order_by("pk")
                .values_list("pk", "quantity", "shipment_status")
            ),
            tuple(
                self._returns().values_list(
                    "pk", "status", "total_return_price", "refunded_by_hand", "credit_note"
                )
            ),
            tuple(
                ReturnItem.objects.filter(retailer_id=self.retailer_id)
                .order_by("pk")
                .values_list("pk", "return_request", "order_line", "quantity")
            ),
            tuple(self._parcels().values_list("pk", "status")),
            tuple(self._payments().values_list("pk", "captured", "refunded", "voided")),
            tuple(
                self._operations().values_list(
                    "pk", "kind", "amount", "status", "error_code", "return_request"
                )
            ),
            SimulatedGatewayRecord.objects.filter(
                payment_reference__in=self._payments().values_list("provider_reference")
            ).count(),
        )

    def _recorded(self, new, by) -> None:
        changed = new.filter(action__endswith="status_changed").exclude(actor=by)
        assert not changed.exists(), (
            f"a status change by {by} recorded under someone else: "
            f"{list(changed.values_list('action', 'actor'))}"
        )

    def _left(self, order) -> dict[int, int]:
        """Units of each line of the order not on a return yet."""
        taken = dict(
            ReturnItem.objects.filter(return_request__order=order, order_line__isnull=False)
            .values_list("order_line")
            .annotate(n=Sum("quantity"))
        )
        return {line.pk: line.quantity - taken.get(line.pk, 0) for line in order.lines.all()}

    # returns are created

    @precondition(lambda self: hasattr(self, "retailer_id"))
    @rule(
        index=st.integers(0, 5),
        picks=PICKS,
        parcels=st.integers(0, 2),
        action=ACTIONS,
        who=st.sampled_from(["agent", "manager"]),
        per_unit=st.booleans(),
    )
    def create_a_return(self, index, picks, parcels, action, who, per_unit):
        """A return of some of an order's items, from the order page (one item per unit) or
        the API (a quantity per item); more than is left of a line is refused."""
        order = self._pick(self._orders(), index)
        lines = list(order.lines.order_by("pk"))
        wanted: dict[int, int] = defaultdict(int)
        items = []
        for line_index, units in picks:
            line = lines[line_index % len(lines)]
            wanted[line.pk] += units
            if per_unit:
                items += [services.ItemInput(sku_ref=line.sku, reason="DAMAGED")] * units
            else:
                items.append(services.ItemInput(sku_ref=line.sku, quantity=units, reason="DAMAGED"))
        left = self._left(order)
        fits = all(units <= left[pk] for pk, units in wanted.items())
        by = self.users[who]
        data = services.ReturnInput(
            retailer_id=self.retailer_id,
            type=ReturnType.CUSTOMER_RETURN if per_unit else ReturnType.CANNOT_FULFIL,
            order=order,
            customer=services.CustomerInput(email="customer@example.com"),
            items=[services.ItemInput(**vars(item)) for item in items],
            fulfilments=[services.FulfilmentInput(type="R_RTDC") for _ in range(parcels)],
            action=None if action == "reason" else self.actions[action],
        )
        created = self._try(lambda: services.return_create(data=data, by=by), by=by)
        assert created == fits, (
            f"wanted {dict(wanted)} with {left} left: {'created' if created else 'refused'}"
        )

    # parcels come back, refunds start

    @precondition(lambda self: hasattr(self, "retailer_id") and self._parcels().exists())
    @rule(index=st.integers(0, 10), to=st.sampled_from(P.values), onward=st.booleans())
    def move_a_parcel(self, index, to, onward):
        """The drop-off point scans a parcel in, the warehouse completes it; or any status
        posted to the move button."""
        parcel = self._pick(self._parcels(), index)
        if onward:
            to = {P.CREATED: P.ARRIVED, P.ARRIVED: P.COMPLETE}.get(parcel.status, to)
        by = self.users["manager"]
        self._try(
            lambda: services.return_fulfilment_move(fulfilment=parcel, to=to, by=by),
            by=by,
        )

    @precondition(
        lambda self: (
            hasattr(self, "retailer_id")
            and self._returns().filter(status__in=[R.CREATED, R.BOOKED]).exists()
        )
    )
    @rule(index=st.integers(0, 10))
    def approve_a_refund(self, index):
        """A manager approves a return: its refund starts, through the gateway or for a
        manager to release."""
        ret = self._pick(self._returns().filter(status__in=[R.CREATED, R.BOOKED]), index)
        by = self.users["manager"]

        def start():
            with transaction.atomic():
                services.return_start_refund(ret=ret, by=by)

        self._try(start, by=by)

    # the gateway answers, managers deal with what it did not do

    def _waiting(self):
        return self._operations().filter(status=OP.PENDING)

    @precondition(lambda self: hasattr(self, "retailer_id") and self._waiting().exists())
    @rule(
        index=st.integers(0, 10),
        outcome=st.sampled_from(list(OUTCOMES)),
        twice=st.booleans(),
        last_attempt=st.booleans(),
    )
    def the_gateway_settles_an_operation(self, index, outcome, twice, last_attempt):
        """A worker carries out a pending refund or release; a timeout before the last attempt
        leaves it pending for Celery to try again."""
        operation = self._pick(self._waiting(), index)

        def run():
            with override_settings(SIMULATED_GATEWAY_FAILURE=OUTCOMES[outcome]):
                for _ in range(2 if twice else 1):  # redelivered
                    try:
                        payment_operation_run(operation_id=operation.pk, last_attempt=last_attempt)
                    except GatewayError as error:
                        assert error.transient and not last_attempt, f"{error} raised"

        self._try(run)

    @precondition(
        lambda self: (
            hasattr(self, "retailer_id") and self._operations().filter(status=OP.FAILED).exists()
        )
    )
    @rule(index=st.integers(0, 10))
    def retry_a_failed_operation(self, index):
        """A manager retries a declined or timed-out refund on the order's Transactions tab."""
        operation = self._pick(self._operations().filter(status=OP.FAILED), index)
        by = self.users["manager"]
        self._try(lambda: payment_operation_retry(operation=operation, by=by), by=by)

    @precondition(lambda self: hasattr(self, "retailer_id") and self._returns().exists())
    @rule(index=st.integers(0, 10), by_hand=st.booleans(), pending=st.booleans())
    def release_a_refund(self, index, by_hand, pending):
        """A manager releases a pending refund through the gateway or by hand (or tries to on a
        return that has none)."""
        returns = self._returns()
        if pending and returns.filter(status=R.PENDING_REFUND).exists():
            returns = returns.filter(status=R.PENDING_REFUND)
        ret = self._pick(returns, index)
        by = self.users["manager"]
        self._try(
            lambda: services.return_release_refund(ret=ret, by=by, by_hand=by_hand),
            by=by,
        )

    def _with_returns(self):
        return self._orders().filter(returns__isnull=False).distinct()

    @precondition(lambda self: hasattr(self, "retailer_id") and self._with_returns().exists())
    @rule(index=st.integers(0, 5))
    def cancel_an_order(self, index):
        """An order with returns is cancelled: what was captured and not yet given back is
        refunded through a cancellation return, what was only authorised is released."""
        order = self._pick(self._with_returns(), index)
        by = self.users["manager"]
        self._try(
            lambda: order_services.order_cancel(order=order, by=by, notify=False, reason="Asked"),
            by=by,
        )

    @precondition(lambda self: hasattr(self, "retailer_id") and self._returns().exists())
    @rule(
        who=st.sampled_from(["agent", "outsider"]),
        what=st.sampled_from(["release", "by hand", "move", "cancel", "retry", "create"]),
    )
    def someone_without_the_role_tries(self, who, what):
        """Agents create returns; managers of the retailer move money and parcels."""
        by = self.users[who]
        if what == "create" and who == "agent":
            return
        ret = self._returns().first()
        parcel = self._parcels().first()
        operation = self._operations().filter(status=OP.FAILED).first()
        order = self._orders().first()
        line = order.lines.first()
        changes = {
            "release": lambda: services.return_release_refund(ret=ret, by=by, by_hand=False),
            "by hand": lambda: services.return_release_refund(ret=ret, by=by, by_hand=True),
            "move": parcel
            and (lambda: services.return_fulfilment_move(fulfilment=parcel, to=P.ARRIVED, by=by)),
            "cancel": lambda: order_services.order_cancel(order=order, by=by, notify=False),
            "retry": operation and (lambda: payment_operation_retry(operation=operation, by=by)),
            "create": lambda: services.return_create(
                data=services.ReturnInput(
                    retailer_id=self.retailer_id,
                    type=ReturnType.CUSTOMER_RETURN,
                    order=order,
                    customer=services.CustomerInput(email="customer@example.com"),
                    items=[services.ItemInput(sku_ref=line.sku)],
                ),
                by=by,
            ),
        }
        if changes[what]:
            self._refused(changes[what])

    # invariants

    def _sums(self, rows) -> dict:
        """(key..., amount) rows summed by key (a tuple when the key has several parts)."""
        sums: dict = defaultdict(Decimal)
        for *key, amount in rows:
            sums[tuple(key) if len(key) > 1 else key[0]] += amount
        return sums

    def _given_by_hand(self) -> dict[int, Decimal]:
        """What managers recorded as released by hand, by return."""
        return {
            int(pk): amount
            for pk, amount in self._sums(
                (pk, Decimal(amount))
                for pk, amount in Activity.objects.filter(
                    retailer_id=self.retailer_id, action=RELEASED
                ).values_list("target_id", "data__amount")
            ).items()
        }

    @invariant()
    def payments_add_up_and_match_the_gateway(self):
        if not hasattr(self, "retailer_id"):
            return
        payments = list(self._payments())
        ledger = self._sums(
            self._operations().filter(status=OP.SUCCEEDED).values_list("payment", "kind", "amount")
        )
        moved = self._sums(
            SimulatedGatewayRecord.objects.filter(
                payment_reference__in=[p.provider_reference for p in payments]
            ).values_list("payment_reference", "kind", "amount")
        )
        unsettled = self._sums(
            self._operations().filter(UNSETTLED).values_list("payment", "kind", "amount")
        )
        for payment in payments:
            assert 0 <= payment.captured <= payment.authorised - payment.voided, payment
            assert 0 <= payment.refunded <= payment.captured, (
                f"{payment}: refunded {payment.refunded} of {payment.captured} captured"
            )
            # what the gateway may still be asked to pay back, or is paying back now
            asked = unsettled.get((payment.pk, "refund"), Decimal(0))
            assert payment.refunded + asked <= payment.captured, (
                f"{payment}: {payment.refunded} refunded and {asked} on its way, "
                f"{payment.captured} captured"
            )
            releasing = unsettled.get((payment.pk, "void"), Decimal(0))
            assert payment.captured + payment.voided + releasing <= payment.authorised, (
                f"{payment}: {releasing} being released of {payment.capturable}"
            )
            for kind, amount in (("refund", payment.refunded), ("void", payment.voided)):
                recorded = ledger.get((payment.pk, kind), Decimal(0))
                at_gateway = moved.get((payment.provider_reference, kind), Decimal(0))
                assert recorded == amount, f"{kind}: ledger {recorded} != payment {amount}"
                assert at_gateway == amount, f"{kind}: gateway moved {at_gateway}, we say {amount}"

    @invariant()
    def a_customer_never_gets_back_more_than_was_captured(self):
        """Money given back for an order (refunds the gateway made, and refunds released by
        hand) never exceeds what its payments captured."""
        if not hasattr(self, "retailer_id"):
            return
        payments = list(self._payments())
        order_of = {p.provider_reference: p.order_id for p in payments}
        captured = self._sums((p.order_id, p.captured) for p in payments)
        given = self._sums(
            (order_of[reference], amount)
            for reference, amount in SimulatedGatewayRecord.objects.filter(
                payment_reference__in=list(order_of), kind="refund"
            ).values_list("payment_reference", "amount")
        )
        by_hand = self._given_by_hand()
        for ret_pk, order_pk in self._returns().values_list("pk", "order"):
            given[order_pk] += by_hand.get(ret_pk, Decimal(0))
        for order_pk, amount in given.items():
            assert amount <= captured[order_pk], (
                f"order {order_pk}: {amount} given back, {captured[order_pk]} captured"
            )

    @invariant()
    def a_return_gives_back_at_most_its_total_and_settles_whole(self):
        if not hasattr(self, "retailer_id"):
            return
        refunds = self._operations().filter(return_request__isnull=False)
        paid = self._sums(  # through the gateway: what was given by hand is counted below
            refunds.filter(status=OP.SUCCEEDED)
            .exclude(kind=PaymentTransaction.Kind.MANUAL_REFUND)
            .values_list("return_request", "amount")
        )
        on_the_way = self._sums(refunds.filter(UNSETTLED).values_list("return_request", "amount"))
        by_hand = self._given_by_hand()
        for ret in self._returns():
            given = paid.get(ret.pk, Decimal(0)) + by_hand.get(ret.pk, Decimal(0))
            asked = on_the_way.get(ret.pk, Decimal(0))
            assert given + asked <= ret.total_return_price, (
                f"{ret.type} {ret.pk}: {given} given back and {asked} on its way, of "
                f"{ret.total_return_price}"
            )
            assert ret.pk not in by_hand or ret.refunded_by_hand, f"{ret.pk}: released unmarked"
            if ret.status == R.COMPLETE:
                assert ret.pk not in on_the_way, f"{ret.type} {ret.pk} complete, refund on its way"
            if ret.status == R.LODGED:
                assert ret.pk in on_the_way, f"{ret.type} {ret.pk} lodged, no refund on its way"

    @invariant()
    def no_line_is_returned_or_refunded_more_than_it_was_ordered_and_paid(self):
        if not hasattr(self, "retailer_id"):
            return
        units: dict[int, int] = defaultdict(int)
        worth: dict[int, Decimal] = defaultdict(Decimal)
        for line_pk, quantity, price, tax in ReturnItem.objects.filter(
            retailer_id=self.retailer_id, order_line__isnull=False
        ).values_list("order_line", "quantity", "sku_price", "sku_tax_price"):
            units[line_pk] += quantity
            worth[line_pk] += ((price or 0) + (tax or 0)) * quantity
        for line in OrderLine.objects.filter(retailer_id=self.retailer_id):
            assert units[line.pk] <= line.quantity, (
                f"{line.sku}: {units[line.pk]} of {line.quantity} returned"
            )
            assert worth[line.pk] <= line.total, (
                f"{line.sku}: {units[line.pk]} of {line.quantity} returned are worth "
                f"{worth[line.pk]}, the line cost {line.total}"
            )

    @invariant()
    def returns_and_parcels_moved_only_as_their_state_machines_allow(self):
        if not hasattr(self, "retailer_id"):
            return
        for label, rows, transitions, status_of, began in (
            (
                "returns.return",
                self._returns(),
                RETURN_TRANSITIONS,
                STATUS_OF_LABEL,
                (R.CREATED, R.BOOKED),
            ),
            (
                "returns.returnfulfilment",
                self._parcels(),
                ReturnFulfilment.TRANSITIONS,
                PARCEL_STATUS_OF_LABEL,
                (P.CREATED,),
            ),
        ):
            trail: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for entry in Activity.objects.filter(
                retailer_id=self.retailer_id, action=f"{label}.status_changed"
            ).order_by("pk"):
                trail[entry.target_id].append(
                    (status_of[entry.data["before"]], status_of[entry.data["after"]])
                )
            for row in rows:
                steps = trail[str(row.pk)]
                now = steps[0][0] if steps else row.status
                assert now in began, f"{label} {row.pk} began {now}"
                for before, after in steps:
                    assert before == now, f"{label} {row.pk}: a status change without activity"
                    assert after in transitions[before], f"{label}: {before} -> {after}"
                    now = after
                assert now == row.status, f"{label} {row.pk}: a status change without activity"


ReturnLife.TestCase.settings = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "15")),  # `make reliability`: 300
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_no_sequence_of_return_and_refund_steps_breaks_an_invariant():
    ReturnLife.TestCase().runTest()
