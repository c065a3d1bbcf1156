"""The home page's queue of returns: those waiting for their refund."""

from __future__ import annotations

from django.urls import reverse

from oms.inbox import Queue
from returns.models import Return, ReturnStatus


def pending_refund(user) -> Queue:
    """Returns received and not yet refunded: the customer waits for money."""
    return Queue(
        "Returns pending refund",
        Return.objects.for_user(user).filter(status=ReturnStatus.PENDING_REFUND).count(),
        f"{reverse('returns:return_list')}?status={ReturnStatus.PENDING_REFUND}",
        urgent=True,
    )
