"""Bulk actions on orders: a preview of what will happen to each order, then a background job
that does it order by order and keeps a result for each.

The job calls the same service as the order page does for each order, as the manager who
started it, so each change is checked, locked and recorded in that order's Activity like any
other. Orders are checked again when the job reaches them: one that changed since the preview
(cancelled meanwhile, say) is skipped with the reason. A redelivered job carries on from the
first order without a result.
"""

from __future__ import annotations

import zoneinfo
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from billing.documents import invoices_pdf
from billing.models import Invoice
from oms import activity, locking, state
from oms.activity import describe_as
from oms.exports import csv_bytes
from oms.roles import Role, require_role
from oms.tasks import enqueue_on_commit
from orders.documents import packing_slips_pdf
from orders.exports import CSV_COLUMNS
from orders.models import BulkJob, BulkJobItem, Order, OrderLine, OrderStatus, SystemState
from orders.services.lifecycle import (
    check_move,
    check_resume,
    check_suspend,
    order_cancel,
    order_resume,
    order_set_status,
    order_suspend,
)
from orders.services.mail import order_notify_customer
from orders.tasks import run_bulk_job

describe_as("orders.bulk.started", "Bulk {label} started on {total} orders")

BULK_LIMIT = 1000  # orders per job
PRINT_LIMIT = 200  # orders per PDF


class Refused(Exception):
    """This order cannot take the action now; the message says why."""


class Batch:
    """The orders an action is checked on, with its parameters and the lookups the checks
    share, each made once for all of them (not once per order)."""

    def __init__(self, params: dict, orders: list[Order]) -> None:
        self.params = params
        self.orders = orders
        self._statuses: dict[int, OrderStatus | None] = {}
        self._invoiced: set[int] | None = None

    def status(self, retailer_id: int) -> OrderStatus:
        """The retailer's status the parameters name."""
        if retailer_id not in self._statuses:
            self._statuses[retailer_id] = OrderStatus.objects.filter(
                retailer_id=retailer_id, code=self.params.get("status", "")
            ).first()
        status = self._statuses[retailer_id]
        if status is None:
            raise Refused("The retailer has no such status.")
        return status

    def units(self) -> None:
        """Every order's line units, read in one go (completing an order reads them)."""
        if all("line_units" in order.__dict__ for order in self.orders):
            return
        lines = OrderLine.objects.filter(order__in=self.orders)
        owner = dict(lines.values_list("pk", "order_id"))
        found = lines.units()
        for order in self.orders:
            order.line_units = {pk: u for pk, u in found.items() if owner[pk] == order.pk}

    def invoiced(self, order: Order) -> bool:
        if self._invoiced is None:
            self._invoiced = set(
                Invoice.objects.filter(order__in=[o.pk for o in self.orders]).values_list(
                    "order_id", flat=True
                )
            )
        return order.pk in self._invoiced


@dataclass(frozen=True)
class BulkAction:
    name: str
    label: str  # "cancel"
    done: str  # "cancelled"
    check: Callable[[Order, Batch], None]  # raises Refused or InvalidTransition
    run: Callable[[Order, Any, dict], str] | None  # per order; None: the job makes a file
    limit: int = BULK_LIMIT


# A check raises Refused, or the lifecycle's InvalidTransition, when the order cannot take the
# action now; both say why.


def _check_cancel(order: Order, batch: Batch) -> None:
    check_move(order, SystemState.CANCELLED)


def _run_cancel(order: Order, by, params: dict) -> str:
    result = order_cancel(
        order=order, by=by, notify=params.get("notify", False), reason=params.get("reason", "")
    )
    return f"Cancelled; {result.refund} refunded" if result.refund else "Cancelled"


def _check_suspend(order: Order, batch: Batch) -> None:
    check_suspend(order)


def _run_suspend(order: Order, by, params: dict) -> str:
    order_suspend(order=order, by=by, reason=params["reason"])
    return "Suspended"


def _check_resume(order: Order, batch: Batch) -> None:
    check_resume(order)


def _run_resume(order: Order, by, params: dict) -> str:
    order = order_resume(order=order, by=by)
    return f"Resumed to {order.status.label}"


def _check_status(order: Order, batch: Batch) -> None:
    status = batch.status(order.retailer_id)
    if status.pk == order.status_id:
        raise Refused(f"Order {order.ref} is already {status.label}.")
    if status.system_state == SystemState.COMPLETED:
        batch.units()
    check_move(order, status.system_state)


def _run_status(order: Order, by, params: dict) -> str:
    status = Batch(params, [order]).status(order.retailer_id)
    order_set_status(order=order, status=status, by=by, reason=params.get("reason", ""))
    return f"Now {status.label}"


def _check_notify(order: Order, batch: Batch) -> None:
    if order.customer is None or not order.customer.email:
        raise Refused("The order has no customer email address.")


def _run_notify(order: Order, by, params: dict) -> str:
    order_notify_customer(order=order, by=by, message=params["message"])
    return f"Emailed {order.customer.email}"


