"""Billing accounts: their statuses, custom attributes, debit memos and emailed invoices."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from billing import events
from billing.models import BillingAccount, DebitMemo, Invoice
from billing.services.invoices import document_number, invoice_email
from oms import activity, bounds, locking, state
from oms.emails import email_queue
from oms.models import OutboundEmail
from oms.roles import Role, require_role

CENT = Decimal("0.01")
ATTRIBUTE_MAX = 500

ACCOUNT = state.Machine(
    transitions=lambda account: BillingAccount.TRANSITIONS,
    record=events.billing_account_status_changed,
    name=lambda account: f"Account {account.name}",
    labels=dict(BillingAccount.Status.choices),
)


@transaction.atomic
def billing_account_set_status(*, account: BillingAccount, by, status: str) -> BillingAccount:
    """Move a billing account through its statuses (managers)."""
    require_role(by, account.retailer_id, Role.MANAGER)
    state.transition(ACCOUNT, account, status, by=by)
    return account


@transaction.atomic
def billing_account_set_attribute(
    *, account: BillingAccount, by, key: str, value: str | None
) -> BillingAccount:
    """Set (or, with value None, remove) a custom attribute (admins)."""
    require_role(by, account.retailer_id, Role.ADMIN)
    key = key.strip()
    if not key or len(key) > 64:
        raise ValidationError({"key": "Give the attribute a name of at most 64 characters."})
    account = locking.lock(account)
    attributes = dict(account.custom_attributes)
    before = attributes.get(key)
    if value is None:
        attributes.pop(key, None)
    else:
        if len(value.strip()) > ATTRIBUTE_MAX or "\x00" in value:
            raise ValidationError(
                {"value": f"An attribute holds at most {ATTRIBUTE_MAX} characters of text."}
            )
        attributes[key] = value.strip()
    account.custom_attributes = attributes
    account.save(update_fields=["custom_attributes"])
    activity.record(
        action="billing.billingaccount.attribute_set",
        target=account,
        by=by,
        data={"key": key, "before": before, "after": attributes.get(key)},
    )
    return account


@transaction.atomic
def debit_memo_create(*, account: BillingAccount, by, amount, reason: str, order=None) -> DebitMemo:
    require_role(by, account.retailer_id, Role.MANAGER)
    if amount is None or not str(amount).strip():
        raise ValidationError({"amount": "Enter an amount such as 12.50."})
    try:
        amount = bounds.check_money(amount if isinstance(amount, Decimal) else str(amount))
    except ValidationError as error:
        raise ValidationError({"amount": " ".join(error.messages)}) from None
    if amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    if not reason.strip():
        raise ValidationError({"reason": "Say what the charge is for."})
    try:
        bounds.check_text(reason.strip(), DebitMemo, "reason")
    except ValidationError as error:
        raise ValidationError({"reason": " ".join(error.messages)}) from None
    if order is not None and order.retailer_id != account.retailer_id:
        raise ValidationError({"order": "That order belongs to another retailer."})
    _number_seq, number = document_number(account.retailer_id, "debit_memo", "DM-")
    memo = DebitMemo.objects.create(
        retailer_id=account.retailer_id,
        account=account,
        order=order,
        number=number,
        amount=amount,
        currency=account.retailer.currency,
        reason=reason.strip(),
    )
    activity.record(
        action="billing.debitmemo.created",
        target=memo,
        root=account,
        by=by,
        data={"number": number, "amount": str(amount), "reason": memo.reason},
    )
    return memo


@transaction.atomic
def invoice_email_to_account(*, invoice: Invoice, account: BillingAccount, by) -> OutboundEmail:
    """Email an invoice to the billing account's contact."""
    require_role(by, invoice.retailer_id, Role.AGENT)
    if account.retailer_id != invoice.retailer_id:
        raise ValidationError("That invoice belongs to another retailer.")
    if not account.contact_email:
        raise ValidationError("The billing account has no contact email.")
    subject, body = invoice_email(invoice, name=account.name)
    email = email_queue(
        retailer=account.retailer,
        to=account.contact_email,
        subject=subject,
        body=body,
        about=invoice.order,
        by=by,
        attachment=f"billing.invoice:{invoice.pk}",
    )
    events.invoice_sent(invoice, to=account.contact_email, by=by)
    return email
