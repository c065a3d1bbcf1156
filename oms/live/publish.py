"""Announce a change to the pages that have its record open, once its transaction commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from oms.live import feed
from oms.live.hub import get_hub
from oms.models import Activity


def announce(entry: Activity, *, order_id: Any = None, actor: Any = None) -> None:
    """Publish `entry` on its retailer's channel after commit (never if it rolls back)."""
    retailer_id = entry.retailer_id

    def send() -> None:
        event = feed.event_of(
            entry, refs=feed.refs_of(entry, order_id), actor=feed.actor_name(actor)
        )
        get_hub().publish(retailer_id, event)

    transaction.on_commit(send, robust=True)
