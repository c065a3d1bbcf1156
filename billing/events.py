"""Typed constructors of billing activity; an invoice's activity shows on its order."""

from billing.models import PaymentTransaction
from oms import webhooks
from oms.activity import RecordRef, describe_as, record
from oms.models import Activity
from oms.webhooks.outbox import iso

describe_as("billing.invoice.created", "{label} {number} created: {total}")
describe_as("billing.invoice.updated", "Invoice {number} updated: {changes}")
describe_as("billing.invoice.sent", "{label} {number} emailed to {to}")
# Money kept the names it had before billing held it: history and the activity filters read them.
describe_as("orders.payment.authorised", "{method} payment of {amount} authorised")
describe_as("orders.payment.captured", "{amount} captured")
describe_as("orders.payment.refunded", "{amount} refunded")
describe_as("orders.payment.refunded_by_hand", "{amount} refunded by hand")
describe_as("orders.payment.requested", "{kind_label} of {amount} requested")
describe_as("orders.payment.failed", "{kind_label} of {amount} failed: {message}")
describe_as("orders.payment.voided", "{amount} of the authorisation released")
describe_as("orders.payment.synced", "Payments synced with the gateway: {summary}")
describe_as("orders.order.payments_checked", "Payments checked with the gateway: no change")


def _order(invoice) -> RecordRef:
    return RecordRef("orders.order", str(invoice.order_id))


def _data(invoice) -> dict:
    return {
        "number": invoice.number,
        "label": invoice.get_kind_display(),
        "total": str(invoice.total),
        "currency": invoice.currency,
    }


def invoice_created(invoice, *, by):
    return record(
        action="billing.invoice.created",
        target=invoice,
        root=_order(invoice),
        by=by,
        data=_data(invoice),
    )


def credit_note_created(note, *, by):
    return record(
        action="billing.invoice.created",
        target=note,
        root=_order(note),
        by=by,
        data=_data(note) | {"credits": note.credits.number},
    )


def invoice_updated(invoice, *, before: dict, by):
    after = {k: getattr(invoice, k) for k in before}
    return record(
        action="billing.invoice.updated",
        target=invoice,
        root=_order(invoice),
        by=by,
        data=_data(invoice)
        | {
            "before": before,
            "after": after,
            "changes": ", ".join(f"{k.replace('_', ' ')} {v or '—'}" for k, v in after.items()),
        },
    )


def invoice_sent(invoice, *, to: str, by):
    return record(
        action="billing.invoice.sent",
        target=invoice,
        root=_order(invoice),
        by=by,
        data=_data(invoice) | {"to": to},
    )


def billing_account_status_changed(account, *, before: str, by) -> Activity:
    return record(
        action="billing.billingaccount.status_changed",
        target=account,
        by=by,
        data={
            "before": dict(type(account).Status.choices).get(before, before),
            "after": account.get_status_display(),
        },
    )


def _operation_data(operation) -> dict:
    return {
        "kind": operation.kind,
        "kind_label": operation.get_kind_display(),
        "amount": str(operation.amount),
        "currency": operation.payment.currency,
        "method": operation.payment.get_method_display(),
        "idempotency_key": operation.idempotency_key,
    }


def payment_operation_requested(operation, *, by) -> Activity:
    return record(
        action="orders.payment.requested",
        target=operation,
        root=_order_ref(operation),
        by=by,
        data=_operation_data(operation),
    )


def payment_operation_succeeded(operation, *, payment) -> Activity:
    action = {
        "capture": "captured",
        "refund": "refunded",
        "void": "voided",
        "manual_refund": "refunded_by_hand",
    }[operation.kind]
    return record(
        action=f"orders.payment.{action}",
        target=operation,
        root=_order_ref(operation),
        by=operation.created_by,
        data=_operation_data(operation) | {"reference": operation.reference},
    )


def payment_operation_failed(operation) -> Activity:
    return record(
        action="orders.payment.failed",
        target=operation,
        root=_order_ref(operation),
        by=operation.created_by,
        data=_operation_data(operation)
        | {"message": operation.message, "error_code": operation.error_code},
    )


def payment_synced(payment, *, before: dict, after: dict, by) -> Activity:
    changes = [
        f"{field} {before[field]} → {after[field]}"
        for field in after
        if before[field] != after[field]
    ]
    return record(
        action="orders.payment.synced",
        target=payment,
        root=_order_ref(payment),
        by=by,
        data={
            "before": {k: str(v) for k, v in before.items()},
            "after": {k: str(v) for k, v in after.items()},
            "summary": "; ".join(changes),
        },
    )


def payments_checked(order, *, by) -> Activity:
    return record(action="orders.order.payments_checked", target=order, by=by)


def _order_ref(row) -> RecordRef:
    return RecordRef("orders.order", str(row.order_id))


# -- webhooks: money that moved (oms.webhooks.schema: WebhookPaymentData) ----------------------


def _payment_payload(entry: Activity) -> dict:
    operation = PaymentTransaction.objects.select_related("payment", "order").get(
        pk=int(entry.target_id)
    )
    payment = operation.payment
    return {
        "payment": {
            "id": operation.pk,
            "payment_id": payment.pk,
            "kind": operation.kind,
            "by_hand": operation.kind == PaymentTransaction.Kind.MANUAL_REFUND,
            "amount": str(operation.amount),
            "currency": payment.currency,
            "method": payment.method,
            "method_label": payment.get_method_display(),
            "provider": payment.provider,
            "reference": operation.reference,
            "return_id": operation.return_request_id,
            "completed_at": iso(operation.completed_at),
        },
        "order": {"id": operation.order_id, "ref": operation.order.ref},
    }


webhooks.register("orders.payment.captured", "payment.captured", payload=_payment_payload)
webhooks.register("orders.payment.refunded", "payment.refunded", payload=_payment_payload)
webhooks.register("orders.payment.refunded_by_hand", "payment.refunded", payload=_payment_payload)
