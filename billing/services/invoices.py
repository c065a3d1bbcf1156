"""Invoices and credit notes of orders."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing import events, ledger
from billing.ledger import share
from billing.models import INVOICE_LANGUAGES, BillingSettings, DocumentSequence, Invoice
from oms import activity, bounds, locking, state
from oms.emails import email_queue, email_render
from oms.models import OutboundEmail, Retailer
from oms.roles import Role, require_role

CENT = Decimal("0.01")


def billing_settings(retailer_id: int) -> BillingSettings:
    found, _ = BillingSettings.objects.get_or_create(retailer_id=retailer_id)
    return found


def document_language(retailer, wanted: str | None = None, *, customer=None) -> str:
    """The language of a document or email for a customer: `wanted` when documents can be
    written in it, else the customer's own language, else the retailer's first such language,
    else English."""
    supported = [code for code, _ in INVOICE_LANGUAGES]
    for code in (wanted, getattr(customer, "language", "")):
        if code in supported:
            return code
    return next((code for code in retailer.languages or [] if code in supported), "en")


def document_number(retailer_id: int, kind: str, prefix: str) -> tuple[int, str]:
    """The next number of the retailer's documents of `kind`, never used before or again."""
    sequence, _ = DocumentSequence.objects.get_or_create(retailer_id=retailer_id, kind=kind)
    sequence = locking.lock(sequence)
    number = sequence.next_number
    sequence.next_number = number + 1
    sequence.save(update_fields=["next_number"])
    return number, f"{prefix}{timezone.localdate().year}-{number:05d}"


def _line_snapshot(line) -> dict:
    """The line as invoiced: the units not cancelled, at their share of its amounts."""
    return {
        "line_id": line.pk,
        "sku": line.sku,
        "name": line.name,
        "quantity": line.quantity - line.cancelled,
        "unit_price": str(line.unit_price),
        "discount": str(line.discount - ledger.cancelled_share(line, line.discount)),
        "tax_rate": str(line.tax_rate),
        "tax": str(line.tax - ledger.cancelled_share(line, line.tax)),
        "total": str(line.total - ledger.cancelled_share(line, line.total)),
    }


def open_invoice(order) -> Invoice | None:
    """The order's invoice that is not fully credited, if any."""
    invoices = (
        order.invoices.filter(kind=Invoice.Kind.INVOICE)
        .annotate(credited=Sum("credit_notes__total"))
        .order_by("-pk")
    )
    for invoice in invoices:
        if (invoice.credited or Decimal(0)) < invoice.total:
            return invoice
    return None


def _create_invoice(order, *, by, language: str | None) -> Invoice:
    order = locking.lock(order, related=("retailer", "customer", "billing_address"))
    if open_invoice(order) is not None:
        raise state.InvalidTransition(
            f"Order {order.ref} is invoiced already; credit that invoice before invoicing again."
        )
    lines = list(order.lines.all())
    if all(line.cancelled >= line.quantity for line in lines):
        raise state.InvalidTransition(
            f"Every item of order {order.ref} is cancelled: there is nothing to invoice."
        )
    config = billing_settings(order.retailer_id)
    sequence_number, number = document_number(
        order.retailer_id, Invoice.Kind.INVOICE, config.invoice_prefix
    )
    address = order.billing_address
    invoice = Invoice.objects.create(
        retailer_id=order.retailer_id,
        order=order,
        kind=Invoice.Kind.INVOICE,
        number=number,
        sequence_number=sequence_number,
        status=Invoice.Status.PAID if order.is_paid else Invoice.Status.NOT_PAID,
        language=document_language(order.retailer, language, customer=order.customer),
        delivery_time=config.default_delivery_time,
        currency=order.currency,
        # cancelled units are not invoiced
        lines=[_line_snapshot(line) for line in lines if line.quantity > line.cancelled],
        shipping=order.shipping,
        tax=order.tax
        - sum((ledger.cancelled_share(line, line.tax) for line in lines), ledger.ZERO),
        total=ledger.worth_kept(order),
        billing_name=address.name
        if address
        else (order.customer.full_name if order.customer else ""),
        billing_address=address.lines[1:] if address else [],
    )
    if not order.invoice_number:
        order.invoice_number = number
        order.save(update_fields=["invoice_number"])
    events.invoice_created(invoice, by=by)
    return invoice


@transaction.atomic
def invoice_create(*, order, by, language: str | None = None) -> Invoice:
    """Invoice the order by hand."""
    require_role(by, order.retailer_id, Role.MANAGER)
    return _create_invoice(order, by=by, language=language)


@transaction.atomic
def invoices_on_placed(*, order) -> Invoice | None:
    """Invoice a new order when the retailer invoices on placing."""
    if billing_settings(order.retailer_id).invoice_trigger != BillingSettings.Trigger.PLACED:
        return None
    return _create_invoice(order, by=None, language=None)


