"""What an operator watches, in Prometheus's text format at `/metrics`.

Counted as things happen, in every process:
- `oms_http_request_duration_seconds{view,method,status}`: each request, by its URL name (never
  the raw path, so the series stay few) and status class (2xx, 4xx, ...);
- `oms_task_runs_total{task,outcome}` and `oms_task_duration_seconds{task}`: each Celery task
  run, by outcome (success, failure, retry), through Celery's signals.

Read when Prometheus scrapes, by the process that answers it:
- `oms_celery_queue_length{queue}`: messages waiting in each Celery queue in Redis;
- `oms_outbox_backlog{outbox}` and `oms_outbox_oldest_age_seconds{outbox}`: work written to the
  database and not yet done (queued emails, pending payment operations, intake messages, bulk
  jobs), which apps register with `register_outbox`;
- anything an app registers with `register_collector` (payment operations by state, intake per
  channel), in their `AppConfig.ready()`, as `oms.health` checks are registered.
The database is read across all retailers, with counts cut at BACKLOG_LIMIT rows: each read
walks an index over the waiting rows only, never a whole table. A read that fails is logged and
shows as `oms_metrics_source_up{source} 0`; the others still answer.

Several processes (gunicorn's workers, Celery's): with PROMETHEUS_MULTIPROC_DIR set, each process
writes its counts to files there and a scrape adds them up (prometheus_client's multiprocess
mode). Files are named by host and process id, so containers of one host may share the folder.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import redis
from celery import signals
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.signals import request_finished
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from oms import logs, rls
from oms.celery import app as celery_app
from oms.registry import Registry

logger = logging.getLogger(__name__)

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROC_DIR:
    os.makedirs(MULTIPROC_DIR, exist_ok=True)  # a folder not mounted yet fails no request
    # os.getpid() alone repeats across containers sharing the folder (each starts at 1)
    _HOST = socket.gethostname()
    values.ValueClass = values.MultiProcessValue(lambda: f"{_HOST}-{os.getpid()}")

# A count stops here: past it the exact number changes nothing an operator does.
BACKLOG_LIMIT = 10_000

REQUEST_SECONDS = Histogram(
    "oms_http_request_duration_seconds",
    "Time to answer a request, by URL name, method and status class.",
    ["view", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TASK_RUNS = Counter("oms_task_runs", "Celery task runs by task and outcome.", ["task", "outcome"])
TASK_SECONDS = Histogram(
    "oms_task_duration_seconds",
    "Time a Celery task ran, by task.",
    ["task"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# No state: the task raised to its caller (run in-process, where errors propagate).
_OUTCOMES = {"SUCCESS": "success", "FAILURE": "failure", "RETRY": "retry", None: "failure"}


# the registries the apps fill


class Backlog(NamedTuple):
    count: int  # at most BACKLOG_LIMIT
    oldest: datetime | None


@dataclass(frozen=True)
class Outbox:
    backlog: Callable[[], Backlog]
    ready_within: bool  # /readyz fails when its oldest item waits too long


_OUTBOXES: Registry[Outbox] = Registry("outbox")
_COLLECTORS: Registry[Callable[[], Iterable[Metric]]] = Registry("metrics collector")


def register_outbox(
    name: str, backlog: Callable[[], Backlog], *, position: int, readiness: bool = False
) -> None:
    """Report `backlog()` as outbox `name`; with `readiness`, /readyz also fails when its oldest
    item waits longer than OUTBOX_MAX_AGE."""
    _OUTBOXES.register(name, Outbox(backlog, readiness), position=position)


def register_collector(name: str, collect: Callable[[], Iterable[Metric]], *, position: int):
    """Add the metric families `collect()` yields to every scrape. It runs with every retailer's
    rows in view; it must read through indexes and bound what it reads."""
    _COLLECTORS.register(name, collect, position=position)


def outboxes() -> tuple[tuple[str, Outbox], ...]:
    return _OUTBOXES.items()


def backlog_of(queryset: QuerySet, since: str, *, limit: int = BACKLOG_LIMIT) -> Backlog:
    """How many rows `queryset` holds (up to `limit`) and the earliest `since` among them."""
    count = queryset.order_by().values("pk")[:limit].count()
    oldest = queryset.order_by(since).values_list(since, flat=True).first() if count else None
    return Backlog(count, oldest)


# requests


def observe_request(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name:
        view = match.view_name
    elif request.path.startswith(settings.STATIC_URL):
        view = "static"  # served by WhiteNoise before any URL is resolved
    else:
        view = "unresolved"
    method = request.method if request.method in _METHODS else "other"
    status = f"{response.status_code // 100}xx"
    REQUEST_SECONDS.labels(view, method, status).observe(seconds)


class RequestMiddleware:
    """Give each request an id (oms.logs), echo it in `X-Request-ID`, and time the request by
    its URL name. First in MIDDLEWARE, so it times the others too; it makes no query."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        logs.bind_request(request)
        started = time.perf_counter()
        response = self.get_response(request)
        observe_request(request, response, time.perf_counter() - started)
        response[logs.HEADER] = request.request_id
        return response


# tasks

_running: dict[str, tuple[float, object]] = {}
_running_lock = threading.Lock()
_HEADER = "oms_request_id"


def _task_published(sender=None, headers=None, **kwargs) -> None:
    if headers is not None and (sent_by := logs.request_id()):
        headers[_HEADER] = sent_by


