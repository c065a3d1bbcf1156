"""Typed constructors of the customer activity that services write (one per kind of change).

Every entry's root is the customer, so the customer page shows it, and so does the activity of
each of their orders. `changes` says what changed in words ("Email: a@x.nl → b@x.nl"); `before`
and `after` keep the values themselves.
"""

from __future__ import annotations

from typing import Any

from customers.models import Address, Customer
from oms.activity import describe_as, record
from oms.models import Activity

describe_as("customers.customer.updated", "Customer {ref} changed: {changes}")
describe_as("customers.address.added", "Address added for customer {ref}: {address}")
describe_as("customers.address.updated", "Address of customer {ref} changed: {changes}")
describe_as("customers.address.removed", "Address removed from customer {ref}: {address}")

EMPTY = "—"


def changes_text(changes: dict[str, tuple[str, str]], labels: dict[str, str]) -> str:
    """ "Email: a@x.nl → b@x.nl; Mobile: — → +31 6 1234 5678", in the order of `labels`."""
    return "; ".join(
        f"{labels[name]}: {before or EMPTY} → {after or EMPTY}"
        for name in labels
        if name in changes
        for before, after in [changes[name]]
    )


def customer_updated(
    customer: Customer,
    *,
    by: Any,
    changes: dict[str, tuple[str, str]],
    shown: dict[str, tuple[str, str]],
    labels: dict[str, str],
) -> Activity:
    """`changes` holds the stored values, `shown` the same as a person reads them."""
    return record(
        action="customers.customer.updated",
        target=customer,
        by=by,
        data={
            "ref": customer.ref,
            "changes": changes_text(shown, labels),
            "before": {name: before for name, (before, _) in changes.items()},
            "after": {name: after for name, (_, after) in changes.items()},
        },
    )


def address_added(customer: Customer, address: Address, *, by: Any) -> Activity:
    return record(
        action="customers.address.added",
        target=address,
        root=customer,
        by=by,
        data={"ref": customer.ref, "address": str(address)},
    )


def address_updated(
    customer: Customer,
    address: Address,
    *,
    by: Any,
    changes: dict[str, tuple[str, str]],
    labels: dict[str, str],
    kept_on_orders: bool,
) -> Activity:
    return record(
        action="customers.address.updated",
        target=address,
        root=customer,
        by=by,
        data={
            "ref": customer.ref,
            "address": str(address),
            "changes": changes_text(changes, labels),
            "before": {name: before for name, (before, _) in changes.items()},
            "after": {name: after for name, (_, after) in changes.items()},
            "kept_on_orders": kept_on_orders,
        },
    )


def address_removed(customer: Customer, address: Address, *, by: Any) -> Activity:
    return record(
        action="customers.address.removed",
        target=address,
        root=customer,
        by=by,
        data={"ref": customer.ref, "address": str(address)},
    )
