import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from oms.models import Activity
from orders import services
from orders.models import Comment, Memo, Task
from tests.factories import MembershipFactory, OrderFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(retailer):
    return OrderFactory(retailer=retailer, ref="ACME-1")


def test_an_agent_adds_a_comment_and_it_is_in_comments_and_activity(client_for, agent, order):
    client = client_for(agent)
    response = client.post(
        reverse("orders:comment_add", args=[order.pk]), {"body": "Customer called about size"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:order_tab", args=[order.pk, "comments"])

    comment = Comment.objects.get(order=order)
    assert (comment.author, comment.body, comment.retailer_id) == (
        agent,
        "Customer called about size",
        order.retailer_id,
    )
    entry = Activity.objects.get(action="orders.comment.added")
    assert (entry.root_type, entry.root_id, entry.actor) == ("orders.order", str(order.pk), agent)
    timeline = client.get(reverse("orders:order_tab", args=[order.pk, "activity"]))
    assert "Comment: “Customer called about size”" in timeline.content.decode()


def test_an_htmx_comment_returns_the_comments_tab(client_for, agent, order):
    response = client_for(agent).post(
        reverse("orders:comment_add", args=[order.pk]),
        {"body": "Quick note"},
        headers={"HX-Request": "true", "HX-Target": "order-tab"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="order-tab"')
    assert "Quick note" in html


def test_an_empty_comment_is_refused_with_a_message_and_saves_nothing(client_for, agent, order):
    response = client_for(agent).post(
        reverse("orders:comment_add", args=[order.pk]), {"body": "  "}
    )
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not Comment.objects.exists()
    assert not Activity.objects.exists()


def test_a_memo_is_pinned_for_a_colleague(client_for, agent, manager, order):
    response = client_for(agent).post(
        reverse("orders:memo_add", args=[order.pk]),
        {"body": "Refund approved by phone", "recipient": manager.pk},
    )
    assert response.status_code == 302
    memo = Memo.objects.get()
    assert memo.recipient == manager
    html = client_for(manager).get(order.get_absolute_url()).content.decode()
    assert "Refund approved by phone" in html
    assert f"Memo for {manager}" in html


def test_a_task_is_assigned_to_a_colleague_with_a_due_date(client_for, agent, manager, order):
    response = client_for(agent).post(
        reverse("orders:task_add", args=[order.pk]),
        {
            "description": "Call back about the delivery",
            "assignee": manager.pk,
            "due_at": "2030-01-15T10:30",
            "status": "open",
        },
    )
    assert response.status_code == 302
    task = Task.objects.get()
    assert (task.assignee, task.created_by, task.status) == (manager, agent, Task.Status.OPEN)
    assert task.due_at.year == 2030
    assert Activity.objects.filter(action="orders.task.added", actor=agent).exists()


def test_a_task_cannot_go_to_someone_of_another_retailer(client_for, agent, other_agent, order):
    response = client_for(agent).post(
        reverse("orders:task_add", args=[order.pk]),
        {"description": "Leak", "assignee": other_agent.pk, "status": "open"},
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Task.objects.exists()
    # and the service refuses it too, whatever calls it
    with pytest.raises(ValidationError):
        services.task_add(order=order, by=agent, description="Leak", assignee=other_agent)


def test_the_task_status_moves_and_is_recorded(client_for, agent, order):
    task = TaskFactory(order=order, assignee=agent)
    client_for(agent).post(
        reverse("orders:task_status", args=[order.pk, task.pk]), {"status": "done"}
    )
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    entry = Activity.objects.get(action="orders.task.status_changed")
    assert entry.data["before"] == "open" and entry.data["after"] == "done"


def test_a_task_of_another_order_cannot_be_moved_through_this_one(
    client_for, agent, order, retailer
):
    task = TaskFactory(order=OrderFactory(retailer=retailer))
    response = client_for(agent).post(
        reverse("orders:task_status", args=[order.pk, task.pk]), {"status": "done"}
    )
    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


def test_someone_without_a_role_in_the_retailer_cannot_comment(order):
    outsider = UserFactory()
    with pytest.raises(PermissionDenied):
        services.comment_add(order=order, by=outsider, body="hello")


def test_my_tasks_lists_my_open_tasks_across_my_retailers(
    client_for, agent, manager, order, other_retailer
):
    mine = TaskFactory(order=order, assignee=agent, description="Mine, open")
    TaskFactory(order=order, assignee=agent, description="Mine, done", status=Task.Status.DONE)
    TaskFactory(order=order, assignee=manager, description="The manager's")
    MembershipFactory(user=agent, retailer=other_retailer)
    TaskFactory(
        order=OrderFactory(retailer=other_retailer), assignee=agent, description="Mine at Globex"
    )

    html = client_for(agent).get(reverse("orders:my_tasks")).content.decode()
    assert "Mine, open" in html and "Mine at Globex" in html
    assert "Mine, done" not in html and "The manager&#x27;s" not in html
    assert reverse("orders:order_tab", args=[mine.order_id, "tasks"]) in html

    everything = client_for(agent).get(reverse("orders:my_tasks"), {"show": "all"}).content.decode()
    assert "Mine, done" in everything
