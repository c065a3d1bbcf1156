"""Redis stopped while managers cancel orders: the cancellations are kept, and their refunds and
emails happen once, when it is back (the outbox and the relays)."""

from datetime import timedelta

import pytest
from django.core import mail

from billing.models import PaymentTransaction, SimulatedGatewayRecord
from billing.services import payment_operations_relay
from oms.celery import app as celery_app
from oms.emails import emails_relay
from oms.models import OutboundEmail
from orders import services
from orders.models import Order, SystemState
from tests.factories import CustomerFactory, OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db
ORDERS = 5


def test_cancellations_during_a_broker_outage_refund_and_email_once_it_is_back(
    retailer, manager, celery_broker, django_capture_on_commit_callbacks
):
    orders = []
    for n in range(ORDERS):
        customer = CustomerFactory(retailer=retailer, email=f"c{n}@example.org")
        order = OrderFactory(
            retailer=retailer, customer=customer, state=SystemState.PROCESSING, lines=1
        )
        PaymentFactory(order=order, authorised=order.total, captured=order.total)
        orders.append(order)

    celery_broker("redis://127.0.0.1:1/0")  # Redis is down: nothing listens there
    for order in orders:
        with django_capture_on_commit_callbacks(execute=True):
            services.order_cancel(order=order, by=manager, notify=True, reason="Out of stock")

    # the managers' work is kept; the money and the emails wait in the database
    assert set(
        Order.objects.filter(pk__in=[o.pk for o in orders]).values_list(
            "status__system_state", flat=True
        )
    ) == {SystemState.CANCELLED}
    refunds = PaymentTransaction.objects.filter(kind="refund")
    assert refunds.count() == ORDERS and set(refunds.values_list("status", flat=True)) == {
        "pending"
    }
    assert OutboundEmail.objects.filter(status="queued").count() == ORDERS
    assert mail.outbox == []

    # Redis is back: the relays hand the work to workers (in-process here), twice over
    celery_app.conf.update(task_always_eager=True)
    for _ in range(2):
        payment_operations_relay(older_than_minutes=0)
        emails_relay(older_than=timedelta(0))

    assert set(refunds.values_list("status", flat=True)) == {"succeeded"}
    assert SimulatedGatewayRecord.objects.filter(kind="refund").count() == ORDERS
    assert OutboundEmail.objects.filter(status="sent").count() == ORDERS
    assert sorted(m.to[0] for m in mail.outbox) == [f"c{n}@example.org" for n in range(ORDERS)]
