"""Background work on fulfilments."""

from celery import shared_task

from oms import rls


@shared_task
def retry_escalated_fulfilments() -> int:
    """Beat (and after a stock import): source escalated fulfilments whose stock has arrived."""
    from fulfilments.services import retry_all_escalated

    with rls.all_retailers():
        return retry_all_escalated()
