"""What the customer page and an order's Customer tab read about a customer, in a fixed number of
queries whatever the length of their history."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum

from customers.models import Address, Customer
from customers.services import ADDRESS_FIELDS, language_choices
from oms.models import Activity
from orders.models import Order, SystemState, Ticket
from returns.models import Return, ReturnStatus

# orders that were never bought: they count as orders, not as money spent
NOT_SPENT = (SystemState.CANCELLED, SystemState.FRAUD)
ADDRESS_BOOK = 20  # the addresses shown and offered for editing, newest first
ACTIVITY = 50  # the customer page's latest changes


@dataclass(frozen=True)
class Figures:
    orders: int
    spent: Decimal


def figures(customer: Customer) -> Figures:
    """How many orders the customer placed, and what they spent on those not cancelled."""
    found = Order.objects.filter(retailer_id=customer.retailer_id, customer=customer).aggregate(
        count=Count("pk"), spent=Sum("total", filter=~Q(status__system_state__in=NOT_SPENT))
    )
    return Figures(found["count"], found["spent"] or Decimal("0.00"))


@dataclass(frozen=True)
class Capped:
    rows: list[Any]
    more: bool


def _capped(queryset: QuerySet, limit: int) -> Capped:
    rows = list(queryset[: limit + 1])
    return Capped(rows[:limit], len(rows) > limit)


def address_book(customer: Customer, limit: int = ADDRESS_BOOK) -> Capped:
    """The customer's addresses, newest first, each once: every order leaves a copy of the
    address it was placed with, and identical copies are one address of the book (named by the
    newest; `copies` says how many there are)."""
    rows = (
        Address.objects.filter(retailer_id=customer.retailer_id, customer=customer)
        .values(*ADDRESS_FIELDS)
        .annotate(latest=Max("pk"), copies=Count("pk"))
        .order_by("-latest")
    )
    found = _capped(rows, limit)
    addresses = []
    for row in found.rows:
        latest, copies = row.pop("latest"), row.pop("copies")
        address = Address(pk=latest, retailer_id=customer.retailer_id, customer=customer, **row)
        address.copies = copies
        addresses.append(address)
    return Capped(addresses, found.more)


def same_place(one: Address | None, other: Address | None) -> bool:
    """Whether two addresses read the same (an order's, and one of the address book)."""
    if one is None or other is None:
        return False
    return all(getattr(one, name) == getattr(other, name) for name in ADDRESS_FIELDS)


def recent_orders(customer: Customer, limit: int) -> Capped:
    rows = Order.objects.filter(retailer_id=customer.retailer_id, customer=customer)
    return _capped(rows.select_related("status").order_by("-placed_at", "-pk"), limit)


def open_returns(customer: Customer, limit: int) -> Capped:
    """The customer's returns that are not complete yet, newest first."""
    rows = Return.objects.filter(retailer_id=customer.retailer_id, customer=customer).exclude(
        status=ReturnStatus.COMPLETE
    )
    return _capped(rows.select_related("order").order_by("-created_at", "-pk"), limit)


def open_tickets(customer: Customer, limit: int) -> Capped:
    """The customer's tickets that are not closed, the latest first."""
    rows = Ticket.objects.filter(
        retailer_id=customer.retailer_id, order__customer=customer
    ).exclude(status=Ticket.Status.CLOSED)
    return _capped(rows.select_related("order").order_by("-updated_at", "-pk"), limit)


def activity(customer: Customer, limit: int = ACTIVITY) -> list[Activity]:
    """The latest changes to the customer and their address book, newest first."""
    rows = Activity.objects.filter(
        retailer_id=customer.retailer_id, root_type="customers.customer", root_id=str(customer.pk)
    )
    return list(rows.select_related("actor").order_by("-created_at", "-pk")[:limit])


def language_name(customer: Customer) -> str:
    """The customer's language in words ("Dutch"), or the retailer's when they have none."""
    return dict(language_choices(customer.retailer)).get(customer.language, customer.language)
