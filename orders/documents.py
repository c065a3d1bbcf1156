"""Packing slips: one PDF of one or several orders, each in its customer's language."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone, translation
from weasyprint import HTML

from billing.services import document_language
from orders.models import Order


def packing_slip_html(order: Order, *, language: str | None = None) -> str:
    """The packing slip of the order: its lines and the shipments that carry them (carrier and
    tracking number), in `language` or else the customer's, in the retailer's time zone."""
    language = document_language(order.retailer, language, customer=order.customer)
    with translation.override(language), timezone.override(order.retailer.time_zone):
        return render_to_string(
            "orders/pdf/packing_slip.html",
            {
                "order": order,
                "lines": list(order.lines.all()),
                "shipments": list(order.shipments.exclude(tracking_number="", carrier="")[:50]),
            },
        )


def packing_slips_pdf(orders: list[Order], *, language: str | None = None) -> bytes:
    """One PDF of the orders' packing slips, each starting on a page of its own."""
    documents = [
        HTML(string=packing_slip_html(order, language=language)).render() for order in orders
    ]
    first = documents[0]
    return first.copy([page for document in documents for page in document.pages]).write_pdf()
