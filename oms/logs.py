"""Log lines an operator can search: one JSON object per line, each carrying the request id, the
user and the retailers the line was written for.

A request's id comes from an incoming `X-Request-ID` header when it is a plain token of at most
100 characters, and is made up otherwise; `oms.metrics.RequestMiddleware` binds it here and
echoes it in the response. A Celery task sent during a request carries the id in a message
header, so the worker's lines about the task share it (`oms.metrics.connect_signals`).

`JsonFormatter` writes the lines (LOG_FORMAT=json). It reads the user only when the request has
loaded it already and the retailers from the database scope the request or task works in
(`oms.rls`: a list of ids, or "all" for system work), so a log line never costs a query.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

from django.http import HttpRequest
from django.utils.functional import empty

HEADER = "X-Request-ID"
# a proxy's or a load balancer's id (a UUID, a hex trace id): letters, digits and . _ : -
_VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")

_request_id: ContextVar[str | None] = ContextVar("oms_request_id", default=None)
_request: ContextVar[HttpRequest | None] = ContextVar("oms_request", default=None)
_task: ContextVar[str | None] = ContextVar("oms_task", default=None)


# What the database works for (`oms.rls.current`), given at start-up: this module is loaded with
# the settings, before the models that oms.rls needs.
def _no_scope() -> None:
    return None


_scope: Callable[[], object] = _no_scope


def read_scope_from(current: Callable[[], object]) -> None:
    """Take the retailers of a log line from `current()` (OmsConfig.ready: oms.rls.current)."""
    global _scope
    _scope = current


def request_id() -> str | None:
    """The id of the request (or of the request that sent the task) being served, if any."""
    return _request_id.get()


def valid_request_id(value: str | None) -> str | None:
    """`value` when it is fit to stand in a log line and a header, else None."""
    if value and _VALID_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def bind_task(name: str | None, sent_by_request: str | None):
    """Log lines from here on belong to task `name`, sent by that request (run in-process, the
    task keeps the id of the request it runs in). Returns the tokens `unbind_task` takes."""
    sent_by = valid_request_id(sent_by_request) or _request_id.get()
    return _task.set(name), _request_id.set(sent_by)


def unbind_task(tokens) -> None:
    task_token, id_token = tokens
    _task.reset(task_token)
    _request_id.reset(id_token)


def bind_request(request: HttpRequest) -> None:
    """Log lines from here on belong to `request`: give it its id (`request.request_id`) from
    X-Request-ID or a new one. They do until `unbind_request`, called when the response is
    closed (`request_finished`): Django logs a 4xx or 5xx after the middleware has returned,
    and a streamed response is written after that."""
    request.request_id = valid_request_id(request.headers.get(HEADER)) or new_request_id()
    _request_id.set(request.request_id)
    _request.set(request)


def unbind_request(**kwargs) -> None:
    _request.set(None)
    _request_id.set(None)


def _user_of(request: HttpRequest | None) -> int | None:
    """The signed-in user's id when the request has loaded the user already (never a query)."""
    if request is None:
        return None
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return user.pk if getattr(user, "is_authenticated", False) else None


def _retailers() -> list[int] | str | None:
    scope = _scope()
    return list(scope) if isinstance(scope, tuple) else scope


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, user, retailers,
    task, and the exception with its traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id.get(),
            "user": _user_of(_request.get()),
            "retailers": _retailers(),
        }
        if (task := _task.get()) is not None:
            line["task"] = task
        if record.exc_info:
            kind, error, trace = record.exc_info
            line["exc_type"] = kind.__name__ if kind else None
            line["exc_info"] = "".join(traceback.format_exception(kind, error, trace)).rstrip()
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)
