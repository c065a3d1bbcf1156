"""The ASGI entry point (oms/asgi.py) that serves the live streams under uvicorn: open streams
hold no database connection, and requests reach the database a few at a time."""

from __future__ import annotations

import asyncio
import time

from django.db import connection

from oms.asgi import SetupLimit
from tests.factories import OrderFactory
from tests.oms.test_live_hub import (
    redis_url,  # noqa: F401 (a fixture)
    run_async,
)
from tests.oms.test_live_stream import asgi_servers, cookie_of, streams  # noqa: F401 (fixtures)


def test_at_most_the_limit_of_requests_are_set_up_at_once_and_a_stream_frees_its_place():
    active, peak, headers_at = 0, 0, []

    async def app(scope, receive, send):
        nonlocal active, peak
        active += 1  # middleware and view: a thread and a database connection
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        headers_at.append(time.monotonic())
        await asyncio.sleep(1)  # the stream waits for events

    async def main():
        limited = SetupLimit(app, 2)

        async def send(message):
            pass

        started = time.monotonic()
        requests = [limited({"type": "http"}, None, send) for _ in range(6)]
        await asyncio.gather(*requests)
        return started

    started = run_async(main())
    assert peak == 2
    # every stream had its headers long before the first one ended
    assert len(headers_at) == 6 and max(headers_at) - started < 0.5


def test_open_streams_under_uvicorn_hold_no_database_connection(
    asgi_servers,  # noqa: F811
    streams,  # noqa: F811
    cookie_of,  # noqa: F811
    retailer,
    agent,
):
    order = OrderFactory(retailer=retailer)
    cookie = cookie_of(agent)

    def others() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    time.sleep(0.5)
    before = others()  # whatever else is connected (the suite's other threads), not theirs
    opened = [
        streams(
            asgi_servers[n % 2],
            f"/live/stream/?watch=orders.order:{order.pk}&tab=t{n}",
            cookie=cookie,
        )
        for n in range(12)
    ]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(s.events for s in opened):
        time.sleep(0.05)
    assert [s.status for s in opened] == [200] * 12
    assert all(s.events and s.events[0][0] == "hello" for s in opened)
    time.sleep(0.5)
    # twelve pages open on two server processes, and no connection is theirs
    assert others() <= before
