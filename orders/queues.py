"""The home page's queues of orders, tickets, intake messages and tasks; each count is the count
of the list its link opens."""

from __future__ import annotations

from django.db.models import Q
from django.urls import reverse

from oms.inbox import Queue
from oms.tenancy import retailer_ids_for
from orders.intake.models import IntakeMessage
from orders.models import OPEN_STATES, Order, SystemState, Task
from orders.risk import at_risk, transit_days_for


def payment_failed(user) -> Queue:
    """Captures and refunds that failed: money is stuck until someone retries them."""
    return Queue(
        "Failed payment operations",
        Order.objects.for_user(user).payment_failed().count(),
        _order_list("payment_failed"),
        urgent=True,
    )


def at_risk_of_being_late(user) -> Queue:
    """Open orders likely to miss their promised date, while there is time to act."""
    orders = open_orders(user)
    return Queue(
        "Orders at risk",
        at_risk(orders, retailer_ids_for(user), transit=transit_days_for(user)).count(),
        _order_list("at_risk"),
        note="of missing their promised date",
        urgent=True,
    )


def unanswered(user) -> Queue:
    """Customers waiting for an answer to their ticket: urgent while any wait."""
    return Queue(
        "Unanswered tickets",
        Order.objects.for_user(user).unanswered().count(),
        _order_list("unanswered"),
        urgent=True,
    )


def on_hold(user) -> Queue:
    """Orders held or suspended, which go nowhere until released."""
    return Queue("Orders on hold", _count_on_hold(user), _order_list("on_hold"))


def awaiting_payment(user) -> Queue:
    """Orders not paid yet, which are not shipped."""
    return Queue(
        "Awaiting payment",
        open_orders(user).awaiting_payment().count(),
        _order_list("awaiting_payment"),
    )


def intake_failed(user) -> Queue:
    """Channel messages that did not become orders; only managers may open the intake desk."""
    failed = IntakeMessage.objects.for_user(user).filter(
        status__in=[IntakeMessage.Status.REJECTED, IntakeMessage.Status.DEAD]
    )
    return Queue(
        "Intake messages rejected or dead", failed.count(), reverse("intake:desk"), urgent=True
    )


def my_tasks(user) -> Queue:
    """The user's own open tasks."""
    mine = Task.objects.for_user(user).filter(assignee=user).exclude(status=Task.Status.DONE)
    return Queue("My open tasks", mine.count(), reverse("orders:my_tasks"))


def open_orders(user):
    """The user's open orders (`OrderQuerySet.open`), for the counts of the home page."""
    return _in_states(user, OPEN_STATES)


def _in_states(user, states):
    """The user's orders in these system states. Their statuses are narrowed to the user's
    retailers too, which changes no row (an order's status is its retailer's) but shows the
    planner the few statuses it will meet: it walks them one by one on an index
    (`order_open_work`) instead of reading every order of the retailer to find them."""
    return Order.objects.for_user(user).filter(
        status__retailer_id__in=retailer_ids_for(user), status__system_state__in=states
    )


def _order_list(view: str) -> str:
    return f"{reverse('orders:order_list')}?view={view}"


def _count_on_hold(user) -> int:
    """`on_hold().count()` of the user's orders, as a union of held and suspended orders: each
    is found on its own index, where the OR of both reads every order of the retailer."""
    orders = Order.objects.for_user(user)
    held = orders.filter(Q(hold_documentation=True) | Q(hold_compliance=True)).values("pk")
    suspended = _in_states(user, [SystemState.SUSPENDED]).values("pk")
    return held.order_by().union(suspended.order_by()).count()
