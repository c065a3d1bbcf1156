"""The side-by-side bench against django-oscar (bench/peers/): timing, interleaving, ratios,
the README block, and the status names the conversion gives oscar."""

import ast
from pathlib import Path

import pytest
from django.db import connection

from bench.peers import compare, convert
from bench.peers.timing import timed
from orders.models import SystemState

PEERS = Path(compare.__file__).resolve().parent


class Response:
    status_code = 200
    content = b"<html></html>"


class QueryingClient:
    """A client whose every GET runs `queries` queries and records the URL."""

    def __init__(self, queries=0, log=None, side="ours"):
        self.queries, self.log, self.side = queries, log if log is not None else [], side

    def get(self, url):
        for _ in range(self.queries):
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        self.log.append((self.side, url))
        return Response()


class FakeOscar:
    """Oscar's worker as compare.py sees it: `timed(url, runs)` answering one JSON object."""

    def __init__(self, log):
        self.log = log

    def timed(self, url, runs):
        self.log.extend([("oscar", url)] * runs)
        return {"status": 200, "bytes": 9, "ms": [40.0] * runs, "cpu_ms": [15.0] * runs,
                "queries": [8] * runs, "db_ms": [20.0] * runs}  # fmt: skip


@pytest.mark.django_db
def test_timed_counts_each_requests_queries_and_times_it():
    answer = timed(QueryingClient(queries=3), "/x/", runs=2)
    assert answer["status"] == 200 and answer["bytes"] == len(Response.content)
    assert answer["queries"] == [3, 3]
    assert len(answer["ms"]) == len(answer["cpu_ms"]) == len(answer["db_ms"]) == 2
    assert all(ms >= db >= 0 for ms, db in zip(answer["ms"], answer["db_ms"], strict=True))


def test_time_both_warms_up_then_asks_each_page_of_both_sides_alternating_the_first():
    log = []
    pages = [{"name": n, "ours": f"/{n}/", "oscar": f"/o/{n}/"} for n in ("a", "b")]
    compare.time_both(pages, QueryingClient(log=log), FakeOscar(log), runs=compare.ROUNDS)
    warm = compare.WARM_UP
    assert log[: 4 * warm] == (
        [("ours", "/a/")] * warm
        + [("oscar", "/o/a/")] * warm
        + [("ours", "/b/")] * warm
        + [("oscar", "/o/b/")] * warm
    )
    ours_first = [("ours", "/a/"), ("oscar", "/o/a/"), ("ours", "/b/"), ("oscar", "/o/b/")]
    oscar_first = [("oscar", "/o/a/"), ("ours", "/a/"), ("oscar", "/o/b/"), ("ours", "/b/")]
    assert log[4 * warm :] == (ours_first + oscar_first) * (compare.ROUNDS // 2)
    assert len(pages[0]["ours_ms"]) == len(pages[0]["oscar_ms"]) == compare.ROUNDS
    assert pages[0]["oscar_queries"] == [8] * compare.ROUNDS


def page(ours_ms, oscar_ms, note=None):
    figures = {
        "name": "orders list",
        "ours": "/orders/",
        "oscar": "/dashboard/orders/",
        "ours_ms": ours_ms,
        "oscar_ms": oscar_ms,
        "ours_queries": [9, 10],
        "oscar_queries": [8],
        "ours_db_ms": [1.0, 2.0, 3.0],
        "oscar_db_ms": [50.0],
        "ours_cpu_ms": [4.0],
        "oscar_cpu_ms": [10.0],
        "ours_bytes": 10,
        "oscar_bytes": 20,
    }
    return {**figures, "note": note} if note else figures


def test_result_gives_oscar_over_ours_and_meets_the_goal_only_when_both_ratios_reach_it():
    met = compare.result(page([10.0] * 20, [60.0] * 18 + [200.0] * 2, note="by name"))
    assert (met["ratio_p50"], met["ratio_p95"], met["goal_met"]) == (6.0, 20.0, True)
    assert met["ours"]["queries"] == 10 and met["ours"]["db_ms"] == 2.0
    assert met["ratio_cpu"] == 2.5  # shown, but the goal is judged on the times
    assert met["oscar"]["url"] == "/dashboard/orders/" and met["note"] == "by name"
    missed = compare.result(page([10.0] * 18 + [40.0] * 2, [60.0] * 20))
    assert (missed["ratio_p50"], missed["ratio_p95"], missed["goal_met"]) == (6.0, 1.5, False)
    assert "missed" in compare.table({"pages": [missed]}).splitlines()[-1]


def test_write_readme_replaces_only_the_peers_block(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- peers -->\nold\n<!-- /peers -->\nafter\n")
    monkeypatch.setattr(compare, "README", readme)
    compare.write_readme("new table")
    assert readme.read_text() == "intro\n<!-- peers -->\nnew table\n<!-- /peers -->\nafter\n"


@pytest.mark.django_db
def test_the_converted_statuses_are_the_states_of_oscars_pipeline():
    """convert.py names an order's oscar status initcap(system state); oscar's settings must
    list exactly those names, or its dashboard cannot filter or change them."""
    tree = ast.parse((PEERS / "oscar" / "settings.py").read_text())
    pipeline = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "OSCAR_ORDER_STATUS_PIPELINE"
    )
    assert "initcap(s.system_state)" in next(c[2] for c in convert.COPIES if c[0] == "order_order")
    with connection.cursor() as cursor:
        names = set()
        for state in SystemState.values:
            cursor.execute("SELECT initcap(%s)", [state])
            names.add(cursor.fetchone()[0])
    assert names == set(pipeline)
    assert all(set(after) <= names for after in pipeline.values())
