"""The bench's `--baseline` mode: the interleaving, the ratios, n/a pages, the schema warning."""

from collections import Counter

import pytest

from bench.baseline import ROOT, answer, heading, migrations_ahead, row, schedule, table


def test_schedule_times_both_sides_of_a_page_back_to_back_alternating_the_first():
    order = list(schedule(["a", "b"], rounds=2))
    assert order == [
        ("a", "current"),
        ("a", "baseline"),
        ("b", "baseline"),
        ("b", "current"),
        ("a", "baseline"),
        ("a", "current"),
        ("b", "current"),
        ("b", "baseline"),
    ]


def test_schedule_gives_each_side_as_many_batches_and_first_places():
    order = list(schedule(["a", "b", "c"], rounds=4))
    assert Counter(order) == {(n, s): 4 for n in "abc" for s in ("current", "baseline")}
    firsts = Counter(order[i] for i in range(0, len(order), 2))
    assert all(firsts[(n, "current")] == firsts[(n, "baseline")] == 2 for n in "abc")


def measured(times, queries=9, status=200):
    return {"status": status, "queries": queries, "times": times}


def test_row_gives_p50_p95_and_ratios_current_over_baseline():
    r = row("orders", "/orders/", measured([10.0] * 18 + [30.0] * 2, 12), measured([20.0] * 20, 9))
    assert r["current"] == {"p50_ms": 10.0, "p95_ms": 30.0, "queries": 12}
    assert r["baseline"] == {"p50_ms": 20.0, "p95_ms": 20.0, "queries": 9}
    assert (r["p50_ratio"], r["p95_ratio"], r["queries_delta"]) == (0.5, 1.5, 3)


def test_a_page_the_baseline_does_not_answer_is_na_there():
    r = row("home", "/", measured([10.0, 12.0]), {"status": 404, "times": []})
    assert r["baseline"] == {"status": 404}
    assert (r["p50_ratio"], r["p95_ratio"], r["queries_delta"]) == (None, None, None)
    line = table([r])[-1]
    assert line == "| home | 11.0 | n/a (404) | n/a | 12.0 | n/a | n/a | 9 | n/a | n/a |"


def test_table_signs_the_queries_delta():
    lines = table([row("a", "/a/", measured([5.0], 7), measured([10.0], 9))])
    assert lines[-1].endswith("| 0.5x | 5.0 | 10.0 | 0.5x | 7 | 9 | -2 |")


class FakeClient:
    """Answers each GET with the next status of a script."""

    def __init__(self, statuses):
        self.statuses = iter(statuses)
        self.calls = 0

    def get(self, url, **headers):
        self.calls += 1
        return type("Response", (), {"status_code": next(self.statuses)})()


def test_answer_stops_after_a_warm_up_that_fails():
    client = FakeClient([200, 404, 200, 200])
    assert answer(client, {"url": "/x/", "warmup": 3, "runs": 2}) == {"status": 404, "times": []}
    assert client.calls == 2


def test_answer_times_each_run_and_keeps_a_failure_seen_while_timing():
    client = FakeClient([200, 200, 500, 200])
    reply = answer(client, {"url": "/x/", "warmup": 1, "runs": 3})
    assert reply["queries"] == 0 and reply["status"] == 500 and len(reply["times"]) == 3


def test_answer_counts_an_exception_as_a_500():
    class Raising:
        def get(self, url, **headers):
            raise ValueError("Missing staticfiles manifest entry")

    assert answer(Raising(), {"url": "/x/", "warmup": 2, "runs": 1})["status"] == 500


def test_heading_warns_of_the_migrations_the_baseline_lacks():
    comparison = {"ref": "v1", "sha": "0123456789abcdef", "runs": 40, "migrations_ahead": []}
    assert heading(comparison) == [
        "Against v1 (0123456789ab), timed in the same run, interleaved, 40 requests per page"
        " on each side; ratio = today / v1."
    ]
    comparison["migrations_ahead"] = ["orders.0009_a", "billing.0003_b", "orders.0010_c"]
    assert "3 migrations v1 lacks (billing 1, orders 2)" in heading(comparison)[1]


@pytest.mark.django_db
def test_migrations_ahead_are_the_applied_ones_missing_from_the_tree(tmp_path):
    assert migrations_ahead(ROOT) == []
    (tmp_path / "orders" / "migrations").mkdir(parents=True)
    (tmp_path / "orders" / "migrations" / "0001_initial.py").touch()
    ahead = migrations_ahead(tmp_path)
    assert "orders.0002_default_statuses" in ahead
    assert "orders.0001_initial" not in ahead and "auth.0001_initial" not in ahead
    assert any(name.startswith("billing.") for name in ahead)
