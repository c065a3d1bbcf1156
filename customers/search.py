"""Customers in the top bar's search: by email, ref or the words of their name."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest

from customers.models import Customer
from oms.global_search import Group, Hit, exact_first, group_of
from oms.search import could_be_a_name, name_words, search_key


def search_customers(request: HttpRequest, text: str, per_group: int) -> Group:
    """Customers matching `text`; an email or a ref typed in full is an exact match."""
    key = search_key(text)
    if "@" in text:
        match = Q(email_key=key)
    else:
        match = Q(ref_key__key_prefix=key)
        if could_be_a_name(text):
            match |= name_words(text)
    scoped = Customer.objects.for_user(request.user)
    customers = exact_first(
        scoped.filter(Q(email_key=key) | Q(ref_key=key)).order_by("pk"),
        scoped.filter(match).order_by("last_name", "first_name", "pk"),
        per_group,
    )
    hits = [
        Hit(
            title=customer.full_name or customer.ref,
            detail=" · ".join(part for part in (customer.email, customer.ref) if part),
            url=customer.get_absolute_url(),
            exact=customer.email_key == key or customer.ref_key == key,
        )
        for customer in customers
    ]
    return group_of("customers", "Customers", hits, per_group, "customers:customer_list", text)
