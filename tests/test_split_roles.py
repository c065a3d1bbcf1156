"""Roles are held per retailer: a user who is a manager (or an admin) of one retailer and an agent
of another has the higher role's pages, but only over the first retailer's records. The second
retailer's intake messages, settings forms and queue counts stay out of their reach.

(`tests/test_role_matrix.py` runs every role-gated page and POST with such users; these are the
cases as they were reported.)
"""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from oms.roles import Role
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.models import OrderStatus, SystemState
from returns.models import ReturnReason
from tests.factories import MembershipFactory, OrderFactory, StatusFactory, UserFactory

pytestmark = pytest.mark.django_db


def _split_user(name: str, first, first_role: Role, second, second_role: Role):
    user = UserFactory(username=name)
    MembershipFactory(user=user, retailer=first, role=first_role)
    MembershipFactory(user=user, retailer=second, role=second_role)
    return user


@pytest.fixture
def manager_and_agent(retailer, other_retailer):
    """A manager of Acme and an agent of Globex."""
    return _split_user("split.manager", retailer, Role.MANAGER, other_retailer, Role.AGENT)


@pytest.fixture
def admin_and_agent(retailer, other_retailer):
    """An admin of Acme and an agent of Globex."""
    return _split_user("split.admin", retailer, Role.ADMIN, other_retailer, Role.AGENT)


def _failed_message(retailer, marker: str) -> IntakeMessage:
    channel, _ = IntakeChannel.objects.get_or_create(
        retailer=retailer, code="web", defaults={"name": f"{marker} webshop", "kind": "webstore"}
    )
    return IntakeMessage.objects.create(
        retailer=retailer,
        channel=channel,
        body=json.dumps({"note": f"{marker} body"}),
        external_id=f"EXT-{marker}",
        status=IntakeMessage.Status.REJECTED,
        reasons=[f"no lines for {marker}"],
    )


# -- the intake desk and its messages ---------------------------------------------------------


def test_the_intake_desk_lists_only_the_retailers_where_the_user_is_a_manager(
    client_for, manager_and_agent, retailer, other_retailer
):
    # given a failed intake message in each retailer
    _failed_message(retailer, "Acmeshop")
    _failed_message(other_retailer, "Globexshop")

    # when the manager of Acme (an agent of Globex) opens the intake desk
    response = client_for(manager_and_agent).get(reverse("intake:desk"))

    # then it lists Acme's channel and message, and nothing of Globex
    page = response.content.decode()
    assert response.status_code == 200
    assert "EXT-Acmeshop" in page and "Acmeshop webshop" in page
    assert "Globexshop" not in page
    assert response.context["counts"] == {IntakeMessage.Status.REJECTED: 1}


def test_an_intake_message_of_the_retailer_where_the_user_is_an_agent_is_refused(
    client_for, manager_and_agent, retailer, other_retailer
):
    # given a failed intake message in each retailer
    own = _failed_message(retailer, "Acmeshop")
    other = _failed_message(other_retailer, "Globexshop")
    client = client_for(manager_and_agent)

    # when the manager of Acme opens each
    mine = client.get(reverse("intake:message", args=[own.pk]))
    refused = client.get(reverse("intake:message", args=[other.pk]))

    # then Acme's opens, and Globex's is refused, naming the role it needs, showing nothing
    assert mine.status_code == 200 and "Acmeshop body" in mine.content.decode()
    assert refused.status_code == 403
    assert "Manager role" in refused.content.decode()
    assert "Globexshop" not in refused.content.decode()


def test_an_admin_of_one_retailer_cannot_replay_or_discard_the_others_intake_message(
    client_for, admin_and_agent, other_retailer
):
    # given a rejected message of the retailer where the admin is an agent
    message = _failed_message(other_retailer, "Globexshop")
    client = client_for(admin_and_agent)

    # when they replay it and discard it
    replay = client.post(reverse("intake:replay", args=[message.pk]), {"body": "{}"})
    discard = client.post(reverse("intake:discard", args=[message.pk]), {"reason": "test"})

    # then both are refused and the message is as it was
    assert (replay.status_code, discard.status_code) == (403, 403)
    message.refresh_from_db()
    assert (message.status, message.body) == (
        IntakeMessage.Status.REJECTED,
        json.dumps({"note": "Globexshop body"}),
    )


# -- the other retailer's settings forms -----------------------------------------------------


def test_an_order_status_of_the_retailer_where_the_admin_is_an_agent_opens_no_form(
    client_for, admin_and_agent, retailer, other_retailer
):
    # given an order status in each retailer
    own = StatusFactory(retailer=retailer, label="Acme picking")
    other = StatusFactory(retailer=other_retailer, label="Globex picking")
    client = client_for(admin_and_agent)

    # when the admin of Acme opens each status's form
    mine = client.get(reverse("order_statuses:edit", args=[own.pk]))
    refused = client.get(reverse("order_statuses:edit", args=[other.pk]))

    # then Acme's form opens; Globex's is refused, naming the role, without the form
    assert mine.status_code == 200 and "Acme picking" in mine.content.decode()
    assert refused.status_code == 403
    assert "Admin role" in refused.content.decode()
    assert "Globex picking" not in refused.content.decode()


def test_saving_an_order_status_of_the_retailer_where_the_admin_is_an_agent_changes_nothing(
    client_for, admin_and_agent, other_retailer
):
    # given an order status of the retailer where the admin is an agent
    status = StatusFactory(retailer=other_retailer, label="Globex picking")
    client = client_for(admin_and_agent)
    form = {"label": "Renamed", "colour": "red", "system_state": status.system_state}

    # when they post its form, move it and delete it
    answers = [
        client.post(reverse("order_statuses:edit", args=[status.pk]), form).status_code,
        client.post(reverse("order_statuses:move", args=[status.pk]), {"direction": "up"}),
        client.post(reverse("order_statuses:delete", args=[status.pk])),
    ]

    # then each is refused and the status is as it was
    assert [a if isinstance(a, int) else a.status_code for a in answers] == [403, 403, 403]
    after = OrderStatus.objects.get(pk=status.pk)
    assert (after.label, after.colour, after.position) == (
        status.label,
        status.colour,
        status.position,
    )


