import pytest
from django.urls import reverse

from oms.models import Activity
from orders.models import OrderStatus, SystemState
from tests.factories import OrderFactory, StatusFactory, status_for

pytestmark = pytest.mark.django_db

LIST = reverse("order_statuses:list")


def labels(retailer):
    return list(
        OrderStatus.objects.filter(retailer=retailer)
        .order_by("position", "pk")
        .values_list("label", flat=True)
    )


def test_only_admins_configure_statuses(client_for, agent, manager, admin_user):
    assert client_for(agent).get(LIST).status_code == 403
    assert client_for(manager).get(LIST).status_code == 403
    assert client_for(admin_user).get(LIST).status_code == 200


def test_an_admin_adds_a_status_mapped_to_a_system_state(client_for, admin_user, retailer):
    response = client_for(admin_user).post(
        LIST,
        {
            "retailer": retailer.pk,
            "label": "Picking",
            "colour": "teal",
            "system_state": "PROCESSING",
        },
    )
    assert response.status_code == 302
    status = OrderStatus.objects.get(retailer=retailer, code="picking")
    assert (status.label, status.colour, status.system_state) == ("Picking", "teal", "PROCESSING")
    assert labels(retailer)[-1] == "Picking"
    assert Activity.objects.filter(action="orders.orderstatus.created", actor=admin_user).exists()
    # and orders can move into it
    order = OrderFactory(retailer=retailer)
    page = client_for(admin_user).get(order.get_absolute_url()).content.decode()
    assert f'<option value="{status.pk}">Picking</option>' in page


def test_a_duplicate_code_is_refused_with_a_message(client_for, admin_user, retailer):
    client = client_for(admin_user)
    response = client.post(
        LIST, {"retailer": retailer.pk, "label": "New", "colour": "blue", "system_state": "NEW"}
    )
    assert response.status_code == 400
    assert "There is a status with code" in response.content.decode()


def test_edit_rename_and_recolour(client_for, admin_user, retailer):
    status = status_for(retailer, SystemState.NEW)
    client_for(admin_user).post(
        reverse("order_statuses:edit", args=[status.pk]),
        {"label": "Received", "colour": "indigo", "system_state": "NEW"},
    )
    status.refresh_from_db()
    assert (status.label, status.colour) == ("Received", "indigo")


def test_the_system_state_of_a_status_in_use_cannot_change(client_for, admin_user, retailer):
    status = StatusFactory(retailer=retailer, label="Picking")
    OrderFactory(retailer=retailer, status=status)
    response = client_for(admin_user).post(
        reverse("order_statuses:edit", args=[status.pk]),
        {"label": "Picking", "colour": "teal", "system_state": "COMPLETED"},
    )
    assert "its system state cannot change" in response.content.decode()
    status.refresh_from_db()
    assert status.system_state == SystemState.PROCESSING


def test_reorder(client_for, admin_user, retailer):
    before = labels(retailer)
    status = OrderStatus.objects.get(retailer=retailer, label="Completed")
    client_for(admin_user).post(
        reverse("order_statuses:move", args=[status.pk]), {"direction": "up"}
    )
    after = labels(retailer)
    i = before.index("Completed")
    assert after[i - 1] == "Completed" and after[i] == before[i - 1]


def test_a_status_in_use_cannot_be_deleted_and_says_why(client_for, admin_user, retailer):
    status = StatusFactory(retailer=retailer, label="Picking")
    OrderFactory(retailer=retailer, status=status)
    client = client_for(admin_user)
    response = client.post(reverse("order_statuses:delete", args=[status.pk]))
    page = client.get(response["Location"]).content.decode()
    assert "“Picking” is in use by 1 order(s) and cannot be deleted" in page
    assert OrderStatus.objects.filter(pk=status.pk).exists()


def test_an_unused_status_is_deleted_but_not_the_last_of_its_state(
    client_for, admin_user, retailer
):
    extra = StatusFactory(retailer=retailer, label="Picking")
    client = client_for(admin_user)
    client.post(reverse("order_statuses:delete", args=[extra.pk]))
    assert not OrderStatus.objects.filter(pk=extra.pk).exists()
    fraud = status_for(retailer, SystemState.FRAUD)
    response = client.post(reverse("order_statuses:delete", args=[fraud.pk]))
    assert "only status for Fraud" in client.get(response["Location"]).content.decode()
    assert OrderStatus.objects.filter(pk=fraud.pk).exists()


def test_an_admin_sets_when_invoices_are_made(client_for, admin_user, retailer):
    from billing.models import BillingSettings

    url = reverse("billing_settings:edit")
    client_for(admin_user).post(
        url,
        {
            "retailer": retailer.pk,
            "invoice_trigger": "placed",
            "invoice_prefix": "F",
            "credit_note_prefix": "C",
            "default_delivery_time": "Next day",
        },
    )
    config = BillingSettings.objects.get(retailer=retailer)
    assert (config.invoice_trigger, config.invoice_prefix) == ("placed", "F")
