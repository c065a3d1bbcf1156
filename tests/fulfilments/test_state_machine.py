"""Property-based: random sequences of what managers, the stock feed and the beat do to the
fulfilments of a retailer's orders, against Postgres; after every step no invariant is broken.

A step is a service call as the pages make it (confirm an order, which sources it; move a
fulfilment along; retry, assign or give up an escalated one; cancel a line or the order;
correct a quantity; import stock), or the beat retrying every escalation. Refused steps must
leave everything as it was; every change must be in the activity log under its actor.
"""

import os
from collections import defaultdict

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from billing.models import PaymentTransaction
from fulfilments import services
from fulfilments.models import (
    FULFILMENT_TRANSITIONS,
    Fulfilment,
    FulfilmentItem,
    FulfilmentStatus,
    StockPosition,
)
from oms.models import Activity
from oms.roles import Role
from oms.state import InvalidTransition
from orders import services as order_services
from orders.models import Order, OrderLine, ShipmentStatus, SystemState
from returns.models import Return
from tests.audited_steps import AuditedSteps
from tests.factories import (
    CarrierFactory,
    FulfilmentFactory,
    LocationFactory,
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    RetailerFactory,
    StockFactory,
    UserFactory,
    recalculate_totals,
    status_for,
)

pytestmark = pytest.mark.django_db

S = FulfilmentStatus
SKUS = ["A", "B", "C"]  # C is held nowhere until stock of it arrives
LOCATIONS = ["NORTH", "SOUTH"]
RESERVING = [S.CREATED, S.ASSIGNED]  # stock promised, still on the shelf
OFF_THE_SHELF = [S.PICKED, S.PACKED, S.SHIPPED, S.READY_FOR_COLLECTION, S.DELIVERED, S.COLLECTED]
WAITING = [*RESERVING, S.ESCALATED, S.PICKED, S.PACKED, S.READY_FOR_COLLECTION]  # not gone yet
NEXT = {
    S.ASSIGNED: S.PICKED,
    S.PICKED: S.PACKED,
    S.PACKED: S.SHIPPED,
    S.SHIPPED: S.DELIVERED,
    S.READY_FOR_COLLECTION: S.COLLECTED,
}
STATUS_OF_LABEL = {label: value for value, label in S.choices}

LINES = st.lists(
    st.tuples(st.sampled_from(SKUS), st.integers(1, 3)),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
)
STOCK = st.fixed_dictionaries(
    {(loc, sku): st.integers(0, 4) for loc in LOCATIONS for sku in SKUS if sku != "C"}
)


