"""The pages timed side by side with another commit's code: `bench/run.py --baseline <ref>`.

A figure on its own says little on a shared machine whose speed moves by half between runs; the
same page timed in the same minutes in the code it is compared with says whether a change made
it slower. The commit's tree is extracted with `git archive` (no checkout, no worktree), its
static files collected and its messages compiled, and each side runs in a child process of its
own, with this virtual environment, against the same database, logged in as the same agent:

    python bench/baseline.py --serve <tree> --user bench.agent

A child reads one JSON request a line on stdin and answers one JSON line on stdout:
{"url", "headers", "warmup", "runs"} -> {"status", "queries", "times"}: `warmup` requests
untimed (the last one counting its queries), then `runs` requests timed in process, from
request to rendered response, as `run.py` times its pages. Today's code is served by the same
kind of child, so both sides are measured alike. The rounds interleave the sides, alternating
which goes first, so a slow spell lands on both.

The older code may lack newer migrations: it only reads (besides its login session), and
columns added since are ignored by its models. A page that answers anything but 200 there (a
URL it did not have, a column it expects and no longer finds) is "n/a" on that side; the
child's log (`/tmp/oms-bench-<side>.log`) says why.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, as well as imported

from bench.stats import percentile  # noqa: E402

SIDES = ("current", "baseline")
WARMUP = 3


# The commit's tree -------------------------------------------------------------------------


def resolve(ref: str) -> str:
    """The commit a ref names (a sha, a branch, `HEAD~3`), or exit saying it names none."""
    out = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        sys.exit(f"--baseline {ref}: not a commit of {ROOT}")
    return out.stdout.strip()


def extract(sha: str) -> Path:
    """The commit's tree in /tmp, made once and reused: files, collected static, messages."""
    tree = Path(tempfile.gettempdir()) / f"oms-baseline-{sha}"
    if (tree / ".ready").exists():
        return tree
    partial = tree.with_name(f"{tree.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", sha], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(partial)], stdin=archive.stdout, check=True)
    archive.stdout.close()
    if archive.wait():
        sys.exit(f"git archive {sha} failed")
    manage = [sys.executable, "manage.py"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # no bytecode naming the partial tree
    subprocess.run(
        [*manage, "collectstatic", "--no-input", "-v0"], cwd=partial, env=env, check=True
    )
    if shutil.which("msgfmt") and (partial / "locale").is_dir():
        subprocess.run([*manage, "compilemessages", "-v0"], cwd=partial, env=env, check=True)
    (partial / ".ready").touch()
    shutil.rmtree(tree, ignore_errors=True)
    partial.rename(tree)
    return tree


def migrations_ahead(tree: Path) -> list[str]:
    """The migrations applied to the database that the tree does not have. The older code runs
    on today's schema: pages whose queries leaned on an index since replaced are slower there
    than they were in their day, and the comparison should say so."""
    from django.apps import apps
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        applied = set(cursor.fetchall())
    ahead = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if not path.is_relative_to(ROOT) or path.is_relative_to(Path(sys.prefix).resolve()):
            continue  # not the project's: Django's and the packages' apps are the same venv
        folder = tree / path.relative_to(ROOT) / "migrations"
        ahead += [
            f"{config.label}.{name}"
            for app, name in sorted(applied)
            if app == config.label and not (folder / f"{name}.py").exists()
        ]
    return ahead


# The child: one tree's code serving timing requests ----------------------------------------


def serve(tree: Path, username: str) -> None:
    """Answer timing requests in the code of `tree`, logged in as `username`, until stdin ends.
    The protocol has stdout to itself: anything the code prints goes to stderr."""
    here = Path(__file__).resolve().parent
    mine = {here, ROOT}
    sys.path[:] = [str(tree), *(p for p in sys.path if Path(p or ".").resolve() not in mine)]
    os.chdir(tree)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    os.dup2(sys.stderr.fileno(), 1)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(get_user_model().objects.get(username=username))
    for line in sys.stdin:
        print(json.dumps(answer(client, json.loads(line))), file=protocol, flush=True)


def answer(client, request: dict) -> dict:
    url, headers = request["url"], request.get("headers", {})
    warmup = request.get("warmup", 0)
    reply: dict = {"status": 200, "times": []}
    for n in range(warmup):
        if n < warmup - 1:
            reply["status"] = status_of(client, url, headers)
        else:
            reply["status"], reply["queries"] = counted(client, url, headers)
        if reply["status"] != 200:
            return reply
    for _ in range(request.get("runs", 0)):
        started = time.perf_counter()
        status = status_of(client, url, headers)
        reply["times"].append((time.perf_counter() - started) * 1000)
        if status != 200:
            reply["status"] = status
    return reply


def counted(client, url: str, headers: dict) -> tuple[int, int]:
    """One request's status and the queries it ran, transaction brackets aside (as run.py)."""
    from django.db import connection

    queries = []

    def count(execute, sql, params, many, context):
        if sql not in ("BEGIN", "COMMIT"):
            queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        status = status_of(client, url, headers)
    return status, len(queries)


def status_of(client, url: str, headers: dict) -> int:
    """A request's status; 500 for an exception even the error page raised (logged)."""
    try:
        return client.get(url, **headers).status_code
    except Exception:
        traceback.print_exc()
        return 500


class Child:
    """A child process serving one tree; its stderr goes to a log file in /tmp."""

    def __init__(self, tree: Path, label: str, username: str) -> None:
        self.log_path = Path(tempfile.gettempdir()) / f"oms-bench-{label}.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(tree), "--user", username],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=os.environ,
        )

    def ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"the timing child stopped: see {self.log_path}")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.log.close()