def test_a_return_reason_of_the_retailer_where_the_admin_is_an_agent_opens_no_form(
    client_for, admin_and_agent, other_retailer
):
    # given a return reason of the retailer where the admin is an agent
    reason = ReturnReason.objects.create(
        retailer=other_retailer, code="GLOBEX_LATE", label="Globex late"
    )
    client = client_for(admin_and_agent)
    url = reverse("return_config:edit", kwargs={"kind": "reasons", "pk": reason.pk})

    # when they open its form and post it
    shown = client.get(url)
    posted = client.post(url, {"label": "Renamed", "code": reason.code, "default_action": ""})

    # then both are refused, and the reason is as it was
    assert (shown.status_code, posted.status_code) == (403, 403)
    assert "Globex late" not in shown.content.decode()
    assert ReturnReason.objects.get(pk=reason.pk).label == "Globex late"


@pytest.mark.parametrize(
    "url_name",
    [
        "order_statuses:list",
        "billing_settings:edit",
        "return_config:reasons",
        "return_config:actions",
        "return_config:conditions",
    ],
)
def test_a_settings_page_of_the_retailer_where_the_admin_is_an_agent_is_refused(
    client_for, admin_and_agent, retailer, other_retailer, url_name
):
    client = client_for(admin_and_agent)

    # when the admin of Acme opens the settings page for each retailer
    mine = client.get(reverse(url_name), {"retailer": retailer.pk})
    refused = client.get(reverse(url_name), {"retailer": other_retailer.pk})
    posted = client.post(reverse(url_name), {"retailer": other_retailer.pk, "label": "X"})

    # then Acme's opens; Globex's is refused, naming the role, to a GET and a POST
    assert mine.status_code == 200
    assert (refused.status_code, posted.status_code) == (403, 403)
    assert "Admin role" in refused.content.decode()


# -- the home page's queues ------------------------------------------------------------------


def test_the_intake_queue_on_the_home_page_counts_only_the_managed_retailers(
    client_for, manager_and_agent, retailer, other_retailer
):
    # given one failed intake message in Acme and two in Globex
    _failed_message(retailer, "Acmeshop")
    _failed_message(other_retailer, "Globexshop")
    _failed_message(other_retailer, "Globexshop2")

    # when the manager of Acme (an agent of Globex) opens the home page
    response = client_for(manager_and_agent).get(reverse("home"))

    # then the intake queue counts Acme's one message: what the desk it opens lists
    (queue,) = [q for q in response.context["queues"] if q.url == reverse("intake:desk")]
    assert queue.count == 1


def test_the_agent_queues_on_the_home_page_count_every_retailer(
    client_for, manager_and_agent, retailer, other_retailer
):
    # given an order awaiting payment in each retailer
    for each in (retailer, other_retailer):
        OrderFactory(retailer=each, state=SystemState.PROCESSING)

    # when the manager of Acme (an agent of Globex) opens the home page
    response = client_for(manager_and_agent).get(reverse("home"))

    # then a queue any agent sees counts both retailers' orders
    (queue,) = [q for q in response.context["queues"] if q.label == "Awaiting payment"]
    assert queue.count == 2


# -- bulk actions ----------------------------------------------------------------------------


def test_a_bulk_action_on_all_matching_orders_takes_only_the_managed_retailers_orders(
    client_for, manager_and_agent, retailer, other_retailer
):
    # given an open order in each retailer
    own = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    OrderFactory(retailer=other_retailer, state=SystemState.PROCESSING)

    # when the manager of Acme previews suspending all orders of the list
    response = client_for(manager_and_agent).post(
        reverse("orders:bulk_preview"),
        {"action": "suspend", "all": "on", "query": "", "reason": "Stock count"},
    )

    # then the preview holds Acme's order only
    assert [m.message for m in get_messages(response.wsgi_request)] == []
    assert response.status_code == 200
    assert [order.pk for order in response.context["preview"].can] == [own.pk]


def test_a_bulk_action_on_a_ticked_order_of_the_unmanaged_retailer_is_refused(
    client_for, manager_and_agent, retailer, other_retailer
):
    # given an open order in each retailer
    own = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    other = OrderFactory(retailer=other_retailer, state=SystemState.PROCESSING)
    client = client_for(manager_and_agent)

    # when the manager of Acme ticks Globex's order, then only Acme's
    refused = client.post(
        reverse("orders:bulk_start"),
        {"action": "suspend", "ids": [own.pk, other.pk], "reason": "Stock count"},
    )

    # then it is refused naming the role, and Globex's order is not suspended
    assert refused.status_code == 403 and "Manager role" in refused.content.decode()
    other.refresh_from_db()
    assert other.status.system_state == SystemState.PROCESSING


def test_the_orders_list_offers_no_bulk_checkbox_on_the_unmanaged_retailers_orders(
    client_for, manager_and_agent, retailer, other_retailer
):
    # given an open order in each retailer
    own = OrderFactory(retailer=retailer)
    other = OrderFactory(retailer=other_retailer)

    # when the manager of Acme opens the orders list
    page = client_for(manager_and_agent).get(reverse("orders:order_list")).content.decode()

    # then only Acme's order can be ticked for a bulk action
    assert f'name="ids" value="{own.pk}"' in page
    assert f'name="ids" value="{other.pk}"' not in page
