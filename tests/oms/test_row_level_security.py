"""The second wall: Postgres row-level security keeps a retailer's rows from other retailers'
users even where the application forgets to scope a query.

The suite connects as the tables' owner, whom the policies do not bind; these tests switch the
connection to an application role made by `manage.py db_app_role` (not superuser, not owner),
as the web and workers connect in production.
"""

from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from rest_framework.authtoken.models import Token

from billing.models import PaymentTransaction
from customers.models import Customer
from fulfilments.models import Fulfilment
from oms import rls
from oms.models import Activity, OutboundEmail
from oms.tasks import send_email
from oms.tenancy import TenantOwned
from orders import services
from orders.models import Comment, Order, OrderLine, Shipment, SystemState
from returns.models import Return
from tests.factories import CustomerFactory, OrderFactory, PaymentFactory, ReturnFactory

pytestmark = pytest.mark.django_db

APP_ROLE = "oms_app_under_test"


@contextmanager
def as_app_role():
    """Run the block as the application's role, with no retailer chosen yet."""
    call_command("db_app_role", APP_ROLE, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{APP_ROLE}"')
    rls.clear()
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
        rls.clear()


@pytest.fixture
def two_retailers(retailer, other_retailer):
    mine = [OrderFactory(retailer=retailer, ref=f"A-{n}", lines=1) for n in range(3)]
    theirs = [OrderFactory(retailer=other_retailer, ref=f"G-{n}", lines=1) for n in range(2)]
    return mine, theirs


def test_every_tenant_table_has_the_policy():
    tables = sorted(m._meta.db_table for m in apps.get_models() if issubclass(m, TenantOwned))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname"
            " WHERE c.relrowsecurity AND p.policyname = %s",
            [rls.POLICY],
        )
        protected = {row[0] for row in cursor.fetchall()}
    assert [t for t in tables if t not in protected] == [], "add EnableRowLevelSecurity"
    assert len(tables) >= 30


def test_a_deliberately_unscoped_query_returns_nothing_without_a_retailer(two_retailers):
    with as_app_role():
        assert Order.objects.count() == 0  # no for_user(), no filter: the database refuses
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM orders_order")
            assert cursor.fetchone()[0] == 0
            cursor.execute("SELECT count(*) FROM orders_orderline")
            assert cursor.fetchone()[0] == 0


def test_an_unscoped_query_returns_only_the_chosen_retailers_rows(
    two_retailers, retailer, other_retailer
):
    with as_app_role():
        rls.use_retailers([retailer.pk])
        assert sorted(Order.objects.values_list("ref", flat=True)) == ["A-0", "A-1", "A-2"]
        assert not Order.objects.filter(retailer=other_retailer).exists()

        rls.use_retailers([retailer.pk, other_retailer.pk])
        assert Order.objects.count() == 5

        with rls.all_retailers():
            assert Order.objects.count() == 5
        rls.use_retailers([other_retailer.pk])
        assert sorted(Order.objects.values_list("ref", flat=True)) == ["G-0", "G-1"]


def test_another_retailers_rows_cannot_be_changed_or_written(two_retailers, retailer):
    _, theirs = two_retailers
    with as_app_role():
        rls.use_retailers([retailer.pk])
        assert Order.objects.filter(pk=theirs[0].pk).update(ref="STOLEN") == 0
        assert Order.objects.filter(pk=theirs[0].pk).delete()[0] == 0
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Comment.objects.create(
                retailer_id=theirs[0].retailer_id, order_id=theirs[0].pk, body="planted"
            )
    theirs[0].refresh_from_db()
    assert theirs[0].ref == "G-0"


def test_pages_and_actions_work_under_the_policies(
    two_retailers, client_for, agent, manager, retailer, django_capture_on_commit_callbacks
):
    mine, theirs = two_retailers
    customer = CustomerFactory(retailer=retailer, email="jan@example.com")
    order = OrderFactory(retailer=retailer, ref="A-PAID", customer=customer, lines=2)
    payment = PaymentFactory(order=order, authorised=order.total, captured=order.total)
    with as_app_role():
        page = client_for(agent).get("/orders/").content.decode()
        assert all(o.ref in page for o in mine) and "G-0" not in page
        assert client_for(agent).get(f"/orders/{mine[0].pk}/").status_code == 200
        assert client_for(agent).get(f"/orders/{theirs[0].pk}/").status_code == 404

        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(manager).post(
                f"/orders/{order.pk}/cancel/",
                {"reason": "Customer asked", "notify": "on", "confirm": "on"},
            )
        assert response.status_code == 302

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status.system_state == SystemState.CANCELLED
    assert payment.refunded == order.total  # the refund task ran under the policies
    assert PaymentTransaction.objects.get(order=order, kind="refund").status == "succeeded"
    assert OutboundEmail.objects.get(to="jan@example.com").status == "sent"


