"""Background work on fulfilments."""

from celery import shared_task

from fulfilments.services import retry_all_escalated
from oms import rls


@shared_task
def retry_escalated_fulfilments() -> int:
    """Beat (and after a stock import): source escalated fulfilments whose stock has arrived."""
    with rls.all_retailers():
        return retry_all_escalated()
