"""The one lock helper: every row lock of the project is taken here, in one fixed order.

Two transactions that wait for each other's rows deadlock. The order that prevents it:
- records that stand on their own and lead to an order (an intake message, a bulk job, a
  customer, whose lock also covers their address book) first;
- then an order, before anything that hangs off it: a row with an `order` foreign key is locked
  with its order first, whoever asks for it. Whoever works on an order's lines, payments,
  fulfilments, returns or invoices therefore holds the order, so among those rows the order of
  locking does not matter: two transactions never hold them at once;
- then the rows many orders share (stock positions, document numbers, configuration), last, in
  the order of `SHARED`.
Rows of one kind that are not an order's children are locked in the order of their ids.

On PostgreSQL each lock also reports the transaction it belongs to, so a lock taken out of
order is noticed: `settings.LOCK_ORDER_CHECK` says whether that raises (the tests) or is logged.
SQLite has no row locks; there the helper only reads.

Locking a record's row is also where a stale action is caught for good: when the request acts
from a page drawn before a change it depends on, `oms.live.guard.check_locked` refuses it under
the lock, so a change that committed a moment before cannot slip through.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models, router
from django.db.models.expressions import RawSQL

from oms.live import guard as live_guard

logger = logging.getLogger(__name__)


ROOTS = (
    "orders.intakemessage",
    "orders.bulkjob",
    "orders.bulkjobitem",
    "customers.customer",
    "billing.billingaccount",
)
ORDER = "orders.order"
CHILDREN = (
    "orders.orderline",
    "orders.ticket",
    "orders.task",
    "billing.payment",
    "billing.paymenttransaction",
    "fulfilments.fulfilment",
    "fulfilments.fulfilmentitem",
    "returns.return",
    "returns.returnfulfilment",
    "billing.invoice",
)
SHARED = (
    "fulfilments.stockposition",
    "returns.returnsequence",
    "billing.documentsequence",
    "billing.billingsettings",
    "orders.orderstatus",
    "returns.returnreason",
    "returns.returnaction",
    "returns.returncondition",
    "oms.savedview",
    "oms.outboundemail",
    "fulfilments.location",
    "fulfilments.carrier",
    "orders.intakechannel",
    "oms.webhookendpoint",
)
# The rank of each kind of row; an order's children have none of their own.
RANK = {label: rank for rank, label in enumerate((*ROOTS, ORDER, *SHARED))}


class LockOrderError(RuntimeError):
    """A row was locked out of the fixed order: two such paths can deadlock."""


@dataclass
class _Held:
    """The locks one transaction holds, as far as this helper took them."""

    transaction: tuple
    highest: int = -1
    rows: dict[str, set[Any]] = field(default_factory=dict)


def _rank(model: type[models.Model]) -> int | None:
    label = model._meta.label_lower
    if label in CHILDREN:
        return None
    if label not in RANK:
        raise LockOrderError(f"{label} has no place in oms.locking: add it there.")
    return RANK[label]


def lock_rows[M: models.Model](
    model: type[M], pks: Iterable[Any], *fields: str, skip_locked: bool = False
) -> dict[Any, tuple]:
    """Lock the rows of `model` with these primary keys, in id order; for each row found, the
    current values of `fields` (read under the lock). Missing rows are left out, and with
    `skip_locked` so are rows another transaction holds."""
    pks = sorted(set(pks))
    if not pks:
        return {}
    using = router.db_for_write(model)
    connection = connections[using]
    rows = (
        model._base_manager.using(using)
        .filter(pk__in=pks)
        .order_by("pk")
        .select_for_update(skip_locked=skip_locked)
    )
    if connection.vendor == "postgresql":
        rows = rows.annotate(_transaction=RawSQL("txid_current()", ()))
        found = list(rows.values_list("pk", "_transaction", *fields))
        if found:
            _note(connection, model, [row[0] for row in found], found[0][1])
            live_guard.check_locked(model._meta.label_lower, [row[0] for row in found])
        return {row[0]: tuple(row[2:]) for row in found}
    values = {row[0]: tuple(row[1:]) for row in rows.values_list("pk", *fields)}
    if values:
        live_guard.check_locked(model._meta.label_lower, list(values))
    return values


def _unit(connection, transaction: int) -> tuple:
    """The unit of work locks are ordered within: the database transaction; or, where a test
    runs everything in one transaction and says so (`_oms_lock_units_at`: the depth of
    savepoints its own code opens), each outermost block the test's code opens in it."""
    depth = getattr(connection, "_oms_lock_units_at", None)
    savepoints = connection.savepoint_ids
    if depth is None or len(savepoints) <= depth:
        return (transaction, None)
    return (transaction, savepoints[depth])


