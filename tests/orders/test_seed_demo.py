"""The demo data: made by the services on a simulated clock, so it contradicts nothing, and
every page and queue has something to show. Transactional: the background work of each change
runs when it commits, as it does under `make run`."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db.models import Min
from django.utils import timezone

from billing.models import BillingAccount, Invoice, PaymentTransaction
from customers.models import Customer
from fulfilments.models import Fulfilment, FulfilmentStatus
from oms.models import Activity, Membership, Retailer
from oms.roles import Role, roles_of
from orders.consistency import contradictions
from orders.intake.models import IntakeMessage
from orders.models import Order, Shipment, ShipmentEvent, SystemState, Task, Ticket
from returns.models import Return, ReturnStatus

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()


def _snapshot():
    return {
        "retailers": list(Retailer.objects.order_by("ref").values()),
        "users": list(User.objects.order_by("username").values()),
        "memberships": list(Membership.objects.order_by("pk").values()),
        "counts": {
            model.__name__: model.objects.count()
            for model in (
                Customer,
                Order,
                PaymentTransaction,
                Return,
                Fulfilment,
                Ticket,
                IntakeMessage,
                BillingAccount,
                Activity,
            )
        },
    }


def test_seed_demo_creates_the_demo_retailers_and_logins(rf):
    call_command("seed_demo", "--orders", "3")

    assert set(Retailer.objects.values_list("ref", flat=True)) == {"acme", "globex"}
    acme, globex = Retailer.objects.get(ref="acme"), Retailer.objects.get(ref="globex")
    expected = {
        "agent": {acme.pk: Role.AGENT},
        "manager": {acme.pk: Role.MANAGER},
        "admin": {acme.pk: Role.ADMIN},
        "globex.agent": {globex.pk: Role.AGENT},
        "multi.agent": {acme.pk: Role.AGENT, globex.pk: Role.AGENT},
    }
    for username, roles in expected.items():
        user = authenticate(
            rf.post("/accounts/login/"), username=username, password="demo-password"
        )
        assert user is not None, f"{username} cannot log in with the demo password"
        assert roles_of(user) == roles


def test_running_seed_demo_twice_changes_nothing_the_second_time():
    call_command("seed_demo", "--orders", "3")
    first = _snapshot()
    call_command("seed_demo", "--orders", "3")
    assert _snapshot() == first


def test_the_demo_data_contradicts_nothing_and_every_queue_has_work():
    call_command("seed_demo", "--orders", "40")
    now = timezone.now()

    # the consistency check finds nothing, and says so
    assert contradictions() == []
    out = StringIO()
    call_command("check_consistency", stdout=out)
    assert "0 contradictions" in out.getvalue()

    # nothing is dated after now; a customer is a customer before their first order
    assert not Activity.objects.filter(created_at__gt=now).exists()
    assert not ShipmentEvent.objects.filter(occurred_at__gt=now).exists()
    assert not Return.objects.filter(created_at__gt=now).exists()
    first_orders = Customer.objects.annotate(first=Min("orders__placed_at")).filter(
        first__isnull=False
    )
    assert all(c.created_at <= c.first for c in first_orders)
    # a parcel on its way promises a day still to come, or nothing
    today = timezone.localdate()
    on_the_way = Shipment.objects.exclude(status=Shipment.Status.DELIVERED)
    assert all(s.estimated_delivery is None or s.estimated_delivery >= today for s in on_the_way)

    # orders in every state, with the work the home page counts
    states = set(Order.objects.values_list("status__system_state", flat=True))
    assert {SystemState.NEW, SystemState.PROCESSING, SystemState.COMPLETED} <= states
    assert SystemState.CANCELLED in states
    assert Fulfilment.objects.filter(status=FulfilmentStatus.ESCALATED).exists()
    assert Fulfilment.objects.filter(status=FulfilmentStatus.DELIVERED).exists()
    assert Order.objects.payment_failed().exists()
    assert Order.objects.unanswered().exists()
    assert Order.objects.awaiting_payment().exists()
    logins = ["agent", "manager", "globex.agent", "multi.agent"]
    assert Task.objects.exclude(status=Task.Status.DONE).filter(assignee__username__in=logins)
    assert set(Return.objects.values_list("status", flat=True)) >= {
        ReturnStatus.CREATED,
        ReturnStatus.PENDING_REFUND,
        ReturnStatus.COMPLETE,
    }
    assert set(IntakeMessage.objects.values_list("status", flat=True)) >= {
        IntakeMessage.Status.ACCEPTED,
        IntakeMessage.Status.REJECTED,
        IntakeMessage.Status.DUPLICATE,
        IntakeMessage.Status.DEAD,
    }
    # billing accounts with credit notes of their customer's returns, and activity
    accounts = BillingAccount.objects.all()
    assert any(
        Invoice.objects.filter(
            order__customer=account.customer, kind=Invoice.Kind.CREDIT_NOTE
        ).exists()
        for account in accounts
    )
    assert all(
        Activity.objects.filter(
            root_type="billing.billingaccount", root_id=str(account.pk)
        ).exists()
        for account in accounts
    )
