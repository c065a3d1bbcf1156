"""Live streams: how many open pages one uvicorn process holds, and how fast a change reaches them.

Makes its own small data in the database DATABASE_URL names (its name must contain "bench"; it
is dropped and created again unless `--reuse`): one retailer, a few agents, one order. Starts ONE
uvicorn process (`oms.asgi:application`, `--workers 1`, as the `stream` service of
docker-compose.yml runs it) with LIVE_REDIS_URL, then opens `--streams` server-sent event
streams on /live/stream/ from this process (asyncio, raw sockets, logged-in session cookies):
`--on-order` of them watch the order (as its page does), the rest the orders list. It holds them
for `--hold` seconds and, while they are open, makes `--changes` changes to the order through
the service (a comment each, in this process, which publishes through the same Redis), and
measures:

- streams held: how many got `hello` and were still open at the end;
- delivery delay: from a change's time (its activity row, stamped before the commit) to its
  `change` event read by each stream: p50 / p95 / max over every stream and change, and the
  max per change (the time until the last of the streams has it);
- the uvicorn process's resident memory (VmRSS) before the streams and with them open;
- its CPU while the streams are open and idle (keepalive comments every 5 s, presence touches);
- the Redis connections (one listener per process) and the Postgres connections held.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_live_bench \\
        python bench/live.py --streams 200 --hold 60 --changes 20

The clients share the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, as well as imported

from bench.load import server_env, stop  # noqa: E402
from bench.stats import percentile  # noqa: E402

PYTHON = ROOT / ".venv" / "bin" / "python"
UVICORN = ROOT / ".venv" / "bin" / "uvicorn"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def prepare(database_url: str, reuse: bool, env: dict[str, str]) -> None:
    if not reuse:
        subprocess.run(
            [str(PYTHON), "bench/database.py", "--recreate"], cwd=ROOT, env=env, check=True
        )
    for command in (["migrate", "--no-input", "-v0"], ["collectstatic", "--no-input", "-v0"]):
        # without DEBUG, a page (an error page too) names its assets through the manifest
        subprocess.run([str(PYTHON), "manage.py", *command], cwd=ROOT, env=env, check=True)


def make_data(users: int):
    """One retailer, `users` agents with a session each, one order: (order, [(user, cookie)])."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from orders.models import Order
    from tests.factories import MembershipFactory, OrderFactory, RetailerFactory, UserFactory

    retailer = RetailerFactory(ref="live-bench", name="Live Bench")
    order = Order.objects.filter(retailer=retailer).first() or OrderFactory(
        retailer=retailer, lines=1
    )
    agents = []
    for n in range(users):
        user = UserFactory(username=f"live.agent{n}")
        MembershipFactory(user=user, retailer=retailer)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        agents.append((user, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"))
    return order, agents


def start_uvicorn(port: int, env: dict[str, str], log) -> subprocess.Popen:
    command = [str(UVICORN), "oms.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--no-access-log", "--log-level", "warning"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


class Stream:
    """One page's EventSource: a socket, the chunked body, the events as they come."""

    def __init__(self, port: int, path: str, cookie: str) -> None:
        self.port, self.path, self.cookie = port, path, cookie
        self.status = 0
        self.hello_at: float | None = None
        self.changes: dict[int, float] = {}  # change id (its µs stamp) -> read at (epoch s)
        self.events: dict[str, int] = {}
        self.ended: str | None = None  # why it stopped before the bench closed it
        self.writer: asyncio.StreamWriter | None = None

    async def run(self, hello: asyncio.Event | None = None) -> None:
        try:
            reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writer.write(
                (
                    f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                    f"Cookie: {self.cookie}\r\nAccept: text/event-stream\r\n\r\n"
                ).encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            self.status = int(head.split(b" ", 2)[1])
            if self.status != 200:
                self.ended = f"HTTP {self.status}"
                return
            buffer = b""
            while True:
                size = int((await reader.readline()).strip() or b"0", 16)
                if size == 0:
                    self.ended = "closed by the server"
                    return
                buffer += (await reader.readexactly(size + 2))[:-2]
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    self._event(block.decode(), time.time())
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            self.ended = f"{type(error).__name__}: {error}"

    def _event(self, block: str, now: float) -> None:
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        if name is None:
            return  # a comment (keepalive) or the retry line
        self.events[name] = self.events.get(name, 0) + 1
        if name == "hello":
            self.hello_at = now
        elif name == "change" and data:
            self.changes[json.loads(data)["at"]] = now

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def redis_figures(redis_url: str) -> dict:
    import redis

    client = redis.Redis.from_url(redis_url)
    db = client.connection_pool.connection_kwargs.get("db", 0)
    # the server's clients on the bench's database, but this one
    me = str(client.client_id())
    clients = [c for c in client.client_list() if int(c["db"]) == db and c["id"] != me]
    return {
        "connections": len(clients),
        "listeners": sum(1 for c in clients if int(c.get("psub", 0)) or int(c.get("sub", 0))),
    }


def db_connections(database_url: str) -> int:
    import psycopg

    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(database_url, autocommit=True) as c:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        )
        return c.execute(query, [name]).fetchone()[0]


async def bench(args, port: int, pid: int, order, agents) -> dict:
    from orders.services.notes import comment_add

    figures: dict = {"streams": args.streams, "on_order": args.on_order}
    # one stream opened and closed first: the app's first request loads what every request uses
    warm = Stream(port, f"/live/stream/?watch=orders.order:{order.pk}&tab=warm", agents[0][1])
    task = asyncio.create_task(warm.run())
    for _ in range(100):
        if warm.hello_at or task.done():
            break
        await asyncio.sleep(0.1)
    warm.close()
    await asyncio.gather(task, return_exceptions=True)
    if not warm.hello_at:
        raise RuntimeError(f"The warm-up stream got no hello: {warm.ended}")
    await asyncio.sleep(1)
    figures["rss_before_mb"] = round(rss_kb(pid) / 1024, 1)
    figures["db_connections_before"] = db_connections(args.database_url)

    streams = []
    for n in range(args.streams):
        cookie = agents[n % len(agents)][1]
        if n < args.on_order:
            path = f"/live/stream/?watch=orders.order:{order.pk}&tab=bench{n}"
        else:
            path = f"/live/stream/?list=orders.order&tab=bench{n}"
        streams.append(Stream(port, path, cookie))
    opened = time.monotonic()
    tasks = [asyncio.create_task(s.run()) for s in streams]
    deadline = time.monotonic() + 60
    peak = 0
    while time.monotonic() < deadline:
        peak = max(peak, await asyncio.to_thread(db_connections, args.database_url))
        if all(s.hello_at or s.ended for s in streams):
            break
        await asyncio.sleep(0.05)
    figures["db_connections_peak_while_opening"] = peak
    figures["got_hello"] = sum(1 for s in streams if s.hello_at)
    figures["seconds_to_open_all"] = round(time.monotonic() - opened, 2)
    failures = {}
    for s in streams:
        if s.ended:
            failures[s.ended] = failures.get(s.ended, 0) + 1
    figures["failed_to_open"] = failures
    held_since = time.monotonic()

    # idle: keepalives and presence touches only
    await asyncio.sleep(3)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(args.idle)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    figures["idle_cpu_percent"] = round(100 * (cpu1 - cpu0) / (t1 - t0), 1)
    rss = rss_kb(pid)
    figures["rss_with_streams_mb"] = round(rss / 1024, 1)
    figures["kb_per_stream"] = round(
        (rss - figures["rss_before_mb"] * 1024) / max(figures["got_hello"], 1), 1
    )
    figures["redis"] = redis_figures(args.redis_url)
    figures["db_connections_with_streams"] = db_connections(args.database_url)

    # changes, one every `--every` seconds, while the streams stay open
    author = agents[0][0]
    stamps = []
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    for n in range(args.changes):
        await asyncio.to_thread(comment_add, order=order, by=author, body=f"Live bench change {n}")
        stamps.append(n)
        await asyncio.sleep(args.every)
    await asyncio.sleep(2)
    figures["cpu_percent_during_changes"] = round(
        100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0), 1
    )
    remaining = args.hold - (time.monotonic() - held_since)
    if remaining > 0:
        await asyncio.sleep(remaining)
    figures["held_seconds"] = round(time.monotonic() - held_since, 1)
    figures["still_open"] = sum(1 for s in streams if s.hello_at and not s.ended)
    ended = {}
    for s in streams:
        if s.hello_at and s.ended:
            ended[s.ended] = ended.get(s.ended, 0) + 1
    figures["ended_early"] = ended

    # every change event is one of the bench's: its id (`at`) is the change's time
    by_change: dict[int, list[float]] = {}
    for s in streams:
        for at, read in s.changes.items():
            by_change.setdefault(at, []).append((read - at / 1_000_000) * 1000)
    delays = [d for got in by_change.values() for d in got]
    per_change = [max(got) for got in by_change.values()]
    missing = len(stamps) * sum(1 for s in streams if s.hello_at) - len(delays)
    figures["changes"] = len(stamps)
    figures["deliveries"] = len(delays)
    figures["missing_deliveries"] = missing
    if delays:
        figures["delay_ms"] = {
            "p50": round(percentile(delays, 0.5), 1),
            "p95": round(percentile(delays, 0.95), 1),
            "max": round(max(delays), 1),
        }
        figures["delay_to_all_ms"] = {
            "p50": round(percentile(per_change, 0.5), 1),
            "p95": round(percentile(per_change, 0.95), 1),
            "max": round(max(per_change), 1),
        }
    kinds: dict[str, int] = {}
    for s in streams:
        for name, count in s.events.items():
            kinds[name] = kinds.get(name, 0) + count
    figures["events_read"] = kinds

    for s in streams:
        s.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(2)
    figures["rss_after_close_mb"] = round(rss_kb(pid) / 1024, 1)
    figures["db_connections_after_close"] = db_connections(args.database_url)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--on-order", type=int, default=100, help="streams watching the order")
    parser.add_argument("--users", type=int, default=5, help="agents the streams share")
    parser.add_argument("--hold", type=float, default=60, help="seconds the streams stay open")
    parser.add_argument("--idle", type=float, default=15, help="seconds of idle CPU measured")
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between changes")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--redis-url", default=os.environ.get("LIVE_REDIS_URL", ""))
    parser.add_argument("--reuse", action="store_true", help="keep the database as it is")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    args.database_url = os.environ.get("DATABASE_URL", "")
    if "bench" not in urlsplit(args.database_url).path:
        sys.exit("Set DATABASE_URL to a bench database (its name contains 'bench').")
    if not args.redis_url:
        sys.exit("Set LIVE_REDIS_URL (or --redis-url) to a Redis database for the bench.")
    args.on_order = min(args.on_order, args.streams)

    env = server_env(args.database_url, LIVE_REDIS_URL=args.redis_url)
    prepare(args.database_url, args.reuse, env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    import django

    django.setup()
    order, agents = make_data(args.users)

    log = tempfile.TemporaryFile()  # noqa: SIM115
    server = start_uvicorn(args.port, env, log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                import socket

                socket.create_connection(("127.0.0.1", args.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            log.seek(0)
            raise RuntimeError(f"uvicorn did not start:\n{log.read().decode()[-3000:]}")
        figures = asyncio.run(bench(args, args.port, server.pid, order, agents))
    finally:
        stop(server)
        from django.db import connections

        connections.close_all()
    log.seek(0)
    errors = [line for line in log.read().decode().splitlines() if "Error" in line]
    figures["server_errors"] = errors[-5:]
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(json.dumps(figures, indent=2))
    ok = figures["still_open"] == args.streams and not figures["missing_deliveries"]
    print("all streams held and every change delivered" if ok else "SOME STREAMS FAILED: see above")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
