"""Postgres crashes and restarts while managers work: requests fail cleanly during the outage,
succeed after it, and nothing is half-written.

The test runs a Postgres server of its own (initdb in a temporary folder, a free port), so it can
kill it without disturbing the suite's database: the demo data, gunicorn with three sync workers
in front of it, and agents posting comments and cancelling paid orders while they browse. Halfway
through, the server is stopped in "immediate" mode (no shutdown checkpoint, every connection
cut: what a crash or a failover does), kept down, and started again (crash recovery).
"""

from __future__ import annotations

import contextlib
import glob
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import pytest

from bench.load import Agent, start_gunicorn, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
AGENTS = int(os.environ.get("RESTART_AGENTS", 4))
DOWN_SECONDS = float(os.environ.get("RESTART_DOWN_SECONDS", 4))
AFTER_SECONDS = float(os.environ.get("RESTART_AFTER_SECONDS", 8))
WARM_SECONDS = 3
SETTLE_SECONDS = 3  # after the restart: workers' stale connections fail their health check once


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A throwaway Postgres server: initdb, start, crash, start again, remove."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            pytest.fail("PostgreSQL's server programs (/usr/lib/postgresql/*/bin) are missing")
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="oms-pg-restart-"))
        self.data = self.root / "data"
        self.port = _free_port()
        # initdb and postgres refuse to run as root
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_owner:
            shutil.chown(self.root, "postgres")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/oms"

    def _run(self, program: str, *args: str) -> None:
        command = [*self.as_owner, str(self.bin / program), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def crash(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)


@dataclass
class Outcome:
    agent: int
    kind: str
    target: str
    started: float
    status: int | None = None
    body: bytes = b""
    error: str = ""


def _manage(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster()
    try:
        cluster.init()
        cluster.start()
        with psycopg.connect(cluster.url.replace("/oms", "/postgres"), autocommit=True) as c:
            c.execute("CREATE DATABASE oms")
        _manage(cluster.url, "migrate", "--no-input", "-v0")
        _manage(cluster.url, "seed_demo")
        yield cluster
    finally:
        cluster.remove()


def _paid_open_orders(cluster: Cluster) -> list[int]:
    with cluster.connect() as c:
        rows = c.execute(
            "SELECT o.id FROM orders_order o"
            " JOIN orders_orderstatus s ON s.id = o.status_id"
            " JOIN oms_retailer r ON r.id = o.retailer_id"
            " WHERE r.ref = 'acme' AND s.system_state IN ('NEW', 'PROCESSING')"
            " AND EXISTS (SELECT 1 FROM billing_payment p WHERE p.order_id = o.id"
            "             AND p.captured > 0 AND p.refunded = 0)"
            " ORDER BY o.id"
        ).fetchall()
    return [row[0] for row in rows]


def _acme_orders(cluster: Cluster) -> list[int]:
    with cluster.connect() as c:
        rows = c.execute(
            "SELECT o.id FROM orders_order o JOIN oms_retailer r ON r.id = o.retailer_id"
            " WHERE r.ref = 'acme' ORDER BY o.id"
        ).fetchall()
    return [row[0] for row in rows]


class Manager(threading.Thread):
    """One manager's browser: list, order page, a comment, a cancellation, over and over."""

    def __init__(self, number, port, to_cancel, orders, stop, outcomes):
        super().__init__(daemon=True)
        self.number, self.port = number, port
        self.to_cancel, self.orders = list(to_cancel), orders
        self.stop, self.outcomes = stop, outcomes
        self.agent = Agent(port)
        self.agent.login("manager", "demo-password")
        self.random = random.Random(number)
        # the cancellations spread over the whole run, before, during and after the outage
        self.cancel_every = (WARM_SECONDS + DOWN_SECONDS + AFTER_SECONDS) / (len(to_cancel) + 1)
        self.next_cancel = time.monotonic() + self.cancel_every * self.random.random()

    def post(self, path: str, fields: dict[str, str]):
        token = self.agent.cookies["csrftoken"]
        body = urlencode({**fields, "csrfmiddlewaretoken": token})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": token}
        return self.agent.request("POST", path, body, headers)

    def step(self, n: int) -> Outcome:
        kind = ("list", "order", "comment")[n % 3]
        if self.to_cancel and time.monotonic() >= self.next_cancel:
            kind = "cancel"
            self.next_cancel += self.cancel_every
        order = self.random.choice(self.orders)
        outcome = Outcome(self.number, kind, "", time.monotonic())
        try:
            if kind == "list":
                outcome.target = f"/orders/?page={self.random.randint(1, 5)}"
                outcome.status, outcome.body = self.agent.request("GET", outcome.target)
            elif kind == "order":
                outcome.target = f"/orders/{order}/"
                outcome.status, outcome.body = self.agent.request("GET", outcome.target)
            elif kind == "comment":
                outcome.target = f"restart-comment-{self.number}-{n}"
                outcome.status, outcome.body = self.post(
                    f"/orders/{order}/comments/add/", {"body": outcome.target}
                )
            else:
                outcome.target = str(self.to_cancel.pop(0))
                outcome.status, outcome.body = self.post(
                    f"/orders/{outcome.target}/cancel/",
                    {"confirm": "on", "reason": "restart test"},
                )
                if outcome.status == 302:  # the order page tells what happened
                    outcome.status, outcome.body = self.agent.request(
                        "GET", f"/orders/{outcome.target}/"
                    )
        except Exception as error:  # any failure to get an answer is recorded
            outcome.error = f"{type(error).__name__}: {error}"
        return outcome

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            self.outcomes.append(self.step(n))
            n += 1


def test_requests_fail_cleanly_while_postgres_restarts_and_nothing_is_half_written(
    cluster, tmp_path
):
    # given managers of acme working orders through gunicorn against the server
    orders = _acme_orders(cluster)
    paid = _paid_open_orders(cluster)
    assert len(paid) >= AGENTS * 4, "the demo data should have paid open orders to cancel"
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("w+b")
    server = start_gunicorn(cluster.url, workers=3, threads=1, port=port, log=log)
    outcomes: list[Outcome] = []
    stop = threading.Event()
    managers: list[Manager] = []
    try:
        wait_until_up(server, port, log)
        for n in range(AGENTS):
            managers.append(Manager(n, port, paid[n::AGENTS], orders, stop, outcomes))
        for manager in managers:
            manager.start()
        time.sleep(WARM_SECONDS)

        # when the database crashes, stays down, and comes back (crash recovery)
        crashed = time.monotonic()
        cluster.crash()
        time.sleep(DOWN_SECONDS)
        cluster.start()
        restarted = time.monotonic()
        time.sleep(AFTER_SECONDS)
    finally:
        stop.set()
        for manager in managers:
            manager.join(timeout=60)
        server.terminate()
        server.wait(timeout=30)
    log.seek(0)
    server_log = log.read().decode(errors="replace")[-3000:]

    # then every request got an answer: a page, a redirect, or a clean 503 during the outage
    assert outcomes, server_log
    assert [o for o in outcomes if o.error] == [], server_log
    statuses = {o.status for o in outcomes}
    assert statuses <= {200, 302, 503}, (statuses, server_log)
    before = [o for o in outcomes if o.started < crashed - 0.5]
    down = [o for o in outcomes if o.status == 503]
    after = [o for o in outcomes if o.started > restarted + SETTLE_SECONDS]
    assert before and all(o.status in (200, 302) for o in before)
    assert down, "the outage should have been seen by someone"
    assert all(crashed - 0.5 <= o.started <= restarted + SETTLE_SECONDS for o in down)
    assert all(b"Nothing was changed" in o.body for o in down)
    assert len(after) >= AGENTS, "requests after the restart"
    assert all(o.status in (200, 302) for o in after), [(o.kind, o.status) for o in after]

    # and nothing is half-written: each change is there whole, with its activity, or not at all
    with cluster.connect() as c:
        comments = dict(
            c.execute(
                "SELECT body, count(*) FROM orders_comment"
                " WHERE body LIKE 'restart-comment-%' GROUP BY body"
            ).fetchall()
        )
        commented = dict(
            c.execute(
                "SELECT data->>'body', count(*) FROM oms_activity"
                " WHERE action = 'orders.comment.added' AND data->>'body' LIKE 'restart-comment-%'"
                " GROUP BY 1"
            ).fetchall()
        )
        cancel_tried = [int(o.target) for o in outcomes if o.kind == "cancel"]
        cancelled = {
            row[0]
            for row in c.execute(
                "SELECT o.id FROM orders_order o JOIN orders_orderstatus s ON s.id = o.status_id"
                " WHERE s.system_state = 'CANCELLED' AND o.id = ANY(%s)",
                [cancel_tried],
            ).fetchall()
        }
        cancel_activity = dict(
            c.execute(
                "SELECT target_id::bigint, count(*) FROM oms_activity"
                " WHERE action = 'orders.order.cancelled' AND target_id::bigint = ANY(%s)"
                " GROUP BY 1",
                [cancel_tried],
            ).fetchall()
        )
        refunds = dict(
            c.execute(
                "SELECT order_id, count(*) FROM billing_paymenttransaction"
                " WHERE kind = 'refund' AND order_id = ANY(%s) GROUP BY 1",
                [cancel_tried],
            ).fetchall()
        )
        overdrawn = c.execute(
            "SELECT count(*) FROM billing_payment WHERE refunded > captured OR captured > authorised"
        ).fetchone()[0]

    posted = [o.target for o in outcomes if o.kind == "comment"]
    kept = [o.target for o in outcomes if o.kind == "comment" and o.status in (200, 302)]
    assert all(comments.get(body) == 1 for body in kept), "an answered comment was lost"
    assert all(comments.get(body, 0) <= 1 for body in posted), "a comment was written twice"
    assert comments == commented, "every comment has its activity, and no activity lacks one"
    answered = [
        int(o.target) for o in outcomes if o.kind == "cancel" and b"is cancelled." in o.body
    ]
    assert set(answered) <= cancelled, "an answered cancellation was lost"
    assert cancel_activity == dict.fromkeys(cancelled, 1)
    assert refunds == dict.fromkeys(cancelled, 1), (
        "each cancelled paid order has exactly one refund operation"
    )
    assert overdrawn == 0
    cancels_down = [o for o in outcomes if o.kind == "cancel" and o.status == 503]
    print(
        f"\n{len(outcomes)} requests by {AGENTS} managers; database down {DOWN_SECONDS:.0f} s:"
        f" {len(down)} answered 503, the {len(after)} after the restart all succeeded;"
        f" {len(kept)} comments and {len(answered)} cancellations answered and kept;"
        f" {len(posted) - len(kept)} comments and {len(cancels_down)} cancellations answered 503"
        f" ({len(cancelled) - len(answered)} of those cancellations committed before the"
        " connection dropped, whole); 0 half-written"
    )
