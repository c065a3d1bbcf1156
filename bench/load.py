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

Agents can also work orders (`--action comment,2 --action hold,1 --action cancel,1`): each
posts the order page's form, with the CSRF token, to an order it saw on the open orders list
(gathered once after login), and follows the redirect to the order page, where the outcome is
shown; an answer other than 2xx/3xx is an error, a refusal the page explains ("already
cancelled") is not. Managers' actions need `--username bench.manager`.

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
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, as well as imported

from bench.stats import percentile  # noqa: E402

GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
BENCH_SECRET_KEY = "bench-only-secret-key-not-for-production-use-0123456789"
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
ORDER_LINK = re.compile(rb'href="/orders/(\d+)/"')

# What an agent may do to an order: the form it posts (path, fields).
ACTIONS = {
    "comment": lambda order, n: (f"/orders/{order}/comments/add/", {"body": f"Load note {n}"}),
    "hold": lambda order, n: (
        f"/orders/{order}/hold/{'set' if n % 2 else 'clear'}/",
        {"flag": "documentation", "reason": f"Load hold {n}"},
    ),
    "cancel": lambda order, n: (
        f"/orders/{order}/cancel/",
        {"confirm": "on", "reason": f"Load cancel {n}"},
    ),
}


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
        self.location: str | None = None

    def request(self, method: str, path: str, body: str | None = None, headers=None):
        headers = {"Host": self.host, **(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
            self.location = response.getheader("Location")
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

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, bytes]:
        """Post a form as the browser does, and follow its redirect."""
        token = self.cookies.get("csrftoken", "")
        body = urlencode({**fields, "csrfmiddlewaretoken": token})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": token}
        status, data = self.request("POST", path, body, headers)
        if status == 302 and self.location:
            status, data = self.request("GET", urlsplit(self.location).path)
        return status, data

    def order_ids(self, pages: int = 10) -> list[int]:
        """Ids of the orders on the first pages of the open orders list."""
        ids: list[int] = []
        for page in range(1, pages + 1):
            _, data = self.request("GET", f"/orders/?view=open&per_page=50&page={page}")
            ids += [int(i) for i in dict.fromkeys(ORDER_LINK.findall(data))]
        return ids


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a server process the benchmarks start on loopback."""
    return {
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
        **extra,
    }


def start_gunicorn(
    database_url: str, workers: int, threads: int, port: int, log
) -> subprocess.Popen:
    env = server_env(database_url)
    # Without DEBUG, pages name their assets through the manifest that collectstatic writes.
    subprocess.run(
        [str(GUNICORN.parent / "python"), "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
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
    actions: list[tuple[str, float]] = (),
) -> dict:
    """Run the closed loop and return its figures (see the module docstring)."""
    mix = [(u, 1.0) if isinstance(u, str) else (u[0], float(u[1])) for u in urls]
    mix += [(f"POST {name}", float(weight)) for name, weight in actions]
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
            orders = agents[0].order_ids() if actions else []
            if actions and not orders:
                raise RuntimeError("No open orders on the list to work on.")
            actions_done: dict[str, int] = {}
            begin = time.monotonic() + warmup
            end = begin + duration

            def loop(agent: Agent, seed: int) -> None:
                rng = random.Random(seed)
                while (now := time.monotonic()) < end:
                    path = rng.choices(paths, weights)[0]
                    try:
                        if path.startswith("POST "):
                            name = path.removeprefix("POST ")
                            done = actions_done[name] = actions_done.get(name, 0) + 1
                            target, fields = ACTIONS[name](rng.choice(orders), done)
                            status, _ = agent.post_form(target, fields)
                        else:
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
        "actions": actions_done if actions else {},
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
    parser.add_argument(
        "--action",
        action="append",
        default=[],
        help=f"work on orders: one of {', '.join(ACTIONS)}, optionally ,WEIGHT; repeatable",
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
        actions=[
            (name, float(weight or 1))
            for name, _, weight in (a.partition(",") for a in args.action)
        ],
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
