"""The customer hears of their return: when it is registered, when its parcel arrives and when
it is refunded; in their language, through the outbox, as the return flow chooses."""

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from billing import services as billing
from oms.models import OutboundEmail
from orders.models import SystemState
from returns import services
from returns.models import Return, ReturnStatus
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    recalculate_totals,
    ship,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_order(retailer, manager):
    customer = CustomerFactory(retailer=retailer, first_name="Sam", email="sam@example.com")
    order = OrderFactory(
        retailer=retailer, ref="ACME-7101", customer=customer, state=SystemState.COMPLETED
    )
    OrderLineFactory(
        order=order, sku="JKT", name="Jacket", quantity=2, unit_price=Decimal("121.00")
    )
    recalculate_totals(order)
    ship(order)
    PaymentFactory(
        order=order, authorised=order.total, captured=order.total, provider_reference="psp_7101"
    )
    billing.invoice_create(order=order, by=manager)
    return order


def _create(client, order, **extra):
    jacket = order.lines.get()
    data = {
        f"qty_{jacket.pk}": "1",
        f"reason_{jacket.pk}": "DAMAGED",
        f"condition_{jacket.pk}": "2",
        "fulfilment_type": "R_RTDC",
        "preferred_location_ref": "DC-UTRECHT",
        **extra,
    }
    return client.post(reverse("orders:return_create", args=[order.pk]), data)


def _arrive(client, ret, **extra):
    parcel = ret.fulfilments.get()
    return client.post(
        reverse("returns:fulfilment_move", args=[ret.pk, parcel.pk]),
        {"status": "ARRIVED", **extra},
    )


def test_the_customer_is_emailed_when_the_return_is_created_arrives_and_is_refunded(
    client_for, agent, manager, paid_order, django_capture_on_commit_callbacks
):
    # when an agent creates the return, leaving "Email the customer" ticked
    with django_capture_on_commit_callbacks(execute=True):
        _create(client_for(agent), paid_order, notify="on")
    ret = Return.objects.get()

    # then the customer has the "registered" email, sent by the worker after the commit
    (created,) = mail.outbox
    assert created.to == ["sam@example.com"]
    assert created.subject == f"We have registered your return {ret.return_ref}"
    assert f"your return {ret.return_ref} of order ACME-7101" in created.body
    assert "- Jacket" in created.body and "we refund €121.00" in created.body
    row = OutboundEmail.objects.get(subject=created.subject)
    assert (row.status, row.root_type, row.root_id) == ("sent", "returns.return", str(ret.pk))

    # and it is listed in the order's activity
    timeline = client_for(agent).get(reverse("orders:order_tab", args=[paid_order.pk, "activity"]))
    assert f"We have registered your return {ret.return_ref}" in timeline.content.decode()

    # when a manager marks the parcel arrived (the refund then runs by itself)
    with django_capture_on_commit_callbacks(execute=True):
        _arrive(client_for(manager), ret, notify="on")

    # then the customer hears it arrived, and that it is refunded, with the credit note
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.COMPLETE
    assert [email.subject for email in mail.outbox[1:]] == [
        f"Your return {ret.return_ref} has arrived",
        f"Your return {ret.return_ref} has been refunded",
    ]
    refunded = mail.outbox[2].body
    assert "We have refunded €121.00 for your return" in refunded
    assert f"Credit note {ret.credit_note.number} records the refund" in refunded


def test_nobody_is_emailed_when_the_agent_unticks_it(
    client_for, agent, manager, paid_order, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _create(client_for(agent), paid_order)  # "Email the customer" left unticked
        _arrive(client_for(manager), Return.objects.get())  # and here too

    # only the refund, which is money the customer must know of, is told
    ret = Return.objects.get()
    assert [email.subject for email in mail.outbox] == [
        f"Your return {ret.return_ref} has been refunded"
    ]


def test_the_create_page_offers_the_choice_ticked(client_for, agent, paid_order):
    page = client_for(agent).get(reverse("orders:return_create", args=[paid_order.pk]))
    html = page.content.decode()
    assert 'name="notify" id="id_notify" checked' in html
    assert "Email the customer that the return is registered (sam@example.com)" in html


def test_a_german_customer_reads_the_return_emails_in_german(
    client_for, agent, manager, paid_order, django_capture_on_commit_callbacks
):
    paid_order.customer.language = "de"
    paid_order.customer.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        _create(client_for(agent), paid_order, notify="on")
        _arrive(client_for(manager), Return.objects.get(), notify="on")
    ref = Return.objects.get().return_ref
    assert [email.subject for email in mail.outbox] == [
        f"Wir haben Ihre Rücksendung {ref} erfasst",
        f"Ihre Rücksendung {ref} ist angekommen",
        f"Ihre Rücksendung {ref} wurde erstattet",
    ]
    assert mail.outbox[0].body.startswith("Hallo Sam,")


def test_returns_made_by_cancelling_items_send_no_return_email(manager, paid_order):
    services.return_create(
        data=services.ReturnInput(
            retailer_id=paid_order.retailer_id,
            type="CANNOT_FULFIL",
            order=paid_order,
            customer=services.CustomerInput(email="sam@example.com"),
            items=[services.ItemInput(sku_ref="JKT", quantity=1)],
        ),
        by=manager,
    )
    assert not OutboundEmail.objects.filter(subject__contains="return").exists()
