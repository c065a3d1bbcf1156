"""Background work on orders. Tasks take ids, call one service, and own the retry policy.

Payment operations run in billing's tasks; what follows them for an order is registered with
billing by this app (`orders.apps`).
"""

from celery import shared_task
from django.conf import settings

from oms import rls
from orders.intake.models import IntakeMessage
from orders.models import BulkJob


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def process_intake_message(self, message_id: int, retailer_id: int | None = None) -> str:
    """Map, validate and apply one intake message; transient failures are retried with backoff
    and the last one leaves it DEAD."""
    from orders.intake.processing import intake_process

    attempts = settings.PAYMENT_OPERATION_ATTEMPTS
    last_attempt = self.request.is_eager or self.request.retries + 1 >= attempts
    try:
        with rls.row_scope(IntakeMessage, message_id, retailer_id):
            return intake_process(message_id=message_id, last_attempt=last_attempt)
    except rls.TenantRequired:
        raise
    except Exception as error:
        raise self.retry(exc=error, countdown=min(10 * 2**self.request.retries, 600)) from error


@shared_task
def relay_intake_messages() -> int:
    """Beat: hand intake messages left RECEIVED (the broker was down) to a worker again."""
    from orders.intake.processing import intake_relay

    with rls.all_retailers():
        return intake_relay()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_bulk_job(self, job_id: int, retailer_id: int | None = None) -> str:
    """Do a bulk job's orders; a redelivered job carries on where it stopped."""
    from orders.services.bulk import run

    with rls.row_scope(BulkJob, job_id, retailer_id):
        job = run(job_id)
    return f"{job.succeeded} done, {job.skipped} skipped, {job.failed} failed"


@shared_task
def relay_bulk_jobs() -> int:
    """Beat: hand bulk jobs the broker lost (queued a minute ago, or stuck running for ten
    minutes) to a worker again."""
    from orders.services.bulk import relay_stuck_jobs

    with rls.all_retailers():
        return relay_stuck_jobs()
