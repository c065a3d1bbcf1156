"""The actions on an order page: each a POST view calling one service, then back to the page.

What went wrong (a refused move, an amount over the limit) comes back as a message on the page
and changes nothing; a user whose role does not allow the action gets a 403.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils import timezone
from django.views import View

from billing import services as billing
from billing.documents import invoices_pdf
from billing.models import Invoice
from oms import bounds, datestyle
from oms.exports import disposition
from oms.live import feed as live_feed
from oms.state import InvalidTransition
from oms.templatetags.money import format_money
from oms.views import TenantScopedMixin
from orders import forms as order_forms
from orders import services
from orders.documents import packing_slips_pdf
from orders.models import Order
from orders.selectors import order_fulfilments, order_queryset, order_shipments
from orders.views.browse import _OrderActionView

__all__ = [
    "CancelView",
    "CopyView",
    "CreditNoteView",
    "HoldClearView",
    "HoldSetView",
    "InvoiceCreateView",
    "InvoiceNumberView",
    "InvoiceResendView",
    "InvoiceUpdateView",
    "InvoicesPdfView",
    "LineQuantityView",
    "LinesCancelView",
    "MarkNotPaidView",
    "MarkPaidView",
    "MarkSentView",
    "NotifyCustomerView",
    "OperationRetryView",
    "OrderLiveView",
    "PackingSlipPdfView",
    "PaymentCaptureView",
    "PaymentRefundView",
    "PaymentReminderView",
    "PaymentVoidView",
    "PaymentsSyncView",
    "ResumeView",
    "SetStatusView",
    "ShipmentUpdateView",
    "SuspendView",
    "TicketCloseView",
    "TicketReplyView",
]


class OrderAction(_OrderActionView):
    """Validate the form, call `perform`, and go back to the order with what happened."""

    form_class: ClassVar[type[forms.Form] | None] = None
    tab = ""

    def get_form(self, order: Order) -> forms.Form | None:
        if self.form_class is None:
            return None
        return self.form_class(self.request.POST, **self.form_kwargs(order))

    def form_kwargs(self, order: Order) -> dict[str, Any]:
        return {}

    def perform(self, order: Order, data: dict[str, Any]) -> str | HttpResponse:
        raise NotImplementedError

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.get_object()
        form = self.get_form(order)
        if form is not None and not form.is_valid():
            messages.error(request, _form_errors(form))
            return self.back(order)
        try:
            outcome = self.perform(order, form.cleaned_data if form is not None else {})
        except (ValidationError, InvalidTransition) as error:
            messages.error(request, _error_text(error))
            return self.back(order)
        if isinstance(outcome, HttpResponse):
            return outcome
        messages.success(request, outcome)
        return self.back(order)

    def back(self, order: Order) -> HttpResponse:
        if self.tab:
            return redirect("orders:order_tab", pk=order.pk, tab=self.tab)
        return redirect(order)


def _form_errors(form: forms.Form) -> str:
    return " ".join(error for field_errors in form.errors.values() for error in field_errors)


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


class SetStatusView(OrderAction):
    form_class = order_forms.StatusForm

    def form_kwargs(self, order):
        return {"order": order}

    def perform(self, order, data):
        order = services.order_set_status(
            order=order, status=data["status"], by=self.request.user, reason=data["reason"]
        )
        return f"Order {order.ref} is now {order.status.label}."


class CancelView(OrderAction):
    form_class = order_forms.CancelForm

    def perform(self, order, data):
        result = services.order_cancel(
            order=order, by=self.request.user, notify=data["notify"], reason=data["reason"]
        )
        parts = [f"Order {order.ref} is cancelled."]
        if result.refund:
            parts.append(f"The captured {format_money(result.refund, order.currency)} is refunded.")
        if result.release:
            parts.append(
                f"The authorised {format_money(result.release, order.currency)} is released."
            )
        parts.append("The customer is emailed." if data["notify"] else "No email was sent.")
        return " ".join(parts)


class SuspendView(OrderAction):
    form_class = order_forms.ReasonForm

    def perform(self, order, data):
        services.order_suspend(order=order, by=self.request.user, reason=data["reason"])
        return f"Order {order.ref} is suspended."


class ResumeView(OrderAction):
    def perform(self, order, data):
        order = services.order_resume(order=order, by=self.request.user)
        return f"Order {order.ref} is resumed: {order.status.label}."


class CopyView(OrderAction):
    form_class = order_forms.ConfirmForm

    def perform(self, order, data):
        copy = services.order_copy(order=order, by=self.request.user)
        messages.success(self.request, f"Order {copy.ref} is a new copy of {order.ref}.")
        return redirect(copy)


class MarkPaidView(OrderAction):
    def perform(self, order, data):
        services.order_mark_paid(order=order, by=self.request.user)
        return f"Order {order.ref} is marked paid."


class MarkNotPaidView(OrderAction):
    def perform(self, order, data):
        services.order_mark_not_paid(order=order, by=self.request.user)
        return f"Order {order.ref} is marked not paid."


class HoldSetView(OrderAction):
    form_class = order_forms.HoldForm

    def perform(self, order, data):
        services.order_hold_set(
            order=order, flag=data["flag"], by=self.request.user, reason=data["reason"]
        )
        return f"Order {order.ref} is on hold."


class HoldClearView(OrderAction):
    form_class = order_forms.HoldForm

    def perform(self, order, data):
        services.order_hold_clear(
            order=order, flag=data["flag"], by=self.request.user, reason=data["reason"]
        )
        return "The hold is cleared."


class InvoiceNumberView(OrderAction):
    form_class = order_forms.InvoiceNumberForm

    def perform(self, order, data):
        services.order_invoice_number_set(
            order=order, by=self.request.user, invoice_number=data["invoice_number"]
        )
        return "Invoice number saved."


class _PaymentAction(OrderAction):
    tab = "transactions"

    def payment(self, order):
        payment = order.payments.filter(pk=self.kwargs["payment_pk"]).first()
        if payment is None:
            raise Http404("No such payment on this order.")
        return payment


class PaymentCaptureView(_PaymentAction):
    form_class = order_forms.AmountForm

    def perform(self, order, data):
        payment = self.payment(order)
        services.order_payment_capture(payment=payment, amount=data["amount"], by=self.request.user)
        return f"Capture of {format_money(data['amount'], payment.currency)} requested."


class PaymentRefundView(_PaymentAction):
    form_class = order_forms.AmountForm

    def perform(self, order, data):
        payment = self.payment(order)
        services.order_payment_refund(payment=payment, amount=data["amount"], by=self.request.user)
        return f"Refund of {format_money(data['amount'], payment.currency)} requested."


class PaymentVoidView(_PaymentAction):
    form_class = order_forms.ConfirmForm

    def perform(self, order, data):
        operation = services.order_payment_release(
            payment=self.payment(order), by=self.request.user
        )
        return f"Release of {format_money(operation.amount, operation.payment.currency)} requested."


class PaymentsSyncView(OrderAction):
    tab = "transactions"

    def perform(self, order, data):
        changed = services.order_payments_sync(order=order, by=self.request.user)
        if not changed:
            return "Payments are in step with the gateway."
        return f"{len(changed)} payment(s) updated from the gateway."


class OperationRetryView(OrderAction):
    form_class = order_forms.ConfirmForm
    tab = "transactions"

    def perform(self, order, data):
        operation = order.transactions.filter(pk=self.kwargs["transaction_pk"]).first()
        if operation is None:
            raise Http404("No such payment operation on this order.")
        services.order_payment_retry(operation=operation, by=self.request.user)
        return f"The {operation.get_kind_display().lower()} is being tried again."


class LinesCancelView(OrderAction):
    """Cancel items that cannot be fulfilled; what was paid for them goes back through a
    CANNOT_FULFIL return."""

    form_class = order_forms.LinesCancelForm
    tab = "returns"

    def form_kwargs(self, order):
        return {"order": order}

    def perform(self, order, data):
        ret = services.order_lines_cancel(
            order=order, line_ids=[line.pk for line in data["lines"]], by=self.request.user
        )
        if ret is None:
            return f"{len(data['lines'])} item(s) cancelled; nothing had been paid for them."
        return f"{len(data['lines'])} item(s) cancelled; return {ret.return_ref} refunds them."


class LineQuantityView(OrderAction):
    form_class = order_forms.QuantityForm
    tab = "items"

    def perform(self, order, data):
        line = services.order_line_correct_quantity(
            order=order,
            line_id=self.kwargs["line_pk"],
            quantity=data["quantity"],
            by=self.request.user,
        )
        return f"Quantity of {line.sku} is now {line.quantity}."


class _TicketAction(OrderAction):
    tab = "tickets"
    # an answer depends on the messages before it: a new one since the page makes it stale
    live_touches = live_feed.TICKET

    def ticket(self, order):
        ticket = order.tickets.filter(pk=self.kwargs["ticket_pk"]).first()
        if ticket is None:
            raise Http404("No such ticket on this order.")
        return ticket


class TicketReplyView(_TicketAction):
    form_class = order_forms.TicketReplyForm

    def perform(self, order, data):
        services.ticket_reply(ticket=self.ticket(order), by=self.request.user, body=data["body"])
        return "Answer sent to the customer."


class TicketCloseView(_TicketAction):
    def perform(self, order, data):
        services.ticket_close(ticket=self.ticket(order), by=self.request.user)
        return "Ticket closed."


class ShipmentUpdateView(OrderAction):
    form_class = order_forms.ShipmentUpdateForm
    tab = "items"

    def form_kwargs(self, order):
        return {"order": order}

    def perform(self, order, data):
        lines = services.order_lines_update_shipment(
            order=order,
            line_ids=[line.pk for line in data["lines"]],
            by=self.request.user,
            shipment_status=data["shipment_status"] or None,
            shipping_method=data["shipping_method"] or None,
            tracking_number=data["tracking_number"] or None,
        )
        return f"Shipment of {len(lines)} item(s) updated."


class MarkSentView(OrderAction):
    form_class = order_forms.MarkSentForm
    tab = "shipments"

    def perform(self, order, data):
        shipment = services.order_mark_sent(
            order=order,
            by=self.request.user,
            tracking_number=data["tracking_number"],
            carrier=data["carrier"],
        )
        if shipment.tracking_number:
            return f"Marked sent; the customer gets tracking {shipment.tracking_number}."
        return "Marked sent; the customer is emailed."


class NotifyCustomerView(OrderAction):
    form_class = order_forms.NotifyForm
    tab = "activity"

    def perform(self, order, data):
        email = services.order_notify_customer(
            order=order, by=self.request.user, message=data["message"]
        )
        return f"Message to {email.to} queued."


class PaymentReminderView(OrderAction):
    form_class = order_forms.ConfirmForm
    tab = "activity"

    def perform(self, order, data):
        email = services.order_payment_reminder(order=order, by=self.request.user)
        return f"Payment reminder to {email.to} queued."


class _InvoiceAction(OrderAction):
    tab = "invoices"

    def invoice(self, order) -> Invoice:
        invoice = order.invoices.filter(pk=self.kwargs["invoice_pk"]).first()
        if invoice is None:
            raise Http404("No such invoice on this order.")
        return invoice


class InvoiceCreateView(_InvoiceAction):
    form_class = order_forms.InvoiceCreateForm

    def perform(self, order, data):
        invoice = billing.invoice_create(
            order=order, by=self.request.user, language=data["language"] or None
        )
        return f"Invoice {invoice.number} created."


class InvoiceUpdateView(_InvoiceAction):
    form_class = order_forms.InvoiceUpdateForm

    def perform(self, order, data):
        invoice = billing.invoice_update(
            invoice=self.invoice(order),
            by=self.request.user,
            status=data["status"],
            delivery_time=data["delivery_time"],
        )
        return f"Invoice {invoice.number} saved."


class InvoiceResendView(_InvoiceAction):
    form_class = order_forms.ConfirmForm

    def perform(self, order, data):
        email = billing.invoice_resend(invoice=self.invoice(order), by=self.request.user)
        return f"Invoice emailed to {email.to}."


class CreditNoteView(_InvoiceAction):
    def perform(self, order, data):
        invoice = self.invoice(order)
        quantities, errors = {}, []
        for line in invoice.lines:
            raw = self.request.POST.get(f"qty_{line['line_id']}", "0").strip() or "0"
            count = bounds.parse_int(raw)  # how many may still be credited, the service says
            if count is None:
                errors.append(f"{line['sku']}: enter a whole number.")
            quantities[line["line_id"]] = count or 0
        if errors:
            raise ValidationError(errors)
        note = billing.credit_note_create(
            invoice=invoice,
            by=self.request.user,
            quantities=quantities,
            include_shipping=self.request.POST.get("include_shipping") == "on",
        )
        return f"Credit note {note.number} created."


class _OrderDocumentView(TenantScopedMixin, View):
    """A PDF about one order of the user's retailers."""

    model = Order

    def scope_queryset(self, queryset):
        return order_queryset(queryset)

    def order(self) -> Order:
        order = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if order is None:
            raise Http404("No such order.")
        return order

    @staticmethod
    def pdf(content: bytes, filename: str) -> HttpResponse:
        return HttpResponse(
            content,
            content_type="application/pdf",
            headers={"Content-Disposition": disposition(filename, inline=True)},
        )


