"""Emails to the customer about an order, from templates under templates/emails/orders/."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from billing import ledger
from billing.services import document_language
from oms import bounds
from oms.emails import email_queue, email_render
from oms.models import OutboundEmail
from oms.roles import Role, require_role
from orders import events
from orders.models import AWAITING_PAYMENT, Order


def render_order_email(order: Order, template: str, context: dict | None = None) -> tuple[str, str]:
    """Subject and body of `templates/emails/orders/<template>.txt` (first line: Subject: ...),
    in the customer's language (else the retailer's)."""
    return email_render(
        f"emails/orders/{template}.txt",
        {"order": order, "customer": order.customer, "retailer": order.retailer, **(context or {})},
        language=document_language(order.retailer, customer=order.customer),
        time_zone=order.retailer.time_zone,
    )


def queue_order_email(
    order: Order, template: str, *, by, context: dict | None = None, required: bool = True
) -> OutboundEmail | None:
    """Queue one of the order emails to the order's customer, in the caller's transaction.

    Without a customer email address: an error when the email is the point of the action,
    otherwise nothing is sent and Activity says so.
    """
    if order.customer is None or not order.customer.email:
        if required:
            raise ValidationError("This order has no customer email address to write to.")
        events.email_skipped(order, template=template, by=by)
        return None
    try:
        bounds.check_email(order.customer.email)
    except ValidationError as error:
        if required:
            raise ValidationError(
                f"The customer's email address cannot be written to: {' '.join(error.messages)}"
            ) from None
        events.email_skipped(order, template=template, by=by)
        return None
    subject, body = render_order_email(order, template, context)
    return email_queue(
        retailer=order.retailer,
        to=order.customer.email,
        subject=subject,
        body=body,
        about=order,
        by=by,
    )


@transaction.atomic
def order_notify_customer(*, order: Order, by, message: str) -> OutboundEmail:
    """Send the customer the 'notify customer' email with the agent's own text in it."""
    require_role(by, order.retailer_id, Role.AGENT)
    message = message.strip()
    if not message:
        raise ValidationError({"message": "Write the message to the customer."})
    email = queue_order_email(order, "notify", by=by, context={"message": message})
    events.customer_notified(order, message=message, by=by)
    return email


@transaction.atomic
def order_payment_reminder(*, order: Order, by) -> OutboundEmail:
    """Remind the customer that the order is not paid yet."""
    require_role(by, order.retailer_id, Role.AGENT)
    if order.payment_status not in AWAITING_PAYMENT:
        raise ValidationError(f"Order {order.ref} is {order.get_payment_status_display().lower()}.")
    outstanding = ledger.owed(order)
    email = queue_order_email(
        order, "payment_reminder", by=by, context={"outstanding": outstanding}
    )
    events.payment_reminder_sent(order, amount=outstanding, by=by)
    return email
