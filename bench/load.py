"""Load test: the back office under gunicorn on loopback, as the agents' browsers see it.

Starts gunicorn on 127.0.0.1 against DATABASE_URL, logs every simulated agent in through the real
login form (GET for the CSRF token, POST the credentials, keep the session cookie), then runs a
closed loop: `users` threads, each with its own HTTP connection (reopened when the server
closes it, as gunicorn's sync worker does after every response), request the next URL
of a weighted mix at once when the previous response is fully read (no think time), for
`duration` seconds after a short warm-up. Measured client side: requests/s, latency percentiles
(request sent to response body read), and errors (any non-2xx status or exception), overall and
per kind of URL. The client shares the machine's cores with the server.

    python bench/load.py --users 10 --duration 20 --url /orders/ --url /orders/?status=processing

DATABASE_URL and the URLs are required (a `--url` may carry a weight: `/orders/,10`); SECRET_KEY
is taken from the environment if set.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
BENCH_SECRET_KEY = "bench-only-secret-key-not-for-production-use-0123456789"
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def kind(url: str) -> str:
    """/orders/123/activity/ -> /orders/<id>/activity/; /orders/?q=B01-1 -> /orders/?q="""
    path, _, query = url.partition("?")
    path = re.sub(r"/\d+(?=/)", "/<id>", path)
    keys = "&".join(f"{part.split('=')[0]}=" for part in query.split("&")) if query else ""
    return f"{path}?{keys}" if keys else path


class Agent:
    """One browser: its connection (kept open while the server allows) and its cookies."""

    def __init__(self, port: int) -> None:
        self.host = f"127.0.0.1:{port}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None, headers=None):
        headers = {"Host": self.host, **(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except Exception:
            self.conn.close()  # the next request opens a new connection
            raise
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, data

    def login(self, username: str, password: str) -> None:
        status, page = self.request("GET", "/accounts/login/")
        found = TOKEN.search(page)
        if status != 200 or not found:
            raise RuntimeError(f"GET /accounts/login/ answered {status} without a CSRF token")
        form = {"username": username, "password": password, "next": ""}
        form["csrfmiddlewaretoken"] = found.group(1).decode()
        status, page = self.request(
            "POST",
            "/accounts/login/",
            urlencode(form),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"http://{self.host}",
                "Referer": f"http://{self.host}/accounts/login/",
            },
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"Login as {username} failed: HTTP {status} {page[:200]!r}")


def start_gunicorn(
    database_url: str, workers: int, threads: int, port: int, log
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or BENCH_SECRET_KEY,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on loopback: no Secure-only cookies, no redirect to https, no HSTS.
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
    }
    command = [str(GUNICORN), "oms.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    # One thread: the sync worker, as in production (Dockerfile); it closes the connection after
    # each response, so requests spread over the workers. gthread keeps connections alive, which
    # pins each agent to one worker and lengthens the tail on this CPU-bound app.
    worker = ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []
    command += ["--workers", str(workers), *worker]
    command += ["--timeout", "120", "--graceful-timeout", "10", "--log-level", "warning"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_until_up(server: subprocess.Popen, port: int, log, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            if Agent(port).request("GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    log.seek(0)
    raise RuntimeError(f"gunicorn did not answer /healthz:\n{log.read().decode()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)  # graceful: workers finish their requests
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_load(
    *,
    database_url: str,
    users: int,
    duration: float,
    urls: list[str] | list[tuple[str, float]],
    username: str,
    password: str,
    workers: int = 5,
    port: int = 8765,
    threads: int = 1,
    warmup: float = 3.0,
) -> dict:
    """Run the closed loop and return its figures (see the module docstring)."""
    mix = [(u, 1.0) if isinstance(u, str) else (u[0], float(u[1])) for u in urls]
    paths, weights = [u for u, _ in mix], [w for _, w in mix]
    samples: list[tuple[str, float, bool]] = []  # (kind, ms, ok), appended under the GIL
    errors: list[str] = []
    with tempfile.TemporaryFile() as log:
        server = start_gunicorn(database_url, workers, threads, port, log)
        try:
            wait_until_up(server, port, log)
            agents = [Agent(port) for _ in range(users)]
            with ThreadPoolExecutor(max_workers=workers) as pool:  # password hashing is slow
                list(pool.map(lambda agent: agent.login(username, password), agents))
            begin = time.monotonic() + warmup
            end = begin + duration

            def loop(agent: Agent, seed: int) -> None:
                rng = random.Random(seed)
                while (now := time.monotonic()) < end:
                    path = rng.choices(paths, weights)[0]
                    try:
                        status, _ = agent.request("GET", path)
                        error = None if 200 <= status < 300 else f"HTTP {status} {path}"
                    except Exception as exc:
                        error = f"{type(exc).__name__}: {exc} ({path})"
                    if now >= begin:
                        samples.append((kind(path), (time.monotonic() - now) * 1000, not error))
                        if error:
                            errors.append(error)

            loops = [
                threading.Thread(target=loop, args=(agent, n), daemon=True)
                for n, agent in enumerate(agents)
            ]
            cpu = time.process_time()
            for thread in loops:
                thread.start()
            for thread in loops:
                thread.join()
            for agent in agents:
                agent.conn.close()
            elapsed = time.monotonic() - begin  # includes the requests in flight at `end`
            client_cpu = (time.process_time() - cpu) / (elapsed + warmup)
        finally:
            stop(server)

    def figures(rows: list[tuple[str, float, bool]], seconds: float) -> dict:
        times = [ms for _, ms, _ in rows] or [0.0]
        return {
            "requests": len(rows),
            "errors": sum(not ok for _, _, ok in rows),
            "rps": round(len(rows) / seconds, 1),
            "p50_ms": round(percentile(times, 0.5), 1),
            "p95_ms": round(percentile(times, 0.95), 1),
            "p99_ms": round(percentile(times, 0.99), 1),
            "max_ms": round(max(times), 1),
        }

    by_url = {
        k: figures([s for s in samples if s[0] == k], elapsed)
        for k in dict.fromkeys(kind(p) for p in paths)
    }
    return {
        "users": users,
        "workers": workers,
        "threads": threads,
        "duration_s": round(elapsed, 1),
        **figures(samples, elapsed),
        "error_samples": list(dict.fromkeys(errors))[:5],
        "client_cpu_pct": round(100 * client_cpu),  # of one core, taken from the server's
        "by_url": by_url,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--username", default="bench.agent")
    parser.add_argument("--password", default="bench-password")
    parser.add_argument(
        "--url", action="append", required=True, help="a path, optionally ,WEIGHT; repeatable"
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL to the bench database.")
    urls = []
    for url in args.url:
        path, _, weight = url.rpartition(",")
        urls.append((path, float(weight)) if path and weight.replace(".", "").isdigit() else url)
    result = run_load(
        database_url=os.environ["DATABASE_URL"],
        users=args.users,
        duration=args.duration,
        urls=urls,
        username=args.username,
        password=args.password,
        workers=args.workers,
        threads=args.threads,
        port=args.port,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
