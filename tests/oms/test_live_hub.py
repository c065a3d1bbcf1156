"""The live hub (oms/live/hub.py) and what the services publish on it (oms/live/publish.py).

Against real parts: subscriptions read in their own threads and event loops, as streams do;
the Redis hub against the test Redis, two hubs standing for two web processes."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from decimal import Decimal

import pytest
import redis
from django.db import transaction
from django.test import override_settings

from oms.activity import describe
from oms.live import hub as live_hub
from oms.live.hub import KEEP, Hub, RedisHub, Viewer
from oms.models import Activity
from orders import services
from orders.models import SystemState
from tests.factories import OrderFactory, PaymentFactory

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def run_async(coroutine):
    """`asyncio.run` in a thread of its own, as a stream runs: the browser tests' Playwright
    keeps an event loop running in the main thread for the rest of the session."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # handed to the caller
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class Listener:
    """What a stream does with the hub: subscribe in its own thread and event loop, and read."""

    def __init__(self, hub: Hub, retailer_ids) -> None:
        self.events: list[dict] = []
        self.overflowed = False
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._run(hub, retailer_ids)), daemon=True
        )
        self._thread.start()
        assert self._ready.wait(5), "the subscription did not start"

    async def _run(self, hub: Hub, retailer_ids) -> None:
        subscription = hub.subscribe(retailer_ids)
        self._ready.set()
        try:
            while not self._stop.is_set():
                event = await subscription.get(0.02)
                if event is not None:
                    self.events.append(event)
                self.overflowed = subscription.overflowed
        finally:
            subscription.close()

    def wait_for(self, count: int, timeout: float = 2.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.events)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def listeners():
    started: list[Listener] = []

    def start(hub: Hub, retailer_ids) -> Listener:
        listener = Listener(hub, retailer_ids)
        started.append(listener)
        return listener

    yield start
    for listener in started:
        listener.stop()


def viewer(user_id: int, name: str, *, tab: str = "t1", typing_until: float = KEEP) -> Viewer:
    now = time.time()
    return Viewer(
        key=f"{user_id}:{tab}",
        user_id=user_id,
        name=name,
        since=now,
        seen_at=now,
        typing_until=typing_until,
    )


# in-process hub ----------------------------------------------------------------------------


def test_an_event_reaches_every_stream_of_its_retailer_whatever_thread_and_loop(listeners):
    hub = Hub()
    first, second = listeners(hub, [1]), listeners(hub, [1, 2])
    elsewhere = listeners(hub, [3])

    hub.publish(1, {"type": "change", "id": 1})
    threading.Thread(target=hub.publish, args=(2, {"type": "change", "id": 2})).start()

    assert [e["id"] for e in first.wait_for(1)] == [1]
    assert sorted(e["id"] for e in second.wait_for(2)) == [1, 2]
    time.sleep(0.1)
    assert elsewhere.events == []
    assert len(first.events) == 1

    # a stream that ends stops receiving, and the hub forgets it
    first.stop()
    second.stop()
    elsewhere.stop()
    assert hub.subscriber_count() == 0


@override_settings(LIVE_QUEUE_SIZE=2)
def test_a_stream_that_does_not_keep_up_is_told_to_catch_up():
    hub = Hub()

    async def slow_stream():
        subscription = hub.subscribe([1])
        for n in range(5):
            hub.publish(1, {"type": "change", "id": n})
        await asyncio.sleep(0.05)  # the events arrive in this loop while nobody reads
        subscription.close()
        return subscription.overflowed

    assert run_async(slow_stream()) is True


def _presence_behaves(hub: Hub, reader: Hub, ref: str) -> None:
    """Who is there, as one hub writes and `reader` (the same, or another process's) reads."""
    ann = viewer(1, "Ann Agent", tab="a")
    assert hub.touch(ref, ann) is True  # she came: others are told
    time.sleep(0.01)
    assert hub.touch(ref, viewer(1, "Ann Agent", tab="a")) is False  # still there: no news
    bob = viewer(2, "Bob Boss", tab="b")
    assert hub.touch(ref, bob) is True

    present = reader.present(ref)
    assert [v.name for v in present] == ["Ann Agent", "Bob Boss"]  # who came first, first
    assert present[0].since == pytest.approx(ann.since)  # she is there since she came

    # Bob types: the others see it; it stays while he goes on; it ends when he stops
    now = time.time()
    assert hub.touch(ref, viewer(2, "Bob Boss", tab="b", typing_until=now + 6)) is True
    assert hub.touch(ref, viewer(2, "Bob Boss", tab="b")) is False  # KEEP: still typing
    shown = {v.name: v.as_dict(time.time()) for v in reader.present(ref)}
    assert shown["Bob Boss"]["typing"] is True
    assert shown["Ann Agent"]["typing"] is False
    assert hub.touch(ref, viewer(2, "Bob Boss", tab="b", typing_until=0.0)) is True
    assert reader.present(ref)[1].as_dict(time.time())["typing"] is False

    # typing that was not renewed ends by itself
    hub.touch(ref, viewer(2, "Bob Boss", tab="b", typing_until=time.time() + 0.05))
    time.sleep(0.1)
    assert reader.present(ref)[1].as_dict(time.time())["typing"] is False

    # Ann leaves: gone for everyone; leaving twice is no news
    assert reader.leave(ref, "1:a") is True
    assert [v.name for v in hub.present(ref)] == ["Bob Boss"]
    assert hub.leave(ref, "1:a") is False


