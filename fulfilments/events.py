"""Typed constructors of fulfilment activity; it shows on the order's timeline."""

from fulfilments.models import Fulfilment
from oms import webhooks
from oms.activity import RecordRef, describe_as, record
from oms.models import Activity, Retailer
from oms.webhooks.outbox import iso

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


def _escalated_payload(entry: Activity) -> dict:
    """An escalated fulfilment as webhooks send it (oms.webhooks.schema: WebhookFulfilmentData)."""
    fulfilment = Fulfilment.objects.select_related("order").get(pk=int(entry.target_id))
    items = fulfilment.items.select_related("order_line").order_by("pk")
    return {
        "fulfilment": {
            "id": fulfilment.pk,
            "ref": fulfilment.ref,
            "status": fulfilment.status,
            "type": fulfilment.type,
            "reason": fulfilment.escalation_reason,
            "escalated_at": iso(fulfilment.escalated_at),
            "order": {"id": fulfilment.order_id, "ref": fulfilment.order.ref},
            "items": [
                {
                    "order_line_id": item.order_line_id,
                    "sku": item.order_line.sku,
                    "requested": item.requested,
                }
                for item in items
            ],
        }
    }


webhooks.register(
    "fulfilments.fulfilment.escalated", "fulfilment.escalated", payload=_escalated_payload
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


# -- the fulfilment network, as admins keep it ---------------------------------------------------

describe_as("fulfilments.location.created", "Location {name} ({ref}) added")
describe_as("fulfilments.location.updated", "Location {name} ({ref}) changed: {changes}")
describe_as("fulfilments.location.activated", "Location {name} ({ref}) sources orders again")
describe_as("fulfilments.location.deactivated", "Location {name} ({ref}) deactivated")
describe_as("fulfilments.carrier.created", "Carrier {name} added")
describe_as("fulfilments.carrier.updated", "Carrier {name} changed: {changes}")
describe_as("fulfilments.carrier.activated", "Carrier {name} available again")
describe_as("fulfilments.carrier.deactivated", "Carrier {name} made unavailable")


def _zones(zones) -> str:
    return ", ".join(str(zone) for zone in zones) if isinstance(zones, list) else ""


def location_created(location, *, by):
    return record(
        action="fulfilments.location.created",
        target=location,
        by=by,
        data={
            "ref": location.ref,
            "name": location.name,
            "zones": _zones(location.zones),
            "daily_capacity": location.daily_capacity,
        },
    )


def location_updated(location, *, before: dict, after: dict, changes: str, by):
    return record(
        action="fulfilments.location.updated",
        target=location,
        by=by,
        data={
            "ref": location.ref,
            "name": location.name,
            "changes": changes,
            "before": before,
            "after": after,
        },
    )


def location_toggled(location, *, by):
    return record(
        action=f"fulfilments.location.{'activated' if location.is_active else 'deactivated'}",
        target=location,
        by=by,
        data={"ref": location.ref, "name": location.name, "is_active": location.is_active},
    )


def carrier_created(carrier, *, by):
    return record(
        action="fulfilments.carrier.created",
        target=carrier,
        by=by,
        data={
            "name": carrier.name,
            "zones": _zones(carrier.zones),
            "transit_days": carrier.transit_days,
        },
    )


def carrier_updated(carrier, *, before: dict, after: dict, changes: str, by):
    return record(
        action="fulfilments.carrier.updated",
        target=carrier,
        by=by,
        data={"name": carrier.name, "changes": changes, "before": before, "after": after},
    )


def carrier_toggled(carrier, *, by):
    return record(
        action=f"fulfilments.carrier.{'activated' if carrier.is_available else 'deactivated'}",
        target=carrier,
        by=by,
        data={"name": carrier.name, "is_available": carrier.is_available},
    )