class FulfilmentLife(AuditedSteps, RuleBasedStateMachine):
    @initialize(stock=STOCK, threshold=st.integers(0, 1))
    def a_retailer_with_two_warehouses(self, stock, threshold):
        retailer = RetailerFactory()
        self.retailer, self.retailer_id = retailer, retailer.pk
        self.users = {
            "agent": MembershipFactory(user=UserFactory(), retailer=retailer, role=Role.AGENT).user,
            "manager": MembershipFactory(
                user=UserFactory(), retailer=retailer, role=Role.MANAGER
            ).user,
            "outsider": MembershipFactory(user=UserFactory(), role=Role.MANAGER).user,
        }
        self.locations = {
            ref: LocationFactory(retailer=retailer, ref=ref, name=f"{ref.title()} warehouse")
            for ref in LOCATIONS
        }
        CarrierFactory(retailer=retailer, name="PostNL", zones=["NL"])
        for (ref, sku), on_hand in stock.items():
            StockFactory(
                location=self.locations[ref], sku=sku, on_hand=on_hand, safety_threshold=threshold
            )
        # what each position holds on the shelf plus what was picked from it, since its last count
        self.counted: dict[tuple[int, str], int] = {}
        self._recount()

    # helpers

    def _orders(self):
        return Order.objects.filter(retailer_id=self.retailer_id).order_by("pk")

    def _fulfilments(self):
        return Fulfilment.objects.filter(retailer_id=self.retailer_id).order_by("pk")

    def _stock(self):
        return StockPosition.objects.filter(retailer_id=self.retailer_id).order_by("pk")

    def _picked(self) -> dict[tuple[int, str], int]:
        """Units picked from each position that have not gone back on its shelf."""
        picked: dict[tuple[int, str], int] = defaultdict(int)
        for location_id, sku, filled in FulfilmentItem.objects.filter(
            retailer_id=self.retailer_id, fulfilment__status__in=OFF_THE_SHELF
        ).values_list("fulfilment__location_id", "order_line__sku", "filled"):
            picked[(location_id, sku)] += filled
        return picked

    def _recount(self, keys=None) -> None:
        """A stock count sets what is on the shelf: count from there."""
        picked = self._picked()
        for position in self._stock():
            key = (position.location_id, position.sku)
            if keys is None or key in keys:
                self.counted[key] = position.on_hand + picked[key]

    def _snapshot(self) -> tuple:
        return (
            tuple(self._orders().values_list("pk", "status", "total")),
            tuple(
                OrderLine.objects.filter(retailer_id=self.retailer_id)
                .order_by("pk")
                .values_list("pk", "quantity", "shipment_status")
            ),
            tuple(
                self._fulfilments().values_list(
                    "pk", "status", "location", "escalation_reason", "escalated_at"
                )
            ),
            tuple(
                FulfilmentItem.objects.filter(retailer_id=self.retailer_id)
                .order_by("pk")
                .values_list("pk", "fulfilment", "order_line", "requested", "filled")
            ),
            tuple(self._stock().values_list("pk", "on_hand", "reserved", "safety_threshold")),
            Return.objects.filter(retailer_id=self.retailer_id).count(),
            PaymentTransaction.objects.filter(retailer_id=self.retailer_id).count(),
        )

    def _pick(self, rows, index):
        rows = list(rows)
        return rows[index % len(rows)]

    def _worked_on(self):
        return (
            self._in_state(SystemState.PROCESSING)
            .filter(fulfilments__isnull=False)
            .exclude(fulfilments__status=S.ASSIGNED)
            .distinct()
        )

    def _in_state(self, *states):
        return self._orders().filter(status__system_state__in=states)

    # orders come in and are confirmed

    @precondition(lambda self: self._in_state(SystemState.NEW, SystemState.PROCESSING).count() < 3)
    @rule(lines=LINES, paid=st.booleans())
    def an_order_comes_in(self, lines, paid):
        order = OrderFactory(retailer=self.retailer, state=SystemState.NEW)
        for sku, quantity in lines:
            OrderLineFactory(order=order, sku=sku, quantity=quantity)
        recalculate_totals(order)
        if paid:
            PaymentFactory(order=order, authorised=order.total, captured=order.total)

    @precondition(lambda self: self._in_state(SystemState.NEW).exists())
    @rule(index=st.integers(0, 10))
    def confirm(self, index):
        """Confirmation sources the order: where each line ships from, or an escalation."""
        order = self._pick(self._in_state(SystemState.NEW), index)
        by = self.users["manager"]
        status = status_for(order.retailer, SystemState.PROCESSING)
        self._try(lambda: order_services.order_set_status(order=order, status=status, by=by), by=by)

    # fulfilments move along

    @precondition(lambda self: self._fulfilments().filter(status__in=list(NEXT)).exists())
    @rule(index=st.integers(0, 20))
    def move_along(self, index):
        """The warehouse picks, packs, ships; the carrier delivers."""
        fulfilment = self._pick(self._fulfilments().filter(status__in=list(NEXT)), index)
        self._move(fulfilment, NEXT[fulfilment.status])

    @precondition(lambda self: self._fulfilments().exclude(status=S.CANCELLED).exists())
    @rule(index=st.integers(0, 20), to=st.sampled_from(S.values))
    def move_anywhere(self, index, to):
        """Any status posted to the move button, the page's or not."""
        self._move(self._pick(self._fulfilments().exclude(status=S.CANCELLED), index), to)

    def _move(self, fulfilment, to):
        by = self.users["manager"]
        self._try(lambda: services.fulfilment_move(fulfilment=fulfilment, to=to, by=by), by=by)

    # escalations are resolved

    @precondition(lambda self: self._fulfilments().filter(status=S.ESCALATED).exists())
    @rule(index=st.integers(0, 10))
    def retry(self, index):
        fulfilment = self._pick(self._fulfilments().filter(status=S.ESCALATED), index)
        by = self.users["manager"]
        self._try(lambda: services.fulfilment_retry(fulfilment=fulfilment, by=by), by=by)

    @precondition(lambda self: self._fulfilments().filter(status=S.ESCALATED).exists())
    @rule(index=st.integers(0, 10), location=st.sampled_from(LOCATIONS))
    def assign(self, index, location):
        fulfilment = self._pick(self._fulfilments().filter(status=S.ESCALATED), index)
        by = self.users["manager"]
        self._try(
            lambda: services.fulfilment_assign(
                fulfilment=fulfilment, location=self.locations[location], by=by
            ),
            by=by,
        )

    @precondition(lambda self: self._fulfilments().filter(status=S.ESCALATED).exists())
    @rule(index=st.integers(0, 10))
    def give_up(self, index):
        """Cancel an escalation's lines; what was paid for them is refunded."""
        fulfilment = self._pick(self._fulfilments().filter(status=S.ESCALATED), index)
        by = self.users["manager"]
        self._try(
            lambda: order_services.fulfilment_lines_cancel(fulfilment=fulfilment, by=by), by=by
        )

    @precondition(lambda self: self._fulfilments().filter(status=S.ESCALATED).exists())
    @rule()
    def the_beat_retries_every_escalation(self):
        self._try(services.retry_all_escalated)

    # stock arrives, orders and lines change

    @precondition(lambda self: self._fulfilments().exists())
    @rule(
        location=st.sampled_from(LOCATIONS),
        sku=st.sampled_from(SKUS),
        on_hand=st.integers(0, 6),
        threshold=st.sampled_from(["", "0", "1"]),
    )
    def stock_count_arrives(self, location, sku, on_hand, threshold):
        self._import(location, sku, on_hand, threshold)

    @precondition(lambda self: self._fulfilments().filter(status=S.ESCALATED).exists())
    @rule(index=st.integers(0, 20), location=st.sampled_from(LOCATIONS))
    def stock_an_escalation_waits_for_arrives(self, index, location):
        item = self._pick(
            FulfilmentItem.objects.filter(
                retailer_id=self.retailer_id, fulfilment__status=S.ESCALATED
            )
            .select_related("order_line")
            .order_by("pk"),
            index,
        )
        sku = item.order_line.sku
        position = StockPosition.objects.filter(location=self.locations[location], sku=sku).first()
        on_hand = (position.on_hand if position else 0) + item.requested
        self._import(location, sku, on_hand, "0")

    def _import(self, location, sku, on_hand, threshold):
        by = self.users["manager"]
        csv = f"location_ref,sku,on_hand,safety_threshold\n{location},{sku},{on_hand},{threshold}\n"
        if self._try(
            lambda: services.stock_import(retailer_id=self.retailer_id, csv_text=csv, by=by),
            by=by,
        ):
            self._recount({(self.locations[location].pk, sku)})

    @precondition(lambda self: self._worked_on().exists())
    @rule(index=st.integers(0, 10))
    def cancel_an_order(self, index):
        """Cancel a confirmed order once its fulfilments have moved or escalated."""
        order = self._pick(self._worked_on(), index)
        by = self.users["manager"]
        self._try(
            lambda: order_services.order_cancel(order=order, by=by, notify=False, reason="Asked"),
            by=by,
        )

    @precondition(
        lambda self: OrderLine.objects.filter(
            retailer_id=self.retailer_id, order__status__system_state=SystemState.PROCESSING
        ).exists()
    )
    @rule(index=st.integers(0, 20), cancel=st.booleans(), less=st.integers(0, 3))
    def change_a_line(self, index, cancel, less):
        """Cancel a line of a confirmed order, or correct its quantity down."""
        line = self._pick(
            OrderLine.objects.filter(
                retailer_id=self.retailer_id, order__status__system_state=SystemState.PROCESSING
            ).order_by("pk"),
            index,
        )
        by = self.users["manager"]
        if cancel:
            change = lambda: order_services.order_lines_cancel(  # noqa: E731
                order=line.order, line_ids=[line.pk], by=by
            )
        else:
            change = lambda: order_services.order_line_correct_quantity(  # noqa: E731
                order=line.order, line_id=line.pk, quantity=line.quantity - less, by=by
            )
        self._try(change, by=by)

    @precondition(lambda self: self._fulfilments().exists())
    @rule(
        who=st.sampled_from(["agent", "outsider"]),
        what=st.sampled_from(["move", "retry", "assign", "give up", "import"]),
    )
    def someone_without_the_role_tries(self, who, what):
        """Agents read fulfilments; managers of the retailer act on them."""
        by = self.users[who]
        fulfilment = self._fulfilments().first()
        changes = {
            "move": lambda: services.fulfilment_move(fulfilment=fulfilment, to=S.PICKED, by=by),
            "retry": lambda: services.fulfilment_retry(fulfilment=fulfilment, by=by),
            "assign": lambda: services.fulfilment_assign(
                fulfilment=fulfilment, location=self.locations["NORTH"], by=by
            ),
            "give up": lambda: order_services.fulfilment_lines_cancel(fulfilment=fulfilment, by=by),
            "import": lambda: services.stock_import(
                retailer_id=self.retailer_id,
                csv_text="location_ref,sku,on_hand\nNORTH,A,99\n",
                by=by,
            ),
        }
        self._refused(changes[what])

    # invariants

    @invariant()
    def stock_reserved_is_what_open_fulfilments_hold(self):
        if not hasattr(self, "retailer_id"):
            return
        held: dict[tuple[int, str], int] = defaultdict(int)
        for location_id, sku, requested in FulfilmentItem.objects.filter(
            retailer_id=self.retailer_id, fulfilment__status__in=RESERVING
        ).values_list("fulfilment__location_id", "order_line__sku", "requested"):
            held[(location_id, sku)] += requested
        positions = {(p.location_id, p.sku): p for p in self._stock()}
        for key in held:
            assert key in positions, f"{key} reserved where nothing is held"
        picked = self._picked()
        for key, position in positions.items():
            assert 0 <= position.reserved <= position.on_hand, f"{position}: {position.reserved}"
            assert position.reserved == held[key], (
                f"{position.sku} at {position.location_id}: {position.reserved} reserved, "
                f"open fulfilments hold {held[key]}"
            )
            assert position.on_hand + picked[key] == self.counted[key], (
                f"{position.sku} at {position.location_id}: on hand {position.on_hand} and "
                f"{picked[key]} picked, counted {self.counted[key]}"
            )

    @invariant()
    def a_line_is_fulfilled_once_and_never_forgotten(self):
        if not hasattr(self, "retailer_id"):
            return
        taken = dict(
            FulfilmentItem.objects.filter(retailer_id=self.retailer_id)
            .exclude(fulfilment__status=S.CANCELLED)
            .values_list("order_line")
            .annotate(n=Sum("requested"))
        )
        for line in OrderLine.objects.filter(retailer_id=self.retailer_id).select_related(
            "order__status"
        ):
            units = taken.get(line.pk, 0)
            assert units <= line.quantity, f"{line.sku}: {units} of {line.quantity} fulfilled"
            state = line.order.status.system_state
            if state == SystemState.NEW:
                assert units == 0, "an unconfirmed order is being fulfilled"
            elif (
                state == SystemState.PROCESSING and line.shipment_status != ShipmentStatus.CANCELLED
            ):
                # every unit not cancelled ships from a location or waits in the escalation queue
                assert units == line.quantity - line.cancelled, (
                    f"{line.sku}: {units} of {line.quantity - line.cancelled} sourced or escalated"
                )
            if state == SystemState.CANCELLED or line.shipment_status == ShipmentStatus.CANCELLED:
                waiting = FulfilmentItem.objects.filter(
                    order_line=line, fulfilment__status__in=WAITING
                )
                assert not waiting.exists(), f"{line.sku} is cancelled but still to be fulfilled"

    @invariant()
    def fulfilments_are_whole(self):
        if not hasattr(self, "retailer_id"):
            return
        for fulfilment in self._fulfilments().prefetch_related("items"):
            items = list(fulfilment.items.all())
            if fulfilment.status == S.ESCALATED:
                assert fulfilment.escalation_reason and fulfilment.escalated_at, (
                    f"{fulfilment} escalated without a reason and time"
                )
            if fulfilment.status != S.CANCELLED:
                assert items, f"{fulfilment} is {fulfilment.status} with nothing in it"
            if fulfilment.status in [S.ASSIGNED, *OFF_THE_SHELF]:
                assert fulfilment.location_id, f"{fulfilment} is {fulfilment.status} from nowhere"
            for item in items:
                if fulfilment.status in OFF_THE_SHELF:
                    assert item.filled == item.requested, f"{fulfilment}: picked {item.filled}"
                elif fulfilment.status in RESERVING or fulfilment.status == S.ESCALATED:
                    assert item.filled == 0, f"{fulfilment}: {item.filled} picked"

    @invariant()
    def fulfilments_moved_only_as_their_state_machine_allows(self):
        if not hasattr(self, "retailer_id"):
            return
        trail: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for entry in Activity.objects.filter(
            retailer_id=self.retailer_id, action="fulfilments.fulfilment.status_changed"
        ).order_by("pk"):
            trail[entry.target_id].append(
                (STATUS_OF_LABEL[entry.data["before"]], STATUS_OF_LABEL[entry.data["after"]])
            )
        for fulfilment in self._fulfilments():
            steps = trail[str(fulfilment.pk)]
            now = steps[0][0] if steps else fulfilment.status
            assert now in (S.ASSIGNED, S.ESCALATED), f"{fulfilment} began {now}"
            for before, after in steps:
                assert before == now, f"{fulfilment}: a status change without its activity"
                assert after in FULFILMENT_TRANSITIONS[before], f"{before} -> {after}"
                now = after
            assert now == fulfilment.status, f"{fulfilment}: a status change without its activity"
            assert fulfilment.status in fulfilment.history, f"{fulfilment}: history lacks it"


