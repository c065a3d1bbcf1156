import re
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from billing.models import BillingAccount, DebitMemo
from oms.models import Activity
from orders.models import Ticket, TicketMessage
from tests.factories import (
    BillingAccountFactory,
    CustomerFactory,
    InvoiceFactory,
    OrderFactory,
    PaymentFactory,
    ReturnFactory,
    TicketFactory,
)
from tests.querycount import assert_constant_queries

pytestmark = pytest.mark.django_db


def _names(response):
    return re.findall(
        r'<a hx-boost="false" href="/customers/\d+/">([^<]+)</a>', response.content.decode()
    )


def test_customer_search_by_name_email_ref_and_mobile(client_for, agent, retailer, other_retailer):
    CustomerFactory(
        retailer=retailer,
        first_name="Wilma",
        last_name="Zwart",
        email="w@x.nl",
        ref="C-77",
        mobile="+31 6 5555 1234",
    )
    CustomerFactory(retailer=retailer, first_name="Piet", last_name="Jansen")
    CustomerFactory(retailer=other_retailer, first_name="Wilma", last_name="Elsewhere")
    client = client_for(agent)
    url = reverse("customers:customer_list")
    for query in ("wilma zwart", "w@x.nl", "C-77", "5555 1234"):
        assert _names(client.get(url, {"q": query})) == ["Wilma Zwart"], query
    assert len(_names(client.get(url))) == 2


def test_the_customer_page_answers_who_they_are_and_what_they_did(client_for, agent, retailer):
    customer = CustomerFactory(retailer=retailer, first_name="Ada", last_name="Lovelace")
    first = OrderFactory(retailer=retailer, customer=customer, lines=1, ref="A-1")
    OrderFactory(retailer=retailer, customer=customer, lines=2, ref="A-2")
    PaymentFactory(order=first, captured=first.total, refunded=Decimal("10.00"), method="ideal")
    ReturnFactory(retailer=retailer, order=first, customer=customer)
    TicketFactory(order=first, subject="Wrong colour")
    account = BillingAccountFactory(customer=customer, name="Lovelace Ltd")

    html = client_for(agent).get(customer.get_absolute_url()).content.decode()

    assert "Ada Lovelace" in html and "A-1" in html and "A-2" in html
    assert "<dt>Orders</dt><dd>2</dd>" in html
    assert "€149.85" in html  # lifetime value: 49.95 + 99.90
    assert "Wrong colour" in html and account.name in html and "Return" in html
    assert "€39.95 of €49.95 can still be refunded" in html


def test_the_customer_page_costs_the_same_queries_with_a_long_history(client_for, agent, retailer):
    customer = CustomerFactory(retailer=retailer)
    client = client_for(agent)

    def add(n):
        for _ in range(n):
            order = OrderFactory(retailer=retailer, customer=customer, lines=1)
            PaymentFactory(order=order)
            TicketFactory(order=order)
            ReturnFactory(retailer=retailer, order=order, customer=customer)

    assert_constant_queries(lambda: client.get(customer.get_absolute_url()), add)


def test_billing_accounts_list_and_page(client_for, agent, retailer, other_retailer):
    customer = CustomerFactory(retailer=retailer)
    account = BillingAccountFactory(customer=customer, name="Acme Corp", type="BUSINESS")
    BillingAccountFactory(customer=CustomerFactory(retailer=other_retailer), name="Hidden")
    invoice = InvoiceFactory(order=OrderFactory(retailer=retailer, customer=customer, lines=1))
    client = client_for(agent)
    listing = client.get(reverse("billing:account_list"), {"type": ["BUSINESS"]}).content.decode()
    assert "Acme Corp" in listing and "Hidden" not in listing
    page = client.get(account.get_absolute_url()).content.decode()
    assert invoice.number in page


def test_account_status_moves_for_managers_only(client_for, agent, manager, retailer):
    account = BillingAccountFactory(customer=CustomerFactory(retailer=retailer))
    url = reverse("billing:account_status", args=[account.pk])
    assert client_for(agent).post(url, {"status": "SUSPENDED"}).status_code == 403
    client = client_for(manager)
    client.post(url, {"status": "SUSPENDED"})
    account.refresh_from_db()
    assert account.status == "SUSPENDED"
    response = client.post(url, {"status": "PENDING"})
    page = client.get(response["Location"]).content.decode()
    assert "cannot go from Suspended to Pending" in page


