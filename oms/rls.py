"""Row-level security: Postgres itself keeps each retailer's rows from everyone else.

The querysets scope every read to the user's retailers (`oms.tenancy`); this is the second wall
behind them. Every tenant table carries a policy that shows a row only when its `retailer_id` is
among the retailers the connection is working for, or when the connection works for all of them
(system work: relays, beat tasks, management commands, platform superusers):

    retailer_id = ANY (current setting 'oms.retailer_ids')  OR  'oms.all_retailers' = 'on'

Who sets it: `TenantScopeMiddleware` for each request (the user's retailers; none for an
anonymous one), `oms.api.ApiView` once a token is authenticated, `row_scope` in a task about
one row (its retailer, passed with the row's id: a task without it refuses to run), and
`all_retailers()` for system work. Unset, a connection sees no tenant rows at all. A read
replica's connection is given the request's scope before a page reads from it (`follow`, called
by `oms.replicas`), and reads go there only while it holds the same scope as the primary's.

The policies bind a database role that is neither superuser nor the tables' owner: the web and
worker processes connect as such a role (`manage.py db_app_role`), while migrations run as the
owner. Superusers and owners (the test suite, the embedded SQLite default) are not bound, so the
application's own scoping is tested on its own, and `tests/oms/test_row_level_security.py`
tests this wall with the role.

The settings are session-level and set at the start of every request and task (and cleared at
its end): Django runs in autocommit and streams exports after the view returns, so a
transaction-local setting would be gone before the rows are read. A request skips the round trip
when the connection is known to hold its scope already: set by an earlier request outside any
transaction, so no rollback can have undone it (`known`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connections, migrations
from django.db.backends.signals import connection_created

from oms.tenancy import retailer_ids_for

IDS = "oms.retailer_ids"
ALL = "oms.all_retailers"
POLICY = "tenant_isolation"
ALL_RETAILERS = "all"

_state = threading.local()


def _connection(using: str = "default"):
    connection = connections[using]
    return connection if connection.vendor == "postgresql" else None


def _held(using: str) -> tuple[str | tuple[int, ...] | None, bool]:
    """The scope this thread's connection `using` holds, and whether surely (`known`)."""
    if using == "default":
        return getattr(_state, "scope", None), getattr(_state, "known", False)
    return getattr(_state, "others", {}).get(using, (None, False))


def _hold(using: str, scope: str | tuple[int, ...] | None, sure: bool) -> None:
    if using == "default":  # two plain attributes, which the test suite resets between tests
        _state.scope, _state.known = scope, sure
        return
    if not hasattr(_state, "others"):
        _state.others = {}
    _state.others[using] = (scope, sure)


def current(using: str = "default") -> str | tuple[int, ...] | None:
    """What this thread's connection works for: a tuple of retailer ids, ALL_RETAILERS, or None."""
    return _held(using)[0]


def known(using: str = "default") -> bool:
    """True when the connection surely holds `current()`: it was set outside a transaction (or
    never set on a new connection). A setting made inside one is undone if it rolls back, so it
    is not sure until set again."""
    return _held(using)[1]


def _apply(
    scope: str | tuple[int, ...] | None, using: str = "default", *, force: bool = False
) -> None:
    scope = scope or None  # no retailers is no scope
    connection = _connection(using)
    closed = connection is not None and connection.connection is None
    if (
        connection is None
        or (closed and scope is None)  # a new connection starts with nothing set
        or (not force and not closed and current(using) == scope)
    ):
        _hold(using, scope, known(using) or closed or connection is None)
        return
    ids = ",".join(str(i) for i in scope) if isinstance(scope, tuple) else ""
    everything = "on" if scope == ALL_RETAILERS else ""
    with connection.cursor() as cursor:  # opens a closed connection, which forgets the scope
        cursor.execute(
            "SELECT set_config(%s, %s, false), set_config(%s, %s, false)",
            [IDS, ids, ALL, everything],
        )
    # set inside a transaction, a rollback would undo it
    _hold(using, scope, connection.get_autocommit() and not connection.in_atomic_block)


