"""Typed constructors of billing activity; an invoice's activity shows on its order."""

from oms.activity import RecordRef, describe_as, record

describe_as("billing.invoice.created", "{label} {number} created: {total} {currency}")
describe_as("billing.invoice.updated", "Invoice {number} updated: {changes}")
describe_as("billing.invoice.sent", "{label} {number} emailed to {to}")


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
