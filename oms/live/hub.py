"""The hub: where changes and presence travel between the processes that serve the pages.

One process's view of it is one `Hub`. A stream subscribes to a retailer's channel and gets
every event published there; the hub fans events out to the streams of this process through
their own queues, whatever thread or event loop each runs in.

- Without `LIVE_REDIS_URL` (the embedded default: one `runserver` process) events go straight
  from the publisher to the subscribers of the same process, and presence is a dict.
- With it, an event is PUBLISHed to Redis, and one listener thread per process receives every
  retailer's channel and fans out locally, so every web process, stream server and worker sees
  every change. Presence lives in one Redis hash per record, shared by all processes.

The hub is best effort: a Redis that does not answer costs a publisher at most the socket
timeout (then it stays quiet for `LIVE_RETRY_SECONDS`), and a stream notices (`healthy()`) and
tells its page to poll instead. Nothing is lost then, because a page reads the changes it missed
from the activity table when it polls or reconnects (oms/live/feed.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "oms:live:r:"
KEEP = -1.0
PRESENCE_PREFIX = "oms:live:p:"


@dataclass(frozen=True)
class Viewer:
    """One browser tab that has a record open."""

    key: str  # "<user id>:<tab id>"
    user_id: int
    name: str
    since: float  # epoch seconds: when this tab opened the record
    seen_at: float  # epoch seconds: the tab's last sign of life
    # epoch seconds: typing a comment or an answer until then; KEEP leaves it as it was
    typing_until: float = 0.0

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "user": self.user_id,
            "name": self.name,
            "since": self.since,
            # in the house's time zone, as the changes' times are
            "time": timezone.localtime(datetime.fromtimestamp(self.since, tz=UTC)).strftime(
                "%H:%M"
            ),
            "typing": self.typing_until > now,
            "typing_until": self.typing_until,
        }


class Subscription:
    """The events of some retailers' channels, for one stream, in the order they arrive.

    It may be made before its stream's event loop runs (the view subscribes, then reads what
    was missed, so that nothing falls between the two): what arrives until the loop reads it
    first is kept, and handed to the loop then."""

    def __init__(self, hub: Hub, retailer_ids: Iterable[int], size: int) -> None:
        self.hub = hub
        self.retailer_ids = frozenset(int(r) for r in retailer_ids)
        self.size = size
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queue: asyncio.Queue[dict[str, Any]] | None = None
        self.overflowed = False
        self._early: list[dict[str, Any]] = []
        self._bind_lock = threading.Lock()

    def offer(self, event: dict[str, Any]) -> None:
        """Called from any thread: queue the event in the stream's own loop."""
        with self._bind_lock:
            loop = self.loop
            if loop is None:
                if len(self._early) >= self.size:
                    self.overflowed = True
                else:
                    self._early.append(event)
                return
        try:
            loop.call_soon_threadsafe(self._put, event)
        except RuntimeError:  # the loop is closed: the stream has ended
            self.hub.unsubscribe(self)

    def _put(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # a stream that does not keep up is told to catch up from the activity table
            self.overflowed = True

    def _bind(self) -> None:
        with self._bind_lock:
            self.queue = asyncio.Queue(self.size)
            for event in self._early:
                self._put(event)
            self._early = []
            self.loop = asyncio.get_running_loop()

    async def get(self, timeout: float) -> dict[str, Any] | None:
        if self.queue is None:
            self._bind()
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        self.hub.unsubscribe(self)


class Hub:
    """In-process fan-out and presence: the embedded default, and the base of `RedisHub`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[Subscription]] = {}
        self._presence: dict[str, dict[str, Viewer]] = {}

    # events -------------------------------------------------------------------------------

    def publish(self, retailer_id: int, event: dict[str, Any]) -> None:
        self._fan_out(int(retailer_id), event)

    def _fan_out(self, retailer_id: int, event: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subscribers.get(retailer_id, ()))
        for subscription in targets:
            subscription.offer(event)

    def subscribe(self, retailer_ids: Iterable[int]) -> Subscription:
        """Events from now on, for a stream to read in its own event loop."""
        subscription = Subscription(self, retailer_ids, settings.LIVE_QUEUE_SIZE)
        with self._lock:
            for retailer_id in subscription.retailer_ids:
                self._subscribers.setdefault(retailer_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            for retailer_id in subscription.retailer_ids:
                subscribers = self._subscribers.get(retailer_id)
                if subscribers is not None:
                    subscribers.discard(subscription)
                    if not subscribers:
                        del self._subscribers[retailer_id]

    def subscriber_count(self) -> int:
        with self._lock:
            return len({s for subs in self._subscribers.values() for s in subs})

    def healthy(self) -> bool:
        """Whether events published anywhere reach this process now."""
        return True

    # presence -----------------------------------------------------------------------------

    def touch(self, ref: str, viewer: Viewer, *, only_refresh: bool = False) -> bool:
        """Say that `viewer` still has `ref` open; True when who is there (or typing) changed.
        With `only_refresh`, a tab that left (or lapsed) is not brought back: an open stream's
        periodic sign of life must not undo the goodbye its page sent as it went."""
        with self._lock:
            viewers = self._presence.setdefault(ref, {})
            before = _alive(viewers.get(viewer.key))
            if before is None and only_refresh:
                if not viewers:
                    del self._presence[ref]
                return False
            viewers[viewer.key] = _refreshed(before or viewer, viewer)
            return before is None or _shown(before) != _shown(viewers[viewer.key])

    def leave(self, ref: str, key: str) -> bool:
        with self._lock:
            viewers = self._presence.get(ref, {})
            gone = viewers.pop(key, None) is not None
            if not viewers:
                self._presence.pop(ref, None)
            return gone

    def present(self, ref: str) -> list[Viewer]:
        cutoff = time.time() - settings.LIVE_PRESENCE_TTL
        with self._lock:
            viewers = self._presence.get(ref, {})
            for key in [k for k, v in viewers.items() if v.seen_at < cutoff]:
                del viewers[key]
            if not viewers:
                self._presence.pop(ref, None)
            return sorted(viewers.values(), key=lambda v: (v.since, v.key))


def _alive(viewer: Viewer | None) -> Viewer | None:
    """The tab as it was last seen, unless it has been silent long enough to count as gone:
    then it comes back as new (it is news again, and is there since it came back)."""
    if viewer is None or viewer.seen_at < time.time() - settings.LIVE_PRESENCE_TTL:
        return None
    return viewer


def _refreshed(before: Viewer, now: Viewer) -> Viewer:
    """The same tab seen again: it keeps the time it came."""
    return Viewer(
        key=now.key,
        user_id=now.user_id,
        name=now.name,
        since=before.since,
        seen_at=now.seen_at,
        typing_until=before.typing_until if now.typing_until == KEEP else now.typing_until,
    )


def _shown(viewer: Viewer) -> tuple:
    return (viewer.name, viewer.typing_until > time.time())


class RedisHub(Hub):
    """Events through Redis pub/sub, presence in Redis hashes; fan-out as the in-process hub."""

    def __init__(self, url: str) -> None:
        super().__init__()
        timeout = settings.LIVE_REDIS_TIMEOUT
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
        )
        self._url = url
        # pub/sub channels are shared by all of a Redis server's databases: name the database
        db = self._redis.connection_pool.connection_kwargs.get("db", 0)
        self.channel_prefix = f"{CHANNEL_PREFIX}{db}:"
        self._down_until = 0.0
        self._listening = False
        self._tried = threading.Event()  # the listener has connected, or failed to, once
        self._listener: threading.Thread | None = None
        self._listener_lock = threading.Lock()

    def _call(self, what: str, default: Any, call) -> Any:
        if time.monotonic() < self._down_until:
            return default
        try:
            return call()
        except Exception as error:  # a Redis outage must never break the change being made
            self._down_until = time.monotonic() + settings.LIVE_RETRY_SECONDS
            logger.warning("Live hub: %s failed: %s", what, error)
            return default

    def publish(self, retailer_id: int, event: dict[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":"))
        self._call(
            "publish",
            None,
            lambda: self._redis.publish(f"{self.channel_prefix}{int(retailer_id)}", body),
        )

    def subscribe(self, retailer_ids: Iterable[int]) -> Subscription:
        self._ensure_listener()
        return super().subscribe(retailer_ids)

    def healthy(self) -> bool:
        self._ensure_listener()
        return self._listening

    def _ensure_listener(self) -> None:
        with self._listener_lock:
            if self._listener is not None and self._listener.is_alive():
                return
            self._listener = threading.Thread(
                target=self._listen, name="oms-live-listener", daemon=True
            )
            self._listener.start()
        # the process's first stream: without this wait it would be told to poll, and miss
        # what is published before the listener has subscribed
        self._tried.wait(settings.LIVE_REDIS_TIMEOUT * 2)

    def _listen(self) -> None:
        """Receive every retailer's channel and hand each event to this process's streams;
        reconnect after a failure, as long as the process lives."""
        while True:
            client = redis.Redis.from_url(
                self._url,
                socket_connect_timeout=settings.LIVE_REDIS_TIMEOUT,
                socket_keepalive=True,
                health_check_interval=10,
            )
            try:
                pubsub = client.pubsub()
                pubsub.psubscribe(f"{self.channel_prefix}*")
                # listening once Redis confirms: what is published after that reaches us
                confirmed = pubsub.get_message(timeout=settings.LIVE_REDIS_TIMEOUT * 2)
                if confirmed is None or confirmed.get("type") != "psubscribe":
                    raise TimeoutError("Redis did not confirm the subscription")
                self._listening = True
                self._tried.set()
                while True:
                    message = pubsub.get_message(timeout=5.0)
                    if message is None:
                        pubsub.ping()
                        continue
                    if message.get("type") != "pmessage":
                        continue
                    channel = message["channel"].decode()
                    try:
                        retailer_id = int(channel.removeprefix(self.channel_prefix))
                        event = json.loads(message["data"])
                    except (ValueError, TypeError):
                        continue
                    self._fan_out(retailer_id, event)
            except Exception as error:
                if self._listening:
                    logger.warning("Live hub: lost Redis, retrying: %s", error)
                self._listening = False
                self._tried.set()
                # the streams of this process are told to poll until Redis is back
                self._fan_out_all({"type": "degraded"})
                time.sleep(settings.LIVE_RETRY_SECONDS)
            finally:
                with contextlib.suppress(Exception):  # a connection that is already gone
                    client.close()

    def _fan_out_all(self, event: dict[str, Any]) -> None:
        with self._lock:
            targets = {s for subs in self._subscribers.values() for s in subs}
        for subscription in targets:
            subscription.offer(event)

    # presence: one hash per record, field per tab, value the viewer as JSON ----------------

    def touch(self, ref: str, viewer: Viewer, *, only_refresh: bool = False) -> bool:
        key = f"{PRESENCE_PREFIX}{ref}"

        def call() -> bool:
            before_raw = self._redis.hget(key, viewer.key)
            before = _alive(_viewer(before_raw) if before_raw else None)
            if before is None and only_refresh:
                return False
            stored = _refreshed(before or viewer, viewer)
            pipe = self._redis.pipeline()
            pipe.hset(key, viewer.key, json.dumps(asdict(stored)))
            # whole seconds, never 0 (which would delete the hash at once)
            pipe.expire(key, int(settings.LIVE_PRESENCE_TTL * 2) + 1)
            pipe.execute()
            return before is None or _shown(before) != _shown(stored)

        return self._call("presence", False, call)

    def leave(self, ref: str, key: str) -> bool:
        return bool(
            self._call("presence", 0, lambda: self._redis.hdel(f"{PRESENCE_PREFIX}{ref}", key))
        )

    def present(self, ref: str) -> list[Viewer]:
        key = f"{PRESENCE_PREFIX}{ref}"
        raw = self._call("presence", {}, lambda: self._redis.hgetall(key))
        cutoff = time.time() - settings.LIVE_PRESENCE_TTL
        viewers, expired = [], []
        for field, value in raw.items():
            viewer = _viewer(value)
            if viewer is None or viewer.seen_at < cutoff:
                expired.append(field)
            else:
                viewers.append(viewer)
        if expired:
            self._call("presence", 0, lambda: self._redis.hdel(key, *expired))
        return sorted(viewers, key=lambda v: (v.since, v.key))


def _viewer(raw: bytes | str) -> Viewer | None:
    try:
        return Viewer(**json.loads(raw))
    except (TypeError, ValueError):
        return None


_hub: Hub | None = None
_hub_lock = threading.Lock()


def get_hub() -> Hub:
    """This process's hub, made on first use from the settings."""
    global _hub
    if _hub is None:
        with _hub_lock:
            if _hub is None:
                url = settings.LIVE_REDIS_URL
                _hub = RedisHub(url) if url else Hub()
    return _hub


def reset_hub() -> None:
    """Forget the hub (tests that change `LIVE_REDIS_URL`)."""
    global _hub
    with _hub_lock:
        _hub = None
