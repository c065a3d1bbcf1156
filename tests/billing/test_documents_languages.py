"""Documents and customer emails in English, Dutch and German; the seller on invoices; credit
notes that read as credits; tracking on packing slips."""

import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from billing import services as billing
from billing.documents import invoices_pdf
from billing.services import invoice_email
from oms.models import Activity, OutboundEmail, Retailer
from orders import services as order_services
from orders.documents import packing_slips_pdf
from orders.models import SystemState
from orders.services.mail import render_order_email
from returns import services as returns
from returns.models import ReturnFulfilment
from tests.factories import (
    AddressFactory,
    CarrierFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    recalculate_totals,
)

pytestmark = pytest.mark.django_db

SELLER = {
    "legal_name": "Acme Outfitters B.V.",
    "street": "Keizersgracht 123",
    "postcode": "1015 CJ",
    "city": "Amsterdam",
    "country": "NL",
    "vat_number": "NL852869327B01",
    "chamber_of_commerce": "12345678",
    "iban": "NL91ABNA0417164300",
}

# English a Dutch or German customer must never read: the source strings of the documents and
# emails, the stored labels they print, country, month and day names.
ENGLISH = [
    "Invoice", "Credit note", "Date", "Order", "Credit for invoice", "refund of return",
    "Credited", "credited", "Paid", "Not paid", "VAT number", "Billed to", "Item", "SKU",
    "Quantity", "Unit price", "VAT", "Amount", "Shipping", "Total", "Delivery time",
    "Delivered within", "Thank you", "Chamber of Commerce", "Dear", "customer", "Kind regards",
    "Your order", "your order", "has been cancelled", "refunding", "payment method",
    "statement", "reserved", "released", "If you did not expect", "A message about",
    "placed on", "Reminder", "payment for", "still to pay", "Please", "on its way",
    "Good news", "warehouse", "We expect", "Track your order", "track and trace",
    "parcel", "Your return", "has arrived", "registered", "It holds", "items", "refunded",
    "records the refund", "Packing slip", "Delivery method", "Ship to", "Carrier",
    "Tracking number", "Shipped", "Packed", "Card", "Bank transfer", "Standard delivery",
    "Germany", "Netherlands", "January", "February", "March", "May", "June", "July",
    "October", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday", "Sunday", "Subject",
]  # fmt: skip


def pdf_text(content: bytes) -> str:
    """The PDF's text, its lines joined by single spaces."""
    pages = PdfReader(io.BytesIO(content)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def english_in(text: str) -> list[str]:
    return [word for word in ENGLISH if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text)]


def _seller(retailer) -> Retailer:
    Retailer.objects.filter(pk=retailer.pk).update(**SELLER)
    return Retailer.objects.get(pk=retailer.pk)


@pytest.fixture
def life(retailer, manager, django_capture_on_commit_callbacks):
    """An order of a customer abroad, shipped with a tracking number, invoiced, a jacket
    returned and refunded (with its credit note): every document and email made along the
    way, for a customer whose language the test chooses."""

    def make(language: str):
        _seller(retailer)
        customer = CustomerFactory(
            retailer=retailer, first_name="Anna", last_name="Schmidt", language=language
        )
        address = AddressFactory(
            retailer=retailer,
            customer=customer,
            name="Anna Schmidt",
            line1="Hauptstraße 5",
            postcode="10115",
            city="Berlin",
            country="DE",
        )
        order = OrderFactory(
            retailer=retailer,
            ref="ACME-5001",
            customer=customer,
            billing_address=address,
            state=SystemState.PROCESSING,
            carrier="DHL",
        )
        OrderLineFactory(
            order=order, sku="JKT", name="Jacke", quantity=2, unit_price=Decimal("121.00")
        )
        recalculate_totals(order, shipping=Decimal("4.95"))
        PaymentFactory(order=order, authorised=order.total, captured=order.total)
        CarrierFactory(retailer=retailer, name="DHL", transit_days=2)
        with django_capture_on_commit_callbacks(execute=True):
            order_services.order_mark_sent(order=order, by=manager, tracking_number="3SDHL0001")
        invoice = billing.invoice_create(order=order, by=manager)
        with django_capture_on_commit_callbacks(execute=True):
            ret = returns.return_create(
                data=returns.ReturnInput(
                    retailer_id=retailer.pk,
                    type="CUSTOMER_RETURN",
                    order=order,
                    customer=returns.CustomerInput(
                        email=customer.email, first_name="Anna", last_name="Schmidt"
                    ),
                    items=[returns.ItemInput(sku_ref="JKT", reason="DAMAGED")],
                    fulfilment_choice={"fulfilmentType": "R_RTDC"},
                ),
                by=manager,
            )
        with django_capture_on_commit_callbacks(execute=True):
            returns.return_fulfilment_move(
                fulfilment=ret.fulfilments.get(), to=ReturnFulfilment.Status.ARRIVED, by=manager
            )
        ret.refresh_from_db()
        return order, invoice, ret

    return make