def test_admins_edit_custom_attributes(client_for, manager, admin_user, retailer):
    account = BillingAccountFactory(customer=CustomerFactory(retailer=retailer))
    url = reverse("billing:account_attribute", args=[account.pk])
    assert (
        client_for(manager).post(url, {"key": "credit_limit", "value": "5000"}).status_code == 403
    )
    account.refresh_from_db()
    assert account.custom_attributes == {}  # refused: the service needs an admin
    client_for(admin_user).post(url, {"key": "credit_limit", "value": "5000"})
    account.refresh_from_db()
    assert account.custom_attributes == {"credit_limit": "5000"}
    client_for(admin_user).post(url, {"key": "credit_limit", "remove": "1"})
    account.refresh_from_db()
    assert account.custom_attributes == {}


def test_debit_memo_and_invoice_email_to_the_contact(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(retailer=retailer)
    account = BillingAccountFactory(customer=customer, contact_email="ap@acme.example")
    client = client_for(manager)
    client.post(
        reverse("billing:debit_memo", args=[account.pk]),
        {"amount": "12.50", "reason": "Late payment fee"},
    )
    memo = DebitMemo.objects.get()
    assert (memo.amount, memo.reason, memo.number.startswith("DM-")) == (
        Decimal("12.50"),
        "Late payment fee",
        True,
    )
    invoice = InvoiceFactory(order=OrderFactory(retailer=retailer, customer=customer, lines=1))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("billing:account_invoice_email", args=[account.pk, invoice.pk]))
    (email,) = mail.outbox
    assert email.to == ["ap@acme.example"] and email.attachments[0][0] == f"{invoice.number}.pdf"


def test_a_storefront_posts_a_customer_message_and_the_agent_answers_in_place(
    client_for, agent, retailer, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, ref="ACME-8")
    storefront = Client(headers={"Authorization": f"Bearer {Token.objects.create(user=agent).key}"})
    url = reverse("storefront_api:order_messages", args=[order.pk])

    response = storefront.post(
        url,
        {"subject": "Gift wrap?", "message": "Can you gift wrap it?"},
        content_type="application/json",
    )
    assert response.status_code == 201
    ticket = Ticket.objects.get(pk=response.json()["ticketId"])
    assert (ticket.subject, ticket.status) == ("Gift wrap?", "open")
    follow_up = storefront.post(
        url,
        {"ticketId": str(ticket.pk), "message": "In red please"},
        content_type="application/json",
    )
    assert follow_up.json()["ticketId"] == str(ticket.pk)
    assert (
        storefront.post(url, {"message": " "}, content_type="application/json").status_code == 400
    )

    client = client_for(agent)
    tab = client.get(reverse("orders:order_tab", args=[order.pk, "tickets"])).content.decode()
    assert "Can you gift wrap it?" in tab and "In red please" in tab
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("orders:ticket_reply", args=[order.pk, ticket.pk]),
            {"body": "Yes, red paper it is."},
        )
    ticket.refresh_from_db()
    assert ticket.status == "answered"
    assert TicketMessage.objects.filter(ticket=ticket, sender="agent", author=agent).exists()
    (email,) = mail.outbox
    assert email.to == [order.customer.email] and "Yes, red paper it is." in email.body
    assert email.subject == "Re: Gift wrap? (order ACME-8)"
    assert Activity.objects.filter(action="orders.ticket.replied", actor=agent).exists()


def test_the_storefront_cannot_write_to_another_retailers_order(agent, other_retailer):
    order = OrderFactory(retailer=other_retailer)
    storefront = Client(headers={"Authorization": f"Bearer {Token.objects.create(user=agent).key}"})
    response = storefront.post(
        reverse("storefront_api:order_messages", args=[order.pk]),
        {"message": "hi"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert not Ticket.objects.exists()


def test_the_order_page_shows_what_can_still_be_refunded(client_for, agent, retailer):
    order = OrderFactory(retailer=retailer, lines=2)
    PaymentFactory(order=order, captured=order.total, refunded=Decimal("9.90"))
    html = client_for(agent).get(order.get_absolute_url()).content.decode()
    assert 'data-testid="refundable">€90.00' in html


def test_billing_account_statuses_follow_the_state_machine():
    assert BillingAccount.TRANSITIONS[BillingAccount.Status.CLOSED] == frozenset()
