"""Background work on orders. Tasks take ids, call one service, and own the retry policy."""

from celery import shared_task
from django.conf import settings

from oms import rls
from orders.gateway import GatewayError
from orders.models import PaymentTransaction
from orders.services import payment_operation_run
from orders.services.payments import payment_operations_relay


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded by PAYMENT_OPERATION_ATTEMPTS below
)
def run_payment_operation(self, operation_id: int, retailer_id: int | None = None) -> str:
    """Carry out a capture, refund or void at the gateway. Transient gateway errors are retried
    with backoff; the last attempt leaves the operation FAILED with the gateway's message."""
    attempts = settings.PAYMENT_OPERATION_ATTEMPTS
    last_attempt = self.request.is_eager or self.request.retries + 1 >= attempts
    try:
        with rls.row_scope(PaymentTransaction, operation_id, retailer_id):
            return payment_operation_run(operation_id=operation_id, last_attempt=last_attempt)
    except GatewayError as error:
        raise self.retry(exc=error, countdown=min(10 * 2**self.request.retries, 600)) from error


@shared_task
def relay_payment_operations() -> int:
    """Beat: hand payment operations stuck in PENDING to a worker again."""
    with rls.all_retailers():
        return payment_operations_relay()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def process_intake_message(self, message_id: int, retailer_id: int | None = None) -> str:
    """Map, validate and apply one intake message; transient failures are retried with backoff
    and the last one leaves it DEAD."""
    from orders.intake.models import IntakeMessage
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
    from orders.models import BulkJob
    from orders.services.bulk import run

    with rls.row_scope(BulkJob, job_id, retailer_id):
        job = run(job_id)
    return f"{job.succeeded} done, {job.skipped} skipped, {job.failed} failed"


@shared_task
def relay_bulk_jobs() -> int:
    """Beat: hand bulk jobs the broker lost (queued a minute ago, or stuck running for ten
    minutes) to a worker again."""
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from oms.tasks import enqueue_on_commit
    from orders.models import BulkJob

    now = timezone.now()
    with rls.all_retailers():
        stuck = BulkJob.objects.filter(
            Q(status=BulkJob.Status.QUEUED, created_at__lt=now - timedelta(minutes=1))
            | Q(status=BulkJob.Status.RUNNING, started_at__lt=now - timedelta(minutes=10))
        ).values_list("pk", "retailer_id")
        for job_id, retailer_id in stuck:
            enqueue_on_commit(run_bulk_job, job_id, retailer_id=retailer_id)
        return len(stuck)
