"""Typed constructors of fulfilment activity; it shows on the order's timeline."""

from oms.activity import RecordRef, describe_as, record
from oms.models import Retailer

describe_as("fulfilments.fulfilment.assigned", "Fulfilment {ref} assigned to {location}: {items}")
describe_as("fulfilments.fulfilment.escalated", "Fulfilment {ref} escalated: {reason}")
describe_as(
    "fulfilments.fulfilment.status_changed", "Fulfilment {ref}: {before} → {after}{note_text}"
)
describe_as("fulfilments.stock.imported", "Stock imported: {created} new, {updated} updated")


def _order(fulfilment) -> RecordRef:
    return RecordRef("orders.order", str(fulfilment.order_id))


def fulfilment_assigned(fulfilment, *, lines: dict, by):
    return record(
        action="fulfilments.fulfilment.assigned",
        target=fulfilment,
        root=_order(fulfilment),
        by=by,
        data={
            "ref": fulfilment.ref,
            "location": fulfilment.location.name if fulfilment.location else "",
            "items": ", ".join(f"{qty} × {line.sku}" for line, qty in lines.items()),
        },
    )


def fulfilment_escalated(fulfilment, *, by):
    return record(
        action="fulfilments.fulfilment.escalated",
        target=fulfilment,
        root=_order(fulfilment),
        by=by,
        data={"ref": fulfilment.ref, "reason": fulfilment.escalation_reason},
    )


def fulfilment_moved(fulfilment, *, before: str, by, note: str = ""):
    return record(
        action="fulfilments.fulfilment.status_changed",
        target=fulfilment,
        root=_order(fulfilment),
        by=by,
        data={
            "ref": fulfilment.ref,
            "before": before,
            "after": fulfilment.get_status_display(),
            "note_text": f" ({note})" if note else "",
        },
    )


def stock_imported(retailer_id: int, *, result, by):
    return record(
        action="fulfilments.stock.imported",
        target=Retailer(pk=retailer_id),
        by=by,
        data={"created": result.created, "updated": result.updated},
    )