# The comparison -------------------------------------------------------------------------------


def schedule(names: list[str], rounds: int) -> Iterator[tuple[str, str]]:
    """(page, side) in the order they are timed: every round goes over every page, each page
    timed on both sides back to back, the side that goes first alternating from page to page
    and from round to round, so neither always runs on a cache the other warmed."""
    for round_no in range(rounds):
        for index, name in enumerate(names):
            sides = SIDES if (round_no + index) % 2 == 0 else SIDES[::-1]
            for side in sides:
                yield name, side


def side_summary(measured: dict) -> dict:
    """One side of a page: p50 / p95 and queries, or the status that made it n/a."""
    if measured.get("status") != 200 or not measured.get("times"):
        return {"status": measured.get("status")}
    times = measured["times"]
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "queries": measured["queries"],
    }


def ratio(current: float | None, baseline: float | None) -> float | None:
    if current is None or not baseline:
        return None
    return round(current / baseline, 2)


def row(name: str, url: str, current: dict, baseline: dict) -> dict:
    """A page's line of the comparison: both sides, and current / baseline."""
    now, then = side_summary(current), side_summary(baseline)
    queries = (now.get("queries"), then.get("queries"))
    return {
        "name": name,
        "url": url,
        "current": now,
        "baseline": then,
        "p50_ratio": ratio(now.get("p50_ms"), then.get("p50_ms")),
        "p95_ratio": ratio(now.get("p95_ms"), then.get("p95_ms")),
        "queries_delta": None if None in queries else queries[0] - queries[1],
    }


def cell(value, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value}{suffix}"


def p50(side: dict) -> str:
    """A side's p50, or n/a with the status that made it so."""
    if "p50_ms" in side:
        return str(side["p50_ms"])
    return f"n/a ({side['status']})" if side.get("status") else "n/a"


def signed(value: int | None) -> str:
    return "n/a" if value is None else f"{value:+d}"


def heading(comparison: dict) -> list[str]:
    """What the comparison table compares, and on which schema."""
    ref, sha, ahead = comparison["ref"], comparison["sha"][:12], comparison["migrations_ahead"]
    lines = [
        f"Against {ref} ({sha}), timed in the same run, interleaved, {comparison['runs']}"
        f" requests per page on each side; ratio = today / {ref}."
    ]
    if ahead:
        per_app = Counter(name.split(".")[0] for name in ahead)
        apps = ", ".join(f"{app} {n}" for app, n in sorted(per_app.items()))
        count = "1 migration" if len(ahead) == 1 else f"{len(ahead)} migrations"
        lines.append(
            f"The database carries {count} {ref} lacks ({apps}): where they replaced an index"
            f" its code used, {ref} is slower here than it was in its day."
        )
    return lines


def table(rows: list[dict]) -> list[str]:
    """The comparison as Markdown table lines, for the terminal and for the README."""
    lines = [
        "| page | p50 ms | base p50 ms | p50 ratio | p95 ms | base p95 ms | p95 ratio"
        " | queries | base queries | queries delta |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        now, then = r["current"], r["baseline"]
        lines.append(
            f"| {r['name']} | {p50(now)} | {p50(then)}"
            f" | {cell(r['p50_ratio'], 'x')} | {cell(now.get('p95_ms'))}"
            f" | {cell(then.get('p95_ms'))} | {cell(r['p95_ratio'], 'x')}"
            f" | {cell(now.get('queries'))} | {cell(then.get('queries'))}"
            f" | {signed(r['queries_delta'])} |"
        )
    return lines


def compare(ref: str, pages: list[dict], runs: int, rounds: int, username: str) -> dict:
    """Time every page in today's code and in `ref`'s, interleaved; the comparison's results."""
    sha = resolve(ref)
    tree = extract(sha)
    children = {
        "current": Child(ROOT, "current", username),
        "baseline": Child(tree, sha[:12], username),
    }
    by_name = {page["name"]: page for page in pages}
    measured = {name: {side: {} for side in SIDES} for name in by_name}
    try:
        for name, page in by_name.items():
            for side, child in children.items():
                measured[name][side] = child.ask(
                    url=page["url"], headers=page.get("headers", {}), warmup=WARMUP
                )
        batch = max(1, runs // rounds)
        for name, side in schedule(list(by_name), rounds):
            if measured[name][side]["status"] != 200:
                continue
            page = by_name[name]
            reply = children[side].ask(url=page["url"], headers=page.get("headers", {}), runs=batch)
            measured[name][side]["times"] += reply["times"]
            if reply["status"] != 200:
                measured[name][side]["status"] = reply["status"]
    finally:
        for child in children.values():
            child.close()
    rows = [
        row(name, page["url"], measured[name]["current"], measured[name]["baseline"])
        for name, page in by_name.items()
    ]
    return {
        "ref": ref,
        "sha": sha,
        "runs": batch * rounds,
        "migrations_ahead": migrations_ahead(tree),
        "pages": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=Path, required=True, help="The tree whose code to run.")
    parser.add_argument("--user", default="bench.agent")
    args = parser.parse_args()
    serve(args.serve, args.user)


if __name__ == "__main__":
    main()
