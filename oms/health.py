"""Readiness checks behind `/readyz`: the kernel checks the database and the broker, and apps
register checks of their own (`register_check`) in their `AppConfig.ready()`.

A check returns a short text: "ok" or "in-process" when ready, "ok (...)" when ready with a
detail, anything else (by convention "error: ...") when not. A check catches its own errors, so
one failing check never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.utils import timezone

from oms import metrics, rls
from oms.celery import app
from oms.models import OutboundEmail
from oms.registry import Registry

Check = Callable[[], str]

_CHECKS: Registry[Check] = Registry("readiness check")


def register_check(name: str, check: Check, *, position: int) -> None:
    """Report `check` under `name` in /readyz, at `position` (lower first)."""
    _CHECKS.register(name, check, position=position)


def readiness() -> dict[str, str]:
    """Every check's answer, by name, in the order of their positions."""
    return {name: check() for name, check in _CHECKS.items()}


def is_ready(answer: str) -> bool:
    """Whether a check's answer lets the instance take traffic."""
    return answer in ("ok", "in-process") or answer.startswith("ok")


def check_database() -> str:
    """The database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def check_broker() -> str:
    """The broker accepts a connection, when tasks are not run in-process."""
    if app.conf.task_always_eager:
        return "in-process"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def emails_backlog() -> metrics.Backlog:
    """Emails queued and not yet sent (the `email_pending` index holds them in time order)."""
    return metrics.backlog_of(
        OutboundEmail.objects.filter(status=OutboundEmail.Status.QUEUED), "created_at"
    )


def check_outbox_age() -> str:
    """The oldest item of the outboxes that must keep moving (emails, payment operations) has
    waited less than OUTBOX_MAX_AGE seconds: the workers and the relays keep up."""
    limit = settings.OUTBOX_MAX_AGE
    now = timezone.now()
    waits: dict[str, float] = {}
    try:
        with rls.all_retailers():
            for name, outbox in metrics.outboxes():
                if outbox.ready_within and (oldest := outbox.backlog().oldest) is not None:
                    waits[name] = max((now - oldest).total_seconds(), 0)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    if not waits:
        return "ok (nothing waiting)"
    name, seconds = max(waits.items(), key=lambda item: item[1])
    if limit and seconds > limit:
        return f"error: the oldest of {name} has waited {seconds:.0f} s (over {limit} s)"
    return f"ok (oldest {seconds:.0f} s: {name})"
