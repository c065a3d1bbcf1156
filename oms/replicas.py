"""Read replicas: list and detail pages read from a streaming standby when one is configured.

`DATABASE_REPLICA_URL` adds a `replica` database alias, `ReplicaRouter` and `ReplicaMiddleware`.
Without it neither is installed, and nothing here runs.

What reads from the replica: the GET and HEAD requests of the web app, from the moment the view
is chosen until the response is closed (a streamed export too). Everything else reads and writes
on the primary: POSTs, the JSON API (a token client sends no cookie to keep read-your-writes
with), tasks, management commands, reads inside a transaction, and a read that locks rows
(a locking read routes as a write).

Read-your-writes: a request that is not safe (POST, PUT, PATCH, DELETE), or a GET that wrote
anything, gives the browser a signed cookie that keeps its reads on the primary for
`REPLICA_STICKY_SECONDS`; long enough for the standby to replay the change. Another user is not
pinned by it.

The replica is used only while it is usable: a check, run at most every `REPLICA_CHECK_SECONDS`
per process, asks the primary for its WAL position and the replica how far it has replayed.
When the replica has replayed less, its lag is the age of the last transaction it replayed; past
`REPLICA_MAX_LAG_SECONDS`, or when the replica does not answer, pages read from the primary until
a later check finds it back.

Row-level security: Postgres settings are per connection, so the replica's connection is given
the request's retailer scope (`oms.rls.follow`) before a page reads from it, and the router
sends a read there only while that connection holds the same scope as the primary's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.signals import request_finished
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from oms import rls
from oms.api import ApiView

REPLICA = "replica"
COOKIE = "oms_primary"
_SALT = "oms.replicas.read-your-writes"
SAFE_METHODS = frozenset({"GET", "HEAD"})

logger = logging.getLogger(__name__)

# Whether the request being served may read from the replica, and whether it wrote anything.
_reading: ContextVar[bool] = ContextVar("oms_replica_reading", default=False)
_wrote: ContextVar[bool] = ContextVar("oms_replica_wrote", default=False)


class _Health:
    """The last check of the replica, shared by the process's threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked_at = float("-inf")
        self.usable = False
        self.lag: float | None = None

    def forget(self) -> None:
        """Check again at the next request."""
        with self.lock:
            self.checked_at = float("-inf")


health = _Health()


def configured() -> bool:
    return REPLICA in settings.DATABASES


def replication_lag() -> float:
    """Seconds the replica is behind the primary: 0 when it has replayed all the primary had
    written when asked (or is no standby at all), else the age of its last replayed transaction.
    Raises DatabaseError when either server does not answer."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        written = cursor.fetchone()[0]
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(
            "SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= %s::pg_lsn,"
            " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())",
            [written],
        )
        caught_up, age = cursor.fetchone()
    return 0.0 if caught_up else float(age if age is not None else "inf")


def _mark_down(error: Exception) -> None:
    with health.lock:
        was_usable = health.usable
        health.usable, health.lag, health.checked_at = False, None, time.monotonic()
    with contextlib.suppress(DatabaseError):
        connections[REPLICA].close()
    if was_usable:
        logger.warning("Read replica unavailable, reading from the primary: %s", error)


def replica_usable() -> bool:
    """Whether pages may read from the replica now (the last check, renewed when it is older
    than REPLICA_CHECK_SECONDS)."""
    if time.monotonic() - health.checked_at < settings.REPLICA_CHECK_SECONDS:
        return health.usable
    try:
        lag = replication_lag()
    except DatabaseError as error:
        _mark_down(error)
        return False
    usable = lag <= settings.REPLICA_MAX_LAG_SECONDS
    with health.lock:
        if usable != health.usable:
            logger.warning(
                "Read replica %s (lag %.1f s)", "in use" if usable else "lagging, not used", lag
            )
        health.usable, health.lag, health.checked_at = usable, lag, time.monotonic()
    return usable


def _pinned(request) -> bool:
    """The browser wrote within REPLICA_STICKY_SECONDS: its reads stay on the primary."""
    return (
        request.get_signed_cookie(
            COOKIE, default=None, salt=_SALT, max_age=settings.REPLICA_STICKY_SECONDS
        )
        is not None
    )


def _stop_reading(**kwargs) -> None:
    _reading.set(False)


class ReplicaMiddleware:
    """Let a GET or HEAD page of the web app read from the replica (place it after
    oms.rls.TenantScopeMiddleware), and keep a browser's reads on the primary for a while after
    it wrote."""

    def __init__(self, get_response):
        if not configured():
            raise MiddlewareNotUsed
        self.get_response = get_response
        request_finished.connect(_stop_reading, dispatch_uid="oms.replicas.stop_reading")

    def __call__(self, request):
        _reading.set(False)
        _wrote.set(False)
        response = self.get_response(request)
        if request.method not in SAFE_METHODS or _wrote.get():
            response.set_signed_cookie(
                COOKIE,
                "1",
                salt=_SALT,
                max_age=settings.REPLICA_STICKY_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if (
            request.method not in SAFE_METHODS
            or issubclass(getattr(view_func, "view_class", object), ApiView)
            or _pinned(request)
            or not replica_usable()
        ):
            return None
        replica = connections[REPLICA]
        try:
            # a connection that died since its last use fails here rather than inside the page
            replica.close_if_health_check_failed()
            replica.ensure_connection()
            rls.follow(REPLICA)
        except DatabaseError as error:
            _mark_down(error)
            return None
        _reading.set(True)
        return None


class ReplicaRouter:
    """Reads of a page that may (see ReplicaMiddleware) go to the replica; everything else, and
    every write, to the primary."""

    def db_for_read(self, model, **hints) -> str:
        if (
            _reading.get()
            and not _wrote.get()
            and not connections[DEFAULT_DB_ALIAS].in_atomic_block
            and connections[REPLICA].connection is not None
            and rls.current(REPLICA) == rls.current()
        ):
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        # the rest of the request reads what it wrote, and so do the browser's next ones
        _wrote.set(True)
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # the same rows on both servers

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db != REPLICA