def _note(connection, model: type[models.Model], pks: Sequence[Any], transaction: int) -> None:
    """Remember the locks of this transaction, and complain about one taken out of order."""
    unit = _unit(connection, transaction)
    held: _Held | None = getattr(connection, "_oms_locks", None)
    if held is None or held.transaction != unit:
        held = connection._oms_locks = _Held(unit)
    label, rank = model._meta.label_lower, _rank(model)
    mine = held.rows.setdefault(label, set())
    new = set(pks) - mine
    mine.update(pks)
    if rank is None or not new:
        return
    problem = ""
    if rank < held.highest:
        later = next(lbl for lbl, r in RANK.items() if r == held.highest)
        problem = f"{label} {sorted(new)} locked after {later}"
    elif rank == held.highest and min(new) < max(mine - new, default=min(new)):
        problem = f"{label} {sorted(new)} locked after a later one of its kind"
    held.highest = max(held.highest, rank)
    if problem:
        message = f"{problem}: two such transactions can deadlock."
        if getattr(settings, "LOCK_ORDER_CHECK", "log") == "raise":
            raise LockOrderError(message)
        logger.warning("Lock order: %s", message)


def _order_field(model: type[models.Model]) -> models.ForeignKey | None:
    """The `order` foreign key of a model that hangs off an order (a record that leads to an
    order, like an intake message, is locked before it instead)."""
    if model._meta.label_lower not in CHILDREN:
        return None
    try:
        found = model._meta.get_field("order")
    except FieldDoesNotExist:
        return None
    return found if isinstance(found, models.ForeignKey) else None


def _order_of(obj: models.Model) -> tuple[type[models.Model], Any] | None:
    """The order a row hangs off, when it has one."""
    order_field = _order_field(type(obj))
    if order_field is None:
        return None
    order_id = getattr(obj, order_field.attname)
    return (order_field.related_model, order_id) if order_id is not None else None


def lock[M: models.Model](obj: M, *, related: Sequence[str] = ()) -> M:
    """Re-read `obj` under a row lock, with `related` joined; its order's row is locked first.

    The lock is taken on the row alone, then the row is read with its joins: a locking read with
    joins that waited for another transaction re-checks the joined rows, so a row whose
    foreign key had just changed would vanish from it.
    """
    model = type(obj)
    parent = _order_of(obj)
    if parent is not None:
        lock_rows(parent[0], [parent[1]])
    if not lock_rows(model, [obj.pk]):
        raise model.DoesNotExist(f"{model._meta.verbose_name} {obj.pk} is gone.")
    rows = model._base_manager.select_related(*related) if related else model._base_manager
    return rows.get(pk=obj.pk)


def lock_all[M: models.Model](
    queryset: models.QuerySet[M], *, related: Sequence[str] = ()
) -> list[M]:
    """Lock every row of `queryset` (in id order, after their orders) and re-read them."""
    model = queryset.model
    pks = list(queryset.values_list("pk", flat=True))
    if not pks:
        return []
    order_field = _order_field(model)
    if order_field is not None:
        orders = model._base_manager.filter(pk__in=pks).values_list(order_field.attname, flat=True)
        lock_rows(order_field.related_model, [pk for pk in orders if pk is not None])
    lock_rows(model, pks)
    rows = model._base_manager.filter(pk__in=pks).order_by("pk")
    return list(rows.select_related(*related) if related else rows)


def ensure_locked(obj: models.Model, *fields: str) -> tuple:
    """Lock `obj`'s row (its order's first) without re-reading it; the current values of
    `fields`, read under the lock, so a caller can tell whether it changed meanwhile."""
    parent = _order_of(obj)
    if parent is not None:
        lock_rows(parent[0], [parent[1]])
    found = lock_rows(type(obj), [obj.pk], *fields)
    if not found:
        raise type(obj).DoesNotExist(f"{type(obj)._meta.verbose_name} {obj.pk} is gone.")
    return found[obj.pk]


def lock_name(*parts: Any, using: str = "default") -> None:
    """Lock a name rather than a row, until the transaction ends: for what has no row yet (the
    order a channel is about to send, named by the channel and its order id). Take it after the
    record that leads there (an intake message) and before any order, like a root's row.
    SQLite has no such locks (and runs one writer at a time)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise LockOrderError("lock_name outside a transaction would be released at once.")
    with connection.cursor() as cursor:
        name = ":".join(str(part) for part in parts)
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])


def claim[M: models.Model](queryset: models.QuerySet[M]) -> M | None:
    """The first row of `queryset` no other transaction holds, locked; None when there is none
    (work another worker is doing already)."""
    model = queryset.model
    for pk in queryset.order_by("pk").values_list("pk", flat=True):
        if lock_rows(model, [pk], skip_locked=True):
            return model._base_manager.get(pk=pk)
    return None
