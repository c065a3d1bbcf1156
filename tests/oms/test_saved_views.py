"""Saved views: a list's filters, sort and columns under a name, private or shared with the
retailer by role, and the choice of columns."""

import re

import pytest
from django.urls import reverse

from oms.models import Activity, SavedView
from oms.roles import Role
from tests.factories import MembershipFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = reverse("orders:order_list")
SAVE = reverse("saved_view_save")


def save(client, name, query, *, shared=False, list_name="orders:order_list", **extra):
    data = {"list_name": list_name, "name": name, "query": query, **extra}
    if shared:
        data["shared"] = "on"
    return client.post(SAVE, data)


def names(client, path=LIST) -> list[str]:
    tools = client.get(path).context["list_tools"]
    return [view.name for view in tools["views"]]


@pytest.fixture
def colleague(retailer):
    return MembershipFactory(user=UserFactory(username="colleague"), retailer=retailer).user


def test_an_agent_saves_a_view_for_themselves(client_for, agent, colleague):
    client = client_for(agent)

    # when an agent saves the list's filters, sort and columns (the page is not kept)
    response = save(client, "My open web orders", "view=open&channel=web&sort=-total&page=3")

    # then they land on the list as saved, and it is theirs alone
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?view=open&channel=web&sort=-total"
    assert names(client) == ["My open web orders"]
    assert names(client_for(colleague)) == []
    activity = Activity.objects.get(action="oms.savedview.saved")
    assert activity.actor == agent and activity.data["shared"] is False


def test_an_agent_may_not_share_a_view(client_for, agent, colleague):
    response = save(client_for(agent), "For everyone", "view=open", shared=True)
    assert response.status_code == 302
    assert not SavedView.objects.exists()
    assert not Activity.objects.filter(action="oms.savedview.saved").exists()


def test_a_manager_shares_a_view_with_the_retailer_only(
    client_for, manager, colleague, other_agent
):
    save(client_for(manager), "Held orders", "view=on_hold", shared=True)
    assert names(client_for(colleague)) == ["Held orders"]
    assert names(client_for(other_agent)) == []


def test_a_view_is_opened_with_its_filters_and_columns(client_for, agent, retailer):
    OrderFactory(retailer=retailer, ref="A-1")
    client = client_for(agent)
    save(client, "Narrow", "view=open&cols=status&cols=total")
    view = SavedView.objects.get()

    # when the agent opens the saved view
    html = client.get(f"{LIST}?{view.query}").content.decode()

    # then the table shows the order column and the chosen ones only
    headers = re.findall(r"<th [^>]*>\s*(?:<a [^>]*>)?([^<]+)", html)
    assert [h.strip() for h in headers] == ["Order", "Status", "Total"]
    # and the filter form keeps the columns when a filter changes
    assert 'name="cols" value="status" form="order-filters"' in html


def test_saving_under_the_same_name_replaces_the_view(client_for, agent):
    client = client_for(agent)
    save(client, "Mine", "view=open")
    save(client, "Mine", "view=on_hold")
    assert [(v.name, v.query) for v in SavedView.objects.all()] == [("Mine", "view=on_hold")]


def test_the_owner_deletes_a_view_and_others_may_not(client_for, agent, colleague):
    save(client_for(agent), "Mine", "view=open")
    view = SavedView.objects.get()
    delete = reverse("saved_view_delete", args=[view.pk])

    client_for(colleague).post(delete)
    assert SavedView.objects.filter(pk=view.pk).exists()

    client_for(agent).post(delete, {"next": LIST})
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert Activity.objects.filter(action="oms.savedview.deleted", actor=agent).exists()


def test_an_admin_removes_a_view_shared_with_their_retailer(client_for, manager, admin_user, agent):
    save(client_for(manager), "Shared", "view=open", shared=True)
    save(client_for(manager), "Private", "view=today")
    shared, private = SavedView.objects.get(name="Shared"), SavedView.objects.get(name="Private")
    client = client_for(admin_user)
    assert names(client) == ["Shared"]  # the manager's private view is not the admin's to see
    client.post(reverse("saved_view_delete", args=[private.pk]))
    client.post(reverse("saved_view_delete", args=[shared.pk]))
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Private"]


def test_fields_that_are_not_the_forms_are_ignored(client_for, agent, colleague, other_retailer):
    # given an agent posting someone else as owner and another retailer
    save(
        client_for(agent),
        "Sneaky",
        "view=open",
        owner=colleague.pk,
        retailer_id=other_retailer.pk,
        created_at="2001-01-01T00:00:00Z",
    )
    view = SavedView.objects.get()
    assert (view.owner, view.retailer_id, view.shared) == (
        agent,
        agent.memberships.get().retailer_id,
        False,
    )


@pytest.mark.parametrize(
    "name,query,list_name",
    [
        ("", "view=open", "orders:order_list"),
        ("x" * 81, "view=open", "orders:order_list"),
        ("Fine", "q=" + "x" * 2100, "orders:order_list"),
        ("Fine", "view=open", "nonsense:list"),
        ("Fine\x00", "view=open", "orders:order_list"),
    ],
)
def test_a_bad_view_is_refused_with_a_message(client_for, agent, name, query, list_name):
    client = client_for(agent)
    response = save(client, name, query, list_name=list_name)
    assert response.status_code == 302
    assert not SavedView.objects.exists()
    page = client.get(LIST).content.decode()
    assert "alert" in page


@pytest.mark.parametrize(
    "path",
    [
        reverse("orders:order_list"),
        reverse("returns:return_list"),
        reverse("fulfilments:fulfilment_list"),
        reverse("fulfilments:escalated_list"),
        reverse("customers:customer_list"),
        reverse("billing:account_list"),
    ],
)
def test_every_list_offers_views_and_columns(client_for, agent, path):
    client = client_for(agent)
    html = client.get(path).content.decode()
    assert 'data-testid="saved-views"' in html and 'data-testid="columns"' in html
    list_name = client.get(path).context["list_tools"]["list_name"]
    save(client, "Everything", "", list_name=list_name)
    assert names(client, path) == ["Everything"]


def test_a_member_of_two_retailers_picks_the_one_to_share_with(
    client_for, retailer, other_retailer
):
    user = MembershipFactory(retailer=retailer, role=Role.MANAGER).user
    MembershipFactory(user=user, retailer=other_retailer, role=Role.AGENT)
    client = client_for(user)
    save(client, "Theirs", "view=open", shared=True, retailer=other_retailer.pk)
    assert not SavedView.objects.exists()  # an agent there: may not share
    save(client, "Ours", "view=open", shared=True, retailer=retailer.pk)
    assert SavedView.objects.get().retailer == retailer
