"""Bulk actions on the orders list: the preview says what will happen and changes nothing; the
job does it order by order, each change in its order's Activity, skipping orders that changed
since the preview, and carries on after a redelivery without doing anything twice."""

import re

import pytest
from django.urls import reverse

from oms.models import Activity
from orders.models import BulkJob, BulkJobItem, Order, SystemState
from orders.services import bulk, order_cancel, order_suspend
from tests.factories import InvoiceFactory, OrderFactory

pytestmark = pytest.mark.django_db

PREVIEW = reverse("orders:bulk_preview")
START = reverse("orders:bulk_start")


@pytest.fixture
def forty(retailer):
    """28 open orders and 12 completed ones."""
    open_orders = [
        OrderFactory(retailer=retailer, ref=f"OPEN-{n:02d}", state=SystemState.PROCESSING)
        for n in range(28)
    ]
    done = [
        OrderFactory(retailer=retailer, ref=f"DONE-{n:02d}", state=SystemState.COMPLETED)
        for n in range(12)
    ]
    return open_orders, done


def test_the_preview_says_what_will_happen_and_changes_nothing(client_for, manager, forty):
    # when a manager previews cancelling every order matching the (empty) filter
    before = Activity.objects.count()
    response = client_for(manager).post(PREVIEW, {"all": "on", "query": "", "action": "cancel"})

    # then they are told 28 of 40 can be cancelled and why 12 cannot, grouped
    html = response.content.decode()
    assert response.status_code == 200
    assert "28 of 40 can be cancelled; 12 cannot." in " ".join(html.split())
    preview = response.context["preview"]
    assert preview.reasons == [
        ("The order is Completed: it cannot change any more.", 12),
    ]
    assert "DONE-00</a>: Order DONE-00 is Completed" in html
    # and nothing changed
    assert Activity.objects.count() == before
    assert not BulkJob.objects.exists()
    assert Order.objects.filter(status__system_state=SystemState.CANCELLED).count() == 0


def test_a_bulk_cancel_runs_as_a_job_with_a_result_per_order(
    client_for, manager, forty, django_capture_on_commit_callbacks
):
    open_orders, done = forty
    client = client_for(manager)
    ids = [o.pk for o in open_orders[:5] + done[:2]]

    # when the manager starts the cancellation of the five open and two completed ones
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            START, {"ids": ids, "action": "cancel", "reason": "Duplicate orders"}
        )

    # then a job cancelled the five (the completed ones were left out at the start)
    job = BulkJob.objects.get()
    assert response["Location"] == job.get_absolute_url()
    assert (job.status, job.total, job.succeeded, job.skipped, job.failed) == ("done", 5, 5, 0, 0)
    cancelled = Order.objects.filter(status__system_state=SystemState.CANCELLED)
    assert sorted(cancelled.values_list("ref", flat=True)) == [f"OPEN-0{n}" for n in range(5)]
    # and each cancellation is in its order's Activity, by the manager, with the reason
    for order in cancelled:
        entry = Activity.objects.get(action="orders.order.cancelled", target_id=str(order.pk))
        assert entry.actor == manager and entry.data["reason"] == "Duplicate orders"
    # and the job page shows the progress and each order's result
    page = client.get(job.get_absolute_url()).content.decode()
    assert "100%" in page and "Finished." in page
    assert len(re.findall(r"badge text-bg-success\">Done<", page)) == 5


def test_orders_that_change_between_preview_and_run_are_skipped_with_the_reason(
    client_for, manager, forty, django_capture_on_commit_callbacks
):
    open_orders, _ = forty
    chosen = open_orders[:4]

    # given a bulk suspend written but not yet run by a worker
    with django_capture_on_commit_callbacks(execute=False):
        job = bulk.start(
            by=manager, orders=chosen, action_name="suspend", data={"reason": "Stock count"}
        )

    # when, before the worker gets to them, one order is cancelled and one suspended by hand
    order_cancel(order=chosen[0], by=manager, notify=False)
    order_suspend(order=chosen[1], by=manager, reason="Customer asked")
    bulk.run(job.pk)

    # then those two are skipped with why, and the other two are suspended
    job.refresh_from_db()
    assert (job.succeeded, job.skipped, job.failed) == (2, 2, 0)
    results = {item.order.ref: (item.status, item.message) for item in job.items.all()}
    assert results[chosen[0].ref][0] == "skipped" and "Cancelled" in results[chosen[0].ref][1]
    assert results[chosen[1].ref] == ("skipped", f"Order {chosen[1].ref} is already suspended.")
    assert {results[o.ref][0] for o in chosen[2:]} == {"succeeded"}


def test_a_redelivered_job_does_nothing_twice(manager, forty, django_capture_on_commit_callbacks):
    open_orders, _ = forty
    with django_capture_on_commit_callbacks(execute=False):
        job = bulk.start(
            by=manager,
            orders=open_orders[:6],
            action_name="notify",
            data={"message": "Your order is delayed."},
        )
    # given a worker that did the first three, then died
    first = job.items.order_by("pk")[:3]
    for item in first:
        bulk._run_item(job, bulk.ACTIONS["notify"], item.pk, manager)

    # when the job is delivered again, twice
    bulk.run(job.pk)
    bulk.run(job.pk)

    # then each customer was emailed once
    job.refresh_from_db()
    assert (job.done, job.succeeded, job.status) == (6, 6, "done")
    notified = Activity.objects.filter(action="orders.order.customer_notified")
    assert sorted(int(a.target_id) for a in notified) == sorted(o.pk for o in open_orders[:6])


