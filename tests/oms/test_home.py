"""The home page: every count of work that waits is the count of the list its link opens, for
the user's retailers only; and the figures a lead watches."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import PaymentTransaction
from oms.roles import Role
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.models import PaymentStatus, SystemState, Task, Ticket
from returns.models import ReturnStatus
from tests.factories import (
    FulfilmentFactory,
    MembershipFactory,
    OrderFactory,
    PaymentFactory,
    PaymentTransactionFactory,
    ReturnFactory,
    ShipmentFactory,
    TaskFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db


def queues(html: str) -> dict[str, tuple[int, str]]:
    """{label: (count, link)} of the home page's work queues."""
    cards = re.findall(
        r'href="([^"]+)" data-testid="queue">.*?queue-count">(\d+)</div>\s*'
        r'<div class="text-body-secondary" data-testid="queue-label">([^<]+)<',
        html,
        re.S,
    )
    return {label: (int(count), url.replace("&amp;", "&")) for url, count, label in cards}


def listed(response) -> int:
    """How many records the list page shows (all pages)."""
    context = response.context
    table = context.get("table")
    if table is not None:
        return table.paginator.count if getattr(table, "paginator", None) else len(table.rows)
    if "paginator" in context and context["paginator"] is not None:
        return context["paginator"].count
    if "failed" in context:  # the intake desk
        return len(context["failed"])
    raise AssertionError(f"no list on {response.request['PATH_INFO']}")


def _failed(order, kind=PaymentTransaction.Kind.CAPTURE):
    payment = order.payments.first() or PaymentFactory(order=order)
    return PaymentTransactionFactory(
        payment=payment, kind=kind, status=PaymentTransaction.Status.FAILED, error_code="declined"
    )


def _paid(owner, **fields):
    return OrderFactory(retailer=owner, payment_status=PaymentStatus.PAID, **fields)


@pytest.fixture
def work(retailer, other_retailer, manager):
    """Some of each kind of waiting work in the retailer, and the same in another one."""
    now = timezone.now()
    yesterday = timezone.localdate() - timedelta(days=1)
    for owner in (retailer, other_retailer):
        FulfilmentFactory(order=_paid(owner), escalated_at=now - timedelta(hours=5))
        FulfilmentFactory(order=_paid(owner), escalated_at=now - timedelta(hours=1))
        _failed(_paid(owner))
        ReturnFactory(retailer=owner, order=_paid(owner), status=ReturnStatus.PENDING_REFUND)
        TicketFactory(order=_paid(owner), status=Ticket.Status.OPEN)
        _paid(owner, hold_compliance=True)
        _paid(owner, state=SystemState.SUSPENDED)
        OrderFactory(retailer=owner, payment_status=PaymentStatus.AUTHORISED)
        # at risk: due yesterday and not shipped; not at risk: shipped, or completed
        _paid(owner, promised_date=yesterday)
        ShipmentFactory(order=_paid(owner, promised_date=yesterday), shipped_at=now)
        _paid(owner, promised_date=yesterday, state=SystemState.COMPLETED)
        channel = IntakeChannel.objects.create(
            retailer=owner, code="web", name="Web", kind=IntakeChannel.Kind.choices[0][0]
        )
        for status in (IntakeMessage.Status.REJECTED, IntakeMessage.Status.DEAD):
            IntakeMessage.objects.create(retailer=owner, channel=channel, body="{}", status=status)
    # work that no longer waits: a failed capture tried again, an answered ticket, a done task
    retried = _paid(retailer)
    failed = _failed(retried)
    PaymentTransactionFactory(
        payment=failed.payment, kind=failed.kind, status=PaymentTransaction.Status.SUCCEEDED
    )
    TicketFactory(order=_paid(retailer), status=Ticket.Status.ANSWERED)
    TaskFactory(order=_paid(retailer), assignee=manager, status=Task.Status.DONE)
    TaskFactory(order=_paid(retailer), assignee=manager)


def test_each_count_is_the_count_of_the_list_it_opens(client_for, manager, work):
    client = client_for(manager)

    # when the manager opens the home page
    found = queues(client.get(reverse("home")).content.decode())

    # then each kind of waiting work is counted, for their retailer only
    assert {label: count for label, (count, _) in found.items()} == {
        "Escalated fulfilments": 2,
        "Failed payment operations": 1,
        "Orders at risk": 3,  # the escalated ones and the one due yesterday
        "Returns pending refund": 1,
        "Unanswered tickets": 1,
        "Orders on hold": 2,  # held and suspended
        "Awaiting payment": 1,
        "Intake messages rejected or dead": 2,
        "My open tasks": 1,
    }
    # and each link opens a list of exactly that many
    for label, (count, url) in found.items():
        assert listed(client.get(url)) == count, label