def _task_started(sender=None, task_id=None, task=None, **kwargs) -> None:
    sent_by = getattr(task.request, _HEADER, None) if task is not None else None
    tokens = logs.bind_task(getattr(task, "name", None), sent_by)
    with _running_lock:
        _running[task_id] = (time.perf_counter(), tokens)


def _task_ended(sender=None, task_id=None, task=None, state=None, **kwargs) -> None:
    with _running_lock:
        started, tokens = _running.pop(task_id, (None, None))
    name = getattr(task, "name", None) or "unknown"
    TASK_RUNS.labels(name, _OUTCOMES.get(state, str(state).lower())).inc()
    if started is not None:
        TASK_SECONDS.labels(name).observe(time.perf_counter() - started)
    if tokens is not None:
        # ended in another context than it started in: nothing to undo
        with contextlib.suppress(ValueError):
            logs.unbind_task(tokens)


def _keep_django_logging(**kwargs) -> None:
    """Celery's worker and beat leave the logging that LOGGING set up (the JSON lines) alone."""


def connect_signals() -> None:
    """Count task runs, carry the request id into tasks and forget it when a response is done,
    give log lines the database's retailer scope, and keep Celery from replacing the logging
    (OmsConfig.ready: a worker loads Django before it sets up logging)."""
    logs.read_scope_from(rls.current)
    request_finished.connect(logs.unbind_request, dispatch_uid="oms.logs.unbind_request")
    signals.setup_logging.connect(_keep_django_logging, dispatch_uid="oms.metrics.logging")
    signals.before_task_publish.connect(_task_published, dispatch_uid="oms.metrics.published")
    signals.task_prerun.connect(_task_started, dispatch_uid="oms.metrics.started")
    signals.task_postrun.connect(_task_ended, dispatch_uid="oms.metrics.ended")


# what a scrape reads


def queue_names() -> list[str]:
    """The Celery queues: CELERY_TASK_QUEUES when set, else Celery's default queue."""
    queues = getattr(settings, "CELERY_TASK_QUEUES", None)
    if not queues:
        return ["celery"]
    if isinstance(queues, dict):
        return [str(name) for name in queues]
    return [getattr(queue, "name", queue) for queue in queues]


def _queue_lengths() -> Iterable[Metric]:
    url = celery_app.conf.broker_url or ""
    if celery_app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return  # tasks run in-process: there is no queue
    lengths = GaugeMetricFamily(
        "oms_celery_queue_length", "Messages waiting in a Celery queue.", labels=["queue"]
    )
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        names = queue_names()
        for name in names:  # kombu keeps each priority step in a list of its own
            for key in _priority_keys(name):
                pipe.llen(key)
        found = pipe.execute()
    finally:
        client.close()
    steps = len(_priority_keys(""))
    for index, name in enumerate(names):
        lengths.add_metric([name], sum(found[index * steps : (index + 1) * steps]))
    yield lengths


def _priority_keys(queue: str) -> list[str]:
    return [queue] + [f"{queue}\x06\x16{step}" for step in (3, 6, 9)]


def _outbox_metrics() -> Iterable[Metric]:
    backlog = GaugeMetricFamily(
        "oms_outbox_backlog",
        f"Items written to an outbox and not yet done (counted up to {BACKLOG_LIMIT}).",
        labels=["outbox"],
    )
    age = GaugeMetricFamily(
        "oms_outbox_oldest_age_seconds",
        "How long the oldest item of an outbox has waited (0 when none waits).",
        labels=["outbox"],
    )
    now = timezone.now()
    for name, outbox in outboxes():
        count, oldest = outbox.backlog()
        backlog.add_metric([name], count)
        age.add_metric([name], max((now - oldest).total_seconds(), 0) if oldest else 0)
    yield backlog
    yield age


class _Scrape:
    """Everything one scrape answers: the counts of this process (or of every process, in
    multiprocess mode) and the figures read now."""

    def __init__(self) -> None:
        self.counted = MultiProcessCollector(None) if MULTIPROC_DIR else REGISTRY

    def collect(self) -> Iterable[Metric]:
        yield from self.counted.collect()
        up = GaugeMetricFamily(
            "oms_metrics_source_up", "Whether a source of figures answered.", labels=["source"]
        )
        yield from _read(up, [("queues", _queue_lengths)])
        from_database = [("outboxes", _outbox_metrics), *_COLLECTORS.items()]
        families: list[Metric] = []
        read = False
        try:
            with rls.all_retailers():
                families.extend(_read(up, from_database))
                read = True
        except Exception:  # the database is down: the counts above still answer
            logger.exception("Metrics from the database could not be read")
            if not read:
                for name, _ in from_database:
                    up.add_metric([name], 0)
        yield from families
        yield up


def _read(up: GaugeMetricFamily, sources) -> Iterable[Metric]:
    for name, collect in sources:
        try:
            families = list(collect())
        except Exception:
            logger.exception("Metrics from %s could not be read", name)
            up.add_metric([name], 0)
            continue
        up.add_metric([name], 1)
        yield from families


def exposition() -> bytes:
    """The text Prometheus reads."""
    return generate_latest(_Scrape())


# who may read it


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_NETWORKS]


def may_scrape(request: HttpRequest) -> bool:
    """A scrape with the bearer token METRICS_TOKEN, or from METRICS_ALLOWED_NETWORKS."""
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    bearer = given.removeprefix("Bearer ").encode() if given.startswith("Bearer ") else b""
    if token and bearer and hmac.compare_digest(bearer, token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks())


@login_not_required
@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics, for Prometheus (not behind login: a token or a network guards them)."""
    if not may_scrape(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
