"""Order actions through the page: the role matrix, messages, shipments and customer email."""

import io
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from pypdf import PdfReader

from billing.models import PaymentTransaction
from oms.models import Activity, OutboundEmail
from orders.models import Order, Shipment, ShipmentStatus, SystemState
from tests.factories import (
    InvoiceFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    PaymentTransactionFactory,
    ship,
    status_for,
)

pytestmark = pytest.mark.django_db


def _paid_order(retailer, **kwargs):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2, **kwargs)
    PaymentFactory(order=order, authorised=order.total, provider_reference=f"psp_{order.ref}")
    return order


def _post_data(name, order):
    payment = order.payments.first()
    line = order.lines.first()
    failed = PaymentTransactionFactory(
        payment=payment,
        kind="capture",
        status=PaymentTransaction.Status.FAILED,
        error_code="declined",
        amount=Decimal("1.00"),
    )
    invoice = InvoiceFactory(order=order) if name.startswith(("invoice_u", "credit")) else None
    if name == "set_status":  # to Completed: everything shipped
        ship(order)
    table = {
        "set_status": ({}, {"status": status_for(order.retailer, SystemState.COMPLETED).pk}),
        "cancel": ({}, {"confirm": "yes", "notify": "on"}),
        "suspend": ({}, {"reason": "Waiting for stock"}),
        "copy": ({}, {"confirm": "yes"}),
        "hold_set": ({}, {"flag": "compliance", "reason": "Sanctions check"}),
        "mark_paid": ({}, {}),
        "invoice_number": ({}, {"invoice_number": "X-1"}),
        "payment_capture": ({"payment_pk": payment.pk}, {"amount": "1.00", "confirm": "yes"}),
        "payment_void": ({"payment_pk": payment.pk}, {"confirm": "yes"}),
        "payments_sync": ({}, {}),
        "operation_retry": ({"transaction_pk": failed.pk}, {"confirm": "yes"}),
        "shipment_update": ({}, {"lines": [line.pk], "tracking_number": "T-1"}),
        "mark_sent": ({}, {"confirm": "yes", "tracking_number": "T-2"}),
        "invoice_create": ({}, {}),
    }
    if invoice is not None:
        table["invoice_update"] = ({"invoice_pk": invoice.pk}, {"status": "paid"})
        table["credit_note"] = ({"invoice_pk": invoice.pk}, {f"qty_{line.pk}": "1"})
    kwargs, data = table[name]
    return reverse(f"orders:{name}", kwargs={"pk": order.pk, **kwargs}), data


MANAGER_ACTIONS = [
    "set_status",
    "cancel",
    "suspend",
    "copy",
    "hold_set",
    "mark_paid",
    "invoice_number",
    "payment_capture",
    "payment_void",
    "payments_sync",
    "operation_retry",
    "shipment_update",
    "mark_sent",
    "invoice_create",
    "invoice_update",
    "credit_note",
]


@pytest.mark.parametrize("name", MANAGER_ACTIONS)
def test_an_agent_is_refused_every_manager_action_and_nothing_changes(
    client_for, agent, retailer, name
):
    order = _paid_order(retailer)
    url, data = _post_data(name, order)
    before = Activity.objects.count(), Order.objects.count(), OutboundEmail.objects.count()

    response = client_for(agent).post(url, data)

    assert response.status_code == 403
    assert (
        Activity.objects.count(),
        Order.objects.count(),
        OutboundEmail.objects.count(),
    ) == before


@pytest.mark.parametrize("name", MANAGER_ACTIONS)
def test_a_manager_may_do_every_manager_action(client_for, manager, retailer, name):
    order = _paid_order(retailer)
    url, data = _post_data(name, order)
    before = Activity.objects.count()

    response = client_for(manager).post(url, data)

    assert response.status_code == 302
    assert Activity.objects.count() > before, "the action left no trace in Activity"


def test_agents_see_the_manager_actions_disabled_with_the_reason(client_for, agent, retailer):
    order = _paid_order(retailer)
    html = client_for(agent).get(order.get_absolute_url()).content.decode()
    assert "need the manager role" in html
    assert 'class="btn btn-sm btn-primary text-nowrap" type="submit" disabled' in html
    assert 'data-testid="capture-form"' not in html
    manager_html = client_for(agent).get(order.get_absolute_url()).content.decode()
    assert "Managers only" in manager_html