FulfilmentLife.TestCase.settings = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "20")),  # `make reliability`: 300
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_no_sequence_of_fulfilment_steps_breaks_an_invariant():
    FulfilmentLife.TestCase().runTest()


# regressions found by the machine above


@pytest.fixture
def confirmed(retailer, manager):
    """An order of two A confirmed, its stock reserved at the north warehouse."""
    north = LocationFactory(retailer=retailer, ref="NORTH", name="North warehouse")
    CarrierFactory(retailer=retailer, zones=["NL"])
    StockFactory(location=north, sku="A", on_hand=5)
    order = OrderFactory(retailer=retailer, state=SystemState.NEW)
    OrderLineFactory(order=order, sku="A", quantity=2)
    recalculate_totals(order)
    order_services.order_set_status(
        order=order, status=status_for(retailer, SystemState.PROCESSING), by=manager
    )
    return Fulfilment.objects.get(order=order)


def test_a_fulfilment_cancelled_by_hand_sends_its_items_to_the_escalation_queue(manager, confirmed):
    # given an assigned fulfilment of two A, reserved at the north warehouse

    # when the manager cancels it on its page
    services.fulfilment_move(fulfilment=confirmed, to=S.CANCELLED, by=manager)

    # then the stock is free again and the two A wait in the escalation queue, with the reason
    assert StockPosition.objects.get(sku="A").reserved == 0
    escalated = Fulfilment.objects.escalated().get(order=confirmed.order)
    assert escalated.items.get().requested == 2
    assert confirmed.ref in escalated.escalation_reason and escalated.escalated_at
    assert Activity.objects.filter(
        action="fulfilments.fulfilment.escalated", target_id=str(escalated.pk), actor=manager
    ).exists()


