"""Invoice and credit note PDFs, printed in the invoice's language."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_noop
from weasyprint import HTML

from billing.models import Invoice
from returns.models import Return

# Words stored in English that documents and emails for customers print in the customer's
# language (payment methods, the default delivery time, the demo's delivery methods).
PRINTED_LABELS = (
    gettext_noop("Card"),
    gettext_noop("Gift card"),
    gettext_noop("Bank transfer"),
    gettext_noop("Klarna (pay later)"),
    gettext_noop("Delivered within 1-3 working days"),
    gettext_noop("Standard delivery"),
    gettext_noop("Next-day delivery"),
    gettext_noop("Evening delivery"),
    gettext_noop("Store collection"),
    gettext_noop("Standard"),
)


def invoices_pdf(invoices: list[Invoice], *, language: str | None = None) -> bytes:
    """One PDF of the invoices, each on its own pages; in `language`, or each its own."""
    refunds = credit_note_returns(invoices)
    pages = []
    for invoice in invoices:
        retailer = invoice.order.retailer
        with (
            translation.override(language or invoice.language),
            timezone.override(retailer.time_zone),
        ):
            pages.append(
                render_to_string(
                    "billing/pdf/invoice_page.html",
                    {
                        "invoice": invoice,
                        "order": invoice.order,
                        "retailer": retailer,
                        "refund_of": refunds.get(invoice.pk),
                    },
                )
            )
    with translation.override(language or (invoices[0].language if invoices else None)):
        html = render_to_string("billing/pdf/invoices.html", {"pages": pages})
    return HTML(string=html).write_pdf()


def credit_note_returns(invoices: list[Invoice]) -> dict[int, Return]:
    """The return each of these credit notes pays out, by credit note id (one query)."""
    notes = [invoice.pk for invoice in invoices if invoice.is_credit_note]
    if not notes:
        return {}
    found = Return.objects.filter(credit_note_id__in=notes).only(
        "pk", "return_ref", "type", "credit_note_id", "retailer_id"
    )
    return {ret.credit_note_id: ret for ret in found}


def invoice_attachment(invoice_id: int) -> tuple[str, bytes, str]:
    """The file an invoice email carries: (filename, content, mimetype)."""
    invoice = Invoice.objects.select_related("order__retailer").get(pk=invoice_id)
    return f"{invoice.number}.pdf", invoices_pdf([invoice]), "application/pdf"
