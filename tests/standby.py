"""A real streaming standby of the local Postgres server, for the read replica tests and bench.

`pg_basebackup -R -X stream` copies the whole primary cluster (every database in it, as it is at
that moment) into a temporary folder, and a second server is started on it with pg_ctl on a free
port: a hot standby that streams and replays the primary's WAL as it is written. `remove()` stops
it and deletes the folder.

The base backup and the streaming are replication connections, which pg_hba.conf allows only on
a line naming the `replication` database ("all" does not cover it). When the primary has no such
line for 127.0.0.1, `allow_replication()` adds one with the same trust the primary's
`host all all 127.0.0.1/32 trust` line gives, and reloads the server's configuration.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

# Settings a hot standby must hold at least as high as its primary, or it refuses to start.
AT_LEAST_THE_PRIMARYS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)
REPLICATION_LINE = "host replication postgres 127.0.0.1/32 trust"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, what: str, timeout: float = 60.0, every: float = 0.1):
    """Poll `predicate` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"Still waiting after {timeout:.0f} s for {what}")
        time.sleep(every)


class Standby:
    """A hot standby of the Postgres server at 127.0.0.1:`primary_port`, started on a free port."""

    def __init__(self, primary_port: int = 5432, user: str = "postgres") -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError(
                "PostgreSQL's server programs (/usr/lib/postgresql/*/bin) are missing"
            )
        self.bin = Path(found[-1]).parent
        self.primary_port = primary_port
        self.user = user
        self.root = Path(tempfile.mkdtemp(prefix="oms-standby-"))
        self.data = self.root / "data"
        self.port = free_port()
        # postgres refuses to run as root: run the server programs as the cluster's owner
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_owner:
            shutil.chown(self.root, "postgres", "postgres")

    # the primary

    def primary(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.primary_port, user=self.user, dbname=dbname, autocommit=True
        )

    def allow_replication(self) -> None:
        """Make sure the primary lets 127.0.0.1 open replication connections (see the module)."""
        with self.primary() as c:
            allowed = c.execute(
                "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NULL"
                " AND type IN ('host', 'hostnossl') AND 'replication' = ANY(database)"
                " AND (user_name && ARRAY['all', %s]) AND auth_method = 'trust'"
                " AND (address IS NULL OR address IN ('all', '127.0.0.1', 'samehost'))",
                [self.user],
            ).fetchone()[0]
            if allowed:
                return
            hba = Path(c.execute("SHOW hba_file").fetchone()[0])
            with hba.open("a") as file:
                file.write(
                    f"\n# streaming standbys on this machine (tests, bench)\n{REPLICATION_LINE}\n"
                )
            c.execute("SELECT pg_reload_conf()")

    # the standby

    def _run(self, program: str, *args: str, timeout: float = 300) -> None:
        command = [*self.as_owner, str(self.bin / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}\n{tail}")

    def create(self) -> None:
        """Copy the primary (as it is now) and write the standby's configuration."""
        self.allow_replication()
        backup = (
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", self.user,
            "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        for attempt in range(10):  # a reloaded pg_hba.conf applies a moment later
            try:
                self._run(*backup)
                break
            except RuntimeError:
                if attempt == 9:
                    raise
                shutil.rmtree(self.data, ignore_errors=True)
                time.sleep(0.5)
        with self.primary() as c:
            floors = {
                name: c.execute(f"SHOW {name}").fetchone()[0] for name in AT_LEAST_THE_PRIMARYS
            }
        # Debian keeps the configuration outside the data folder: the copy has none of its own
        settings = {**floors, "hot_standby": "on", "shared_buffers": "32MB", "fsync": "off"}
        files = {
            "postgresql.conf": "".join(f"{k} = '{v}'\n" for k, v in settings.items()),
            "pg_hba.conf": "local all all trust\nhost all all 127.0.0.1/32 trust\n",
            "pg_ident.conf": "",
        }
        for name, text in files.items():
            (self.data / name).write_text(text)
            if self.as_owner:
                shutil.chown(self.data / name, "postgres", "postgres")

    def start(self) -> None:
        """Start the server and wait until it accepts (read-only) connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        log = str(self.root / "server.log")
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", "120", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname=dbname, autocommit=True
        )

    def url(self, dbname: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def wait_until_caught_up(self, timeout: float = 60.0) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        with self.primary() as c:
            written = c.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        with self.connect() as c:

            def replayed() -> bool:
                query = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
                return bool(c.execute(query, [str(written)]).fetchone()[0])

            wait_for(replayed, "the standby to replay the primary's writes", timeout)
