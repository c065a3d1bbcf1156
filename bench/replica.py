"""List-page throughput with and without a read replica.

Runs the load of `bench/load.py` (gunicorn on loopback, agents logged in through the login form,
a closed loop without think time) twice per round against DATABASE_URL: once as it is, once with
DATABASE_REPLICA_URL set, so that list pages read from the replica. Rounds alternate the two,
so that a slow spell of the machine hits both alike. The replica is the URL given with
`--replica-url`, or else a streaming standby of DATABASE_URL's server started for the run
(`tests/standby.py`: the server must be on 127.0.0.1, and the standby copies the whole cluster
as it is when the bench starts).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench python bench/replica.py \\
        --users 8 --duration 20 --url /orders/ --url "/orders/?view=open"

On one machine the replica shares the cores with the primary, the web workers and the clients:
the figures show what routing costs or saves there, not what a replica on its own server gives.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import run_load
from tests.standby import Standby, free_port


def _figures(result: dict) -> dict:
    keys = ("requests", "errors", "rps", "p50_ms", "p95_ms", "p99_ms")
    return {k: result[k] for k in keys}


def _statements(url: str) -> int:
    """Transactions the server has run in the database (each read in autocommit is one)."""
    with psycopg.connect(url, autocommit=True) as c:
        query = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s"
        return c.execute(query, [urlsplit(url).path.lstrip("/")]).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--username", default="bench.agent")
    parser.add_argument("--password", default="bench-password")
    parser.add_argument(
        "--replica-url", default="", help="an existing replica (else one is started)"
    )
    parser.add_argument("--url", action="append", help="a list page; repeatable (default /orders/)")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        sys.exit("Set DATABASE_URL to the bench database.")
    urls = args.url or ["/orders/"]

    primary = urlsplit(database_url)
    standby = None
    replica_url = args.replica_url
    if not replica_url:
        standby = Standby(primary_port=primary.port or 5432, user=primary.username or "postgres")
        standby.create()
        standby.start()
        standby.wait_until_caught_up()
        replica_url = standby.url(primary.path.lstrip("/"))
    runs: dict[str, list[dict]] = {"primary only": [], "with the replica": []}
    try:
        for _ in range(args.rounds):
            for name, replica in (("primary only", ""), ("with the replica", replica_url)):
                os.environ.pop("DATABASE_REPLICA_URL", None)
                if replica:
                    os.environ["DATABASE_REPLICA_URL"] = replica
                on_replica = _statements(replica_url)
                result = run_load(
                    database_url=database_url,
                    users=args.users,
                    duration=args.duration,
                    urls=urls,
                    username=args.username,
                    password=args.password,
                    workers=args.workers,
                    port=free_port(),
                )
                # the lag checks and the health pings run there too: a few a second
                read_there = _statements(replica_url) - on_replica
                runs[name].append(_figures(result) | {"replica_transactions": read_there})
                print(name, json.dumps(runs[name][-1]), file=sys.stderr, flush=True)
    finally:
        os.environ.pop("DATABASE_REPLICA_URL", None)
        if standby is not None:
            standby.remove()

    print(f"{args.users} users, {args.workers} gunicorn workers, {args.duration:.0f} s a run;")
    print(f"pages: {', '.join(urls)}")
    print("| setup | round | requests/s | p50 ms | p95 ms | errors | transactions on the replica |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, results in runs.items():
        for n, r in enumerate(results, 1):
            cells = [r["rps"], r["p50_ms"], r["p95_ms"], r["errors"], r["replica_transactions"]]
            print(f"| {name} | {n} | " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