def _check_invoiced(order: Order, batch: Batch) -> None:
    if not batch.invoiced(order):
        raise Refused(f"Order {order.ref} has no invoice yet.")


def _check_nothing(order: Order, batch: Batch) -> None:
    return None


ACTIONS = {
    action.name: action
    for action in [
        BulkAction("cancel", "cancel", "cancelled", _check_cancel, _run_cancel),
        BulkAction("suspend", "suspend", "suspended", _check_suspend, _run_suspend),
        BulkAction("resume", "resume", "resumed", _check_resume, _run_resume),
        BulkAction("set_status", "change the status of", "moved", _check_status, _run_status),
        BulkAction("notify", "email the customers of", "emailed", _check_notify, _run_notify),
        BulkAction(
            "print_invoices", "print the invoices of", "printed", _check_invoiced, None, PRINT_LIMIT
        ),
        BulkAction(
            "print_packing_slips",
            "print packing slips for",
            "printed",
            _check_nothing,
            None,
            PRINT_LIMIT,
        ),
        BulkAction("export", "export", "exported", _check_nothing, None),
    ]
}


def clean_params(action: BulkAction, data: dict) -> dict:
    """The parameters the action takes, from the form; refuses what it needs and lacks."""
    reason = " ".join(str(data.get("reason", "")).split())[:500]
    if action.name == "cancel":
        return {"notify": data.get("notify") in (True, "on", "true", "1"), "reason": reason}
    if action.name == "suspend":
        if not reason:
            raise ValidationError("Say why the orders are suspended.")
        return {"reason": reason}
    if action.name == "set_status":
        code = str(data.get("status", ""))[:32]
        if not code:
            raise ValidationError("Choose the status to move the orders to.")
        return {"status": code, "reason": reason}
    if action.name == "notify":
        message = str(data.get("message", "")).strip()[:5000]
        if not message:
            raise ValidationError("Write the message to the customers.")
        return {"message": message}
    return {}