def test_escalating_by_hand_or_moving_an_escalation_is_refused(manager, confirmed):
    # given an assigned fulfilment, and an escalated one
    escalated = FulfilmentFactory(order=confirmed.order)
    before = (StockPosition.objects.get(sku="A").reserved, Activity.objects.count())

    # when a manager posts statuses its page does not offer
    # then they are refused, and nothing changes
    with pytest.raises(InvalidTransition):
        services.fulfilment_move(fulfilment=confirmed, to=S.ESCALATED, by=manager)
    with pytest.raises(InvalidTransition, match="retry it, assign it"):
        services.fulfilment_move(fulfilment=escalated, to=S.CANCELLED, by=manager)
    assert Fulfilment.objects.get(pk=confirmed.pk).status == S.ASSIGNED
    assert Fulfilment.objects.get(pk=escalated.pk).status == S.ESCALATED
    assert (StockPosition.objects.get(sku="A").reserved, Activity.objects.count()) == before


def test_a_retry_that_finds_a_new_reason_records_it(manager, retailer):
    # given an escalation of three A that no warehouse holds, corrected down to two
    north = LocationFactory(retailer=retailer, ref="NORTH", name="North warehouse")
    CarrierFactory(retailer=retailer, zones=["NL"])
    StockFactory(location=north, sku="B", on_hand=5)
    order = OrderFactory(retailer=retailer, state=SystemState.NEW)
    OrderLineFactory(order=order, sku="B", quantity=1)
    line = OrderLineFactory(order=order, sku="A", quantity=3)
    recalculate_totals(order)
    order_services.order_set_status(
        order=order, status=status_for(retailer, SystemState.PROCESSING), by=manager
    )
    escalated = Fulfilment.objects.escalated().get(order=order)
    assert "A: 3 of 3 cannot be sourced" in escalated.escalation_reason
    order_services.order_line_correct_quantity(order=order, line_id=line.pk, quantity=2, by=manager)

    # when the beat tries it again, still without stock
    services.retry_all_escalated()

    # then the queue shows the new reason, and the history says when it changed
    escalated.refresh_from_db()
    assert "A: 2 of 2 cannot be sourced" in escalated.escalation_reason
    latest = (
        Activity.objects.filter(target_type="fulfilments.fulfilment", target_id=str(escalated.pk))
        .order_by("-pk")
        .first()
    )
    assert latest.action == "fulfilments.fulfilment.escalated"
    assert "A: 2 of 2" in latest.data["reason"]


