"""The benchmark harness: every page an agent uses, timed on the largest retailer's data.

    make bench                      # a fresh `oms_bench` database, 1,000,000 orders, then this
    python bench/run.py [--runs 40] [--only orders] [--skip-load] [--skip-intake]
    python bench/run.py --baseline HEAD~1 --only orders --skip-export --skip-load --skip-intake

For each page it measures the server-side time (the Django handler, in process, from request to
rendered response) as p50 / p95 / p99 over `--runs` requests after a warm-up, the number of
queries and the time they took, and the floor: the same rows fetched by hand-written SQL on the
same connection. It explains the list queries and fails a page whose plan scans orders or order
lines sequentially. It streams a 100,000-row CSV export in a child process to measure its peak
memory, runs the load test (`bench/load.py`) and the intake throughput (`bench/intake.py`), and
writes `bench/results.json` and the results table in `bench/README.md`.

With `--baseline <ref>` it also times the pages in that commit's code, interleaved with today's,
on the same database, and prints the ratios per page (`bench/baseline.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

from bench.stats import percentile  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
README = ROOT / "bench" / "README.md"
PAGE_P95_MS = 50
API_P95_MS = 30
FLOOR_RATIO = 3
EXPORT_ROWS = 100_000
EXPORT_MB = 100
LOAD_P95_MS = 200
SCANNED = ("orders_order", "orders_orderline")


def summary(times: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "p99_ms": round(percentile(times, 0.99), 2),
    }


def one(sql: str, params: list | tuple = ()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


class Fixture:
    """The ids and values the pages are asked about, read from the generated data."""

    def __init__(self) -> None:
        self.retailer = one("SELECT id FROM oms_retailer WHERE ref = 'bench-01'")
        if self.retailer is None:
            sys.exit("No bench data: run `python manage.py generate_data` first (make bench).")
        r = self.retailer = self.retailer[0]
        self.orders = one("SELECT count(*) FROM orders_order WHERE retailer_id = %s", [r])[0]
        self.all_orders = one("SELECT count(*) FROM orders_order")[0]
        # an order with the most kinds of rows (returns, comments, a ticket, shipments) and
        # the most lines; and one with a single line, whose tabs must not cost more queries
        self.big_order = one(
            "SELECT o.id FROM orders_order o WHERE o.retailer_id = %s"
            " AND EXISTS (SELECT 1 FROM returns_return x WHERE x.order_id = o.id)"
            " AND EXISTS (SELECT 1 FROM orders_comment x WHERE x.order_id = o.id)"
            " ORDER BY EXISTS (SELECT 1 FROM orders_ticket x WHERE x.order_id = o.id) DESC,"
            " o.item_count DESC, o.id LIMIT 1",
            [r],
        )[0]
        self.small_order = one(
            "SELECT id FROM orders_order WHERE retailer_id = %s AND item_count = 1"
            " ORDER BY id LIMIT 1",
            [r],
        )[0]
        self.customer, self.customer_orders = one(
            "SELECT customer_id, count(*) FROM orders_order WHERE retailer_id = %s"
            " GROUP BY customer_id ORDER BY count(*) DESC LIMIT 1",
            [r],
        )
        self.ref = one(
            "SELECT ref FROM orders_order WHERE retailer_id = %s ORDER BY id OFFSET %s LIMIT 1",
            [r, self.orders // 2],
        )[0]
        self.first, self.last, self.email = one(
            "SELECT first_name, last_name, email FROM customers_customer WHERE retailer_id = %s"
            " ORDER BY id OFFSET %s LIMIT 1",
            [r, 2000],
        )
        self.processing = one(
            "SELECT id FROM orders_orderstatus WHERE retailer_id = %s AND code = 'processing'",
            [r],
        )[0]
        today = datetime.now(UTC).date()
        self.date_from, self.date_to = today - timedelta(days=90), today
        self.export_from = today - timedelta(days=365)
        self.return_ref = one(
            "SELECT return_ref FROM returns_return WHERE retailer_id = %s ORDER BY id LIMIT 1", [r]
        )[0]

    def facts(self) -> dict:
        return {
            "retailer_orders": self.orders,
            "all_orders": self.all_orders,
            "customer_orders": self.customer_orders,
            "rows": {
                table: one(f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{table}'")[0]
                for table in (
                    "orders_order",
                    "orders_orderline",
                    "billing_paymenttransaction",
                    "orders_shipmentevent",
                    "fulfilments_fulfilment",
                    "returns_return",
                    "customers_customer",
                    "oms_activity",
                )
            },
        }


ORDER_COLUMNS = (
    "o.id, o.ref, o.channel, o.type, o.currency, o.total, o.item_count, o.payment_status,"
    " o.placed_at, o.promised_date, c.first_name, c.last_name, c.email, c.segment,"
    " s.label, s.colour"
)
ORDER_FROM = (
    "FROM orders_order o LEFT JOIN customers_customer c ON c.id = o.customer_id"
    " JOIN orders_orderstatus s ON s.id = o.status_id"
)
ORDER_PAGE = "ORDER BY o.placed_at DESC, o.id DESC LIMIT 50"


def pages(f: Fixture) -> list[dict]:
    """Each page: its URL, whether it is an API read, and its hand-written SQL floor."""
    r = f.retailer
    orders = f"SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE o.retailer_id = %s"
    order = [r, f.big_order]
    header = [
        (
            f"SELECT o.*, c.*, s.*, b.*, d.* {ORDER_FROM}"
            " LEFT JOIN customers_address b ON b.id = o.billing_address_id"
            " LEFT JOIN customers_address d ON d.id = o.shipping_address_id"
            " WHERE o.retailer_id = %s AND o.id = %s",
            order,
        ),
        ("SELECT * FROM orders_memo WHERE retailer_id = %s AND order_id = %s", order),
        ("SELECT * FROM orders_orderline WHERE retailer_id = %s AND order_id = %s", order),
        ("SELECT * FROM billing_payment WHERE retailer_id = %s AND order_id = %s", order),
        (
            "SELECT f.*, i.* FROM fulfilments_fulfilment f LEFT JOIN fulfilments_fulfilmentitem i"
            " ON i.fulfilment_id = f.id WHERE f.retailer_id = %s AND f.order_id = %s",
            order,
        ),
        (
            "SELECT s.*, e.* FROM orders_shipment s LEFT JOIN orders_shipmentevent e"
            " ON e.shipment_id = s.id WHERE s.retailer_id = %s AND s.order_id = %s",
            order,
        ),
    ]

    open_statuses = (  # a retailer's statuses of open orders
        "SELECT id FROM orders_orderstatus WHERE retailer_id = %s"
        " AND system_state IN ('NEW', 'PROCESSING', 'FRAUD', 'SUSPENDED')"
    )
    suspended = (
        "SELECT id FROM orders_orderstatus WHERE retailer_id = %s AND system_state = 'SUSPENDED'"
    )

    def tab(sql: str) -> list:
        return [*header, (sql, order)]

    def counted(sql: str, params: list) -> list:
        """A page of a list and its count, capped as an expert would cap it."""
        rows = sql.rsplit(" ORDER BY ", 1)[0]
        return [(sql, params), (f"SELECT count(*) FROM ({rows} LIMIT 10001) capped", params)]

    listed = [
        {
            "name": "orders: default",
            "url": "/orders/",
            "list": True,
            "floor": counted(f"{orders} {ORDER_PAGE}", [r]),
        },
        {
            "name": "orders: status + date range",
            "url": f"/orders/?status=processing&placed_after={f.date_from}&placed_before={f.date_to}",
            "list": True,
            "floor": counted(
                f"{orders} AND o.status_id = %s AND o.placed_at >= %s AND o.placed_at < %s"
                f" {ORDER_PAGE}",
                [r, f.processing, f.date_from, f.date_to + timedelta(days=1)],
            ),
        },
        {
            "name": "orders: search by ref",
            "url": f"/orders/?q={f.ref}",
            "list": True,
            "floor": counted(f"{orders} AND o.ref = %s {ORDER_PAGE}", [r, f.ref]),
        },
        {
            "name": "orders: search by customer name",
            "url": f"/orders/?q={f.first}+{f.last}".replace(" ", "+"),
            "list": True,
            "floor": counted(
                f"{orders} AND o.customer_id IN (SELECT id FROM customers_customer"
                " WHERE retailer_id = %s AND upper(first_name) LIKE upper(%s)"
                f" AND upper(last_name) LIKE upper(%s)) {ORDER_PAGE}",
                [r, r, f"%{f.first}%", f"%{f.last}%"],
            ),
        },
        {
            "name": "orders: search by email",
            "url": f"/orders/?q={f.email}",
            "list": True,
            "floor": counted(
                f"{orders} AND o.customer_id IN (SELECT id FROM customers_customer"
                f" WHERE retailer_id = %s AND email_key = %s) {ORDER_PAGE}",
                [r, r, f.email.upper()],
            ),
        },
        {
            "name": "orders: deep page (offset 100,000)",
            "url": "/orders/?page=2001",
            "list": True,
            "floor": [
                (f"{orders} {ORDER_PAGE} OFFSET 100000", [r]),
                (
                    "SELECT count(*) FROM (SELECT 1 FROM orders_order WHERE retailer_id = %s"
                    " LIMIT 10001) capped",
                    [r],
                ),
            ],
        },
    ]
    tabs = [
        ("items", "SELECT * FROM orders_orderline WHERE retailer_id = %s AND order_id = %s"),
        (
            "transactions",
            "SELECT * FROM billing_paymenttransaction WHERE retailer_id = %s AND order_id = %s",
        ),
        (
            "shipments",
            "SELECT s.*, e.* FROM orders_shipment s LEFT JOIN orders_shipmentevent e"
            " ON e.shipment_id = s.id WHERE s.retailer_id = %s AND s.order_id = %s",
        ),
        (
            "returns",
            "SELECT r.*, i.* FROM returns_return r LEFT JOIN returns_returnitem i"
            " ON i.return_request_id = r.id WHERE r.retailer_id = %s AND r.order_id = %s",
        ),
        ("invoices", "SELECT * FROM billing_invoice WHERE retailer_id = %s AND order_id = %s"),
        ("comments", "SELECT * FROM orders_comment WHERE retailer_id = %s AND order_id = %s"),
        ("tickets", "SELECT * FROM orders_ticket WHERE retailer_id = %s AND order_id = %s"),
        ("tasks", "SELECT * FROM orders_task WHERE retailer_id = %s AND order_id = %s"),
        (
            "activity",
            "SELECT * FROM oms_activity WHERE retailer_id = %s AND root_type = 'orders.order'"
            " AND root_id = %s::text ORDER BY created_at DESC",
        ),
    ]
    detail = [
        {
            "name": f"order tab: {name}",
            "url": f"/orders/{f.big_order}/{name}/",
            "same_queries_as": f"/orders/{f.small_order}/{name}/",
            "floor": tab(sql),
        }
        for name, sql in tabs
    ]
    others = [
        {
            "name": "returns list",
            "url": "/returns/",
            "list": True,
            "floor": counted(
                "SELECT r.*, o.ref FROM returns_return r LEFT JOIN orders_order o"
                " ON o.id = r.order_id WHERE r.retailer_id = %s"
                " ORDER BY r.created_at DESC, r.id DESC LIMIT 50",
                [r],
            ),
        },
        {
            "name": "API: returns search",
            "url": f"/api/v4.1/return?retailerId={r}&count=10",
            "api": True,
            "floor": [
                (
                    "SELECT r.*, o.ref FROM returns_return r LEFT JOIN orders_order o"
                    " ON o.id = r.order_id WHERE r.retailer_id = %s"
                    " ORDER BY r.created_at DESC, r.id DESC LIMIT 10",
                    [r],
                ),
                ("SELECT count(*) FROM returns_return WHERE retailer_id = %s", [r]),  # "total"
            ],
        },
        {
            "name": "API: returns search by ref",
            "url": f"/api/v4.1/return?retailerId={r}&query={f.return_ref}",
            "api": True,
            "floor": [
                (
                    "SELECT r.*, o.ref FROM returns_return r LEFT JOIN orders_order o"
                    " ON o.id = r.order_id WHERE r.retailer_id = %s AND r.return_ref = %s",
                    [r, f.return_ref],
                ),
                (
                    "SELECT count(*) FROM returns_return WHERE retailer_id = %s AND return_ref = %s",
                    [r, f.return_ref],
                ),
            ],
        },
        {
            "name": "escalated fulfilments",
            "url": "/fulfilments/escalated/",
            "list": True,
            "floor": counted(
                "SELECT f.*, o.ref, c.first_name, c.last_name FROM fulfilments_fulfilment f"
                " JOIN orders_order o ON o.id = f.order_id"
                " LEFT JOIN customers_customer c ON c.id = o.customer_id"
                " WHERE f.retailer_id = %s AND f.status = 'ESCALATED'"
                " ORDER BY f.escalated_at LIMIT 50",
                [r],
            ),
        },
        {
            "name": "fulfilments list",
            "url": "/fulfilments/",
            "list": True,
            "floor": counted(
                "SELECT f.*, o.ref, c.first_name, c.last_name FROM fulfilments_fulfilment f"
                " JOIN orders_order o ON o.id = f.order_id"
                " LEFT JOIN customers_customer c ON c.id = o.customer_id"
                " WHERE f.retailer_id = %s ORDER BY f.created_at DESC, f.id DESC LIMIT 50",
                [r],
            ),
        },
        {
            "name": "customers list",
            "url": "/customers/",
            "list": True,
            "floor": counted(
                "SELECT * FROM customers_customer WHERE retailer_id = %s"
                " ORDER BY last_name, first_name, id LIMIT 50",
                [r],
            ),
        },
        {
            "name": "customer with the longest history",
            "url": f"/customers/{f.customer}/",
            "floor": [
                ("SELECT * FROM customers_customer WHERE id = %s", [f.customer]),
                (
                    "SELECT o.*, s.label FROM orders_order o JOIN orders_orderstatus s"
                    " ON s.id = o.status_id WHERE o.retailer_id = %s AND o.customer_id = %s"
                    " ORDER BY o.placed_at DESC LIMIT 25",
                    [r, f.customer],
                ),
                (
                    "SELECT r.*, o.ref FROM returns_return r LEFT JOIN orders_order o"
                    " ON o.id = r.order_id WHERE r.retailer_id = %s AND r.customer_id = %s"
                    " ORDER BY r.created_at DESC LIMIT 25",
                    [r, f.customer],
                ),
                (
                    "SELECT t.*, o.ref FROM orders_ticket t JOIN orders_order o ON o.id = t.order_id"
                    " WHERE t.retailer_id = %s AND o.customer_id = %s LIMIT 25",
                    [r, f.customer],
                ),
                ("SELECT * FROM customers_address WHERE customer_id = %s LIMIT 20", [f.customer]),
                (
                    "SELECT p.method, p.currency, sum(p.captured), sum(p.refunded)"
                    " FROM billing_payment p JOIN orders_order o ON o.id = p.order_id"
                    " WHERE p.retailer_id = %s AND o.customer_id = %s GROUP BY 1, 2",
                    [r, f.customer],
                ),
                (
                    "SELECT count(*), sum(total) FROM orders_order"
                    " WHERE retailer_id = %s AND customer_id = %s",
                    [r, f.customer],
                ),
            ],
        },
        {
            "name": "home: work queues and figures",
            "url": "/",
            "floor": [
                (
                    "SELECT count(*), min(escalated_at) FROM fulfilments_fulfilment"
                    " WHERE retailer_id = %s AND status = 'ESCALATED'",
                    [r],
                ),
                (
                    "SELECT count(DISTINCT order_id) FROM billing_paymenttransaction t"
                    " WHERE retailer_id = %s AND status = 'failed' AND kind <> 'authorise'"
                    " AND NOT EXISTS (SELECT 1 FROM billing_paymenttransaction l"
                    " WHERE l.payment_id = t.payment_id AND l.kind = t.kind AND l.id > t.id)",
                    [r],
                ),
                (
                    "SELECT count(*) FROM returns_return"
                    " WHERE retailer_id = %s AND status = 'PENDING_REFUND'",
                    [r],
                ),
                (
                    "SELECT count(DISTINCT order_id) FROM orders_ticket"
                    " WHERE retailer_id = %s AND status = 'open'",
                    [r],
                ),
                (
                    "SELECT count(*) FROM (SELECT id FROM orders_order WHERE retailer_id = %s"
                    " AND (hold_documentation OR hold_compliance) UNION SELECT id"
                    f" FROM orders_order WHERE retailer_id = %s AND status_id IN ({suspended})"
                    ") held",
                    [r, r, r],
                ),
                (
                    f"SELECT count(*) FROM orders_order WHERE retailer_id = %s AND status_id IN"
                    f" ({open_statuses}) AND payment_status IN"
                    " ('not_paid', 'authorised', 'partially_paid')",
                    [r, r],
                ),
                (
                    # at risk: late for the carrier and not shipped, or escalated (every carrier
                    # of the bench takes the default transit days: promised before today + 3)
                    f"SELECT count(*) FROM orders_order o WHERE o.retailer_id = %s AND o.status_id"
                    f" IN ({open_statuses}) AND ((o.promised_date < %s AND NOT EXISTS (SELECT 1"
                    " FROM orders_shipment s WHERE s.order_id = o.id AND s.shipped_at IS NOT NULL))"
                    " OR EXISTS (SELECT 1 FROM fulfilments_fulfilment f WHERE f.order_id = o.id"
                    " AND f.retailer_id = %s AND f.status = 'ESCALATED'))",
                    [r, r, datetime.now(UTC).date() + timedelta(days=3), r],
                ),
                (
                    "SELECT count(*) FROM orders_task WHERE retailer_id = %s AND status <> 'done'"
                    " AND assignee_id = (SELECT id FROM oms_user WHERE username = 'bench.agent')",
                    [r],
                ),
                (
                    "SELECT s.code, s.label, s.colour, count(*) FROM orders_order o"
                    " JOIN orders_orderstatus s ON s.id = o.status_id WHERE o.retailer_id = %s"
                    f" AND o.status_id IN ({open_statuses}) GROUP BY 1, 2, 3",
                    [r, r],
                ),
                (
                    "SELECT (placed_at AT TIME ZONE 'UTC')::date, count(*) FROM orders_order"
                    " WHERE retailer_id = %s AND placed_at >= now() - interval '30 days'"
                    " GROUP BY 1",
                    [r],
                ),
                (
                    "SELECT o.placed_at, s.shipped_at FROM orders_shipment s"
                    " JOIN orders_order o ON o.id = s.order_id WHERE s.retailer_id = %s"
                    " AND s.shipped_at IS NOT NULL ORDER BY s.shipped_at DESC LIMIT 500",
                    [r],
                ),
            ],
        },
    ]
    return [*listed, *detail, *others]


def load_urls(f: Fixture) -> list[tuple[str, int]]:
    """An agents' mix: lists and filters, order pages and their tabs, returns and escalations."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM orders_order WHERE retailer_id = %s ORDER BY placed_at DESC LIMIT 200",
            [f.retailer],
        )
        recent = [row[0] for row in cursor.fetchall()][::10]
    urls = [
        ("/orders/", 10),
        ("/orders/?view=open", 5),
        ("/orders/?status=processing", 5),
        (f"/orders/?q={f.ref}", 5),
        (f"/orders/?q={f.email}", 3),
        ("/returns/", 3),
        ("/fulfilments/escalated/", 3),
        (f"/customers/{f.customer}/", 2),
    ]
    for order in recent:
        urls += [(f"/orders/{order}/", 3), (f"/orders/{order}/activity/", 1)]
        urls += [(f"/orders/{order}/transactions/", 1), (f"/orders/{order}/shipments/", 1)]
    return urls


