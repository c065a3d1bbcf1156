"""Writes to customers: finding or adding the customer an order is placed for."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction

from customers.models import Customer
from oms import bounds
from oms.search import search_key


@transaction.atomic
def customer_for_order(
    *, retailer_id: int, email: str, first_name: str = "", last_name: str = "", phone: str = ""
) -> Customer:
    """The retailer's customer with this email address, added when there is none yet.

    The address is one the customer can be emailed at, the phone a phone number and the names
    fit their columns: anything else is refused with the field it concerns."""
    faults = {}
    try:
        email = bounds.check_email(email)
    except ValidationError as error:
        faults["email"] = " ".join(error.messages)
    if phone:
        try:
            phone = bounds.check_phone(phone)
        except ValidationError as error:
            faults["phone"] = " ".join(error.messages)
    faults.update(bounds.check_fits({"first_name": first_name, "last_name": last_name}, Customer))
    if faults:
        raise ValidationError(faults)
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