def test_agents_may_not_preview_or_start(client_for, agent, forty):
    client = client_for(agent)
    ids = [o.pk for o in forty[0][:3]]
    assert client.post(PREVIEW, {"ids": ids, "action": "cancel"}).status_code == 403
    assert client.post(START, {"ids": ids, "action": "cancel"}).status_code == 403
    assert not BulkJob.objects.exists()


def test_another_retailers_orders_are_not_selectable(client_for, manager, other_retailer):
    theirs = OrderFactory(retailer=other_retailer, state=SystemState.PROCESSING)
    response = client_for(manager).post(PREVIEW, {"ids": [theirs.pk], "action": "cancel"})
    assert response.status_code == 302  # back to the list: "Select the orders first."
    assert not BulkJob.objects.exists()


@pytest.mark.parametrize(
    "data,message",
    [
        ({"action": "suspend"}, "Say why the orders are suspended."),
        ({"action": "notify"}, "Write the message to the customers."),
        ({"action": "set_status"}, "Choose the status to move the orders to."),
        ({"action": "explode"}, "Choose an action."),
    ],
)
def test_a_bulk_action_missing_what_it_needs_is_refused(client_for, manager, forty, data, message):
    client = client_for(manager)
    response = client.post(PREVIEW, {"ids": [forty[0][0].pk], **data}, follow=True)
    assert message in response.content.decode()
    assert not BulkJob.objects.exists()


def test_the_status_of_many_orders_changes_at_once(
    manager, forty, django_capture_on_commit_callbacks
):
    open_orders, done = forty
    with django_capture_on_commit_callbacks(execute=True):
        job = bulk.start(
            by=manager,
            orders=open_orders[:3] + done[:1],
            action_name="set_status",
            data={"status": "completed"},
        )
    job.refresh_from_db()
    assert (job.total, job.succeeded) == (3, 3)
    assert all(
        Order.objects.get(pk=o.pk).status.system_state == SystemState.COMPLETED
        for o in open_orders[:3]
    )


def test_an_export_job_makes_a_csv_of_the_orders(
    client_for, manager, forty, django_capture_on_commit_callbacks
):
    open_orders, _ = forty
    with django_capture_on_commit_callbacks(execute=True):
        job = bulk.start(by=manager, orders=open_orders[:3], action_name="export", data={})
    response = client_for(manager).get(reverse("orders:bulk_download", args=[job.pk]))
    rows = response.content.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("Order ref,")
    assert sorted(row.split(",")[0] for row in rows[1:]) == [o.ref for o in open_orders[:3]]


def test_printing_makes_one_pdf_of_the_orders_that_have_invoices(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    invoiced = [InvoiceFactory(order=OrderFactory(retailer=retailer, lines=1)).order for _ in "ab"]
    bare = OrderFactory(retailer=retailer, lines=1)
    with django_capture_on_commit_callbacks(execute=True):
        invoices = bulk.start(
            by=manager, orders=[*invoiced, bare], action_name="print_invoices", data={}
        )
        slips = bulk.start(
            by=manager, orders=[*invoiced, bare], action_name="print_packing_slips", data={}
        )
    invoices.refresh_from_db()
    slips.refresh_from_db()
    assert invoices.total == 2  # the order without an invoice was left out at the start
    assert bytes(invoices.output).startswith(b"%PDF") and invoices.output_name.endswith(".pdf")
    assert slips.total == 3 and bytes(slips.output).startswith(b"%PDF")
    download = client_for(manager).get(reverse("orders:bulk_download", args=[slips.pk]))
    assert download["Content-Type"] == "application/pdf"


def test_a_job_is_a_404_to_another_retailer(client_for, manager, other_agent, forty):
    with pytest.MonkeyPatch.context():
        job = BulkJob.objects.create(retailer=manager.memberships.get().retailer, action="export")
        BulkJobItem.objects.create(retailer=job.retailer, job=job, order=forty[0][0])
    assert client_for(other_agent).get(job.get_absolute_url()).status_code == 404


@pytest.mark.parametrize(
    ("action", "data"), [("set_status", {"status": "PROCESSING"}), ("print_invoices", {})]
)
def test_a_preview_costs_the_same_queries_for_four_orders_or_forty(
    manager, forty, action, data, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    orders = Order.objects.select_related("status", "suspended_from", "customer")
    few = list(orders.order_by("pk")[:4])
    with CaptureQueriesContext(connection) as for_few:
        bulk.preview(by=manager, orders=few, action_name=action, data=data)
    with django_assert_max_num_queries(len(for_few)):
        bulk.preview(by=manager, orders=list(orders), action_name=action, data=data)