def _everything(order, invoice, ret) -> dict[str, str]:
    """Every document and customer email of the order, as its customer reads it."""
    note = ret.credit_note
    texts = {
        "invoice and credit note": pdf_text(invoices_pdf([invoice, note])),
        "packing slip": pdf_text(packing_slips_pdf([order])),
    }
    for email in OutboundEmail.objects.filter(to=order.customer.email):
        texts[f"email {email.subject}"] = f"{email.subject}\n{email.body}"
    for template, context in [
        ("cancelled", {"refund": Decimal("10.00"), "release": Decimal("5.00")}),
        ("notify", {"message": "—"}),
        ("payment_reminder", {"outstanding": Decimal("10.00")}),
        ("sent", {"shipment": order.shipments.get(), "estimate": order.placed_at.date()}),
        ("ticket_reply", {"subject": "Vraag", "message": "—"}),
    ]:
        subject, body = render_order_email(order, template, context)
        texts[f"email {template}"] = f"{subject}\n{body}"
    for document in (invoice, note):
        subject, body = invoice_email(document, name="Anna")
        texts[f"email {document.number}"] = f"{subject}\n{body}"
    return texts


@pytest.mark.parametrize("language", ["nl", "de"])
def test_every_document_and_email_is_complete_in_the_customers_language(life, language):
    # given a customer who reads Dutch or German, and all that was made for them
    order, invoice, ret = life(language)
    texts = _everything(order, invoice, ret)

    # then every email of the order's life was written (sent, tracking, return x3), and none
    # of the documents or emails holds an English word
    assert len([name for name in texts if name.startswith("email")]) == 4 + 5 + 2
    assert {name: english_in(text) for name, text in texts.items() if english_in(text)} == {}


def test_the_german_invoice_and_credit_note_read_german(life):
    _, invoice, ret = life("de")
    text = pdf_text(invoices_pdf([invoice, ret.credit_note]))

    assert f"Rechnung {invoice.number}" in text
    assert f"Gutschrift {ret.credit_note.number}" in text
    assert (
        f"Gutschrift zur Rechnung {invoice.number}, Erstattung der Rücksendung {ret.return_ref}"
        in text
    )
    # the seller and the customer, countries in German
    assert "Acme Outfitters B.V." in text and "Keizersgracht 123" in text
    assert "USt-IdNr.: NL852869327B01" in text and "Niederlande" in text
    assert "Deutschland" in text and "Hauptstraße 5" in text
    assert "IBAN NL91ABNA0417164300" in text and "Handelsregister 12345678" in text
    # money in German writing, credits negative
    assert "242,00" in text and "−€121,00" in text and "Summe gutgeschrieben" in text


def test_the_english_documents_name_the_seller_and_credit_as_credits(life):
    _, invoice, ret = life("en")
    invoice_text = pdf_text(invoices_pdf([invoice]))
    note_text = pdf_text(invoices_pdf([ret.credit_note]))

    assert "VAT number: NL852869327B01" in invoice_text and "Netherlands" in invoice_text
    assert "Germany" in invoice_text and "€246.95" in invoice_text
    assert "−" not in invoice_text
    assert f"Credit for invoice {invoice.number}, refund of return {ret.return_ref}" in note_text
    assert (
        "Total credited −€121.00" in note_text and "€121.00 has been credited to you" in note_text
    )
    assert "Not paid" not in note_text


