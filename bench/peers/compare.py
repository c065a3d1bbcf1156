"""The back office side by side with django-oscar's dashboard, timed in the same run.

    python bench/peers/compare.py [--runs 40] [--dry-run]   # make bench-peers

Four pages are compared (bench/README.md, "Side by side with django-oscar"): the orders list as
it opens, filtered by a status, searched for a customer, and an order's page. Ours are asked of
the back office in this process (oms_bench, as the agent `bench.agent` of the largest
retailer); oscar's of its dashboard in a child process running oscar's own virtual environment
(bench/peers/oscar/worker.py, on oms_oscar filled by bench/peers/convert.py, as the staff user
`bench.staff`), which answers one JSON line per page asked. Both sides time a request the same
way (bench/peers/timing.py). After three warm-up requests of every page on each side, the runs
are taken in rounds, each round asking every page of both sides back to back (ours first in
one round, oscar's in the next), so a slow spell of a shared machine falls on both alike.

It writes bench/peers/results.json and the table in bench/README.md between the
`<!-- peers -->` markers, unless --dry-run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path += [str(ROOT / "bench"), str(HERE)]  # appended: shadows nothing when imported

from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from run import Fixture, one, summary  # noqa: E402  (sets Django up for the back office)
from timing import timed  # noqa: E402

RESULTS = HERE / "results.json"
README = ROOT / "bench" / "README.md"
# where bench/peers/setup_oscar.sh puts oscar's virtual environment: scratch, never committed
OSCAR_VENV = os.environ.get("OSCAR_VENV", "/tmp/oscar-venv")  # noqa: S108
OSCAR_PYTHON = Path(OSCAR_VENV) / "bin" / "python"
WORKER = HERE / "oscar" / "worker.py"
OSCAR_DATABASE_URL = os.environ.get(
    "OSCAR_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oms_oscar"
)
GOAL = 5  # times faster than oscar, on every page
ROUNDS = 4
WARM_UP = 3
SIDES = ("ours", "oscar")
MEASURES = ("ms", "cpu_ms", "queries", "db_ms")


def compared_pages(f: Fixture) -> list[dict]:
    """Each compared page: its name, our URL and oscar's for the same rows, and a note when
    the two do not do quite the same thing."""
    order_id, ref = one(
        "SELECT id, ref FROM orders_order WHERE retailer_id = %s"
        " ORDER BY item_count DESC, id LIMIT 1",
        [f.retailer],
    )
    return [
        {"name": "orders list", "ours": "/orders/", "oscar": "/dashboard/orders/"},
        {
            "name": "orders list, filtered by status",
            "ours": "/orders/?status=processing",
            "oscar": "/dashboard/orders/?status=Processing",
        },
        {
            "name": "orders list, searched for a customer",
            "ours": f"/orders/?q={quote_plus(f.email)}",
            "oscar": f"/dashboard/orders/?name={quote_plus(f.last)}",
            "note": "ours by email; oscar's order search has no email field, so by the same"
            " customer's last name (its customer name search)",
        },
        {
            "name": "order page",
            "ours": f"/orders/{order_id}/",
            "oscar": f"/dashboard/orders/{ref}/",
            "note": f"the order with the most lines ({ref})",
        },
    ]


class Oscar:
    """Oscar's dashboard in a child process of its own virtual environment."""

    def __init__(self) -> None:
        if not OSCAR_PYTHON.exists():
            raise SystemExit(f"No {OSCAR_PYTHON}: run bench/peers/setup_oscar.sh first.")
        env = {**os.environ, "OSCAR_DATABASE_URL": OSCAR_DATABASE_URL}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        self.process = subprocess.Popen(
            [str(OSCAR_PYTHON), str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.versions = self.read()

    def read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("oscar's worker stopped (see its error above)")
        return json.loads(line)

    def timed(self, url: str, runs: int) -> dict:
        self.process.stdin.write(json.dumps({"url": url, "runs": runs}) + "\n")
        self.process.stdin.flush()
        return self.read()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def checked(answer: dict, side: str, url: str) -> dict:
    if answer["status"] != 200:
        raise SystemExit(f"{side} {url} answered {answer['status']}")
    return answer


def time_both(pages: list[dict], ours: Client, oscar: Oscar, runs: int) -> None:
    """Fill each page's times, CPU times, queries and database times on both sides: after a
    warm-up, in rounds, each page asked of both sides back to back, the side asked first
    alternating from round to round so that neither always follows the other."""
    ask = {
        "ours": lambda url, n: timed(ours, url, n),
        "oscar": oscar.timed,
    }
    for page in pages:
        for side in SIDES:
            checked(ask[side](page[side], WARM_UP), side, page[side])
        page.update({f"{side}_{what}": [] for side in SIDES for what in MEASURES})
    for round_ in range(ROUNDS):
        for page in pages:
            for side in SIDES if round_ % 2 == 0 else SIDES[::-1]:
                answer = checked(ask[side](page[side], max(1, runs // ROUNDS)), side, page[side])
                for what in MEASURES:
                    page[f"{side}_{what}"] += answer[what]
                page[f"{side}_bytes"] = answer["bytes"]


def side_result(page: dict, side: str) -> dict:
    """One side's figures for a page: its URL, times, queries, the median CPU and database
    times."""
    return {
        "url": page[side],
        **summary(page[f"{side}_ms"]),
        "queries": max(page[f"{side}_queries"]),
        "cpu_ms": round(statistics.median(page[f"{side}_cpu_ms"]), 2),
        "db_ms": round(statistics.median(page[f"{side}_db_ms"]), 2),
        "bytes": page[f"{side}_bytes"],
    }


def result(page: dict) -> dict:
    """One page's figures on both sides and the ratios, oscar's time over ours: p50, p95 and
    CPU (the goal is judged on p50 and p95)."""
    sides = {side: side_result(page, side) for side in SIDES}
    ours, theirs = sides["ours"], sides["oscar"]
    ratios = {
        f"ratio_{key}": round(theirs[f"{key}_ms"] / max(ours[f"{key}_ms"], 0.01), 1)
        for key in ("p50", "p95", "cpu")
    }
    return {
        "name": page["name"],
        **sides,
        **ratios,
        "goal_met": min(ratios["ratio_p50"], ratios["ratio_p95"]) >= GOAL,
        **({"note": page["note"]} if "note" in page else {}),
    }


def oscar_orders() -> int:
    import psycopg

    with psycopg.connect(OSCAR_DATABASE_URL) as connection:
        return connection.execute("SELECT count(*) FROM order_order").fetchone()[0]


def side_cells(side: dict) -> str:
    return (
        f"{side['p50_ms']:.1f} / {side['p95_ms']:.1f} | {side['cpu_ms']:.1f}"
        f" | {side['db_ms']:.1f} | {side['queries']}"
    )


def table(report: dict) -> str:
    rows = [
        "| page | ours p50 / p95 ms | CPU ms | DB ms | queries | oscar p50 / p95 ms | CPU ms"
        " | DB ms | queries | oscar / ours p50 | p95 | CPU | goal 5x |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["pages"]:
        ours, theirs = r["ours"], r["oscar"]
        rows.append(
            f"| {r['name']} | {side_cells(ours)} | {side_cells(theirs)} | {r['ratio_p50']}x"
            f" | {r['ratio_p95']}x | {r['ratio_cpu']}x | {'met' if r['goal_met'] else 'missed'} |"
        )
    return "\n".join(rows)


def describe(report: dict) -> str:
    facts = report["facts"]
    return (
        f"Measured {report['date']} on {facts['cpus']} cores, Python {facts['python']};"
        f" the back office as `bench.agent` of a retailer with {facts['retailer_orders']:,}"
        f" orders (of {facts['all_orders']:,}); django-oscar {facts['oscar']} on Django"
        f" {facts['oscar_django']} as a staff user seeing all {facts['oscar_orders']:,} orders;"
        f" {facts['runs']} requests a page on each side; load average"
        f" {facts['load_average'][0]} before, {facts['load_average'][1]} after.\n\n{table(report)}"
    )


def write_readme(text: str) -> None:
    start, end = "<!-- peers -->", "<!-- /peers -->"
    readme = README.read_text()
    if start not in readme:
        raise SystemExit(f"No {start} block in {README}")
    before, rest = readme.split(start, 1)
    README.write_text(f"{before}{start}\n{text}\n{end}{rest.split(end, 1)[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40, help="timed requests a page, each side")
    parser.add_argument("--dry-run", action="store_true", help="print, write no file")
    args = parser.parse_args()

    fixture = Fixture()
    pages = compared_pages(fixture)
    ours = Client()
    ours.force_login(get_user_model().objects.get(username="bench.agent"))
    load_before = os.getloadavg()[0]
    oscar = Oscar()
    try:
        time_both(pages, ours, oscar, args.runs)
    finally:
        oscar.close()
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "facts": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "retailer_orders": fixture.orders,
            "all_orders": fixture.all_orders,
            "oscar_orders": oscar_orders(),
            "oscar": oscar.versions["oscar"],
            "oscar_django": oscar.versions["django"],
            "runs": args.runs // ROUNDS * ROUNDS,
            # a load well above the core count means other work shared the machine
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        },
        "pages": [result(page) for page in pages],
    }
    text = describe(report)
    print(text)
    if not args.dry_run:
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        write_readme(text)


if __name__ == "__main__":
    main()