@dataclass
class Preview:
    action: BulkAction
    params: dict
    can: list[Order] = field(default_factory=list)
    cannot: list[tuple[Order, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.can) + len(self.cannot)

    @property
    def reasons(self) -> list[tuple[str, int]]:
        """Why orders cannot, most common first ("has shipped": 12)."""
        return Counter(_generic(reason) for _, reason in self.cannot).most_common()

    @property
    def retailer_id(self) -> int | None:
        ids = {order.retailer_id for order in self.can} | {o.retailer_id for o, _ in self.cannot}
        return ids.pop() if len(ids) == 1 else None


def _generic(reason: str) -> str:
    """A reason without the order's own ref, so that alike reasons group."""
    words = reason.split()
    if len(words) > 2 and words[0] == "Order":
        return " ".join(["The", "order", *words[2:]])
    return reason


def preview(*, by, orders: list[Order], action_name: str, data: dict) -> Preview:
    """What the action would do to each order now. Changes nothing."""
    action = ACTIONS.get(action_name)
    if action is None:
        raise ValidationError("Choose an action.")
    if not orders:
        raise ValidationError("Select the orders first.")
    if len(orders) > action.limit:
        raise ValidationError(
            f"{len(orders):,} orders are selected; a bulk {action.label} takes at most "
            f"{action.limit:,}. Narrow the filter."
        )
    retailer_ids = {order.retailer_id for order in orders}
    if len(retailer_ids) > 1:
        raise ValidationError(
            "The orders belong to several retailers: filter the list by one retailer first."
        )
    require_role(by, retailer_ids.pop(), Role.MANAGER)
    params = clean_params(action, data)
    result = Preview(action, params)
    batch = Batch(params, orders)
    for order in orders:
        try:
            action.check(order, batch)
        except (Refused, state.InvalidTransition) as refusal:
            result.cannot.append((order, str(refusal)))
        else:
            result.can.append(order)
    return result


def start(*, by, orders: list[Order], action_name: str, data: dict) -> BulkJob:
    """Write the job and an item per order that could take the action at preview, then hand
    it to a worker once it commits."""
    checked = preview(by=by, orders=orders, action_name=action_name, data=data)
    if not checked.can:
        raise ValidationError(f"None of these orders can be {checked.action.done}.")
    retailer_id = checked.can[0].retailer_id
    with transaction.atomic():
        job = BulkJob.objects.create(
            retailer_id=retailer_id,
            action=checked.action.name,
            params=checked.params,
            total=len(checked.can),
            created_by=by,
        )
        BulkJobItem.objects.bulk_create(
            BulkJobItem(retailer_id=retailer_id, job=job, order=order) for order in checked.can
        )
        activity.record(
            action="orders.bulk.started",
            target=job,
            by=by,
            data={
                "action": job.action,
                "label": checked.action.label,
                "total": job.total,
                "params": checked.params,
            },
        )
        enqueue_on_commit(run_bulk_job, job.pk, retailer_id=retailer_id)
    return job


def run(job_id: int) -> BulkJob:
    """Do the job's orders that have no result yet, one transaction each; then its file.

    Each order's item is locked while its order is done (SKIP LOCKED), so a second worker on
    the same job (a redelivery, a relay) takes other orders or none, never the same one twice.
    """
    job = BulkJob.objects.get(pk=job_id)
    if job.status == BulkJob.Status.DONE:
        return job
    action = ACTIONS[job.action]
    by = get_user_model().objects.get(pk=job.created_by_id) if job.created_by_id else None
    BulkJob.objects.filter(pk=job.pk, status=BulkJob.Status.QUEUED).update(
        status=BulkJob.Status.RUNNING, started_at=timezone.now()
    )
    pending = job.items.filter(status=BulkJobItem.Status.PENDING).values_list("pk", flat=True)
    for item_id in list(pending):
        _run_item(job, action, item_id, by)
    if job.items.filter(status=BulkJobItem.Status.PENDING).exists():
        return job  # another worker holds the rest and finishes the job
    if action.run is None:
        _make_file(job, action)
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job


def relay_stuck_jobs() -> int:
    """Hand jobs the broker lost (queued a minute ago, or running for ten minutes) to a worker
    again; returns how many."""
    now = timezone.now()
    stuck = list(
        BulkJob.objects.filter(
            Q(status=BulkJob.Status.QUEUED, created_at__lt=now - timedelta(minutes=1))
            | Q(status=BulkJob.Status.RUNNING, started_at__lt=now - timedelta(minutes=10))
        ).values_list("pk", "retailer_id")
    )
    for job_id, retailer_id in stuck:
        enqueue_on_commit(run_bulk_job, job_id, retailer_id=retailer_id)
    return len(stuck)


def _run_item(job: BulkJob, action: BulkAction, item_id: int, by) -> None:
    with transaction.atomic():
        item = locking.claim(
            BulkJobItem.objects.filter(pk=item_id, status=BulkJobItem.Status.PENDING)
        )
        if item is None:
            return  # done already, or another worker is doing it
        status, message = BulkJobItem.Status.SUCCEEDED, ""
        try:
            with transaction.atomic():  # the order's change, undone alone if it fails
                order = Order.objects.select_related("status", "suspended_from", "customer").get(
                    pk=item.order_id
                )
                # it may have changed since the preview
                action.check(order, Batch(job.params, [order]))
                message = action.run(order, by, job.params) if action.run else "Included"
        except (Refused, state.InvalidTransition, PermissionDenied) as error:
            status, message = BulkJobItem.Status.SKIPPED, str(error)
        except ValidationError as error:
            status, message = BulkJobItem.Status.SKIPPED, " ".join(error.messages)
        except Exception as error:  # one order's fault must not stop the others
            status, message = BulkJobItem.Status.FAILED, f"Failed: {type(error).__name__}"
        item.status, item.message, item.finished_at = status, message[:1000], timezone.now()
        item.save(update_fields=["status", "message", "finished_at"])
        counter = {
            BulkJobItem.Status.SUCCEEDED: "succeeded",
            BulkJobItem.Status.SKIPPED: "skipped",
            BulkJobItem.Status.FAILED: "failed",
        }[status]
        BulkJob.objects.filter(pk=job.pk).update(done=F("done") + 1, **{counter: F(counter) + 1})


def _make_file(job: BulkJob, action: BulkAction) -> None:
    orders = list(
        Order.objects.filter(
            pk__in=job.items.filter(status=BulkJobItem.Status.SUCCEEDED).values("order_id")
        )
        .select_related("retailer", "customer", "status")
        .order_by("placed_at", "pk")
    )
    if not orders:
        return
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if action.name == "export":
        content, name, kind = _csv(orders), f"orders-{stamp}.csv", "text/csv"
    elif action.name == "print_invoices":
        content, name, kind = _invoices_pdf(orders), f"invoices-{stamp}.pdf", "application/pdf"
    else:
        content = _packing_slips_pdf(orders)
        name, kind = f"packing-slips-{stamp}.pdf", "application/pdf"
    BulkJob.objects.filter(pk=job.pk).update(output=content, output_name=name, output_type=kind)


def _csv(orders: list[Order]) -> bytes:
    """The orders' export, its times in their retailer's zone (UTC when they span several)."""
    zones = {order.retailer.time_zone or "UTC" for order in orders}
    zone = zoneinfo.ZoneInfo(zones.pop() if len(zones) == 1 else "UTC")
    return csv_bytes(orders, CSV_COLUMNS, zone=zone)


def _invoices_pdf(orders: list[Order]) -> bytes:
    invoices = list(
        Invoice.objects.filter(order__in=orders)
        .select_related("order", "order__retailer")
        .order_by("order__placed_at", "order_id", "pk")
    )
    return invoices_pdf(invoices)


def _packing_slips_pdf(orders: list[Order]) -> bytes:
    return packing_slips_pdf(orders)
