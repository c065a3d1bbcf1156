"""Background work on money. Tasks take ids, call one service, and own the retry policy.

The tasks keep the names they had before billing held the money, so operations already queued
under those names still run.
"""

from celery import shared_task
from django.conf import settings

from billing.gateway import GatewayError
from billing.models import PaymentTransaction
from oms import rls


@shared_task(
    name="orders.tasks.run_payment_operation",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded by PAYMENT_OPERATION_ATTEMPTS below
)
def run_payment_operation(self, operation_id: int, retailer_id: int | None = None) -> str:
    """Carry out a capture, refund or release at the gateway. Transient gateway errors are
    retried with backoff; the last attempt leaves the operation FAILED with the gateway's
    message."""
    from billing.services.payments import payment_operation_run

    attempts = settings.PAYMENT_OPERATION_ATTEMPTS
    last_attempt = self.request.is_eager or self.request.retries + 1 >= attempts
    try:
        with rls.row_scope(PaymentTransaction, operation_id, retailer_id):
            return payment_operation_run(operation_id=operation_id, last_attempt=last_attempt)
    except GatewayError as error:
        raise self.retry(exc=error, countdown=min(10 * 2**self.request.retries, 600)) from error


@shared_task(name="orders.tasks.relay_payment_operations")
def relay_payment_operations() -> int:
    """Beat: hand payment operations stuck in PENDING to a worker again."""
    from billing.services.payments import payment_operations_relay

    with rls.all_retailers():
        return payment_operations_relay()