def test_the_api_sees_only_the_tokens_retailers(retailer, other_retailer, agent, client):
    ReturnFactory(retailer=retailer)
    ReturnFactory(retailer=other_retailer)
    token = Token.objects.create(user=agent)
    with as_app_role():
        mine = client.get(
            f"/api/v4.1/return?retailerId={retailer.pk}", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        theirs = client.get(
            f"/api/v4.1/return?retailerId={other_retailer.pk}",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
    assert mine.status_code == 200 and mine.json()["total"] == 1
    assert theirs.status_code == 403


def test_a_task_refuses_to_run_without_its_rows_retailer(retailer, other_retailer):
    email = OutboundEmail.objects.create(
        retailer=retailer, to="a@example.com", subject="Hello", body="Hi"
    )
    with as_app_role():
        with pytest.raises(rls.TenantRequired, match="without its retailer"):
            send_email.apply(args=[email.pk], throw=True)
        with pytest.raises(rls.TenantRequired, match="is not retailer"):
            send_email.apply(args=[email.pk], kwargs={"retailer_id": other_retailer.pk}, throw=True)
        result = send_email.apply(args=[email.pk], kwargs={"retailer_id": retailer.pk}, throw=True)
    assert result.get() == "sent"
    email.refresh_from_db()
    assert email.status == "sent"


def test_payment_operations_run_for_their_retailer_only(retailer, manager):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
    PaymentFactory(order=order, authorised=order.total, captured=Decimal("0.00"))
    with as_app_role():
        rls.use_retailers([retailer.pk])
        operation = services.order_payment_capture(
            payment=order.payments.get(), amount=order.total, by=manager
        )
        rls.clear()
        from billing.tasks import run_payment_operation

        with pytest.raises(rls.TenantRequired):
            run_payment_operation.apply(args=[operation.pk], throw=True)
        run_payment_operation.apply(
            args=[operation.pk], kwargs={"retailer_id": retailer.pk}, throw=True
        )
    operation.refresh_from_db()
    assert operation.status == "succeeded"


def test_the_application_cannot_rewrite_or_delete_the_audit_trail(retailer, manager):
    order = OrderFactory(retailer=retailer, state=SystemState.NEW, lines=1)
    services.order_hold_set(order=order, flag="compliance", by=manager, reason="Check")
    entry = Activity.objects.get(action="orders.order.hold_set")
    with pytest.raises(PermissionDenied):
        entry.save()
    with pytest.raises(PermissionDenied):
        entry.delete()
    with as_app_role():
        rls.use_retailers([retailer.pk])
        for statement in ("UPDATE oms_activity SET action = 'forged'", "DELETE FROM oms_activity"):
            with (
                pytest.raises(DatabaseError, match="permission denied"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement)
        assert Activity.objects.filter(action="orders.order.hold_set").count() == 1


@pytest.mark.parametrize(
    "model,lookup,index",
    [
        (Order, {"ref_key__key_prefix": "A-1"}, "order_ref_key"),
        (Order, {"ref_key": "A-1"}, "order_ref_key"),
        (OrderLine, {"tracking_key": "JJD0001"}, "line_tracking_key"),
        (Shipment, {"tracking_key": "JJD0001"}, "shipment_tracking_key"),
        (Customer, {"email_key": "ANN@EXAMPLE.ORG"}, "customer_email_key"),
        (Return, {"return_ref_key__key_prefix": "R-1"}, "return_ref_key"),
        (Fulfilment, {"ref_key__key_prefix": "F-1"}, "fulfilment_ref_key"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_searches_under_the_policy_use_their_key_indexes(retailer, model, lookup, index):
    # given the application's role working for one retailer, where Postgres applies the policy
    # before any condition on a function it does not know to be leakproof
    with as_app_role(), rls.scoped([retailer.pk]), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")

        # when a search compares a key column
        plan = model.objects.filter(**lookup).explain()

        # then the key's index serves the comparison itself, not only the retailer
        column = next(iter(lookup)).split("__")[0]
        assert index in plan, plan
        conditions = [line for line in plan.splitlines() if "Index Cond" in line]
        assert any(column in line for line in conditions), plan