def timed_floor(floor: list, runs: int) -> list[float]:
    times = []
    with connection.cursor() as cursor:
        for _ in range(runs + 3):
            started = time.perf_counter()
            for sql, params in floor:
                cursor.execute(sql, params)
                cursor.fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return times[3:]


def seq_scans(queries: list[dict]) -> list[str]:
    """The tables in SCANNED that a query's plan reads sequentially."""
    found = []
    with connection.cursor() as cursor:
        for query in queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT") or not any(t in sql for t in SCANNED):
                continue
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", query["params"])
            plan = cursor.fetchone()[0]
            found += [f"{n}: {sql[:120]}" for n in _scanned_relations(plan) if n in SCANNED]
    return found


def _scanned_relations(node) -> list[str]:
    if isinstance(node, list):
        return [n for item in node for n in _scanned_relations(item)]
    if not isinstance(node, dict):
        return []
    found = [node["Relation Name"]] if node.get("Node Type") == "Seq Scan" else []
    for child in node.get("Plans", []) + ([node["Plan"]] if "Plan" in node else []):
        found += _scanned_relations(child)
    return found


FRAMEWORK_TABLES = ("django_session", "authtoken_token", "oms_membership", "oms_retailer")


def is_framework(sql: str) -> bool:
    """A query every page runs whatever it shows: the session, the user, their retailers."""
    head = sql.split(" WHERE ", 1)[0]
    return any(f'FROM "{table}"' in head for table in FRAMEWORK_TABLES) or (
        'FROM "oms_user" WHERE "oms_user"."id" = ' in sql
    )