def invoices_on_paid(*, order, by) -> Invoice | None:
    """The order is paid: mark its invoices paid, and invoice it when the retailer does so then.

    Called inside the paying service's transaction.
    """
    order.invoices.filter(kind=Invoice.Kind.INVOICE, status=Invoice.Status.NOT_PAID).update(
        status=Invoice.Status.PAID
    )
    if billing_settings(order.retailer_id).invoice_trigger != BillingSettings.Trigger.PAID:
        return None
    if open_invoice(order) is not None:
        return None
    return _create_invoice(order, by=by, language=None)


@transaction.atomic
def invoice_update(
    *, invoice: Invoice, by, status: str | None = None, delivery_time: str | None = None
) -> Invoice:
    """Set an invoice paid or not paid, and the delivery time printed on it."""
    require_role(by, invoice.retailer_id, Role.MANAGER)
    invoice = locking.lock(invoice)
    changes = {}
    if status is not None:
        if status not in Invoice.Status.values:
            raise ValidationError({"status": f"Unknown invoice status {status!r}."})
        changes["status"] = status
    if delivery_time is not None:
        changes["delivery_time"] = delivery_time.strip()[:200]
    changes = {k: v for k, v in changes.items() if getattr(invoice, k) != v}
    if not changes:
        return invoice
    before = {k: getattr(invoice, k) for k in changes}
    for field, value in changes.items():
        setattr(invoice, field, value)
    invoice.save(update_fields=list(changes))
    events.invoice_updated(invoice, before=before, by=by)
    return invoice


def invoice_email(invoice: Invoice, *, name: str) -> tuple[str, str]:
    """Subject and body of the email that carries an invoice or credit note, in the invoice's
    language, greeting `name`."""
    order = invoice.order
    return email_render(
        "emails/billing/invoice.txt",
        {"invoice": invoice, "order": order, "retailer": order.retailer, "name": name},
        language=invoice.language,
        time_zone=order.retailer.time_zone,
    )


@transaction.atomic
def invoice_resend(*, invoice: Invoice, by) -> OutboundEmail:
    """Email the invoice (as a PDF attachment) to the order's customer again."""
    require_role(by, invoice.retailer_id, Role.AGENT)
    order = invoice.order
    if order.customer is None or not order.customer.email:
        raise ValidationError("This order has no customer email address to write to.")
    subject, body = invoice_email(invoice, name=order.customer.first_name)
    email = email_queue(
        retailer=order.retailer,
        to=order.customer.email,
        subject=subject,
        body=body,
        about=order,
        by=by,
        attachment=f"billing.invoice:{invoice.pk}",
    )
    Invoice.objects.filter(pk=invoice.pk).update(sent_at=timezone.now())
    events.invoice_sent(invoice, to=order.customer.email, by=by)
    return email


@transaction.atomic
def credit_note_create(
    *,
    invoice: Invoice,
    by,
    quantities: dict[int, int] | None = None,
    include_shipping: bool = False,
) -> Invoice:
    """A credit note against an invoice: for the given quantity of each invoiced line (all of
    them when none are given), never more than is left to credit."""
    require_role(by, invoice.retailer_id, Role.MANAGER)
    return _credit_note(invoice, by=by, quantities=quantities, include_shipping=include_shipping)


def credit_note_for_refund(
    *, order, quantities: dict[int, int], include_shipping: bool, by
) -> Invoice | None:
    """Credit what a refund gave back (units of the order's lines, and its shipping), against
    the order's invoice when it has one, as far as that invoice still allows. Called inside the
    refunding service's transaction."""
    invoice = open_invoice(order)
    if invoice is None:
        return None
    already = _credited_quantities(invoice)
    left = {
        line["line_id"]: line["quantity"] - already.get(line["line_id"], 0)
        for line in invoice.lines
    }
    credit = {
        line_id: min(count, left[line_id])
        for line_id, count in quantities.items()
        if line_id in left and min(count, left[line_id]) > 0
    }
    if not credit and not include_shipping:
        return None
    try:
        return _credit_note(invoice, by=by, quantities=credit, include_shipping=include_shipping)
    except ValidationError:
        return None  # nothing left to credit on that invoice


