"""The live endpoints a record or list page talks to.

- `stream`: server-sent events. Served by the ASGI server (`oms.asgi`, uvicorn) as an async
  stream that costs no thread while it waits; under WSGI (`runserver`, the embedded default) the
  same loop runs in the request's thread.
- `poll`: the same facts as JSON, read from the activity table, for a page whose stream is down.
- `presence`: a tab says it is typing, stopped, or left.

What a page may watch is checked once, when it asks, against the records the user may see
(the retailer scope of `for_user`): a record of another retailer is a 404, as everywhere.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from oms.live import feed
from oms.live.hub import KEEP, Hub, Subscription, Viewer, get_hub
from oms.roles import roles_of

_TAB = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_WATCH = 8


@dataclass
class Watch:
    """What one page has open: records (with their retailers) or one kind of record (a list)."""

    records: dict[str, int]  # ref -> retailer id
    kind: str | None
    retailer_ids: list[int]
    tab: str
    user_id: int
    name: str

    def wants(self, event: dict[str, Any]) -> bool:
        if event.get("type") == "presence":
            return event.get("ref") in self.records
        refs = event.get("refs") or ()
        if self.kind is not None:
            return any(r.startswith(f"{self.kind}:") for r in refs)
        return any(r in self.records for r in refs)

    def viewer(self, *, typing: bool | None = None) -> Viewer:
        """This tab, seen now; typing or not, or (None) as it was."""
        now = time.time()
        until = KEEP if typing is None else (now + settings.LIVE_TYPING_SECONDS) * typing
        return Viewer(
            key=f"{self.user_id}:{self.tab}",
            user_id=self.user_id,
            name=self.name,
            since=now,
            seen_at=now,
            typing_until=until,
        )


def _watch(request: HttpRequest, params) -> Watch:
    """The records or the kind a request names, checked against what the user may see."""
    user = request.user
    tab = params.get("tab", "")
    if not _TAB.match(tab):
        raise ValueError("tab: letters, digits, - and _, at most 32")
    records: dict[str, int] = {}
    kind = None
    raw_list = params.get("list", "")
    if raw_list:
        if raw_list not in settings.LIVE_RECORDS:
            raise ValueError("list: not a kind of record pages show live")
        kind = raw_list
        retailer_ids = sorted(roles_of(user))
    else:
        wanted = [w for w in params.get("watch", "").split(",") if w][: MAX_WATCH + 1]
        if not wanted or len(wanted) > MAX_WATCH:
            raise ValueError(f"watch: one to {MAX_WATCH} records, as label:id")
        for value in wanted:
            parsed = feed.parse_ref(value)
            if parsed is None or parsed[0] not in settings.LIVE_RECORDS:
                raise ValueError(f"watch: {value[:40]!r} is not a record pages show live")
            model = apps.get_model(parsed[0])
            retailer_id = (
                model._default_manager.for_user(user)
                .filter(pk=parsed[1])
                .values_list("retailer_id", flat=True)
                .first()
            )
            if retailer_id is None:
                raise Http404("No such record.")
            records[feed.ref(*parsed)] = retailer_id
        retailer_ids = sorted(set(records.values()))
    return Watch(
        records=records,
        kind=kind,
        retailer_ids=retailer_ids,
        tab=tab,
        user_id=user.pk,
        name=feed.actor_name(user),
    )


def _presence_event(hub: Hub, ref: str) -> dict[str, Any]:
    now = time.time()
    return {
        "type": "presence",
        "ref": ref,
        "viewers": [v.as_dict(now) for v in hub.present(ref)],
    }


def _announce_presence(hub: Hub, watch: Watch, ref: str) -> None:
    hub.publish(watch.records[ref], _presence_event(hub, ref))


def _sse(event: str, data: Any, event_id: Any = None) -> bytes:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()


def _since(request: HttpRequest):
    """Where a reconnecting stream or a poll picks up: Last-Event-ID, else ?since=."""
    value = request.headers.get("Last-Event-ID") or request.GET.get("since")
    found = feed.moment(value) if value else None
    if found is None:
        return None
    # never further back than the catch-up window
    oldest = timezone.now() - timezone.timedelta(seconds=settings.LIVE_CATCH_UP_SECONDS)
    return max(found, oldest)


def _catch_up(watch: Watch, since) -> list[dict[str, Any]]:
    if since is None:
        return []
    if watch.kind is not None:
        return feed.changes_of_kind(watch.retailer_ids, watch.kind, since)
    return feed.changes_since(watch.retailer_ids, list(watch.records), since)


async def _events(
    watch: Watch, subscription: Subscription, missed: list[dict[str, Any]]
) -> AsyncIterator[bytes]:
    """The stream: what was missed, then every change and presence event as it comes (the
    subscription was made before the missed changes were read: one in both is sent once)."""
    hub = get_hub()
    sent = {event["id"] for event in missed}
    started = time.monotonic()
    try:
        for ref in watch.records:
            if await asyncio.to_thread(hub.touch, ref, watch.viewer()):
                await asyncio.to_thread(_announce_presence, hub, watch, ref)
        yield f"retry: {settings.LIVE_RETRY_MS}\n\n".encode()
        yield _sse(
            "hello",
            {
                "now": feed.stamp(timezone.now()),
                "presence": {
                    ref: (await asyncio.to_thread(_presence_event, hub, ref))["viewers"]
                    for ref in watch.records
                },
            },
        )
        for event in missed:
            yield _sse("change", event, event["at"])
        if not hub.healthy():
            yield _sse("degraded", {"reason": "the live channel is down: polling"})
            return
        last_touch = time.monotonic()
        present_keys: dict[str, set[str]] = {}
        while True:
            event = await subscription.get(settings.LIVE_KEEPALIVE_SECONDS)
            if subscription.overflowed:
                yield _sse("resync", {})
                return
            if event is None:
                yield b": keepalive\n\n"
            elif event.get("type") == "degraded":
                yield _sse("degraded", {"reason": "the live channel is down: polling"})
                return
            elif watch.wants(event) and event.get("id", -1) not in sent:
                kind = event.get("type", "change")
                yield _sse(kind, event, event.get("at") if kind == "change" else None)
            now = time.monotonic()
            if now - last_touch >= settings.LIVE_PRESENCE_TTL / 3:
                last_touch = now
                for ref in watch.records:
                    await asyncio.to_thread(hub.touch, ref, watch.viewer(), only_refresh=True)
                    # a tab that went without a goodbye lapses: say so (its own stream cannot)
                    keys = {v.key for v in await asyncio.to_thread(hub.present, ref)}
                    if keys != present_keys.get(ref, keys):
                        await asyncio.to_thread(_announce_presence, hub, watch, ref)
                    present_keys[ref] = keys
            if now - started >= settings.LIVE_STREAM_MAX_SECONDS:
                return  # the browser reconnects at once, and is checked again
    finally:
        subscription.close()
        for ref in watch.records:
            if hub.leave(ref, f"{watch.user_id}:{watch.tab}"):
                _announce_presence(hub, watch, ref)


def _sync(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """The async stream, driven in the calling thread (WSGI): one small loop per stream."""
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                yield loop.run_until_complete(anext(stream))
            except StopAsyncIteration:
                return
    finally:
        try:
            loop.run_until_complete(stream.aclose())
        finally:
            loop.close()


@require_GET
def stream(request: HttpRequest) -> HttpResponse:
    try:
        watch = _watch(request, request.GET)
    except ValueError as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    if not isinstance(request, ASGIRequest) and not settings.LIVE_WSGI_STREAMS:
        # a WSGI worker (gunicorn's) held by a stream would serve no page: the page polls
        body = _sse("degraded", {"reason": "no stream on this server: polling"})
        response = HttpResponse(body, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache, no-store"
        return response
    hub = get_hub()
    hub.healthy()  # the process's first stream starts the hub's listener and waits for it
    subscription = hub.subscribe(watch.retailer_ids)
    missed = _catch_up(watch, _since(request))
    events = _events(watch, subscription, missed)
    # the stream reads nothing more from the database: let the connection go while it waits
    # (a WSGI thread, or under ASGI the request's own thread, would hold it to the end)
    if not connection.in_atomic_block:
        connection.close()
    if isinstance(request, ASGIRequest):
        response = StreamingHttpResponse(events, content_type="text/event-stream")
    else:
        response = StreamingHttpResponse(_sync(events), content_type="text/event-stream")
    # a stream closed before it began (the browser went at once) leaves no subscription behind
    response._resource_closers.append(subscription.close)
    response["Cache-Control"] = "no-cache, no-store"
    response["X-Accel-Buffering"] = "no"
    return response


@require_GET
def poll(request: HttpRequest) -> HttpResponse:
    """What a page whose stream is down asks every few seconds; it counts as being there."""
    try:
        watch = _watch(request, request.GET)
    except ValueError as error:
        return JsonResponse({"error": str(error)}, status=400)
    hub = get_hub()
    since = _since(request)
    changes = _catch_up(watch, since if since is not None else timezone.now())
    presence = {}
    for ref in watch.records:
        if hub.touch(ref, watch.viewer()):
            _announce_presence(hub, watch, ref)
        presence[ref] = _presence_event(hub, ref)["viewers"]
    return JsonResponse(
        {
            "now": feed.stamp(timezone.now()),
            "changes": changes,
            "presence": presence,
            "stream": hub.healthy(),
        }
    )


@require_POST
def presence(request: HttpRequest) -> HttpResponse:
    """A tab typing (`state=typing`), done typing (`idle`), or gone (`leave`)."""
    state = request.POST.get("state", "")
    if state not in {"typing", "idle", "leave"}:
        return JsonResponse({"error": "state: typing, idle or leave"}, status=400)
    try:
        watch = _watch(request, request.POST)
    except ValueError as error:
        return JsonResponse({"error": str(error)}, status=400)
    hub = get_hub()
    for ref in watch.records:
        if state == "leave":
            changed = hub.leave(ref, f"{watch.user_id}:{watch.tab}")
        else:
            changed = hub.touch(ref, watch.viewer(typing=state == "typing"))
        if changed:
            _announce_presence(hub, watch, ref)
    return HttpResponse(status=204)
