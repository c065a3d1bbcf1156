"""How a page is timed on both sides of the comparison, so both sides are timed alike.

Imported by bench/peers/compare.py in the back office's process and by
bench/peers/oscar/worker.py in oscar's; it needs nothing but Django.
"""

import time

from django.db import connection
from django.test import Client


class QueryCounter:
    """Counts the queries run through the connection while it is installed, and their time."""

    def __init__(self) -> None:
        self.count = 0
        self.ms = 0.0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.ms += (time.perf_counter() - began) * 1000


def timed(client: Client, url: str, runs: int) -> dict:
    """`runs` requests of one page: the status and size of the last; for each, the time, the
    CPU time of this process, the queries and their time. The time is the Django handler's, in
    process, from request to rendered response, as bench/run.py measures it. The CPU time is
    the Python side's cost alone (the database works in its own process), which a busy shared
    machine disturbs far less than the time."""
    times, cpu_ms, queries, db_ms = [], [], [], []
    for _ in range(runs):
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            began, cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - began) * 1000)
            cpu_ms.append((time.process_time() - cpu) * 1000)
        queries.append(counter.count)
        db_ms.append(counter.ms)
    return {
        "status": response.status_code,
        "bytes": len(response.content),
        "ms": times,
        "cpu_ms": cpu_ms,
        "queries": queries,
        "db_ms": db_ms,
    }
