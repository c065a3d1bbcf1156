"""Background work of the kernel. Tasks take ids, call one service, and own the retry policy."""

from celery import shared_task

from oms import emails


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=emails.MAX_ATTEMPTS - 1,
    default_retry_delay=30,
)
def send_email(self, email_id: int) -> str:
    """Send a queued email; retried with backoff until the service marks it failed."""
    try:
        return emails.email_deliver(email_id=email_id)
    except Exception as exc:
        if self.request.is_eager:
            # In-process (no broker): the error is on the email row; the relay tries it again.
            return emails.OutboundEmail.Status.QUEUED
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc


@shared_task
def relay_emails() -> int:
    """Beat: hand emails stuck in the queue (broker was down, worker lost) to a worker again."""
    return emails.emails_relay()
