"""The ASGI entry point: the pages' live streams under uvicorn (`uvicorn oms.asgi:application`,
the `stream` service of docker-compose.yml; docs/production.md, "Live presence and changes").

Django runs each request's synchronous part (middleware, the view) in a thread of its own, with a
database connection of its own. So here:

- no connection is kept after a request (`CONN_MAX_AGE=0` unless set): its thread is gone, and a
  kept connection would only wait for the garbage collector;
- at most `SETUP_LIMIT` requests of a process are in that part at once. A stream lets its
  connection go before it waits (oms/live/views.py), so a process holding hundreds of streams
  holds no connection for them; without the limit, hundreds of pages reconnecting at once (a
  restart) would open as many connections together and run past Postgres's `max_connections`.
"""

import asyncio
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
os.environ.setdefault("CONN_MAX_AGE", "0")

from django.core.asgi import get_asgi_application

SETUP_LIMIT = 10


class SetupLimit:
    """Admit at most `limit` HTTP requests at a time until each sends its response's headers."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:  # made in the server's event loop
            self._semaphore = asyncio.Semaphore(self.limit)
        semaphore = self._semaphore
        await semaphore.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                semaphore.release()

        async def send_releasing(message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            await self.app(scope, receive, send_releasing)
        finally:
            release()


application = SetupLimit(get_asgi_application(), SETUP_LIMIT)