def use_retailers(
    retailer_ids: Iterable[int], using: str = "default", *, force: bool = False
) -> None:
    """Work for these retailers only, until told otherwise (a no-op when that is already so,
    unless forced)."""
    _apply(tuple(sorted(int(i) for i in retailer_ids)), using, force=force)


def use_all_retailers(using: str = "default", *, force: bool = False) -> None:
    """Work for every retailer: system work only (relays, beat tasks, commands)."""
    _apply(ALL_RETAILERS, using, force=force)


def clear(using: str = "default") -> None:
    """Work for no retailer: tenant tables look empty."""
    if connections[using].connection is None:  # closed: a new one starts with nothing set
        _hold(using, None, known(using))
        return
    _apply(None, using, force=True)


@contextmanager
def scoped(scope: str | Iterable[int], using: str = "default") -> Iterator[None]:
    """Work for `scope` (retailer ids, or ALL_RETAILERS) inside the block, then as before."""
    before = current(using)
    _apply(ALL_RETAILERS if scope == ALL_RETAILERS else tuple(sorted(int(i) for i in scope)), using)
    try:
        yield
    finally:
        _apply(before, using)


def all_retailers():
    """`with all_retailers():` system work across every retailer."""
    return scoped(ALL_RETAILERS)


def follow(using: str) -> None:
    """Give connection `using` (a read replica) the scope the default one works for: a no-op when
    it holds that scope already."""
    _apply(current(), using, force=not known(using))


def _reset_new_connection(sender, connection, **kwargs) -> None:
    """A new connection remembers nothing: neither may this thread's record of its scope."""
    _hold(connection.alias, None, True)


connection_created.connect(_reset_new_connection)


class TenantRequired(Exception):
    """A task about a tenant's row was sent without the row's retailer, or with another one."""


@contextmanager
def row_scope(model, row_id: int, retailer_id: int | None) -> Iterator[None]:
    """`with row_scope(Model, id, retailer_id):` the body of a task about one tenant row.

    The database is scoped to the row's retailer inside; a task sent without the retailer, or
    with another retailer than the row's, refuses to run (TenantRequired, not retried).
    """
    if not retailer_id:
        raise TenantRequired(f"A task about {model.__name__} {row_id} came without its retailer")
    with scoped([retailer_id]):
        if not model.objects.filter(pk=row_id, retailer_id=retailer_id).exists():
            raise TenantRequired(f"{model.__name__} {row_id} is not retailer {retailer_id}'s")
        yield


class TenantScopeMiddleware:
    """Scope the database to the signed-in user's retailers for the request (place it after
    AuthenticationMiddleware). A platform superuser works for all of them.

    The scope is set again unless the connection is known to hold it already (`known`): a
    persistent connection serving the same user again needs no round trip."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        force = not known()
        if user is None or not user.is_authenticated:
            use_retailers([], force=force)  # nothing
        elif user.is_superuser:
            use_all_retailers(force=force)
        else:
            use_retailers(retailer_ids_for(user), force=force)
        return self.get_response(request)


# the policy, and the migration operation that puts it on a table


def policy_sql(table: str) -> list[str]:
    """The policy's settings are read in scalar subqueries, which Postgres evaluates once per
    query (an InitPlan) instead of once per row: on a deep page of 100,000 index entries that is
    21 ms instead of 157 ms."""
    everyone = f"(SELECT current_setting('{ALL}', true)) = 'on'"
    ids = f"(SELECT string_to_array(NULLIF(current_setting('{IDS}', true), ''), ','))"
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS {POLICY} ON "{table}"',
        f'CREATE POLICY {POLICY} ON "{table}" USING ('
        f"{everyone} OR retailer_id = ANY (CAST({ids} AS bigint[])))",
    ]


class EnableRowLevelSecurity(migrations.operations.base.Operation):
    """Put the tenant policy on tables (Postgres; nothing elsewhere). Reversible."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, tables: list[str]):
        self.tables = list(tables)

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in self.tables:
            for statement in policy_sql(table):
                schema_editor.execute(statement)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in self.tables:
            schema_editor.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
            schema_editor.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')

    def describe(self):
        return f"Row-level security on {len(self.tables)} tenant tables"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.tables], {})
