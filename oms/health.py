"""Readiness checks behind `/readyz`: the kernel checks the database and the broker, and apps
register checks of their own (`register_check`) in their `AppConfig.ready()`.

A check returns a short text: "ok" or "in-process" when ready, "ok (...)" when ready with a
detail, anything else (by convention "error: ...") when not. A check catches its own errors, so
one failing check never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection

from oms.celery import app
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
