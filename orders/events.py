"""Typed constructors of the order activity that services write (one per kind of change)."""

from __future__ import annotations

from datetime import datetime

from oms.activity import describe_as, record
from oms.models import Activity
from orders.models import Comment, Memo, Order, Task

describe_as("orders.order.placed", "Order placed via {channel}: {total} {currency}")
describe_as("orders.order.status_changed", "Status changed from {before} to {after}")
describe_as("orders.payment.authorised", "{method} payment of {amount} {currency} authorised")
describe_as("orders.payment.captured", "{amount} {currency} captured")
describe_as("orders.payment.refunded", "{amount} {currency} refunded")
describe_as("orders.shipment.created", "Shipped with {carrier}, tracking {tracking_number}")
describe_as("orders.shipment.delivered", "Delivered by {carrier}")
describe_as("orders.comment.added", "Comment: “{body}”")
describe_as("orders.memo.added", "Memo pinned: “{body}”")
describe_as("orders.task.added", "Task added: {description}")
describe_as("orders.task.status_changed", "Task “{description}” moved from {before} to {after}")


def order_placed(order: Order, *, at: datetime | None = None) -> Activity:
    return record(
        action="orders.order.placed",
        target=order,
        by=None,
        at=at or order.placed_at,
        data={"channel": order.channel, "total": str(order.total), "currency": order.currency},
    )


def comment_added(comment: Comment, *, by) -> Activity:
    return record(
        action="orders.comment.added",
        target=comment,
        root=comment.order,
        by=by,
        data={"body": comment.body},
    )


def memo_added(memo: Memo, *, by) -> Activity:
    return record(
        action="orders.memo.added",
        target=memo,
        root=memo.order,
        by=by,
        data={"body": memo.body, "recipient": memo.recipient.username if memo.recipient else ""},
    )


def task_added(task: Task, *, by) -> Activity:
    return record(
        action="orders.task.added",
        target=task,
        root=task.order,
        by=by,
        data={
            "description": task.description,
            "assignee": task.assignee.username if task.assignee else "",
            "due_at": task.due_at.isoformat() if task.due_at else "",
        },
    )


def task_status_changed(task: Task, *, before: str, by) -> Activity:
    return record(
        action="orders.task.status_changed",
        target=task,
        root=task.order,
        by=by,
        data={"description": task.description, "before": before, "after": task.status},
    )
