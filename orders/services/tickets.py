"""Tickets: customers' questions about an order, answered by agents in place."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from oms import bounds, locking
from oms.activity import RecordRef, describe_as, record
from oms.emails import email_queue
from oms.roles import Role, require_role
from orders.models import Order, Ticket, TicketMessage
from orders.services.mail import render_order_email

describe_as("orders.ticket.customer_message", "Customer wrote on “{subject}”: “{body}”")
describe_as("orders.ticket.replied", "Replied on “{subject}”: “{body}”")
describe_as("orders.ticket.closed", "Ticket “{subject}” closed")


def _record(ticket: Ticket, action: str, by, **data) -> None:
    record(
        action=action,
        target=ticket,
        root=RecordRef("orders.order", str(ticket.order_id)),
        by=by,
        data={"subject": ticket.subject, **data},
    )


@transaction.atomic
def ticket_customer_message(
    *, order: Order, by, body: str, subject: str = "", ticket_id: int | None = None
) -> TicketMessage:
    """A message from the customer (sent by the storefront): a new ticket, or more on one."""
    require_role(by, order.retailer_id, Role.AGENT)
    body = body.strip()
    if not body:
        raise ValidationError({"message": "The message is empty."})
    try:
        bounds.check_message(body)
    except ValidationError as error:
        raise ValidationError({"message": error.messages}) from None
    now = timezone.now()
    if ticket_id is not None:
        found = locking.lock_all(Ticket.objects.filter(order=order, pk=ticket_id))
        ticket = found[0] if found else None
        if ticket is None:
            raise ValidationError({"ticketId": "No such ticket on this order."})
        ticket.status = Ticket.Status.OPEN
        ticket.updated_at = now
        ticket.save(update_fields=["status", "updated_at"])
    else:
        subject = subject.strip() or f"Question about order {order.ref}"
        try:  # the subject heads the answers emailed back: one line that fits
            bounds.check_text(bounds.check_header(subject), Ticket, "subject")
        except ValidationError as error:
            raise ValidationError({"subject": " ".join(error.messages)}) from None
        ticket = Ticket.objects.create(retailer_id=order.retailer_id, order=order, subject=subject)
    message = TicketMessage.objects.create(
        retailer_id=order.retailer_id,
        ticket=ticket,
        sender=TicketMessage.Sender.CUSTOMER,
        body=body,
    )
    # the customer wrote it; the actor is the storefront's account that delivered it
    _record(ticket, "orders.ticket.customer_message", by, body=body[:200])
    return message


@transaction.atomic
def ticket_reply(*, ticket: Ticket, by, body: str) -> TicketMessage:
    """An agent answers; the customer gets the answer by email."""
    require_role(by, ticket.retailer_id, Role.AGENT)
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write the answer first."})
    try:
        bounds.check_message(body)
    except ValidationError as error:
        raise ValidationError({"body": error.messages}) from None
    ticket = locking.lock(ticket, related=("order__customer", "order__retailer"))
    if ticket.status == Ticket.Status.CLOSED:
        raise ValidationError("This ticket is closed.")
    message = TicketMessage.objects.create(
        retailer_id=ticket.retailer_id,
        ticket=ticket,
        sender=TicketMessage.Sender.AGENT,
        author=by,
        body=body,
    )
    ticket.status = Ticket.Status.ANSWERED
    ticket.updated_at = timezone.now()
    ticket.save(update_fields=["status", "updated_at"])
    _record(ticket, "orders.ticket.replied", by, body=body[:200])
    order = ticket.order
    if order.customer is not None and order.customer.email:
        # the customer's subject, on one line as a mail header has it
        subject, text = render_order_email(
            order, "ticket_reply", {"subject": " ".join(ticket.subject.split()), "message": body}
        )
        email_queue(
            retailer=order.retailer,
            to=order.customer.email,
            subject=subject,
            body=text,
            about=order,
            by=by,
        )
    return message


@transaction.atomic
def ticket_close(*, ticket: Ticket, by) -> Ticket:
    require_role(by, ticket.retailer_id, Role.AGENT)
    ticket = locking.lock(ticket)
    if ticket.status != Ticket.Status.CLOSED:
        ticket.status = Ticket.Status.CLOSED
        ticket.updated_at = timezone.now()
        ticket.save(update_fields=["status", "updated_at"])
        _record(ticket, "orders.ticket.closed", by)
    return ticket