def test_a_quantity_corrected_below_what_was_escalated_leaves_no_empty_escalation(
    manager, retailer
):
    # given three A of which one is sourced at the south warehouse and two are escalated
    south = LocationFactory(retailer=retailer, ref="SOUTH", name="South warehouse")
    CarrierFactory(retailer=retailer, zones=["NL"])
    StockFactory(location=south, sku="A", on_hand=1)
    order = OrderFactory(retailer=retailer, state=SystemState.NEW)
    line = OrderLineFactory(order=order, sku="A", quantity=3)
    recalculate_totals(order)
    order_services.order_set_status(
        order=order, status=status_for(retailer, SystemState.PROCESSING), by=manager
    )
    escalated = Fulfilment.objects.escalated().get(order=order)

    # when the manager corrects the quantity to the one that was sourced
    order_services.order_line_correct_quantity(order=order, line_id=line.pk, quantity=1, by=manager)

    # then nothing is left in the escalation queue, and the beat sources no empty parcel
    escalated.refresh_from_db()
    assert escalated.status == S.CANCELLED
    assert not Fulfilment.objects.escalated().filter(order=order).exists()
    services.retry_all_escalated()
    assert Fulfilment.objects.filter(order=order).exclude(status=S.CANCELLED).count() == 1
    assert StockPosition.objects.get(sku="A").reserved == 1