def _credit_note(invoice: Invoice, *, by, quantities, include_shipping: bool) -> Invoice:
    invoice = locking.lock(invoice, related=("order",))
    if invoice.is_credit_note:
        raise ValidationError("A credit note cannot be credited.")
    already = _credited_quantities(invoice)
    lines = []
    for line in invoice.lines:
        credited = already.get(line["line_id"], 0)
        left = line["quantity"] - credited
        wanted = left if quantities is None else quantities.get(line["line_id"], 0)
        if wanted < 0 or wanted > left:
            raise ValidationError(
                {"quantities": f"{line['sku']}: at most {left} can still be credited."}
            )
        if wanted:
            lines.append(_credited_line(line, credited, wanted))
    shipping_left = invoice.shipping - sum(
        (note.shipping for note in invoice.credit_notes.all()), Decimal(0)
    )
    shipping = shipping_left if include_shipping or quantities is None else Decimal("0.00")
    if not lines and not shipping:
        raise ValidationError("Nothing is left to credit on this invoice.")
    config = billing_settings(invoice.retailer_id)
    sequence_number, number = document_number(
        invoice.retailer_id, Invoice.Kind.CREDIT_NOTE, config.credit_note_prefix
    )
    note = Invoice.objects.create(
        retailer_id=invoice.retailer_id,
        order=invoice.order,
        kind=Invoice.Kind.CREDIT_NOTE,
        number=number,
        sequence_number=sequence_number,
        credits=invoice,
        status=Invoice.Status.NOT_PAID,
        language=invoice.language,
        currency=invoice.currency,
        lines=lines,
        shipping=shipping,
        tax=sum((Decimal(line["tax"]) for line in lines), Decimal(0)),
        total=sum((Decimal(line["total"]) for line in lines), Decimal(0)) + shipping,
        billing_name=invoice.billing_name,
        billing_address=invoice.billing_address,
    )
    events.credit_note_created(note, by=by)
    return note


def _credited_quantities(invoice: Invoice) -> dict[int, int]:
    credited: dict[int, int] = {}
    for note in invoice.credit_notes.all():
        for line in note.lines:
            credited[line["line_id"]] = credited.get(line["line_id"], 0) + line["quantity"]
    return credited


def _credited_line(line: dict, credited: int, quantity: int) -> dict:
    """`quantity` more units of an invoiced line, after `credited` were credited already: each
    amount by `ledger.share`, so the last unit credits what is left, to the cent."""
    count = line["quantity"]
    total = share(Decimal(line["total"]), count, credited, quantity)
    tax = share(Decimal(line["tax"]), count, credited, quantity)
    discount = share(Decimal(line["discount"]), count, credited, quantity)
    return line | {
        "quantity": quantity,
        "total": str(total),
        "tax": str(tax),
        "discount": str(discount),
    }


@transaction.atomic
def billing_settings_update(*, retailer_id: int, by, **values) -> BillingSettings:
    """Change how the retailer invoices: when, with which prefixes, which delivery time."""
    require_role(by, retailer_id, Role.ADMIN)
    config = locking.lock(billing_settings(retailer_id))
    if values.get("invoice_trigger") not in BillingSettings.Trigger.values:
        raise ValidationError({"invoice_trigger": "Choose when invoices are made."})
    shipping = values.get("return_shipping", config.return_shipping)
    if shipping not in BillingSettings.ReturnShipping.values:
        raise ValidationError({"return_shipping": "Choose when a return refunds the shipping."})
    before = {field: getattr(config, field) for field in values}
    for field, value in values.items():
        setattr(config, field, value.strip() if isinstance(value, str) else value)
    config.save(update_fields=list(values))
    activity.record(
        action="billing.billingsettings.updated",
        target=config,
        by=by,
        data={"before": before, "after": {f: getattr(config, f) for f in values}},
    )
    return config


# What an admin sets of the seller that invoices name, and how each value is checked.
SELLER_FIELDS = (
    "legal_name",
    "street",
    "postcode",
    "city",
    "country",
    "vat_number",
    "chamber_of_commerce",
    "iban",
)
activity.describe_as("oms.retailer.seller_changed", "Seller details for invoices changed: {fields}")
_SELLER_CHECKS = {
    "country": bounds.country_code,
    "vat_number": bounds.check_vat_number,
    "iban": bounds.check_iban,
}


@transaction.atomic
def retailer_seller_update(*, retailer_id: int, by, **values: str) -> Retailer:
    """Set the seller's details invoices print in their header and footer (admins): legal name,
    address, VAT number, chamber of commerce number and IBAN. An empty value leaves a detail
    off; a value that does not fit is refused with its field named, and nothing changes."""
    require_role(by, retailer_id, Role.ADMIN)
    unknown = set(values) - set(SELLER_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown seller details: {', '.join(sorted(unknown))}.")
    cleaned, errors = {}, {}
    for name, value in values.items():
        text = " ".join(str(value or "").split())
        try:
            if text and name in _SELLER_CHECKS:
                text = _SELLER_CHECKS[name](text)
            cleaned[name] = bounds.check_text(text, Retailer, name)
        except ValidationError as error:
            errors[name] = " ".join(error.messages)
    if errors:
        raise ValidationError(errors)
    retailer = Retailer.objects.get(pk=retailer_id)
    changed = {name: text for name, text in cleaned.items() if getattr(retailer, name) != text}
    if not changed:
        return retailer
    before = {name: getattr(retailer, name) for name in changed}
    # one row, written in one statement: the retailer row is not taken under a lock
    Retailer.objects.filter(pk=retailer_id).update(**changed)
    for name, text in changed.items():
        setattr(retailer, name, text)
    activity.record(
        action="oms.retailer.seller_changed",
        target=retailer,
        by=by,
        data={"before": before, "after": changed, "fields": ", ".join(changed)},
    )
    return retailer
