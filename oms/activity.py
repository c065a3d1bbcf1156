"""The one writer of `Activity` rows. Services call it through their app's `events.py`."""

from __future__ import annotations

from typing import Any, NamedTuple

from django.db import models

from oms.models import Activity, Retailer


class RecordRef(NamedTuple):
    """A record named by its type label (`orders.order`) and primary key."""

    label: str
    pk: str

    @classmethod
    def of(cls, obj: models.Model | RecordRef) -> RecordRef:
        if isinstance(obj, RecordRef):
            return obj
        return cls(obj._meta.label_lower, str(obj.pk))


def record(
    *,
    action: str,
    target: models.Model,
    by: Any | None,
    root: models.Model | RecordRef | None = None,
    data: dict[str, Any] | None = None,
) -> Activity:
    """Record that `by` (a user, or None for the system) did `action` to `target`.

    `root` is the record whose timeline shows it (the target itself when omitted). Call this
    inside the service's transaction, so the change and its record commit together.
    """
    retailer_id = target.pk if isinstance(target, Retailer) else target.retailer_id
    target_ref = RecordRef.of(target)
    root_ref = RecordRef.of(root) if root is not None else target_ref
    actor = by if by is not None and getattr(by, "is_authenticated", False) else None
    return Activity.objects.create(
        retailer_id=retailer_id,
        actor=actor,
        action=action,
        target_type=target_ref.label,
        target_id=target_ref.pk,
        root_type=root_ref.label,
        root_id=root_ref.pk,
        data=data or {},
    )
