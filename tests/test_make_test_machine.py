"""`make test` alone on a fresh machine: scripts/test-machine starts Postgres and Redis when they
are down and installs Chromium and gettext when they are missing, before anything else runs.

The branches that would start or install are run with DRY_RUN=1 (said, not done), with
`pg_isready` and `redis-cli` replaced by ones that report the service down.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "test-machine"


def _urls() -> dict[str, str]:
    db = connection.settings_dict
    return {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "TEST_REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    }


def _run(env: dict[str, str], path: str | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"CHROMIUM", "MSGFMT", "DRY_RUN"}}
    if path:
        base["PATH"] = f"{path}:{base['PATH']}"
    return subprocess.run(
        [str(SCRIPT)], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=120
    )


def test_make_test_prepares_the_machine_before_anything_else():
    # run inside `make test` too, where make would say which folder it enters
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "test"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "scripts/test-machine"
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("exec make test")


def test_with_everything_up_and_installed_it_does_nothing():
    result = _run(_urls() | {"DRY_RUN": "1"})

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


@pytest.mark.skipif(not shutil.which("pg_lsclusters"), reason="Postgres is not a local cluster")
def test_what_is_down_is_started_and_what_is_missing_is_installed(tmp_path):
    # given Postgres and Redis that do not answer, no Chromium and no msgfmt
    for tool, code in [("pg_isready", 2), ("redis-cli", 1)]:
        (tmp_path / tool).write_text(f"#!/bin/sh\nexit {code}\n")
        (tmp_path / tool).chmod(0o755)
    env = _urls() | {"DRY_RUN": "1", "CHROMIUM": str(tmp_path / "no-chromium")}
    env["MSGFMT"] = "no-msgfmt-here"

    # when
    result = _run(env, path=str(tmp_path))

    # then
    assert result.returncode == 0, result.stderr
    said = result.stdout
    port = str(connection.settings_dict["PORT"] or 5432)
    assert "starting PostgreSQL" in said and f"on port {port}" in said
    assert "pg_ctlcluster --skip-systemctl-redirect" in said and said.count(" start\n") == 1
    assert "redis-server --daemonize yes --bind 127.0.0.1" in said
    assert "apt-get install -y -qq chromium fonts-dejavu-core gettext" in said
    assert said.index("apt-get update") < said.index("apt-get install")


def test_a_service_on_another_host_that_does_not_answer_is_reported_not_started():
    env = _urls() | {"DRY_RUN": "1", "DATABASE_URL": "postgres://oms@db.invalid:5432/oms"}

    result = _run(env)

    assert result.returncode == 1
    assert "PostgreSQL at db.invalid:5432 does not answer" in result.stderr
    assert "would run" not in result.stdout
