"""Comments, memos, tasks and the default statuses of a retailer."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from oms import bounds, locking
from oms.models import Membership, Retailer
from oms.roles import Role, require_role
from orders import events
from orders.models import DEFAULT_STATUSES, Comment, Memo, Order, OrderStatus, Task


def order_statuses_ensure_defaults(*, retailer: Retailer) -> list[OrderStatus]:
    """Give the retailer the six default statuses it lacks; existing ones are left as they are."""
    existing = set(OrderStatus.objects.filter(retailer=retailer).values_list("code", flat=True))
    missing = [
        OrderStatus(
            retailer=retailer,
            code=code,
            label=label,
            colour=colour,
            system_state=state,
            position=position,
        )
        for position, (code, label, colour, state) in enumerate(DEFAULT_STATUSES)
        if code not in existing
    ]
    return OrderStatus.objects.bulk_create(missing)


def _is_member(user_id: int, retailer_id: int) -> bool:
    return Membership.objects.filter(user_id=user_id, retailer_id=retailer_id).exists()


@transaction.atomic
def comment_add(*, order: Order, by, body: str) -> Comment:
    """An agent's comment on the order, shown in Comments and Activity."""
    require_role(by, order.retailer_id, Role.AGENT)
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write a comment first."})
    try:
        bounds.check_message(body)
    except ValidationError as error:
        raise ValidationError({"body": error.messages}) from None
    comment = Comment.objects.create(
        retailer_id=order.retailer_id, order=order, author=by, body=body
    )
    events.comment_added(comment, by=by)
    return comment


@transaction.atomic
def memo_add(*, order: Order, by, body: str, recipient=None) -> Memo:
    """A memo pinned on top of the order, optionally addressed to a colleague."""
    require_role(by, order.retailer_id, Role.AGENT)
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write the memo first."})
    try:
        bounds.check_message(body)
    except ValidationError as error:
        raise ValidationError({"body": error.messages}) from None
    if recipient is not None and not _is_member(recipient.pk, order.retailer_id):
        raise ValidationError({"recipient": "The recipient does not work for this retailer."})
    memo = Memo.objects.create(
        retailer_id=order.retailer_id, order=order, author=by, recipient=recipient, body=body
    )
    events.memo_added(memo, by=by)
    return memo


@transaction.atomic
def task_add(
    *,
    order: Order,
    by,
    description: str,
    assignee=None,
    due_at: datetime | None = None,
    status: str = Task.Status.OPEN,
) -> Task:
    """A task on the order, for the user or a colleague of the same retailer."""
    require_role(by, order.retailer_id, Role.AGENT)
    description = description.strip()
    if not description:
        raise ValidationError({"description": "Describe the task."})
    if assignee is not None and not _is_member(assignee.pk, order.retailer_id):
        raise ValidationError({"assignee": "The assignee does not work for this retailer."})
    task = Task.objects.create(
        retailer_id=order.retailer_id,
        order=order,
        created_by=by,
        assignee=assignee,
        description=description,
        due_at=due_at,
        status=status,
    )
    events.task_added(task, by=by)
    return task


@transaction.atomic
def task_set_status(*, task: Task, by, status: str) -> Task:
    """Move a task to open, in progress or done."""
    require_role(by, task.retailer_id, Role.AGENT)
    if status not in Task.Status.values:
        raise ValidationError({"status": f"Unknown task status {status!r}."})
    task = locking.lock(task, related=("order",))
    if task.status == status:
        return task
    before = task.status
    task.status = status
    task.save(update_fields=["status"])
    events.task_status_changed(task, before=before, by=by)
    return task
