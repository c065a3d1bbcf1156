"""Typed constructors of the order activity that services write (one per kind of change)."""

from __future__ import annotations

from datetime import datetime

from oms import webhooks
from oms.activity import RecordRef, describe_as, record
from oms.models import Activity
from oms.webhooks.outbox import iso
from orders.models import Comment, HoldRule, Memo, Order, PaymentStatus, Shipment, Task

describe_as("orders.order.placed", "Order placed via {channel}: {total}")
describe_as("orders.order.status_changed", "Status changed from {before} to {after}")
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


describe_as("orders.order.updated", "Items changed by {channel}: {total}")


def order_updated(order: Order, *, by) -> Activity:
    return record(
        action="orders.order.updated",
        target=order,
        by=by,
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


describe_as(
    "orders.order.cancelled",
    "Order cancelled{reason_text}; refund {refund}, released {release}{notify_text}",
)
describe_as("orders.order.copied", "Copied to new order {copy_ref}")
describe_as("orders.order.created_as_copy", "Created as a copy of order {source_ref}")
describe_as("orders.order.hold_set", "Held: {hold}. {reason}")
describe_as("orders.order.hold_cleared", "Hold cleared: {hold}. {reason}")
describe_as("orders.order.payment_marked", "Marked {after_label} (was {before_label})")
describe_as("orders.order.invoice_number_set", "Invoice number set to {after} (was {before})")
describe_as("orders.orderline.shipment_updated", "Shipment of {sku} updated: {changes}")
describe_as("orders.order.sent", "Marked sent{tracking_text}")
describe_as(
    "orders.orderline.quantity_corrected", "Quantity of {sku} corrected from {before} to {after}"
)
describe_as("orders.order.email_skipped", "No “{template}” email: the order has no email address")
describe_as("orders.order.customer_notified", "Customer notified: “{message}”")
describe_as("orders.order.payment_reminder", "Payment reminder sent for {amount}")


def order_status_changed(order: Order, *, before, by, reason: str = "") -> Activity:
    return record(
        action="orders.order.status_changed",
        target=order,
        by=by,
        data={
            "before": before.label,
            "after": order.status.label,
            "before_code": before.code,
            "before_state": before.system_state,
            "after_state": order.status.system_state,
            "reason": reason,
        },
    )


def order_cancelled(order: Order, *, by, reason, notify, refund, release) -> Activity:
    return record(
        action="orders.order.cancelled",
        target=order,
        by=by,
        data={
            "reason": reason,
            "reason_text": f" ({reason})" if reason else "",
            "notify": notify,
            "notify_text": "; customer emailed" if notify else "; customer not emailed",
            "refund": str(refund),
            "release": str(release),
            "currency": order.currency,
        },
    )


def order_copied(source: Order, copy: Order, *, by) -> None:
    record(
        action="orders.order.copied",
        target=source,
        by=by,
        data={"copy_ref": copy.ref, "copy_id": copy.pk},
    )
    record(
        action="orders.order.created_as_copy",
        target=copy,
        by=by,
        data={"source_ref": source.ref, "source_id": source.pk},
    )


def order_hold_changed(order: Order, *, hold: str, held: bool, reason: str, by) -> Activity:
    return record(
        action="orders.order.hold_set" if held else "orders.order.hold_cleared",
        target=order,
        by=by,
        data={"hold": hold, "reason": reason},
    )


describe_as("orders.order.held_by_rule", "Held: {hold}, by rule “{rule}”. {why}")
describe_as("orders.holdrule.created", "Hold rule “{name}” added")
describe_as("orders.holdrule.updated", "Hold rule “{name}” changed")
describe_as("orders.holdrule.deactivated", "Hold rule “{name}” deactivated")
describe_as("orders.holdrule.activated", "Hold rule “{name}” activated")


def order_held_by_rule(order: Order, *, rule: HoldRule, why: str) -> Activity:
    return record(
        action="orders.order.held_by_rule",
        target=order,
        by=None,
        data={"hold": rule.get_kind_display(), "rule": rule.name, "rule_id": rule.pk, "why": why},
    )


def hold_rule_saved(rule: HoldRule, *, before: dict | None, after: dict, by) -> Activity:
    data = {"name": rule.name}
    if before is not None:
        changed = [key for key in after if before.get(key) != after[key]]
        data["before"] = {key: before.get(key) for key in changed}
        data["after"] = {key: after[key] for key in changed}
    else:
        data["after"] = after
    return record(
        action=f"orders.holdrule.{'created' if before is None else 'updated'}",
        target=rule,
        by=by,
        data=data,
    )


def hold_rule_active_set(rule: HoldRule, *, by) -> Activity:
    return record(
        action=f"orders.holdrule.{'activated' if rule.is_active else 'deactivated'}",
        target=rule,
        by=by,
        data={"name": rule.name},
    )


def order_payment_status_marked(order: Order, *, before: str, by) -> Activity:
    labels = dict(PaymentStatus.choices)
    return record(
        action="orders.order.payment_marked",
        target=order,
        by=by,
        data={
            "before": before,
            "after": order.payment_status,
            "before_label": str(labels[before]).lower(),
            "after_label": str(labels[order.payment_status]).lower(),
        },
    )


def order_invoice_number_set(order: Order, *, before: str, by) -> Activity:
    return record(
        action="orders.order.invoice_number_set",
        target=order,
        by=by,
        data={"before": before or "none", "after": order.invoice_number or "none"},
    )


def line_shipment_updated(line, *, changes: dict, by) -> Activity:
    return record(
        action="orders.orderline.shipment_updated",
        target=line,
        root=_order_ref(line),
        by=by,
        data={
            "sku": line.sku,
            "before": {k: v[0] for k, v in changes.items()},
            "after": {k: v[1] for k, v in changes.items()},
            "changes": ", ".join(
                f"{k.replace('_', ' ')} {v[1] or '—'}" for k, v in changes.items()
            ),
        },
    )


def order_sent(order: Order, *, shipment, by) -> Activity:
    tracking = shipment.tracking_number
    return record(
        action="orders.order.sent",
        target=order,
        by=by,
        data={
            "shipment_id": shipment.pk,
            "carrier": shipment.carrier,
            "tracking_number": tracking,
            "tracking_text": f" with {shipment.carrier} tracking {tracking}" if tracking else "",
        },
    )


describe_as("orders.orderline.units_cancelled", "{count} × {sku} cancelled")


def line_units_cancelled(line, *, count: int, by) -> Activity:
    return record(
        action="orders.orderline.units_cancelled",
        target=line,
        root=_order_ref(line),
        by=by,
        data={"sku": line.sku, "count": count, "cancelled": line.cancelled},
    )


def line_quantity_corrected(line, *, before: int, by) -> Activity:
    return record(
        action="orders.orderline.quantity_corrected",
        target=line,
        root=_order_ref(line),
        by=by,
        data={"sku": line.sku, "before": before, "after": line.quantity},
    )


def email_skipped(order: Order, *, template: str, by) -> Activity:
    return record(
        action="orders.order.email_skipped",
        target=order,
        by=by,
        data={"template": template},
    )


def customer_notified(order: Order, *, message: str, by) -> Activity:
    return record(
        action="orders.order.customer_notified", target=order, by=by, data={"message": message}
    )


def payment_reminder_sent(order: Order, *, amount, by) -> Activity:
    return record(
        action="orders.order.payment_reminder",
        target=order,
        by=by,
        data={"amount": str(amount), "currency": order.currency},
    )


def _order_ref(row) -> RecordRef:
    return RecordRef("orders.order", str(row.order_id))


# -- webhooks: what the retailer's systems are told (oms.webhooks.schema describes each) -------


def order_snapshot(order_id: int) -> dict:
    """The order as webhooks send it, read now (inside the change's transaction)."""
    order = Order.objects.select_related("status", "customer").get(pk=order_id)
    customer = order.customer
    return {
        "id": order.pk,
        "ref": order.ref,
        "channel": order.channel,
        "type": order.type,
        "status": _status(order.status),
        "payment_status": order.payment_status,
        "currency": order.currency,
        "subtotal": str(order.subtotal),
        "discount": str(order.discount),
        "shipping": str(order.shipping),
        "tax": str(order.tax),
        "total": str(order.total),
        "placed_at": iso(order.placed_at),
        "customer": {
            "id": customer.pk,
            "ref": customer.ref,
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
        }
        if customer is not None
        else None,
        "lines": [
            {
                "id": line.pk,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "cancelled": line.cancelled,
                "unit_price": str(line.unit_price),
                "discount": str(line.discount),
                "tax": str(line.tax),
                "total": str(line.total),
                "shipment_status": line.shipment_status,
                "tracking_number": line.tracking_number,
            }
            for line in order.lines.order_by("position", "pk")
        ],
    }


def _status(status) -> dict:
    return {"code": status.code, "label": status.label, "state": status.system_state}


def _order_payload(entry: Activity) -> dict:
    return {"order": order_snapshot(int(entry.target_id))}


def _status_changed_payload(entry: Activity) -> dict:
    return {
        "order": order_snapshot(int(entry.target_id)),
        "previous_status": {
            "code": entry.data.get("before_code", ""),
            "label": entry.data.get("before", ""),
            "state": entry.data.get("before_state", ""),
        },
        "reason": entry.data.get("reason", ""),
    }


def _cancelled_payload(entry: Activity) -> dict:
    order = order_snapshot(int(entry.target_id))
    return {
        "order": order,
        "reason": entry.data.get("reason", ""),
        "refund": entry.data.get("refund", "0.00"),
        "release": entry.data.get("release", "0.00"),
        "currency": order["currency"],
    }


def _shipped_payload(entry: Activity) -> dict:
    order_id = int(entry.target_id)
    shipments = Shipment.objects.filter(order_id=order_id)
    shipment_id = entry.data.get("shipment_id")
    shipment = shipments.get(pk=shipment_id) if shipment_id else shipments.order_by("-pk").first()
    return {
        "order": order_snapshot(order_id),
        "shipment": {
            "id": shipment.pk,
            "carrier": shipment.carrier,
            "service": shipment.service,
            "tracking_number": shipment.tracking_number,
            "shipped_at": iso(shipment.shipped_at),
            "estimated_delivery": shipment.estimated_delivery.isoformat()
            if shipment.estimated_delivery
            else None,
        },
    }


# An order made as a copy is placed through `order_place` too, so its `orders.order.placed`
# gives its order.created (its `created_as_copy` gives none: it would be a second one).
webhooks.register("orders.order.placed", "order.created", payload=_order_payload)
# Cancelling moves the status as well: the order.status_changed of that move comes first, then
# order.cancelled with the reason and the money.
webhooks.register(
    "orders.order.status_changed", "order.status_changed", payload=_status_changed_payload
)
webhooks.register("orders.order.cancelled", "order.cancelled", payload=_cancelled_payload)
webhooks.register("orders.order.sent", "order.shipped", payload=_shipped_payload)
