"""Background work of the kernel. Tasks take ids, call one service, and own the retry policy."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from oms import rls
from oms.models import OutboundEmail, WebhookEndpoint

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Send `task` to the broker once the current transaction commits.

    The work is already written down (an outbox row, a pending operation), so a broker that is
    down at that moment is logged, not shown to the user: the relays pick the work up later.
    """

    def send() -> None:
        try:
            task.delay(*args, **kwargs)
        except Exception:
            logger.exception("Could not hand %s%s to the broker; the relay will", task.name, args)

    transaction.on_commit(send)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=OutboundEmail.MAX_ATTEMPTS - 1,
    default_retry_delay=30,
)
def send_email(self, email_id: int, retailer_id: int | None = None) -> str:
    """Send a queued email; retried with backoff until the service marks it failed."""
    from oms import emails

    try:
        with rls.row_scope(OutboundEmail, email_id, retailer_id):
            return emails.email_deliver(email_id=email_id)
    except rls.TenantRequired:
        raise
    except Exception as exc:
        if self.request.is_eager:
            # In-process (no broker): the error is on the email row; the relay tries it again.
            return OutboundEmail.Status.QUEUED
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc


@shared_task
def relay_emails() -> int:
    """Beat: hand emails stuck in the queue (broker was down, worker lost) to a worker again."""
    from oms import emails

    with rls.all_retailers():
        return emails.emails_relay()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def deliver_webhooks(self, endpoint_id: int, retailer_id: int | None = None) -> int:
    """Send an endpoint's due webhook deliveries, oldest first, as its one deliverer; a retry due
    within a minute is woken by a delayed task, a later one by the relay."""
    from oms.webhooks import delivery

    eager = bool(self.request.is_eager)
    try:
        with rls.row_scope(WebhookEndpoint, endpoint_id, retailer_id):
            done = delivery.endpoint_deliver(
                endpoint_id=endpoint_id,
                budget=settings.WEBHOOK_READ_TIMEOUT if eager else None,
            )
    except rls.TenantRequired:
        if eager:  # the endpoint was deleted meanwhile: nothing to send
            return 0
        raise
    if done.waiting_until is not None and not eager:
        wait = (done.waiting_until - timezone.now()).total_seconds()
        if wait < delivery.WAKE_WITHIN_SECONDS:
            self.apply_async(
                (endpoint_id,), {"retailer_id": retailer_id}, countdown=max(wait, 0) + 0.05
            )
    return done.delivered


@shared_task
def relay_webhooks() -> int:
    """Beat: hand endpoints with webhook deliveries due (a retry, a broker that was down, a lost
    worker) to a deliverer again."""
    from oms.webhooks import delivery

    with rls.all_retailers():
        due = delivery.deliveries_relay()
    for endpoint_id, retailer_id in due:
        deliver_webhooks.delay(endpoint_id, retailer_id=retailer_id)
    return len(due)