def test_the_invoices_tab_shows_a_credit_note_as_a_credit_of_its_return(life, client_for, manager):
    order, invoice, ret = life("en")
    html = client_for(manager).get(reverse("orders:order_tab", args=[order.pk, "invoices"]))
    page = html.content.decode()

    assert f"Credit for invoice {invoice.number}, refund of return" in page
    assert f'href="{ret.get_absolute_url()}">{ret.return_ref}</a>' in page
    assert "−€121.00 credited" in page


def test_the_language_is_the_customers_else_the_retailers(retailer):
    retailer.languages = ["de", "en"]
    assert billing.document_language(retailer) == "de"
    assert billing.document_language(retailer, customer=CustomerFactory(retailer=retailer)) == "de"
    dutch = CustomerFactory(retailer=retailer, language="nl")
    assert billing.document_language(retailer, customer=dutch) == "nl"
    assert billing.document_language(retailer, "en", customer=dutch) == "en"  # asked for
    french = CustomerFactory(retailer=retailer, language="fr")  # not written in French
    assert billing.document_language(retailer, customer=french) == "de"
    retailer.languages = ["fr"]
    assert billing.document_language(retailer) == "en"


def test_the_packing_slip_lists_each_shipment_with_its_carrier_and_tracking_number(life):
    order, _, _ = life("en")
    text = pdf_text(packing_slips_pdf([order]))

    assert "Carrier Tracking number Shipped" in text
    assert "DHL" in text and "3SDHL0001" in text
    assert re.search(r"JKT Jacke 3SDHL0001 2", text)


def test_an_admin_sets_the_seller_details_printed_on_invoices(
    client_for, admin_user, retailer, manager
):
    # when the admin fills in the seller form on the Invoicing settings page
    client = client_for(admin_user)
    page = client.get(reverse("billing_settings:edit")).content.decode()
    assert "The seller on invoices" in page
    response = client.post(
        reverse("billing_settings:seller"),
        {
            **SELLER,
            "retailer": retailer.pk,
            "vat_number": "nl 8528.69.327.B01",
            "country": "Netherlands",
            "iban": "NL91 ABNA 0417 1643 00",
        },
    )

    # then they are stored as written on invoices, and the change is in the activity
    assert response.status_code == 302
    retailer.refresh_from_db()
    assert {name: getattr(retailer, name) for name in SELLER} == SELLER
    entry = Activity.objects.get(action="oms.retailer.seller_changed")
    assert entry.actor == admin_user and entry.data["after"]["vat_number"] == "NL852869327B01"
    assert "Keizersgracht 123" in client.get(reverse("billing_settings:edit")).content.decode()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("vat_number", "123", "is not a VAT number"),
        ("iban", "NL91ABNA0417164301", "is not an IBAN"),
        ("country", "Atlantis", "is not a country"),
        ("city", "x" * 101, "At most 100 characters"),
    ],
)
def test_seller_details_that_do_not_fit_are_refused_and_change_nothing(
    client_for, admin_user, retailer, field, value, says
):
    client = client_for(admin_user)
    response = client.post(
        reverse("billing_settings:seller"), {**SELLER, "retailer": retailer.pk, field: value}
    )
    page = client.get(response["Location"]).content.decode()
    assert says in page
    retailer.refresh_from_db()
    assert retailer.street == "" and retailer.vat_number == ""
    assert not Activity.objects.filter(action="oms.retailer.seller_changed").exists()


def test_only_an_admin_sets_the_seller_details(client_for, manager, retailer):
    response = client_for(manager).post(
        reverse("billing_settings:seller"), {**SELLER, "retailer": retailer.pk}
    )
    assert response.status_code == 403
    retailer.refresh_from_db()
    assert retailer.vat_number == ""