def test_a_refused_move_is_a_message_on_the_page_and_changes_nothing(client_for, manager, retailer):
    order = OrderFactory(retailer=retailer, state=SystemState.COMPLETED)
    client = client_for(manager)
    response = client.post(
        reverse("orders:set_status", args=[order.pk]),
        {"status": status_for(retailer, SystemState.NEW).pk},
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Select a valid choice" in page  # a final order offers no status at all
    assert Order.objects.get(pk=order.pk).status.system_state == SystemState.COMPLETED


def test_over_capture_through_the_page_is_a_message(client_for, manager, retailer):
    order = _paid_order(retailer)
    client = client_for(manager)
    response = client.post(
        reverse("orders:payment_capture", args=[order.pk, order.payments.get().pk]),
        {"amount": "1000.00", "confirm": "yes"},
    )
    page = client.get(response["Location"]).content.decode()
    assert "At most €99.90 can be captured" in page
    assert not PaymentTransaction.objects.filter(kind="capture").exists()


def test_money_actions_need_the_confirmation(client_for, manager, retailer):
    order = _paid_order(retailer)
    client = client_for(manager)
    response = client.post(
        reverse("orders:payment_capture", args=[order.pk, order.payments.get().pk]),
        {"amount": "10.00"},
    )
    assert "Confirm the action first" in client.get(response["Location"]).content.decode()
    assert not PaymentTransaction.objects.filter(kind="capture").exists()


def test_cancel_with_email_tells_the_customer_about_the_refund(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    order = _paid_order(retailer)
    payment = order.payments.get()
    payment.captured = order.total
    payment.save(update_fields=["captured"])
    client = client_for(manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("orders:cancel", args=[order.pk]),
            {"confirm": "yes", "notify": "on", "reason": "Customer changed their mind"},
        )

    page = client.get(response["Location"]).content.decode()
    assert "The captured €99.90 is refunded" in page
    (email,) = mail.outbox
    assert email.to == [order.customer.email]
    assert email.subject == f"Your order {order.ref} has been cancelled"
    assert "We are refunding €99.90 to the payment method you used (Card)" in email.body
    assert email.body.startswith(f"Dear {order.customer.first_name},")
    actions = set(Activity.objects.values_list("action", flat=True))
    assert {"orders.order.cancelled", "orders.payment.refunded", "oms.email.sent"} <= actions


def test_cancel_without_email_sends_nothing(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    order = _paid_order(retailer)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(manager).post(reverse("orders:cancel", args=[order.pk]), {"confirm": "yes"})
    assert mail.outbox == []
    assert Order.objects.get(pk=order.pk).status.system_state == SystemState.CANCELLED


def test_update_shipment_for_several_items_at_once(client_for, manager, retailer):
    order = OrderFactory(retailer=retailer, lines=3)
    first, second, third = order.lines.all()
    client_for(manager).post(
        reverse("orders:shipment_update", args=[order.pk]),
        {
            "lines": [first.pk, second.pk],
            "shipment_status": "packed",
            "shipping_method": "DHL Express",
            "tracking_number": "JD0001",
        },
    )
    rows = {line.pk: line for line in order.lines.all()}
    for line in (rows[first.pk], rows[second.pk]):
        assert (line.shipment_status, line.shipping_method, line.tracking_number) == (
            "packed",
            "DHL Express",
            "JD0001",
        )
    assert rows[third.pk].shipment_status == ShipmentStatus.PENDING
    assert Activity.objects.filter(action="orders.orderline.shipment_updated").count() == 2


def test_shipments_cannot_change_once_the_order_is_completed(client_for, manager, retailer):
    order = OrderFactory(retailer=retailer, state=SystemState.COMPLETED, lines=1)
    client = client_for(manager)
    response = client.post(
        reverse("orders:shipment_update", args=[order.pk]),
        {"lines": [order.lines.get().pk], "tracking_number": "NOPE"},
    )
    page = client.get(response["Location"]).content.decode()
    assert "shipments can only change while an order is New or Processing" in page
    assert order.lines.get().tracking_number == ""
    assert "Only while New or Processing" in page


def test_mark_sent_with_tracking_sends_the_track_and_trace_email(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2, carrier="PostNL")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(manager).post(
            reverse("orders:mark_sent", args=[order.pk]),
            {"confirm": "yes", "tracking_number": "3SXYZ42", "carrier": "PostNL"},
        )
    shipment = Shipment.objects.get(order=order)
    assert (shipment.carrier, shipment.tracking_number) == ("PostNL", "3SXYZ42")
    assert set(order.lines.values_list("shipment_status", "tracking_number")) == {
        ("shipped", "3SXYZ42")
    }
    (email,) = mail.outbox
    assert email.subject == f"Track your order {order.ref}: 3SXYZ42"
    assert "Your track and trace code is 3SXYZ42" in email.body


def test_mark_sent_without_tracking_sends_the_order_sent_email(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, state=SystemState.NEW, lines=1, carrier="DHL")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(manager).post(reverse("orders:mark_sent", args=[order.pk]), {"confirm": "yes"})
    (email,) = mail.outbox
    assert email.subject == f"Your order {order.ref} is on its way"
    assert "has left our warehouse with DHL" in email.body


def test_an_agent_notifies_the_customer_with_their_own_text(
    client_for, agent, retailer, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, lines=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(agent).post(
            reverse("orders:notify", args=[order.pk]),
            {"confirm": "yes", "message": "Your jacket is back in stock & ships tomorrow."},
        )
    assert response.status_code == 302
    (email,) = mail.outbox
    assert email.subject == f"A message about your order {order.ref}"
    assert "Your jacket is back in stock & ships tomorrow." in email.body
    timeline = client_for(agent).get(reverse("orders:order_tab", args=[order.pk, "activity"]))
    assert "Customer notified" in timeline.content.decode()
    assert "sent to" in timeline.content.decode()


def test_a_payment_reminder_states_what_is_left_to_pay(
    client_for, agent, retailer, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, lines=2)
    PaymentFactory(order=order, authorised=order.total, captured=Decimal("40.00"))
    with django_capture_on_commit_callbacks(execute=True):
        client_for(agent).post(
            reverse("orders:payment_reminder", args=[order.pk]), {"confirm": "yes"}
        )
    (email,) = mail.outbox
    assert "The amount still to pay is €59.90." in email.body


def test_the_packing_slip_lists_the_items_and_address(client_for, agent, retailer):
    order = OrderFactory(retailer=retailer, ref="ACME-55")
    OrderLineFactory(order=order, sku="TENT-2", name="Two-person tent", quantity=2)
    response = client_for(agent).get(reverse("orders:packing_slip", args=[order.pk]))
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "ACME-55" in text and "Two-person tent" in text and "TENT-2" in text
    assert order.shipping_address.city in text
