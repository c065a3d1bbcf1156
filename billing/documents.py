"""Invoice and credit note PDFs, printed in the invoice's language."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import translation
from weasyprint import HTML

from billing.models import Invoice


def invoices_pdf(invoices: list[Invoice], *, language: str | None = None) -> bytes:
    """One PDF of the invoices, each on its own pages; in `language`, or each its own."""
    pages = []
    for invoice in invoices:
        with translation.override(language or invoice.language):
            pages.append(
                render_to_string(
                    "billing/pdf/invoice_page.html",
                    {
                        "invoice": invoice,
                        "order": invoice.order,
                        "retailer": invoice.order.retailer,
                    },
                )
            )
    html = render_to_string("billing/pdf/invoices.html", {"pages": pages})
    return HTML(string=html).write_pdf()


def invoice_attachment(invoice_id: int) -> tuple[str, bytes, str]:
    """The file an invoice email carries: (filename, content, mimetype)."""
    invoice = Invoice.objects.select_related("order__retailer").get(pk=invoice_id)
    return f"{invoice.number}.pdf", invoices_pdf([invoice]), "application/pdf"
