"""The stale-action guard through the pages: an action sent from a page drawn before a
colleague's change it depends on is refused, says who changed what, and changes nothing; the
same action from a fresh page, an agent's own earlier change, a comment, and a malformed `seen`
go through; another retailer's record tells nothing. Also the second check, under the row lock.
"""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from customers import services as customer_services
from customers.models import Customer
from fulfilments import services as fulfilment_services
from fulfilments.models import Fulfilment
from oms.activity import describe
from oms.live import feed, guard
from oms.models import Activity
from oms.roles import Role
from orders import services as order_services
from orders.models import Comment, Order, SystemState, TicketMessage
from returns import services as return_services
from returns.models import Return, ReturnStatus
from tests.factories import (
    CarrierFactory,
    CustomerFactory,
    FulfilmentFactory,
    LocationFactory,
    MembershipFactory,
    OrderFactory,
    PaymentFactory,
    ReturnFactory,
    StockFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def max_(retailer):
    """The colleague whose change the page has not shown yet."""
    user = UserFactory(username="max", first_name="Max", last_name="Verstappen")
    MembershipFactory(user=user, retailer=retailer, role=Role.MANAGER)
    return user


def drawn_now() -> int:
    """The `seen` of a page drawn at this moment."""
    return feed.stamp(timezone.now())


def post(client, url, data, *, seen=None, page=None):
    """POST as the page's form does: `_seen` from the page, the page as Referer."""
    if seen is not None:
        data = {**data, "_seen": str(seen)}
    return client.post(url, data, HTTP_REFERER=f"http://testserver{page or url}")


def said(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def assert_refused(response, page: str, colleague) -> None:
    """Back to the page with the reason: the colleague's change, by name."""
    assert response.status_code == 302
    assert response["Location"] == f"http://testserver{page}"
    text = said(response)
    assert "by Max Verstappen at " in text, text
    theirs = Activity.objects.filter(actor=colleague)
    assert any(describe(entry).rstrip(".") in text for entry in theirs), text
    assert "Nothing was changed" in text


def _paid_order(retailer):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)
    PaymentFactory(order=order, authorised=order.total, provider_reference=f"psp_{order.ref}")
    return order


# -- orders ----------------------------------------------------------------------------------


def test_cancel_from_a_page_drawn_before_a_colleague_held_the_order_is_refused(
    client_for, manager, max_, retailer
):
    order = _paid_order(retailer)
    page = order.get_absolute_url()
    seen = drawn_now()
    order_services.order_hold_set(order=order, flag="compliance", by=max_, reason="Sanctions")
    before = Activity.objects.count()
    client = client_for(manager)

    response = post(
        client, reverse("orders:cancel", args=[order.pk]), {"confirm": "yes"}, seen=seen, page=page
    )

    assert_refused(response, page, max_)
    order.refresh_from_db()
    assert order.status.system_state == SystemState.PROCESSING
    assert Activity.objects.count() == before

    # the page drawn again (a fresh `seen`) acts
    response = post(
        client, reverse("orders:cancel", args=[order.pk]), {"confirm": "yes"}, seen=drawn_now()
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status.system_state == SystemState.CANCELLED, said(response)


def test_suspend_after_a_colleague_cancelled_names_the_cancellation(
    client_for, manager, max_, retailer
):
    order = _paid_order(retailer)
    page = order.get_absolute_url()
    seen = drawn_now()
    order_services.order_cancel(order=order, by=max_, notify=False)
    client = client_for(manager)

    response = post(
        client,
        reverse("orders:suspend", args=[order.pk]),
        {"reason": "Stock"},
        seen=seen,
        page=page,
    )

    assert_refused(response, page, max_)
    assert "Cancelled by Max Verstappen" in said(response)
    assert not Activity.objects.filter(actor=manager).exists()


def test_suspend_without_seen_or_with_own_earlier_change_goes_through(
    client_for, manager, retailer
):
    order = _paid_order(retailer)
    seen = drawn_now()
    order_services.order_hold_set(order=order, flag="compliance", by=manager, reason="Check")
    client = client_for(manager)

    response = post(
        client, reverse("orders:suspend", args=[order.pk]), {"reason": "Stock"}, seen=seen
    )

    assert response.status_code == 302
    assert "after this page was opened" not in said(response)
    order.refresh_from_db()
    assert order.status.system_state == SystemState.SUSPENDED, said(response)


def test_suspend_without_seen_is_not_checked(client_for, manager, max_, retailer):
    order = _paid_order(retailer)
    order_services.order_hold_set(order=order, flag="compliance", by=max_, reason="Check")

    response = post(
        client_for(manager), reverse("orders:suspend", args=[order.pk]), {"reason": "x"}
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status.system_state == SystemState.SUSPENDED, said(response)


@pytest.mark.parametrize("seen", ["abc", str(10**30), "-5", "", "1e9"])
def test_a_malformed_seen_is_ignored(client_for, manager, max_, retailer, seen):
    order = _paid_order(retailer)
    order_services.order_hold_set(order=order, flag="compliance", by=max_, reason="Check")

    response = client_for(manager).post(
        reverse("orders:suspend", args=[order.pk]), {"reason": "Stock", "_seen": seen}
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status.system_state == SystemState.SUSPENDED, said(response)


def test_an_htmx_action_with_an_old_seen_header_gets_409_with_the_reason(
    client_for, manager, max_, retailer
):
    order = _paid_order(retailer)
    seen = drawn_now()
    order_services.order_cancel(order=order, by=max_, notify=False)

    response = client_for(manager).post(
        reverse("orders:suspend", args=[order.pk]),
        {"reason": "Stock"},
        HTTP_HX_REQUEST="true",
        HTTP_X_OMS_SEEN=str(seen),
    )

    assert response.status_code == 409
    assert "by Max Verstappen" in response.content.decode()
    assert not Activity.objects.filter(actor=manager).exists()


def test_a_ticket_answer_after_the_customer_wrote_again_is_refused(
    client_for, agent, max_, retailer
):
    order = _paid_order(retailer)
    ticket = TicketFactory(order=order)
    page = reverse("orders:order_tab", args=[order.pk, "tickets"])
    seen = drawn_now()
    order_services.ticket_customer_message(
        order=order, by=max_, body="Actually, never mind.", ticket_id=ticket.pk
    )
    url = reverse("orders:ticket_reply", args=[order.pk, ticket.pk])
    client = client_for(agent)

    response = post(client, url, {"body": "It ships today."}, seen=seen, page=page)

    assert_refused(response, page, max_)
    assert not TicketMessage.objects.filter(ticket=ticket, sender="agent").exists()

    response = post(client, url, {"body": "Noted, thank you."}, seen=drawn_now(), page=page)
    assert response.status_code == 302
    assert TicketMessage.objects.filter(ticket=ticket, body="Noted, thank you.").exists()


def test_a_comment_from_an_old_page_is_never_refused(client_for, agent, max_, retailer):
    order = _paid_order(retailer)
    seen = drawn_now()
    order_services.order_cancel(order=order, by=max_, notify=False)

    response = post(
        client_for(agent),
        reverse("orders:comment_add", args=[order.pk]),
        {"body": "Customer called about the cancellation."},
        seen=seen,
    )

    assert response.status_code == 302
    assert "after this page was opened" not in said(response)
    assert Comment.objects.filter(order=order, body__startswith="Customer called").exists()


def test_another_retailers_record_is_404_and_tells_nothing_of_its_changes(
    client_for, other_retailer, max_, retailer
):
    order = _paid_order(retailer)
    seen = drawn_now()
    order_services.order_hold_set(order=order, flag="compliance", by=max_, reason="Sanctions")
    outsider = UserFactory(username="globex.manager")
    MembershipFactory(user=outsider, retailer=other_retailer, role=Role.MANAGER)
    customer = order.customer
    customer_services.customer_update(
        customer=customer, by=max_, **{**_details(customer), "last_name": "Secret-Name"}
    )

    for url, data in [
        (reverse("orders:cancel", args=[order.pk]), {"confirm": "yes"}),
        (reverse("customers:customer_edit", args=[customer.pk]), _details(customer)),
    ]:
        response = post(client_for(outsider), url, data, seen=seen)
        assert response.status_code == 404, url
        body = response.content.decode()
        assert "Max" not in body and "Sanctions" not in body and "Secret-Name" not in body
        assert "after this page was opened" not in said(response)
    order.refresh_from_db()
    assert order.status.system_state == SystemState.PROCESSING


# -- returns ---------------------------------------------------------------------------------


def test_releasing_a_refund_after_a_colleague_changed_the_return_is_refused(
    client_for, manager, max_, retailer
):
    ret = ReturnFactory(retailer=retailer, status=ReturnStatus.PENDING_REFUND)
    PaymentFactory(order=ret.order, captured=ret.order.total)
    page = ret.get_absolute_url()
    seen = drawn_now()
    return_services.return_attribute_set(
        ret=ret, by=max_, name="gift wrap", type="BOOLEAN", value="true"
    )
    url = reverse("returns:release_refund", args=[ret.pk])
    data = {"confirm": "yes", "how": "by_hand"}
    client = client_for(manager)

    response = post(client, url, data, seen=seen, page=page)

    assert_refused(response, page, max_)
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.PENDING_REFUND
    assert not ret.refunded_by_hand

    response = post(client, url, data, seen=drawn_now(), page=page)
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.COMPLETE, said(response)


# -- fulfilments -----------------------------------------------------------------------------


def _assigned_fulfilment(retailer) -> Fulfilment:
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
    CarrierFactory(retailer=retailer, zones=["NL"])
    location = LocationFactory(retailer=retailer)
    StockFactory(location=location, sku=order.lines.get().sku, on_hand=5, reserved=1)
    return FulfilmentFactory(
        order=order, status="ASSIGNED", location=location, escalation_reason="", escalated_at=None
    )


def test_cancelling_a_fulfilment_a_colleague_picked_meanwhile_is_refused(
    client_for, manager, max_, retailer
):
    fulfilment = _assigned_fulfilment(retailer)
    page = fulfilment.get_absolute_url()
    seen = drawn_now()
    fulfilment_services.fulfilment_move(fulfilment=fulfilment, to="PICKED", by=max_)
    url = reverse("fulfilments:move", args=[fulfilment.pk])
    client = client_for(manager)

    response = post(client, url, {"status": "CANCELLED"}, seen=seen, page=page)

    assert_refused(response, page, max_)
    fulfilment.refresh_from_db()
    assert fulfilment.status == "PICKED"

    response = post(client, url, {"status": "PACKED"}, seen=drawn_now(), page=page)
    fulfilment.refresh_from_db()
    assert fulfilment.status == "PACKED", said(response)


# -- customers -------------------------------------------------------------------------------


def _details(customer: Customer, **changes) -> dict[str, str]:
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "mobile": customer.mobile,
        "segment": customer.segment,
        "status": customer.status,
        "language": customer.language,
        **changes,
    }


def test_saving_customer_details_over_a_colleagues_change_is_refused(
    client_for, agent, max_, retailer
):
    customer = CustomerFactory(retailer=retailer, last_name="Lovelace")
    page = reverse("customers:customer_edit", args=[customer.pk])
    seen = drawn_now()
    mine = _details(customer, segment="vip")
    customer_services.customer_update(
        customer=customer, by=max_, **_details(customer, last_name="King")
    )
    url = reverse("customers:customer_edit", args=[customer.pk])
    client = client_for(agent)

    response = post(client, url, mine, seen=seen, page=page)

    assert_refused(response, page, max_)
    assert "King" in said(response)
    customer.refresh_from_db()
    assert (customer.last_name, customer.segment) == ("King", _details(customer)["segment"])
    assert customer.segment != "vip"

    # an address from the same old page, too
    response = post(
        client,
        reverse("customers:address_save", args=[customer.pk]),
        {
            "address": "",
            "name": "A",
            "line1": "Damrak 5",
            "postcode": "1012 LG",
            "city": "Amsterdam",
            "country": "Netherlands",
        },
        seen=seen,
        page=page,
    )
    assert_refused(response, page, max_)

    # the page drawn again saves, with the colleague's name kept
    response = post(client, url, _details(customer, segment="vip"), seen=drawn_now(), page=page)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.last_name, customer.segment) == ("King", "vip"), said(response)


def test_a_change_that_commits_between_the_check_and_the_lock_is_refused_under_the_lock(
    client_for, agent, max_, retailer, monkeypatch
):
    """The first check (before the view) passes; the colleague's change is there by the time
    the service locks the row: the page says so, nothing is saved."""
    customer = CustomerFactory(retailer=retailer, last_name="Lovelace")
    page = reverse("customers:customer_edit", args=[customer.pk])
    seen = drawn_now()
    customer_services.customer_update(
        customer=customer, by=max_, **_details(customer, last_name="King")
    )
    real = guard.stale_change
    calls = []

    def first_one_misses(*args, **kwargs):
        calls.append(args)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(guard, "stale_change", first_one_misses)

    response = post(
        client_for(agent),
        reverse("customers:customer_edit", args=[customer.pk]),
        _details(customer, last_name="Byron"),
        seen=seen,
        page=page,
    )

    assert len(calls) == 2
    assert_refused(response, page, max_)
    customer.refresh_from_db()
    assert customer.last_name == "King"


def test_a_return_attribute_refused_under_the_lock_says_why(
    client_for, agent, max_, retailer, monkeypatch
):
    ret = ReturnFactory(retailer=retailer)
    page = ret.get_absolute_url()
    seen = drawn_now()
    return_services.return_attribute_set(
        ret=ret, by=max_, name="colour", type="STRING", value="red"
    )
    real = guard.stale_change
    calls = []

    def first_one_misses(*args, **kwargs):
        calls.append(args)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(guard, "stale_change", first_one_misses)

    response = post(
        client_for(agent),
        reverse("returns:attribute_set", args=[ret.pk]),
        {"name": "colour", "type": "STRING", "value": "blue"},
        seen=seen,
        page=page,
    )

    assert len(calls) == 2
    assert response.status_code == 302
    text = said(response)
    assert text.startswith("The attribute is not saved: "), text
    assert "by Max Verstappen at " in text
    ret.refresh_from_db()
    assert [(a["name"], a["value"]) for a in ret.attributes] == [("colour", "red")]


# -- the check under the lock, in the services -------------------------------------------------


def _armed(record, since, user):
    return guard.Guard(
        label=record._meta.label_lower,
        pk=str(record.pk),
        since=since,
        touches=feed.STATE,
        user_id=user.pk,
    )


def _customer_case(retailer, max_, manager):
    customer = CustomerFactory(retailer=retailer, last_name="Lovelace")
    since = timezone.now()
    customer_services.customer_update(
        customer=customer, by=max_, **_details(customer, last_name="King")
    )

    def act():
        customer_services.customer_update(
            customer=customer, by=manager, **_details(customer, last_name="Byron")
        )

    return customer, since, act, lambda: Customer.objects.get(pk=customer.pk).last_name == "King"


def _return_case(retailer, max_, manager):
    ret = ReturnFactory(retailer=retailer, status=ReturnStatus.PENDING_REFUND)
    PaymentFactory(order=ret.order, captured=ret.order.total)
    since = timezone.now()
    return_services.return_attribute_set(ret=ret, by=max_, name="n", type="STRING", value="1")

    def act():
        return_services.return_release_refund(ret=ret, by=manager, by_hand=True)

    def unchanged():
        return Return.objects.get(pk=ret.pk).status == ReturnStatus.PENDING_REFUND

    return ret, since, act, unchanged


def _order_case(retailer, max_, manager):
    order = _paid_order(retailer)
    since = timezone.now()
    order_services.order_hold_set(order=order, flag="compliance", by=max_, reason="Check")

    def act():
        order_services.order_cancel(order=order, by=manager, notify=False)

    def unchanged():
        return Order.objects.get(pk=order.pk).status.system_state == SystemState.PROCESSING

    return order, since, act, unchanged


def _fulfilment_case(retailer, max_, manager):
    fulfilment = _assigned_fulfilment(retailer)
    since = timezone.now()
    fulfilment_services.fulfilment_move(fulfilment=fulfilment, to="PICKED", by=max_)

    def act():
        fulfilment_services.fulfilment_move(fulfilment=fulfilment, to="CANCELLED", by=manager)

    return (
        fulfilment,
        since,
        act,
        lambda: Fulfilment.objects.get(pk=fulfilment.pk).status == "PICKED",
    )


@pytest.mark.parametrize("case", [_customer_case, _return_case, _order_case, _fulfilment_case])
def test_the_service_refuses_under_the_lock_when_the_guard_is_armed(manager, max_, retailer, case):
    record, since, act, unchanged = case(retailer, max_, manager)
    before = Activity.objects.count()
    token = guard._active.set(_armed(record, since, manager))
    try:
        with pytest.raises(guard.StaleAction) as refused:
            act()
    finally:
        guard._active.reset(token)

    assert "by Max Verstappen" in refused.value.messages[0]
    assert unchanged()
    assert Activity.objects.count() == before


@pytest.mark.parametrize("case", [_customer_case, _order_case])
def test_an_armed_guard_from_before_nothing_changed_lets_the_service_act(
    manager, max_, retailer, case
):
    record, _since, act, unchanged = case(retailer, max_, manager)
    token = guard._active.set(_armed(record, timezone.now() + timedelta(seconds=1), manager))
    try:
        act()
    finally:
        guard._active.reset(token)
    assert not unchanged()