def _presence_expires(hub: Hub, reader: Hub, ref: str) -> None:
    """A tab silent for LIVE_PRESENCE_TTL has left; when it comes back it is news again."""
    with override_settings(LIVE_PRESENCE_TTL=0.3):
        first = viewer(3, "Cleo Clerk", tab="c")
        hub.touch(ref, first)
        assert [v.name for v in reader.present(ref)] == ["Cleo Clerk"]
        time.sleep(0.4)
        assert reader.present(ref) == []
        back = viewer(3, "Cleo Clerk", tab="c")
        assert hub.touch(ref, back) is True
        assert reader.present(ref)[0].since == pytest.approx(back.since)


def test_presence_in_one_process():
    hub = Hub()
    _presence_behaves(hub, hub, "orders.order:1")


def test_presence_expires_in_one_process():
    hub = Hub()
    _presence_expires(hub, hub, "orders.order:2")


def test_a_silent_tab_that_comes_back_is_news_even_when_nobody_looked_meanwhile():
    hub = Hub()
    with override_settings(LIVE_PRESENCE_TTL=0.2):
        hub.touch("orders.order:3", viewer(4, "Dan", tab="d"))
        time.sleep(0.3)
        again = viewer(4, "Dan", tab="d")
        assert hub.touch("orders.order:3", again) is True
        assert hub.present("orders.order:3")[0].since == pytest.approx(again.since)


# Redis hub ---------------------------------------------------------------------------------


@pytest.fixture
def redis_url():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.flushdb()
    except redis.RedisError as error:
        pytest.skip(f"no test Redis at {REDIS_URL}: {error}")
    finally:
        client.close()
    yield REDIS_URL
    live_hub.reset_hub()


