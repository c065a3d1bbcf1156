"""The home page's counts kept as counters: a prototype, to weigh against counting with indexes.

    python bench/home_counters.py read          # on the bench database (reads only)
    python bench/home_counters.py write         # on a scratch database: never the bench one

`read` fills a temporary (session-only) per-retailer counter table with the largest retailer's
counts, then measures, per home page, the database and Python CPU of the counts as the page runs
them today (orders.queues, orders.figures: indexes) against one read of the counter table. The
at-risk count depends on the clock (an order becomes late by standing still) and stays a query
either way, so it is left out of both sides.

`write` measures what the counters cost the services that change those counts: a hold set and
cleared (`order_hold_set`, `order_hold_clear`) bare, and with the counter of its retailer updated
in the same transaction, one after another and from four threads working on different orders of
the same retailer, whose counter row they all lock until they commit.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from django.db import connection, connections, transaction  # noqa: E402

COUNTER_TABLE = """
    CREATE {temporary} TABLE IF NOT EXISTS home_counter (
        retailer_id bigint NOT NULL,
        name text NOT NULL,
        count bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (retailer_id, name)
    )
"""
RUNS = 40


def backend_cpu_ms() -> float:
    """CPU time of this connection's server process so far (Linux, server on this host)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def cpu_per_run(work, runs: int = RUNS) -> tuple[float, float]:
    """(Python ms, database ms) of CPU per call of `work`, after a warm-up."""
    for _ in range(3):
        work()
    database, python = backend_cpu_ms(), time.process_time()
    for _ in range(runs):
        work()
    return (
        (time.process_time() - python) * 1000 / runs,
        (backend_cpu_ms() - database) / runs,
    )


def read() -> None:
    from oms import inbox
    from oms.models import User
    from oms.roles import has_role_anywhere
    from oms.tenancy import least_role, retailer_ids_for
    from orders import figures, queues

    user = User.objects.get(username="bench.agent")
    ids = retailer_ids_for(user)
    stored = [
        source
        for source in inbox._QUEUES
        if source.queue is not queues.at_risk_of_being_late and has_role_anywhere(user, source.role)
    ]

    def counted() -> dict[str, int]:
        found = {}
        for source in stored:
            with least_role(source.role):
                queue = source.queue(user)
            found[queue.label] = queue.count
        for row in figures.open_orders_by_status(user):
            found[f"status {row.label}"] = row.count
        return found

    values = counted()
    with connection.cursor() as cursor:
        cursor.execute(COUNTER_TABLE.format(temporary="TEMPORARY"))
        cursor.executemany(
            "INSERT INTO home_counter VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            [(ids[0], name, count) for name, count in values.items()],
        )

    def stored_counts() -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, sum(count) FROM home_counter WHERE retailer_id = ANY(%s) GROUP BY 1",
                [ids],
            )
            return dict(cursor.fetchall())

    assert stored_counts() == values
    print(f"{len(values)} counts of retailer {ids}, at risk left out: {values}")
    python, database = cpu_per_run(counted)
    print(f"counted (indexes):  python {python:5.2f} ms, database {database:5.2f} ms CPU per page")
    python, database = cpu_per_run(stored_counts)
    print(f"counters (1 read):  python {python:5.2f} ms, database {database:5.2f} ms CPU per page")
    print("(orders per day and the time to ship, under the counts, are queried in both ways)")


def write() -> None:
    if connection.settings_dict["NAME"] == "oms_bench":
        sys.exit("`write` changes orders: point DATABASE_URL at a scratch database.")
    from django.core.management import call_command

    from oms.roles import Role
    from orders.services.lifecycle import order_hold_clear, order_hold_set
    from tests.factories import MembershipFactory, OrderFactory, RetailerFactory, UserFactory

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(COUNTER_TABLE.format(temporary=""))
    retailer = RetailerFactory(ref=f"counters-{time.time_ns()}")  # a new one each run
    manager = UserFactory()
    MembershipFactory(user=manager, retailer=retailer, role=Role.MANAGER)
    orders = [OrderFactory(retailer=retailer) for _ in range(40)]

    def counter(change: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO home_counter VALUES (%s, 'on_hold', %s) ON CONFLICT (retailer_id,"
                " name) DO UPDATE SET count = home_counter.count + EXCLUDED.count",
                [retailer.pk, change],
            )

    def hold_and_clear(order, counted: bool) -> None:
        with transaction.atomic():
            order_hold_set(order=order, flag="compliance", by=manager, reason="prototype")
            if counted:
                counter(+1)
        with transaction.atomic():
            order_hold_clear(order=order, flag="compliance", by=manager, reason="prototype")
            if counted:
                counter(-1)

    def counter_alone() -> None:
        with transaction.atomic():
            counter(+1)

    python, database = cpu_per_run(counter_alone, runs=400)
    print(f"the counter's update alone: python {python:5.2f} ms, database {database:5.2f} ms CPU")
    for counted in (False, True, False, True):
        times = []
        for order in orders:
            started = time.perf_counter()
            hold_and_clear(order, counted)
            times.append((time.perf_counter() - started) * 1000 / 2)
        label = "with counter" if counted else "bare        "
        print(f"sequential {label}: {statistics.median(times):6.2f} ms per change (median)")
    for counted in (False, True, False, True):
        done = []

        def agent(mine, counted=counted, done=done) -> None:
            for order in mine:
                hold_and_clear(order, counted)
                done.append(2)
            connections.close_all()

        threads = [threading.Thread(target=agent, args=(orders[n::4],)) for n in range(4)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rate = sum(done) / (time.perf_counter() - started)
        label = "with counter" if counted else "bare        "
        print(f"4 threads  {label}: {rate:6.0f} changes/s")


if __name__ == "__main__":
    {"read": read, "write": write}[sys.argv[1] if len(sys.argv) > 1 else "read"]()