def run_counting_queries(client: Client, url: str, headers: dict) -> list[dict]:
    """The queries one request runs, each with its parameters and its time in ms."""
    queries = []

    def timer(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            ms = (time.perf_counter() - started) * 1000
            queries.append({"sql": sql, "params": params, "ms": ms})

    with connection.execute_wrapper(timer):
        client.get(url, **headers)
    return [q for q in queries if q["sql"] not in ("BEGIN", "COMMIT")]


ROUNDS = 4


def time_pages(client: Client, chosen: list[dict], runs: int) -> dict[str, list[float]]:
    """Each page's server times: after a warm-up, in ROUNDS rounds over all the pages, so a
    slow spell of a shared machine is spread over every page instead of landing on one."""
    times: dict[str, list[float]] = {page["name"]: [] for page in chosen}
    for page in chosen:
        for _ in range(3):
            response = client.get(page["url"], **page.get("headers", {}))
            if response.status_code != 200:
                raise SystemExit(f"{page['url']} answered {response.status_code}")
    for _ in range(ROUNDS):
        for page in chosen:
            for _ in range(max(1, runs // ROUNDS)):
                started = time.perf_counter()
                client.get(page["url"], **page.get("headers", {}))
                times[page["name"]].append((time.perf_counter() - started) * 1000)
    return times


def measure_page(client: Client, page: dict, times: list[float], runs: int) -> dict:
    headers = page.get("headers", {})
    queries = run_counting_queries(client, page["url"], headers)
    data = [q for q in queries if not is_framework(q["sql"])]
    db_ms = sum(q["ms"] for q in data)
    floor = timed_floor(page["floor"], runs)
    result = {
        "name": page["name"],
        "url": page["url"],
        "kind": "api" if page.get("api") else "page",
        **summary(times),
        "queries": len(queries),
        "data_queries": len(data),
        "db_ms": round(db_ms, 2),
        "floor_p50_ms": round(statistics.median(floor), 2),
    }
    result["db_vs_floor"] = round(db_ms / max(result["floor_p50_ms"], 0.01), 1)
    if page.get("list"):
        result["seq_scans"] = seq_scans(queries)
    if page.get("same_queries_as"):
        result["queries_small_order"] = len(
            run_counting_queries(client, page["same_queries_as"], headers)
        )
    limit = API_P95_MS if page.get("api") else PAGE_P95_MS
    result["target_met"] = (
        result["p95_ms"] <= limit
        and result["db_vs_floor"] <= FLOOR_RATIO
        and not result.get("seq_scans")
        and result.get("queries_small_order", 0) <= result["queries"]
    )
    return result


def export_memory(f: Fixture) -> dict:
    """Stream the CSV export of 100,000 orders in a child process; its peak memory."""
    url = f"/orders/export.csv?placed_after={f.export_from}"
    out = subprocess.run(
        [sys.executable, __file__, "--export-child", url],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's `ru_maxrss` keeps the high-water mark of
    the process before `exec`, so a child started by a large parent reports the parent's size;
    VmHWM is the child's own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_child(url: str) -> None:
    from oms.models import User

    client = Client()
    client.force_login(User.objects.get(username="bench.agent"))
    client.get("/orders/")
    before = peak_rss_mb()
    started = time.perf_counter()
    response = client.get(url)
    rows = size = 0
    first_ms = None
    for chunk in response.streaming_content:
        if first_ms is None:
            first_ms = (time.perf_counter() - started) * 1000
        rows += chunk.count(b"\n")
        size += len(chunk)
    elapsed = time.perf_counter() - started
    peak = peak_rss_mb()
    print(
        json.dumps(
            {
                "url": url,
                "rows": rows - 1,
                "mb": round(size / 1e6, 1),
                "seconds": round(elapsed, 2),
                "rows_per_s": round((rows - 1) / elapsed),
                "first_byte_ms": round(first_ms or 0, 1),
                "rss_before_mb": round(before, 1),
                "peak_rss_mb": round(peak, 1),
                "growth_mb": round(peak - before, 1),
            }
        )
    )


def settle(limit: float = 600) -> None:
    """Wait for autovacuum to finish with freshly loaded tables, then checkpoint, so the pages
    are not measured while the database digests a bulk load."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        busy = one(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            " AND datname = current_database()"
        )[0]
        if not busy:
            break
        print(f"waiting for {busy} autovacuum worker(s) to finish", flush=True)
        time.sleep(10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except Exception as error:  # only a superuser may checkpoint; the figures stand without
        print(f"no checkpoint: {error}", flush=True)


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        int(line.split()[1]) // 1024 // 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory,
        "python": platform.python_version(),
        "postgres": one("SHOW server_version")[0],
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def write_readme(results: dict) -> None:
    m = results["machine"]
    lines = [
        f"Measured {m['date']} on {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
        f"Python {m['python']}, PostgreSQL {m['postgres']}; "
        f"{results['data']['all_orders']:,} orders, the largest retailer holding "
        f"{results['data']['retailer_orders']:,}; {results['runs']} requests per page.",
        "",
        "| page | p50 ms | p95 ms | p99 ms | queries | DB ms | SQL floor ms | DB / floor | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in results["pages"]:
        target = "met" if p["target_met"] else "**not met**"
        lines.append(
            f"| {p['name']} | {p['p50_ms']} | {p['p95_ms']} | {p['p99_ms']} | {p['queries']} |"
            f" {p['db_ms']} | {p['floor_p50_ms']} | {p['db_vs_floor']}x | {target} |"
        )
    e = results.get("export")
    if e:
        met = "met" if e["growth_mb"] < EXPORT_MB and e["rows"] >= EXPORT_ROWS else "**not met**"
        lines += [
            "",
            f"CSV export: {e['rows']:,} rows ({e['mb']} MB) in {e['seconds']} s "
            f"({e['rows_per_s']:,} rows/s, first byte after {e['first_byte_ms']} ms); "
            f"peak memory {e['peak_rss_mb']} MB, {e['growth_mb']} MB above the process at rest "
            f"(target under {EXPORT_MB} MB: {met}).",
        ]
    load = results.get("load")
    if load:
        lines += [
            "",
            f"Load: gunicorn ({load['workers']} sync workers) on loopback, simulated agents "
            "without think time replaying lists, filters, searches, order pages and tabs; the "
            "client shares the two cores.",
            "",
            "| agents | requests | errors | requests/s | p50 ms | p95 ms | p99 ms |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for run in results.get("load_runs", [load]):
            lines.append(
                f"| {run['users']} | {run['requests']:,} | {run['errors']} | {run['rps']:.0f} |"
                f" {run['p50_ms']} | {run['p95_ms']} | {run['p99_ms']} |"
            )
        met = "met" if load["p95_ms"] < LOAD_P95_MS and not load["errors"] else "**not met**"
        lines += [
            "",
            f"Held with p95 under {LOAD_P95_MS} ms and no errors: {load['rps']:.0f} requests/s "
            f"({load['users']} agents) ({met}).",
        ]
    intake = results.get("intake")
    if intake:
        lines += [
            "",
            f"Intake: {intake['messages_per_s']:.0f} messages/s through receive and process in "
            f"one worker process ({intake['messages']:,} messages, p95 {intake['p95_ms']} ms "
            "each).",
        ]
    lines += against(results.get("baseline"))
    table = "\n".join(lines)
    text = README.read_text()
    start, end = "<!-- results -->", "<!-- /results -->"
    head, rest = text.split(start, 1)
    README.write_text(f"{head}{start}\n{table}\n{end}{rest.split(end, 1)[1]}")


def against(baseline: dict | None) -> list[str]:
    """The README lines comparing the pages with the baseline commit, if it was run."""
    if not baseline:
        return []
    from bench.baseline import heading, table

    return ["", *heading(baseline), "", *table(baseline["pages"])]


# The work managers do in the load test with --work, against the mix of pages (weights).
WORK_ACTIONS = [("comment", 3), ("hold", 2), ("cancel", 1)]


def load_test(f: Fixture, args) -> dict:
    """The load sweep over `--load-users`; the best run held under the target, and every run."""
    from bench.load import run_load

    runs = []
    for users in args.load_users:
        run = run_load(
            database_url=args.load_database_url or os.environ["DATABASE_URL"],
            users=users,
            duration=args.load_seconds,
            urls=load_urls(f),
            username="bench.manager" if args.work else "bench.agent",
            password="bench-password",
            actions=WORK_ACTIONS if args.work else [],
        )
        runs.append(run)
        print("load", {k: v for k, v in run.items() if k != "by_url"}, flush=True)
    held = [r for r in runs if r["p95_ms"] < LOAD_P95_MS and not r["errors"]]
    return {"load": max(held or runs, key=lambda r: r["rps"]), "load_runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--only", help="Measure the pages whose name contains this.")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--load-users", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--load-seconds", type=float, default=40)
    parser.add_argument(
        "--work",
        action="store_true",
        help="Managers also work orders in the load test: comments, holds, cancellations.",
    )
    parser.add_argument(
        "--load-only", action="store_true", help="Only the load test; print it, write nothing."
    )
    parser.add_argument(
        "--load-database-url",
        help="The server's DATABASE_URL, e.g. the application's role (default: DATABASE_URL).",
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="Also time the pages in this commit's code, interleaved; print the ratios per page.",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="Print only: leave results.json and README.md."
    )
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(args.export_child)
        return
    if args.load_only:
        print(json.dumps(load_test(Fixture(), args), indent=2))
        return

    from rest_framework.authtoken.models import Token

    from oms.models import User

    f = Fixture()
    settle()
    agent = User.objects.get(username="bench.agent")
    client = Client()
    client.force_login(agent)
    token, _ = Token.objects.get_or_create(user=agent)
    results = {"machine": machine(), "data": f.facts(), "runs": args.runs, "pages": []}
    chosen = [p for p in pages(f) if not args.only or args.only in p["name"]]
    for page in chosen:
        if page.get("api"):
            page["headers"] = {"HTTP_AUTHORIZATION": f"Bearer {token.key}"}
    times = time_pages(client, chosen, args.runs)
    for page in chosen:
        result = measure_page(client, page, times[page["name"]], args.runs)
        results["pages"].append(result)
        print(
            f"{result['name']:<40} p50 {result['p50_ms']:>7} p95 {result['p95_ms']:>7}"
            f"  q {result['queries']:>3}  db {result['db_ms']:>7} floor {result['floor_p50_ms']:>6}"
            f"  {'ok' if result['target_met'] else 'NOT MET'} {result.get('seq_scans') or ''}",
            flush=True,
        )
    if args.baseline:
        from bench.baseline import compare, heading, table

        results["baseline"] = compare(args.baseline, chosen, args.runs, ROUNDS, agent.username)
        print("", *heading(results["baseline"]), *table(results["baseline"]["pages"]), sep="\n")
    if not args.skip_export and not args.only:
        results["export"] = export_memory(f)
        print("export", results["export"], flush=True)
    if not args.skip_load and not args.only:
        results.update(load_test(f, args))
    if not args.skip_intake and not args.only:
        from bench.intake import run_intake

        results["intake"] = run_intake(messages=1000)
        print("intake", results["intake"], flush=True)
    if not args.only and not args.no_write:
        RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
        write_readme(results)


if __name__ == "__main__":
    main()
