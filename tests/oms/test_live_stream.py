"""The live endpoints over HTTP (oms/live/views.py): the event stream under the WSGI server and
under real ASGI server processes, the polling fallback, presence, and what a stream costs.

The streams are read with a plain socket client, as a browser's EventSource reads them."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oms.live import feed
from oms.live import hub as live_hub
from oms.live import views as live_views
from orders import services
from tests.factories import OrderFactory
from tests.oms.test_live_hub import redis_url  # noqa: F401 (a fixture)
from tests.test_worker import _database_url

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class Stream:
    """One open event stream, read in a thread: its status, and the events as they come."""

    def __init__(self, base: str, path: str, *, cookie: str = "", headers=()) -> None:
        parts = urlsplit(base)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        request = [f"GET {path} HTTP/1.0", f"Host: {parts.hostname}:{parts.port}"]
        request.append("Accept: text/event-stream")
        if cookie:
            request.append(f"Cookie: {cookie}")
        request += [f"{name}: {value}" for name, value in headers]
        self.sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode())
        self.sock.settimeout(0.05)
        self.status: int | None = None
        self.head = ""
        self.events: list[tuple[str, dict, str | None]] = []
        self.keepalives = 0
        self.ended = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while self.status is None and not self.ended.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.status is not None, "no answer"

    def _read(self) -> None:
        buffer = b""
        try:
            while not self._stop:
                try:
                    data = self.sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                buffer += data
                if self.status is None:
                    if b"\r\n\r\n" not in buffer:
                        continue
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    self.head = head.decode("latin-1")
                    self.status = int(self.head.split()[1])
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    self._parse(block.decode())
        except OSError:
            pass
        finally:
            self.ended.set()

    def _parse(self, block: str) -> None:
        kind, data, event_id = "message", "", None
        for line in block.splitlines():
            if line.startswith(":"):
                self.keepalives += 1
            elif line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif line.startswith("id: "):
                event_id = line.removeprefix("id: ")
        if data:
            self.events.append((kind, json.loads(data), event_id))

    def wait(self, kind: str, where=lambda data: True, *, after: int = -1, timeout: float = 2.0):
        """The index and data of the first `kind` event after index `after` that matches."""
        deadline = time.monotonic() + timeout
        while True:
            for index, (found, data, _) in enumerate(list(self.events)):
                if index > after and found == kind and where(data):
                    return index, data
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind} event within {timeout}s; got {self.events}")
            time.sleep(0.01)

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):  # the server may have closed it already
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)


@pytest.fixture
def streams():
    opened: list[Stream] = []

    def open_stream(base: str, path: str, **kwargs) -> Stream:
        stream = Stream(base, path, **kwargs)
        opened.append(stream)
        return stream

    yield open_stream
    for stream in opened:
        stream.close()


@pytest.fixture
def in_process_hub():
    """The embedded hub, fresh; keepalives often, so a closed stream is noticed quickly."""
    live_hub.reset_hub()
    with override_settings(LIVE_REDIS_URL="", LIVE_KEEPALIVE_SECONDS=0.2):
        yield live_hub.get_hub()
    live_hub.reset_hub()


@pytest.fixture
def cookie_of(client_for):
    def cookie(user) -> str:
        client = client_for(user)
        return (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )

    return cookie


def names(viewers) -> set[str]:
    return {viewer["name"] for viewer in viewers}


def watch(order, tab: str = "t1") -> str:
    return f"/live/stream/?watch=orders.order:{order.pk}&tab={tab}"


# the stream under WSGI -------------------------------------------------------------------------


def test_a_page_hears_of_changes_and_of_who_else_is_there(
    live_server, in_process_hub, streams, cookie_of, retailer, agent, manager
):
    order = OrderFactory(retailer=retailer)
    ref = f"orders.order:{order.pk}"
    page = streams(live_server.url, watch(order), cookie=cookie_of(agent))
    assert page.status == 200
    assert "text/event-stream" in page.head

    _, hello = page.wait("hello")
    assert names(hello["presence"][ref]) == {agent.get_full_name()}

    # a colleague changes the order: the page hears of it, with who did what
    services.comment_add(order=order, by=manager, body="Parcel is with the neighbours")
    _, change = page.wait("change")
    assert change["by"] == manager.get_full_name()
    assert "Parcel is with the neighbours" in change["text"]
    assert ref in change["refs"]
    assert page.events[-1][2] == str(change["at"])  # the id a reconnect sends back

    # the colleague opens the order too, and then closes it
    other = streams(live_server.url, watch(order, "t2"), cookie=cookie_of(manager))
    both = {agent.get_full_name(), manager.get_full_name()}
    at, _ = page.wait("presence", lambda d: names(d["viewers"]) == both)
    _, other_hello = other.wait("hello")
    assert names(other_hello["presence"][ref]) == both
    other.close()
    page.wait("presence", lambda d: names(d["viewers"]) == {agent.get_full_name()}, after=at)


def test_a_reconnecting_page_gets_the_changes_it_missed(
    live_server, in_process_hub, streams, cookie_of, retailer, agent, manager
):
    order = OrderFactory(retailer=retailer)
    page = streams(live_server.url, watch(order), cookie=cookie_of(agent))
    services.comment_add(order=order, by=manager, body="First")
    _, first = page.wait("change")
    page.close()

    # while the tab slept
    services.comment_add(order=order, by=manager, body="Second")
    services.order_suspend(order=order, by=manager, reason="Fraud check")

    again = streams(
        live_server.url,
        watch(order),
        cookie=cookie_of(agent),
        headers=[("Last-Event-ID", str(first["at"]))],
    )
    again.wait("hello")
    at, _ = again.wait("change", lambda d: "Second" in d["text"])
    _, suspended = again.wait("change", after=at)
    assert suspended["topic"] == "status"
    assert not any("First" in data["text"] for kind, data, _ in again.events if kind == "change")


def test_a_list_page_hears_of_changes_to_its_kind_of_record_and_retailer_only(
    live_server, in_process_hub, streams, cookie_of, retailer, other_retailer, agent, manager
):
    from oms.roles import Role
    from tests.factories import MembershipFactory, UserFactory

    order, another = OrderFactory(retailer=retailer), OrderFactory(retailer=retailer)
    theirs = OrderFactory(retailer=other_retailer)
    their_manager = MembershipFactory(
        user=UserFactory(username="globex.manager"), retailer=other_retailer, role=Role.MANAGER
    ).user
    drawn = feed.stamp(timezone.now())
    services.comment_add(order=order, by=manager, body="Before the stream opened")

    page = streams(
        live_server.url,
        f"/live/stream/?list=orders.order&tab=l1&since={drawn}",
        cookie=cookie_of(agent),
    )
    page.wait("change", lambda d: "Before the stream opened" in d["text"])  # caught up
    services.order_suspend(order=theirs, by=their_manager, reason="Their business")
    services.comment_add(order=another, by=manager, body="After")
    _, change = page.wait("change", lambda d: "After" in d["text"])
    assert f"orders.order:{another.pk}" in change["refs"]
    assert not any(
        f"orders.order:{theirs.pk}" in data.get("refs", ()) for _, data, _ in page.events
    )


def test_a_stream_ends_after_its_time_and_its_tab_leaves(
    live_server, in_process_hub, streams, cookie_of, retailer, agent
):
    order = OrderFactory(retailer=retailer)
    with override_settings(LIVE_STREAM_MAX_SECONDS=0.5):
        page = streams(live_server.url, watch(order), cookie=cookie_of(agent))
        page.wait("hello")
        assert page.ended.wait(3), "the stream should end (the browser reconnects)"
    assert page.keepalives >= 1
    assert in_process_hub.present(f"orders.order:{order.pk}") == []


def test_a_stream_is_only_for_records_the_user_may_see(
    client_for, retailer, other_retailer, agent, other_agent
):
    order = OrderFactory(retailer=retailer)
    theirs = OrderFactory(retailer=other_retailer)
    client = client_for(agent)

    assert client.get(watch(theirs)).status_code == 404
    mixed = f"/live/stream/?watch=orders.order:{order.pk},orders.order:{theirs.pk}&tab=t1"
    assert client.get(mixed).status_code == 404
    for bad in (
        "/live/stream/?watch=auth.user:1&tab=t1",
        "/live/stream/?watch=orders.order:x&tab=t1",
        f"/live/stream/?watch=orders.order:{order.pk}&tab=no spaces",
        "/live/stream/?tab=t1",
        "/live/stream/?list=auth.user&tab=t1",
        "/live/stream/?watch=" + ",".join(f"orders.order:{n}" for n in range(1, 10)) + "&tab=t1",
    ):
        assert client.get(bad).status_code == 400, bad

    anonymous = client_for(agent)
    anonymous.logout()
    response = anonymous.get(watch(order))
    assert response.status_code == 302
    assert "login" in response["Location"] and "next=" in response["Location"]


# the polling fallback and presence -------------------------------------------------------------


def _poll(client, order, *, tab: str, since=None):
    query = f"watch=orders.order:{order.pk}&tab={tab}"
    if since is not None:
        query += f"&since={since}"
    response = client.get(f"/live/poll/?{query}")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_a_polling_page_reads_the_changes_since_and_counts_as_there(
    in_process_hub, client_for, retailer, agent, manager
):
    order = OrderFactory(retailer=retailer)
    ref = f"orders.order:{order.pk}"
    agent_client, manager_client = client_for(agent), client_for(manager)
    first = _poll(agent_client, order, tab="a1")
    assert first["changes"] == []
    assert first["stream"] is True
    assert names(first["presence"][ref]) == {agent.get_full_name()}

    services.comment_add(order=order, by=manager, body="Called the customer")
    later = _poll(manager_client, order, tab="m1", since=first["now"])
    assert [c["text"] for c in later["changes"]] == [
        next(c["text"] for c in later["changes"] if "Called the customer" in c["text"])
    ]
    assert later["changes"][0]["by"] == manager.get_full_name()
    assert names(later["presence"][ref]) == {agent.get_full_name(), manager.get_full_name()}
    # nothing new since then
    assert _poll(agent_client, order, tab="a1", since=later["now"])["changes"] == []


@pytest.mark.django_db(transaction=True)
def test_typing_and_leaving_show_to_the_others(
    in_process_hub, client_for, retailer, agent, manager
):
    order = OrderFactory(retailer=retailer)
    ref = f"orders.order:{order.pk}"
    agent_client, manager_client = client_for(agent), client_for(manager)
    form = {"watch": ref, "tab": "a1"}

    assert agent_client.post("/live/presence/", form | {"state": "typing"}).status_code == 204
    seen = {v["name"]: v for v in _poll(manager_client, order, tab="m1")["presence"][ref]}
    assert seen[agent.get_full_name()]["typing"] is True
    assert seen[manager.get_full_name()]["typing"] is False

    assert agent_client.post("/live/presence/", form | {"state": "idle"}).status_code == 204
    seen = {v["name"]: v for v in _poll(manager_client, order, tab="m1")["presence"][ref]}
    assert seen[agent.get_full_name()]["typing"] is False

    assert agent_client.post("/live/presence/", form | {"state": "leave"}).status_code == 204
    assert names(_poll(manager_client, order, tab="m1")["presence"][ref]) == {
        manager.get_full_name()
    }

    assert agent_client.post("/live/presence/", form | {"state": "dancing"}).status_code == 400
    many = ",".join([ref] * 9)
    response = agent_client.post("/live/presence/", {"watch": many, "tab": "a1", "state": "idle"})
    assert response.status_code == 400


def test_typing_reaches_an_open_stream(
    live_server, in_process_hub, streams, cookie_of, client_for, retailer, agent, manager
):
    order = OrderFactory(retailer=retailer)
    ref = f"orders.order:{order.pk}"
    page = streams(live_server.url, watch(order), cookie=cookie_of(manager))
    page.wait("hello")
    client_for(agent).post("/live/presence/", {"watch": ref, "tab": "a1", "state": "typing"})
    _, typing = page.wait(
        "presence", lambda d: any(v["typing"] and v["user"] == agent.pk for v in d["viewers"])
    )
    assert typing["ref"] == ref


# Redis down ------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_redis_hub():
    live_hub.reset_hub()
    with override_settings(LIVE_REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0"):
        yield live_hub.get_hub()
    live_hub.reset_hub()


def test_with_the_live_channel_down_a_page_is_told_to_poll_and_polling_has_the_change(
    live_server, dead_redis_hub, streams, cookie_of, client_for, retailer, agent, manager
):
    order = OrderFactory(retailer=retailer)
    page = streams(live_server.url, watch(order), cookie=cookie_of(agent))
    page.wait("hello")
    page.wait("degraded")
    assert page.ended.wait(2), "the stream should end after saying it is degraded"

    before = feed.stamp(timezone.now())
    started = time.monotonic()
    services.comment_add(order=order, by=manager, body="Written while Redis was down")
    assert time.monotonic() - started < 1.0
    polled = _poll(client_for(agent), order, tab="t1", since=before)
    assert polled["stream"] is False
    assert [c["by"] for c in polled["changes"]] == [manager.get_full_name()]
    assert "Written while Redis was down" in polled["changes"][0]["text"]


# what a stream costs ---------------------------------------------------------------------------


def _queries_to_open(client, path: str, **headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
        assert response.status_code == 200
    return len(queries)


def test_opening_a_stream_costs_a_few_queries_and_one_per_record(
    in_process_hub, client_for, retailer, agent
):
    orders = [OrderFactory(retailer=retailer) for _ in range(3)]
    client = client_for(agent)
    client.get(watch(orders[0]))  # the session's first use

    one = _queries_to_open(client, watch(orders[0]))
    refs = ",".join(f"orders.order:{o.pk}" for o in orders)
    three = _queries_to_open(client, f"/live/stream/?watch={refs}&tab=t1")
    since = feed.stamp(timezone.now()) - 1_000_000
    catching_up = _queries_to_open(
        client, f"/live/stream/?watch={refs}&tab=t1", HTTP_LAST_EVENT_ID=str(since)
    )

    assert one <= 5, "session, user, the user's retailers, scope, and the record"
    assert three == one + 2  # one per record
    assert catching_up == three + 1  # the changes missed, in one query


# several ASGI server processes -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def asgi_servers(transactional_db, tmp_path, redis_url):  # noqa: F811 (the flushed test Redis)
    """Two `uvicorn oms.asgi` processes on the test database, sharing the test Redis."""
    pytest.importorskip("uvicorn")
    env = os.environ | {
        "DATABASE_URL": _database_url(),
        "LIVE_REDIS_URL": REDIS_URL,
        "LIVE_KEEPALIVE_SECONDS": "0.3",
        # the pages are rendered without running collectstatic first
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    }
    servers, processes, logs = [], [], []
    for n in range(2):
        port = _free_port()
        log = tmp_path / f"uvicorn-{n}.log"
        with log.open("w") as out:
            processes.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "uvicorn", "oms.asgi:application"),
                        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        servers.append(f"http://127.0.0.1:{port}")
        logs.append(log)
    try:
        deadline = time.monotonic() + 30
        for server, process, log in zip(servers, processes, logs, strict=True):
            while True:
                try:
                    requests.get(f"{server}/healthz", timeout=2)
                    break
                except requests.ConnectionError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"uvicorn did not start:\n{log.read_text()}")
                    time.sleep(0.1)
        yield servers
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_several_server_processes_share_changes_and_presence(
    asgi_servers, streams, cookie_of, retailer, agent, manager
):
    first, second = asgi_servers
    order = OrderFactory(retailer=retailer)
    ref = f"orders.order:{order.pk}"
    agent_cookie, manager_cookie = cookie_of(agent), cookie_of(manager)

    page = streams(first, watch(order), cookie=agent_cookie)
    assert page.status == 200
    page.wait("hello", timeout=5)

    # a colleague opens the order on the other process: the page on the first one sees them
    other = streams(second, watch(order, "t2"), cookie=manager_cookie)
    _, other_hello = other.wait("hello", timeout=5)
    assert names(other_hello["presence"][ref]) == {agent.get_full_name(), manager.get_full_name()}
    at, _ = page.wait(
        "presence",
        lambda d: names(d["viewers"]) == {agent.get_full_name(), manager.get_full_name()},
    )

    # and comments through the other process's page: the first page hears of it within 2 s
    html = requests.get(
        f"{second}/orders/{order.pk}/", headers={"Cookie": manager_cookie}, timeout=10
    )
    assert html.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html.text).group(1)
    csrf = html.cookies.get(settings.CSRF_COOKIE_NAME)
    response = requests.post(
        f"{second}/orders/{order.pk}/comments/add/",
        data={"csrfmiddlewaretoken": token, "body": "Sent from the other server"},
        headers={
            "Cookie": f"{manager_cookie}; {settings.CSRF_COOKIE_NAME}={csrf}",
            "Referer": f"{second}/orders/{order.pk}/",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code in (200, 302), response.text[:500]
    _, change = page.wait("change", lambda d: "Sent from the other server" in d["text"])
    assert "degraded" not in [kind for kind, _, _ in page.events + other.events]
    assert change["by"] == manager.get_full_name()

    # the colleague closes the page: the first page sees them go
    other.close()
    page.wait(
        "presence", lambda d: names(d["viewers"]) == {agent.get_full_name()}, after=at, timeout=3
    )


# nothing falls between what a stream reads it missed and what it hears live ---------------------


@pytest.mark.parametrize("when", ["before the catch-up reads", "after the catch-up read"])
def test_a_change_while_a_stream_opens_is_sent_exactly_once(
    when,
    in_process_hub,
    client_for,
    retailer,
    agent,
    manager,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    order = OrderFactory(retailer=retailer)
    real_catch_up = live_views._catch_up

    def change() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.comment_add(order=order, by=manager, body="Arrived while opening")

    def catch_up_with_a_change(watch_, since):
        if when == "before the catch-up reads":
            change()
            return real_catch_up(watch_, since)
        missed = real_catch_up(watch_, since)
        change()
        return missed

    monkeypatch.setattr(live_views, "_catch_up", catch_up_with_a_change)
    since = feed.stamp(timezone.now() - timezone.timedelta(seconds=1))
    response = client_for(agent).get(watch(order), HTTP_LAST_EVENT_ID=str(since))
    assert response.status_code == 200
    seen, deadline = [], time.monotonic() + 3
    for chunk in response.streaming_content:
        if b"event: change" in chunk:
            seen.append(chunk)
        if time.monotonic() > deadline or (seen and b"keepalive" in chunk):
            break
    response.close()
    assert len(seen) == 1, seen
    assert b"Arrived while opening" in seen[0]
