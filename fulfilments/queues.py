"""The home page's queue of fulfilments: those escalated, waiting for someone to act."""

from __future__ import annotations

from django.db.models import Count, Min
from django.urls import reverse

from fulfilments.models import Fulfilment
from oms.inbox import Queue
from oms.templatetags.dates import age


def escalated(user) -> Queue:
    """Escalations hold a paid order back until someone acts: urgent while any wait."""
    found = (
        Fulfilment.objects.for_user(user)
        .escalated()
        .aggregate(count=Count("*"), oldest=Min("escalated_at"))  # read from the index alone
    )
    return Queue(
        "Escalated fulfilments",
        found["count"],
        reverse("fulfilments:escalated_list"),
        note=f"oldest waiting {age(found['oldest'])}" if found["oldest"] else "",
        urgent=True,
    )