def _healthy(hub: RedisHub, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.healthy():
            return True
        time.sleep(0.02)
    return False


def test_the_hub_goes_through_redis_when_it_is_configured(redis_url):
    with override_settings(LIVE_REDIS_URL=redis_url):
        live_hub.reset_hub()
        assert isinstance(live_hub.get_hub(), RedisHub)
        assert live_hub.get_hub() is live_hub.get_hub()
    with override_settings(LIVE_REDIS_URL=""):
        live_hub.reset_hub()
        assert type(live_hub.get_hub()) is Hub


def test_an_event_published_by_one_process_reaches_the_streams_of_another(redis_url, listeners):
    web, stream_server = RedisHub(redis_url), RedisHub(redis_url)
    assert _healthy(stream_server) and _healthy(web)
    there = listeners(stream_server, [7])
    here = listeners(web, [7])
    other_retailer = listeners(stream_server, [8])

    web.publish(7, {"type": "change", "id": 11, "refs": ["orders.order:1"]})

    assert [e["id"] for e in there.wait_for(1)] == [11]
    assert [e["id"] for e in here.wait_for(1)] == [11]  # its own streams too, once
    time.sleep(0.1)
    assert len(there.events) == 1 and len(here.events) == 1
    assert other_retailer.events == []


def test_the_first_stream_of_a_fresh_process_is_live_at_once(redis_url):
    """A process just started (a deploy): its first page is not told to poll, and does not
    miss a change published the moment after it subscribed."""
    publisher = RedisHub(redis_url)
    for _ in range(5):
        fresh = RedisHub(redis_url)

        async def first_stream(hub=fresh):
            subscription = hub.subscribe([5])
            healthy = hub.healthy()
            publisher.publish(5, {"type": "change", "id": 1})
            event = await subscription.get(1.0)
            subscription.close()
            return healthy, event

        healthy, event = run_async(first_stream())
        assert healthy is True
        assert event == {"type": "change", "id": 1}


def test_presence_written_by_one_process_is_read_by_another(redis_url):
    one, two = RedisHub(redis_url), RedisHub(redis_url)
    _presence_behaves(one, two, "orders.order:21")
    _presence_expires(one, two, "orders.order:22")


def test_a_silent_tab_that_comes_back_is_news_in_redis_too(redis_url):
    hub = RedisHub(redis_url)
    with override_settings(LIVE_PRESENCE_TTL=0.2):
        hub.touch("orders.order:23", viewer(4, "Dan", tab="d"))
        time.sleep(0.3)
        assert hub.touch("orders.order:23", viewer(4, "Dan", tab="d")) is True


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_dead_redis_costs_a_change_nothing_and_streams_know(redis_url):
    dead = f"redis://127.0.0.1:{_closed_port()}/0"
    with override_settings(LIVE_REDIS_URL=dead):
        live_hub.reset_hub()
        hub = live_hub.get_hub()
        started = time.monotonic()
        hub.publish(1, {"type": "change", "id": 1})
        hub.publish(1, {"type": "change", "id": 2})
        assert hub.touch("orders.order:1", viewer(1, "Ann")) is False
        assert hub.present("orders.order:1") == []
        assert hub.healthy() is False  # its streams tell their pages to poll
        assert time.monotonic() - started < 1.0


# publishing on commit ----------------------------------------------------------------------


@pytest.fixture
def hub():
    live_hub.reset_hub()
    with override_settings(LIVE_REDIS_URL=""):
        yield live_hub.get_hub()
    live_hub.reset_hub()


def _changes(listener: Listener, expected: int) -> list[dict]:
    listener.wait_for(expected)
    time.sleep(0.1)  # and nothing more comes
    return [e for e in listener.events if e["type"] == "change"]


@pytest.mark.django_db(transaction=True)
def test_a_change_is_published_once_per_activity_after_commit(hub, listeners, retailer, agent):
    order = OrderFactory(retailer=retailer)
    listener = listeners(hub, [retailer.pk])
    latest = Activity.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    comment = services.comment_add(order=order, by=agent, body="Customer called about the parcel")

    entries = list(Activity.objects.filter(pk__gt=latest).order_by("pk"))
    changes = _changes(listener, len(entries))
    assert [e["id"] for e in changes] == [a.pk for a in entries]
    event = changes[0]
    assert event["action"] == "orders.comment.added"
    assert event["topic"] == "comment"
    assert f"orders.order:{order.pk}" in event["refs"]
    assert f"orders.comment:{comment.pk}" in event["refs"]
    assert event["by"] == agent.get_full_name()
    assert event["by_id"] == agent.pk
    assert event["text"] == describe(entries[0])
    assert "Customer called about the parcel" in event["text"]


@pytest.mark.django_db(transaction=True)
def test_nothing_is_published_when_the_change_rolls_back(hub, listeners, retailer, manager):
    order = OrderFactory(retailer=retailer)
    listener = listeners(hub, [retailer.pk])

    with pytest.raises(RuntimeError), transaction.atomic():
        services.order_suspend(order=order, by=manager, reason="Checking stock")
        raise RuntimeError("the request failed after the change")

    time.sleep(0.2)
    assert listener.events == []
    # and the same change committed is published
    services.order_suspend(order=order, by=manager, reason="Checking stock")
    changes = _changes(listener, 1)
    assert len(changes) == 1
    assert changes[0]["topic"] == "status"
    assert changes[0]["refs"] == [f"orders.order:{order.pk}"]
    assert changes[0]["by"] == manager.get_full_name()


@pytest.mark.django_db(transaction=True)
def test_a_change_to_a_line_or_a_payment_names_its_order(hub, listeners, retailer, manager):
    order = OrderFactory(
        retailer=retailer, state=SystemState.PROCESSING, lines=2, lines__quantity=2
    )
    payment = PaymentFactory(order=order, authorised=order.total, provider_reference="psp_live")
    line = order.lines.order_by("pk").first()
    listener = listeners(hub, [retailer.pk])

    services.order_line_correct_quantity(order=order, line_id=line.pk, quantity=1, by=manager)
    services.order_payment_capture(payment=payment, amount=Decimal("1.00"), by=manager)

    changes = listener.wait_for(2)
    line_change = next(e for e in changes if e["action"].startswith("orders.orderline"))
    assert f"orders.orderline:{line.pk}" in line_change["refs"]
    assert f"orders.order:{order.pk}" in line_change["refs"]
    assert line_change["topic"] == "items"
    payment_change = next(e for e in changes if e["action"].startswith("orders.payment"))
    assert f"orders.order:{order.pk}" in payment_change["refs"]
    assert payment_change["topic"] == "payment"


@pytest.mark.django_db(transaction=True)
def test_a_return_names_its_order(hub, listeners, retailer, manager):
    from returns import services as returns
    from tests.factories import OrderLineFactory, recalculate_totals, ship

    order = OrderFactory(retailer=retailer, state=SystemState.COMPLETED)
    OrderLineFactory(order=order, sku="JKT", unit_price=Decimal("60.50"))
    recalculate_totals(order)
    ship(order)
    listener = listeners(hub, [retailer.pk])

    ret = returns.return_create(
        data=returns.ReturnInput(
            retailer_id=retailer.pk,
            type="CUSTOMER_RETURN",
            order=order,
            customer=returns.CustomerInput(email=order.customer.email),
            items=[returns.ItemInput(sku_ref="JKT", reason="DAMAGED")],
            fulfilment_choice={"fulfilmentType": "R_RTDC", "preferredLocationRef": "DC1"},
        ),
        by=manager,
    )

    changes = listener.wait_for(1)
    created = next(e for e in changes if e["action"] == "returns.return.created")
    assert f"returns.return:{ret.pk}" in created["refs"]
    assert f"orders.order:{order.pk}" in created["refs"]
    assert created["topic"] == "return"
