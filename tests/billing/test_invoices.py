import io
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from pypdf import PdfReader

from billing import services
from billing.models import BillingSettings, Invoice
from oms.state import InvalidTransition
from orders import services as order_services
from orders.models import SystemState
from tests.factories import OrderFactory, OrderLineFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def order(retailer):
    order = OrderFactory(retailer=retailer, ref="ACME-900", state=SystemState.PROCESSING)
    OrderLineFactory(
        order=order, sku="JKT-M", name="Shell jacket", quantity=2, unit_price=Decimal("100.00")
    )
    OrderLineFactory(
        order=order,
        sku="SOCK",
        name="Wool socks",
        unit_price=Decimal("10.90"),
        tax_rate=Decimal("9.00"),
    )
    from tests.factories import recalculate_totals

    return recalculate_totals(order, shipping=Decimal("4.95"))


def test_an_order_is_invoiced_when_it_is_paid_by_default(manager, order):
    order_services.order_mark_paid(order=order, by=manager)
    invoice = Invoice.objects.get(order=order)
    assert invoice.status == Invoice.Status.PAID
    assert invoice.total == Decimal("215.85")
    assert [line["sku"] for line in invoice.lines] == ["JKT-M", "SOCK"]
    order.refresh_from_db()
    assert order.invoice_number == invoice.number


def test_a_retailer_that_invoices_by_hand_gets_no_automatic_invoice(manager, order):
    BillingSettings.objects.create(retailer=order.retailer, invoice_trigger="manual")
    order_services.order_mark_paid(order=order, by=manager)
    assert not Invoice.objects.exists()
    services.invoice_create(order=order, by=manager)
    assert Invoice.objects.count() == 1


def test_invoicing_on_placing(order):
    BillingSettings.objects.create(retailer=order.retailer, invoice_trigger="placed")
    invoice = services.invoices_on_placed(order=order)
    assert invoice.status == Invoice.Status.NOT_PAID


def test_numbers_are_sequential_per_retailer_and_never_reused(manager, retailer, other_retailer):
    from tests.factories import MembershipFactory

    MembershipFactory(user=manager, retailer=other_retailer, role="manager")
    numbers = []
    for owner in (retailer, retailer, other_retailer, retailer):
        numbers.append(
            services.invoice_create(order=OrderFactory(retailer=owner, lines=1), by=manager).number
        )
    year = numbers[0].split("-")[1]
    assert numbers == [
        f"INV-{year}-00001",
        f"INV-{year}-00002",
        f"INV-{year}-00001",
        f"INV-{year}-00003",
    ]
    # a credited and re-invoiced order takes the next number, never an old one
    first = Invoice.objects.get(number=numbers[0], retailer=retailer)
    services.credit_note_create(invoice=first, by=manager)
    again = services.invoice_create(order=first.order, by=manager)
    assert again.number == f"INV-{year}-00004"


def test_an_order_is_not_invoiced_twice(manager, order):
    services.invoice_create(order=order, by=manager)
    with pytest.raises(InvalidTransition, match="invoiced already"):
        services.invoice_create(order=order, by=manager)


def test_the_invoice_pdf_in_dutch(client_for, manager, order):
    invoice = services.invoice_create(order=order, by=manager, language="nl")
    response = client_for(manager).get(reverse("orders:invoice_pdf", args=[order.pk, invoice.pk]))
    text = pdf_text(response.content)
    assert f"Factuur {invoice.number}" in text
    assert "Shell jacket" in text and "Btw" in text and "Totaal" in text
    assert "€215,85" in text  # Dutch writes a decimal comma


def test_print_invoices_gives_one_pdf_of_all_of_them_in_the_chosen_language(
    client_for, manager, order
):
    invoice = services.invoice_create(order=order, by=manager, language="nl")
    note = services.credit_note_create(
        invoice=invoice, by=manager, quantities={invoice.lines[1]["line_id"]: 1}
    )
    response = client_for(manager).get(
        reverse("orders:invoices_pdf", args=[order.pk]), {"language": "en"}
    )
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 2
    text = pdf_text(response.content)
    assert f"Invoice {invoice.number}" in text and f"Credit note {note.number}" in text
    assert "Total credited" in text and "€10.90" in text


