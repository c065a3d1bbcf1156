"""Writes to customers: finding or adding the customer an order is placed for."""

from __future__ import annotations

import uuid

from django.db import transaction

from customers.models import Customer
from oms.search import search_key


@transaction.atomic
def customer_for_order(
    *, retailer_id: int, email: str, first_name: str = "", last_name: str = "", phone: str = ""
) -> Customer:
    """The retailer's customer with this email address, added when there is none yet."""
    customer = Customer.objects.filter(retailer_id=retailer_id, email_key=search_key(email)).first()
    if customer is not None:
        return customer
    # a provisional ref, then one numbered by the row's id: unique without counting the
    # retailer's customers (a cost that grew with every customer)
    customer = Customer.objects.create(
        retailer_id=retailer_id,
        ref=f"C-new-{uuid.uuid4().hex}",
        first_name=first_name,
        last_name=last_name,
        email=email,
        mobile=phone,
    )
    customer.ref = f"C-{customer.pk:06d}"
    customer.save(update_fields=["ref"])
    return customer
