"""Writes to customers: finding or adding the customer an order is placed for, and editing a
customer's details and address book."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language_info

from customers import events
from customers.models import Address, Customer
from oms import bounds, locking
from oms.models import Retailer
from oms.roles import Role, require_role
from oms.search import search_key


@transaction.atomic
def customer_for_order(
    *,
    retailer_id: int,
    email: str,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    placed_at: datetime | None = None,
) -> Customer:
    """The retailer's customer with this email address, added when there is none yet.

    The address is one the customer can be emailed at, the phone a phone number and the names
    fit their columns: anything else is refused with the field it concerns. `placed_at` is when
    the order was placed, where that was before now (a platform's order, taken later): the
    customer is a customer since then at the latest."""
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
        if placed_at is not None and placed_at < customer.created_at:
            customer.created_at = placed_at
            customer.save(update_fields=["created_at"])
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
        created_at=min(placed_at, timezone.now()) if placed_at is not None else timezone.now(),
    )
    customer.ref = f"C-{customer.pk:06d}"
    customer.save(update_fields=["ref"])
    return customer


# -- editing a customer and their address book -------------------------------------------------
# Agents work customers (seed 004: the Customer tab is where the data is added and changed), so
# any member of the customer's retailer may edit them; these functions are the only path that
# changes a customer or their addresses, and each change leaves an activity with old and new.

DETAILS = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "mobile": "Mobile",
    "segment": "Segment",
    "status": "Status",
    "language": "Language",
}
ADDRESS_FIELDS = {
    "name": "Name",
    "company": "Company",
    "line1": "Street",
    "line2": "Street (2)",
    "postcode": "Postcode",
    "city": "City",
    "region": "Region",
    "country": "Country",
    "phone": "Phone",
}
ADDRESS_REQUIRED = ("name", "line1", "postcode", "city", "country")


def language_choices(retailer: Retailer) -> list[tuple[str, str]]:
    """The languages a customer of the retailer may have: empty (the retailer's own) or one of
    the retailer's languages."""
    codes = [str(code) for code in (retailer.languages or [])]
    first = codes[0] if codes else "en"
    return [("", f"The retailer's ({_language_name(first)})")] + [
        (code, _language_name(code)) for code in codes
    ]


def _language_name(code: str) -> str:
    try:
        return get_language_info(code)["name"]
    except KeyError:
        return code


def _fault(faults: dict[str, str], name: str, check, value):
    """`check(value)`, or the value as given with the reason noted under `name`."""
    try:
        return check(value)
    except ValidationError as error:
        faults[name] = " ".join(error.messages)
        return value


def _clean_details(retailer: Retailer, values: dict[str, Any]) -> dict[str, str]:
    """The customer's details as they will be stored, or a ValidationError naming each field
    that cannot be."""
    clean = {name: "" if values[name] is None else str(values[name]).strip() for name in DETAILS}
    faults = bounds.check_fits(clean, Customer)
    for name in ("first_name", "last_name"):
        if name not in faults:
            clean[name] = _fault(faults, name, bounds.check_header, clean[name])
    if not (clean["first_name"] or clean["last_name"]) and "last_name" not in faults:
        faults["last_name"] = "Give the customer a first or last name."
    clean["email"] = _fault(faults, "email", bounds.check_email, clean["email"])
    if clean["mobile"]:
        clean["mobile"] = _fault(faults, "mobile", bounds.check_phone, clean["mobile"])
    if clean["segment"] not in Customer.Segment.values:
        faults["segment"] = f"Choose one of: {', '.join(Customer.Segment.labels)}."
    if clean["status"] not in Customer.Status.values:
        faults["status"] = f"Choose one of: {', '.join(Customer.Status.labels)}."
    languages = dict(language_choices(retailer))
    if clean["language"] not in languages:
        named = ", ".join(name for code, name in languages.items() if code)
        faults["language"] = f"Choose the retailer's language or one of: {named}."
    if faults:
        raise ValidationError(faults)
    return clean


def _refuse_a_taken_email(customer: Customer, email: str) -> None:
    """One customer per email address in a retailer: orders that come in are matched to their
    customer by it (`customer_for_order`), so a second customer with the same address would
    never get another order."""
    other = (
        Customer.objects.filter(retailer_id=customer.retailer_id, email_key=search_key(email))
        .exclude(pk=customer.pk)
        .order_by("pk")
        .first()
    )
    if other is not None:
        raise ValidationError(
            {
                "email": f"{other.full_name or other.ref} ({other.ref}) has this email address "
                "already: one customer per email address."
            }
        )


@transaction.atomic
def customer_update(
    *,
    customer: Customer,
    by: Any,
    first_name: str,
    last_name: str,
    email: str,
    mobile: str,
    segment: str,
    status: str,
    language: str,
) -> Customer:
    """Change the customer's details; the changed fields, old and new, go into the activity.
    Bad input changes nothing and says, per field, why."""
    require_role(by, customer.retailer_id, Role.AGENT)
    values = {
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "mobile": mobile,
        "segment": segment,
        "status": status,
        "language": language,
    }
    clean = _clean_details(customer.retailer, values)
    if search_key(clean["email"]) != search_key(customer.email):
        locking.lock_name("customers.email", customer.retailer_id, search_key(clean["email"]))
    customer = locking.lock(customer, related=("retailer",))
    changes = {
        name: (getattr(customer, name), value)
        for name, value in clean.items()
        if getattr(customer, name) != value
    }
    if not changes:
        return customer
    if "email" in changes:
        _refuse_a_taken_email(customer, clean["email"])
    for name, (_, value) in changes.items():
        setattr(customer, name, value)
    customer.save(update_fields=list(changes))
    events.customer_updated(customer, by=by, changes=changes, shown=_shown(changes), labels=DETAILS)
    return customer


def _shown(changes: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The changes as a person reads them: the names of segments, statuses and languages."""
    labels = {
        "segment": dict(Customer.Segment.choices),
        "status": dict(Customer.Status.choices),
        "language": {code: _language_name(code) for code in changes.get("language", ()) if code},
    }
    return {
        name: tuple(labels.get(name, {}).get(value, value) for value in pair)
        for name, pair in changes.items()
    }


def _clean_address(values: dict[str, Any]) -> dict[str, str]:
    clean = {
        name: "" if values.get(name) is None else str(values[name]).strip()
        for name in ADDRESS_FIELDS
    }
    faults = bounds.check_fits({k: v for k, v in clean.items() if k != "country"}, Address)
    for name in ADDRESS_REQUIRED:
        if not clean[name] and name not in faults:
            faults[name] = f"{ADDRESS_FIELDS[name]} is needed."
    if clean["country"]:
        clean["country"] = _fault(faults, "country", bounds.country_code, clean["country"])
    if clean["phone"] and "phone" not in faults:
        clean["phone"] = _fault(faults, "phone", bounds.check_phone, clean["phone"])
    if faults:
        raise ValidationError(faults)
    return clean


def _address_of(customer: Customer, address_id: Any) -> Address:
    """One address of the customer's address book, named by its id."""
    number = bounds.parse_int(address_id)
    found = (
        Address.objects.filter(retailer_id=customer.retailer_id, customer=customer, pk=number)
        .order_by()
        .first()
        if number is not None
        else None
    )
    if found is None:
        raise ValidationError({"address": "This address is not in the customer's address book."})
    return found


def addresses_in_use(ids: list[int]) -> set[int]:
    """Those of these addresses that a record other than the address book holds (an order's
    billing or shipping address, anything else that points at an address)."""
    used: set[int] = set()
    for relation in Address._meta.get_fields(include_hidden=True):
        # the reverse side of every foreign key to an address, `related_name="+"` ones too
        if relation.auto_created and not relation.concrete and not relation.many_to_many:
            rows = relation.related_model._base_manager.filter(
                **{f"{relation.field.name}__in": ids}
            )
            used.update(rows.values_list(relation.field.attname, flat=True).distinct())
    return used


def _copies(customer: Customer, address: Address) -> list[Address]:
    """The address and every identical one in the customer's book: each order placed leaves a
    copy, and the book shows them as one address."""
    same = {name: getattr(address, name) for name in ADDRESS_FIELDS}
    rows = Address.objects.filter(retailer_id=customer.retailer_id, customer=customer, **same)
    return list(rows.order_by("pk"))


def _take_out(copies: list[Address], used: set[int]) -> None:
    """Take these rows out of the address book: a row a record holds stays on that record
    only; one nothing holds is deleted."""
    Address.objects.filter(pk__in=[c.pk for c in copies if c.pk in used]).update(customer=None)
    Address.objects.filter(pk__in=[c.pk for c in copies if c.pk not in used]).delete()


@transaction.atomic
def address_save(*, customer: Customer, by: Any, address_id: Any = None, **values: Any) -> Address:
    """Add an address to the customer's address book (`address_id` None), or change one (with
    its identical copies).

    An order keeps the address it was placed with: an address that an order (or any other
    record) holds is not rewritten; the changed one takes its place in the address book, and the
    old one stays on those records only."""
    require_role(by, customer.retailer_id, Role.AGENT)
    unknown = set(values) - set(ADDRESS_FIELDS)
    if unknown:
        raise TypeError(f"Not fields of an address: {sorted(unknown)}")
    clean = _clean_address(values)
    customer = locking.lock(customer)
    if address_id in (None, ""):
        address = Address.objects.create(
            retailer_id=customer.retailer_id, customer=customer, **clean
        )
        events.address_added(customer, address, by=by)
        return address
    address = _address_of(customer, address_id)
    changes = {
        name: (getattr(address, name), value)
        for name, value in clean.items()
        if getattr(address, name) != value
    }
    if not changes:
        return address
    copies = _copies(customer, address)
    used = addresses_in_use([c.pk for c in copies])
    free = [c for c in copies if c.pk not in used]
    target = free[-1] if free else None
    _take_out([c for c in copies if c is not target], used)
    if target is None:
        target = Address.objects.create(
            retailer_id=customer.retailer_id, customer=customer, **clean
        )
    else:
        for name, (_, value) in changes.items():
            setattr(target, name, value)
        target.save(update_fields=list(changes))
    events.address_updated(
        customer, target, by=by, changes=changes, labels=ADDRESS_FIELDS, kept_on_orders=bool(used)
    )
    return target


@transaction.atomic
def address_remove(*, customer: Customer, by: Any, address_id: Any) -> None:
    """Take an address (with its identical copies) out of the customer's address book. An
    address an order holds stays on that order; one nothing holds is deleted."""
    require_role(by, customer.retailer_id, Role.AGENT)
    customer = locking.lock(customer)
    address = _address_of(customer, address_id)
    events.address_removed(customer, address, by=by)
    copies = _copies(customer, address)
    _take_out(copies, addresses_in_use([c.pk for c in copies]))