def test_credit_notes_never_credit_more_than_was_invoiced(manager, order):
    invoice = services.invoice_create(order=order, by=manager)
    jacket = invoice.lines[0]["line_id"]
    note = services.credit_note_create(invoice=invoice, by=manager, quantities={jacket: 1})
    assert note.total == Decimal("100.00") and note.credits == invoice
    with pytest.raises(ValidationError, match="at most 1 can still be credited"):
        services.credit_note_create(invoice=invoice, by=manager, quantities={jacket: 2})
    rest = services.credit_note_create(invoice=invoice, by=manager)  # everything that is left
    assert rest.total == Decimal("115.85")  # one jacket, the socks and the shipping
    with pytest.raises(ValidationError, match="Nothing is left to credit"):
        services.credit_note_create(invoice=invoice, by=manager)


def test_cancelling_every_unpaid_item_credits_the_invoice_and_its_shipping(manager, order):
    invoice = services.invoice_create(order=order, by=manager)
    jacket, socks = (line["line_id"] for line in invoice.lines)
    services.credit_note_create(invoice=invoice, by=manager, quantities={jacket: 1})

    order_services.order_lines_cancel(order=order, line_ids=[socks], units={socks: 1}, by=manager)
    partly = Invoice.objects.filter(credits=invoice).order_by("pk").last()
    assert partly.total == Decimal("10.90") and partly.shipping == 0  # the jacket still ships

    order_services.order_lines_cancel(order=order, line_ids=[jacket], units={jacket: 2}, by=manager)
    notes = Invoice.objects.filter(credits=invoice).order_by("pk")
    assert [note.total for note in notes] == [
        Decimal("100.00"),  # the credit note by hand
        Decimal("10.90"),  # the socks
        Decimal("104.95"),  # the jacket not credited yet, and the shipping: nothing ships
    ]
    assert sum(note.total for note in notes) == invoice.total
    assert services.open_invoice(order) is None


def test_invoice_status_and_delivery_time_are_set_by_hand(client_for, manager, order):
    invoice = services.invoice_create(order=order, by=manager)
    client_for(manager).post(
        reverse("orders:invoice_update", args=[order.pk, invoice.pk]),
        {"status": "paid", "delivery_time": "Ships in 2 weeks"},
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.delivery_time) == ("paid", "Ships in 2 weeks")


def test_resending_emails_the_invoice_as_a_pdf(
    client_for, agent, manager, order, django_capture_on_commit_callbacks
):
    invoice = services.invoice_create(order=order, by=manager)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(agent).post(
            reverse("orders:invoice_resend", args=[order.pk, invoice.pk]), {"confirm": "yes"}
        )
    (email,) = mail.outbox
    assert email.to == [order.customer.email]
    assert email.subject == f"Invoice {invoice.number} for your order ACME-900"
    ((filename, content, mimetype),) = email.attachments
    assert (filename, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    assert f"Invoice {invoice.number}" in pdf_text(content)
    invoice.refresh_from_db()
    assert invoice.sent_at is not None


def test_a_capture_that_pays_the_order_invoices_it(
    manager, order, django_capture_on_commit_callbacks
):
    payment = PaymentFactory(order=order, authorised=order.total)
    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_payment_capture(payment=payment, amount=order.total, by=manager)
    assert Invoice.objects.get(order=order).status == Invoice.Status.PAID


def test_invoices_tab_lists_invoices_and_credit_notes(client_for, manager, order):
    invoice = services.invoice_create(order=order, by=manager)
    services.credit_note_create(invoice=invoice, by=manager)
    html = (
        client_for(manager)
        .get(reverse("orders:order_tab", args=[order.pk, "invoices"]))
        .content.decode()
    )
    assert f"Invoice {invoice.number}" in html
    assert f"Credit for invoice {invoice.number}" in html
    assert "Print invoices (PDF)" in html
