"""Two managers acting on one order at the same moment: one wins, the other is told why, and
nothing is done twice. Real threads on real Postgres connections."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from billing.models import PaymentTransaction
from oms.roles import Role
from oms.state import InvalidTransition
from orders import services
from orders.models import Order, SystemState
from tests.factories import MembershipFactory, OrderFactory, PaymentFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(*actions):
    """Run the actions in threads released together; each one's result or exception."""
    start = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def run(index, action):
        start.wait()
        try:
            results[index] = action()
        except Exception as error:  # the outcome under test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def managers(retailer):
    return [
        MembershipFactory(user=UserFactory(), retailer=retailer, role=Role.MANAGER).user
        for _ in range(2)
    ]


@pytest.mark.parametrize("attempt", range(5))
def test_two_cancellations_at_once_refund_once(retailer, managers, attempt):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)
    PaymentFactory(order=order, authorised=order.total, captured=order.total)

    results = at_once(
        *[
            lambda m=m: services.order_cancel(
                order=Order.objects.get(pk=order.pk), by=m, notify=False, reason="Asked"
            )
            for m in managers
        ]
    )

    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 1, results
    assert isinstance(failures[0], InvalidTransition | ValidationError)
    assert "cancel" in str(failures[0]).lower()
    refunds = PaymentTransaction.objects.filter(order=order, kind="refund")
    assert refunds.count() == 1 and refunds.get().amount == order.total


@pytest.mark.parametrize("attempt", range(5))
def test_cancel_and_suspend_at_once_one_wins(retailer, managers, attempt):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
    PaymentFactory(order=order, authorised=order.total, captured=Decimal("0.00"))

    cancel, suspend = at_once(
        lambda: services.order_cancel(
            order=Order.objects.get(pk=order.pk), by=managers[0], notify=False, reason="Asked"
        ),
        lambda: services.order_suspend(
            order=Order.objects.get(pk=order.pk), by=managers[1], reason="Check address"
        ),
    )

    order.refresh_from_db()
    state = order.status.system_state
    if isinstance(suspend, Exception):  # cancelled first: a cancelled order is not suspended
        assert not isinstance(cancel, Exception) and state == SystemState.CANCELLED
    else:  # suspended first: a suspended order may still be cancelled
        assert state == SystemState.CANCELLED or isinstance(cancel, Exception)
    assert not (isinstance(cancel, Exception) and isinstance(suspend, Exception))