def test_a_member_of_two_retailers_counts_the_work_of_both(client_for, agent, other_retailer, work):
    # given the agent works for the other retailer too
    MembershipFactory(user=agent, retailer=other_retailer, role=Role.AGENT)
    client = client_for(agent)

    # when they open the home page
    response = client.get(reverse("home"))
    found = queues(response.content.decode())

    # then the orders' counts hold the work of both, each the count of the list it opens
    assert found["Orders at risk"][0] == 6
    assert found["Orders on hold"][0] == 4
    assert found["Awaiting payment"][0] == 2
    for label, (count, url) in found.items():
        assert listed(client.get(url)) == count, label
    # and so do the open orders by status
    for row in response.context["figures"].open_by_status:
        assert listed(client.get(row.url)) == row.count


def test_the_oldest_escalation_says_how_long_it_has_waited(client_for, manager, work):
    html = client_for(manager).get(reverse("home")).content.decode()
    assert "oldest waiting 5 h 0 min" in html or "oldest waiting 4 h 59 min" in html


def test_agents_do_not_see_the_intake_queue_they_cannot_open(client_for, agent, work):
    found = queues(client_for(agent).get(reverse("home")).content.decode())
    assert "Intake messages rejected or dead" not in found
    assert found["Escalated fulfilments"][0] == 2


def test_a_queue_with_stuck_money_is_red_only_while_it_holds_something(client_for, manager, work):
    html = client_for(manager).get(reverse("home")).content.decode()
    assert re.search(r'border-danger" href="[^"]*view=payment_failed"', html)
    assert not re.search(r'border-danger" href="[^"]*view=awaiting_payment"', html)


def test_the_lead_sees_open_orders_by_status_and_orders_per_day(client_for, agent, retailer):
    # given orders placed over the last days, two of them shipped
    now = timezone.now()
    placed = [now - timedelta(days=days) for days in (0, 0, 1, 3, 3, 3, 40)]
    orders = [OrderFactory(retailer=retailer, placed_at=at) for at in placed]
    OrderFactory(retailer=retailer, state=SystemState.CANCELLED, placed_at=now)
    ShipmentFactory(order=orders[2], shipped_at=orders[2].placed_at + timedelta(hours=10))
    ShipmentFactory(order=orders[3], shipped_at=orders[3].placed_at + timedelta(hours=30))
    ShipmentFactory(order=orders[3], shipped_at=orders[3].placed_at + timedelta(hours=50))

    response = client_for(agent).get(reverse("home"))
    figures = response.context["figures"]
    html = response.content.decode()

    # then the open orders are counted by status, each linking to its list
    assert sum(row.count for row in figures.open_by_status) == 7
    for row in figures.open_by_status:
        assert listed(client_for(agent).get(row.url)) == row.count
    # and 30 bars count the orders of each day (the 40-day-old one is outside)
    assert len(figures.bars) == 30
    assert [bar.count for bar in figures.bars][-4:] == [3, 0, 1, 3]
    assert figures.placed_30_days == 7 and figures.placed_today == 3
    assert html.count("<rect ") == 30
    assert f"{timezone.localdate(timezone=ZoneInfo(retailer.time_zone)):%-d %b} (today)" in html
    # and the time to ship averages each order's first shipment: (10 h + 30 h) / 2
    assert figures.to_ship == timedelta(hours=20)
    assert "20 h 0 min" in html


def test_a_failed_refund_counts_and_an_authorisation_does_not(client_for, manager, retailer):
    _failed(OrderFactory(retailer=retailer), kind=PaymentTransaction.Kind.REFUND)
    _failed(OrderFactory(retailer=retailer), kind=PaymentTransaction.Kind.AUTHORISE)
    found = queues(client_for(manager).get(reverse("home")).content.decode())
    assert found["Failed payment operations"][0] == 1


def test_the_home_page_costs_a_fixed_number_of_queries(client_for, manager, work):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(manager)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("home"))
    for _ in range(5):
        _failed(OrderFactory(retailer=manager.memberships.first().retailer))
        FulfilmentFactory(order=OrderFactory(retailer=manager.memberships.first().retailer))
    with CaptureQueriesContext(connection) as more:
        client.get(reverse("home"))
    assert len(more) == len(few)
    assert len(few) <= 25