class InvoicesPdfView(_OrderDocumentView):
    """All the order's invoices and credit notes in one PDF ("print invoices"), or one of them."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.order()
        invoices = list(order.invoices.select_related("credits"))
        if "invoice_pk" in kwargs:
            invoices = [i for i in invoices if i.pk == kwargs["invoice_pk"]]
        if not invoices:
            raise Http404("This order has no invoices yet.")
        language = request.GET.get("language") or None
        if language is not None:
            language = billing.document_language(order.retailer, language)
        name = invoices[0].number if len(invoices) == 1 else f"invoices-{order.ref}"
        return self.pdf(invoices_pdf(invoices, language=language), f"{name}.pdf")


class PackingSlipPdfView(_OrderDocumentView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.order()
        content = packing_slips_pdf([order], language=request.GET.get("language") or None)
        return self.pdf(content, f"packing-slip-{order.ref}.pdf")


class OrderLiveView(_OrderDocumentView):
    """The order's fulfilments and shipments, polled by the order page to stay current."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.order()
        fulfilments = order_fulfilments(order)
        with datestyle.shown_for(order.retailer):
            html = render_to_string(
                "orders/_live.html",
                {
                    "order": order,
                    "fulfilments": fulfilments,
                    "shipments": order_shipments(order),
                    "refreshed_at": timezone.localtime(),
                },
                request=request,
            )
        return HttpResponse(html)
