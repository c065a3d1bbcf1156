"""Intake at its edges: every fault named in the channel's own fields, dates, amounts, countries
and texts within their bounds, older copies refused as stale, discard only for failures, and
identical deliveries applied once however they arrive."""

import copy
import json
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from oms.models import Activity
from oms.state import InvalidTransition
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.intake.processing import intake_discard, intake_process, intake_receive
from orders.models import Order
from tests.intake.test_intake import MARKETPLACE, WEBSTORE, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(retailer):
    return IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web store", kind="webstore", secret="s3cret"
    )


@pytest.fixture
def market(retailer):
    return IntakeChannel.objects.create(
        retailer=retailer, code="bol", name="Marketplace", kind="marketplace", secret="m4rket"
    )


def deliver(channel, payload, capture):
    with capture(execute=True):
        response = send(channel, payload)
    return IntakeMessage.objects.get(pk=response.json()["id"])


def webstore(**changes):
    return copy.deepcopy(WEBSTORE) | changes


def marketplace(**changes):
    return copy.deepcopy(MARKETPLACE) | changes


# -- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["9999-12-31T00:00:00Z", "1970-01-01T00:00:00Z"])
def test_an_order_date_outside_the_retailers_window_is_rejected_naming_the_field(
    web, market, when, django_capture_on_commit_callbacks
):
    first = deliver(web, webstore(created_at=when), django_capture_on_commit_callbacks)
    second = deliver(market, marketplace(orderDate=when), django_capture_on_commit_callbacks)
    assert (first.status, second.status) == ("REJECTED", "REJECTED")
    assert any(r.startswith("created_at: ") for r in first.reasons), first.reasons
    assert any(r.startswith("orderDate: ") for r in second.reasons), second.reasons
    assert not Order.objects.exists()


# -- texts, several faults --------------------------------------------------------------------


def test_a_text_too_long_for_its_column_is_rejected_with_the_channels_field_not_dead(
    web, market, django_capture_on_commit_callbacks
):
    payload = webstore()
    payload["shipping_address"] = payload["shipping_address"] | {"city": "U" * 300}
    first = deliver(web, payload, django_capture_on_commit_callbacks)
    payload = marketplace()
    payload["buyer"] = {"name": {"given": "E" * 500, "family": "de Vries"}} | {
        "contact": {"mail": "eva@example.nl"}
    }
    second = deliver(market, payload, django_capture_on_commit_callbacks)
    assert (first.status, second.status) == ("REJECTED", "REJECTED")
    assert any(r.startswith("shipping_address.city: at most 100") for r in first.reasons)
    assert any(r.startswith("buyer.name.given: at most 100") for r in second.reasons)
    assert not Order.objects.exists()


def test_every_fault_of_a_web_store_message_is_listed_in_its_own_field_names(
    web, django_capture_on_commit_callbacks
):
    payload = webstore(
        customer={"email": "not-an-address", "first_name": "Jan", "last_name": "Smit"},
        shipping_address={"street": "", "zip": "3511 AB", "city": "Utrecht", "country": ""},
        lines=[
            {"sku": "TENT-2", "qty": 0, "price": "329.00"},
            {"sku": "", "qty": 1, "price": "-1.00"},
        ],
    )
    message = deliver(web, payload, django_capture_on_commit_callbacks)
    named = {r.split(": ")[0] for r in message.reasons}
    assert message.status == "REJECTED"
    assert {
        "customer.email",
        "shipping_address.street",
        "shipping_address.country",
        "lines[0].qty",
        "lines[1].sku",
        "lines[1].price",
    } <= named, message.reasons


def test_every_fault_of_a_marketplace_message_is_listed_in_its_own_field_names(
    market, django_capture_on_commit_callbacks
):
    payload = marketplace()
    payload["buyer"]["contact"]["mail"] = "eva(at)example.nl"
    payload["delivery"]["address"]["countryCode"] = ""
    payload["items"] = [
        *payload["items"],
        {"offer": {"sku": "CUP"}, "quantity": "x", "unitPrice": {"amount": 100}},
        {"offer": {"sku": "CAP"}, "quantity": 1, "unitPrice": {"amount": -250}},
    ]
    message = deliver(market, payload, django_capture_on_commit_callbacks)
    named = {r.split(": ")[0] for r in message.reasons}
    assert message.status == "REJECTED"
    assert {
        "buyer.contact.mail",
        "delivery.address.countryCode",
        "items[1].quantity",
        "items[2].unitPrice.amount",
    } <= named, message.reasons
    # nothing named after a field this channel never sends
    never_sent = ("customer.", "shipping address", "shipping_address", "lines[")
    assert not [r for r in message.reasons if r.startswith(never_sent)], message.reasons


# -- countries, amounts -----------------------------------------------------------------------


def test_a_country_given_by_its_english_name_becomes_its_code_and_an_unknown_one_is_refused(
    web, django_capture_on_commit_callbacks
):
    payload = webstore()
    payload["shipping_address"] = payload["shipping_address"] | {"country": "Netherlands"}
    named = deliver(web, payload, django_capture_on_commit_callbacks)
    assert named.status == "ACCEPTED", named.reasons
    assert named.order.shipping_address.country == "NL"

    payload = webstore(id="W-1002")
    payload["shipping_address"] = payload["shipping_address"] | {"country": "Nowhereland"}
    unknown = deliver(web, payload, django_capture_on_commit_callbacks)
    assert unknown.status == "REJECTED"
    assert any(r.startswith("shipping_address.country: ") for r in unknown.reasons)
    assert Order.objects.count() == 1


@pytest.mark.parametrize("amount", ["-4.95", "NaN", "Infinity", "1e15"])
def test_a_negative_or_impossible_shipping_cost_is_refused(
    web, market, amount, django_capture_on_commit_callbacks
):
    first = deliver(
        web, webstore(shipping_cost=amount, total=None), django_capture_on_commit_callbacks
    )
    payload = marketplace()
    payload["delivery"]["fee"]["amount"] = -495 if amount == "-4.95" else amount
    payload.pop("totals")
    second = deliver(market, payload, django_capture_on_commit_callbacks)
    assert (first.status, second.status) == ("REJECTED", "REJECTED")
    assert any(r.startswith("shipping_cost: ") for r in first.reasons), first.reasons
    assert any(r.startswith("delivery.fee.amount: ") for r in second.reasons), second.reasons
    assert not Order.objects.exists()


# -- order of events --------------------------------------------------------------------------


def test_an_older_copy_delivered_again_does_not_revert_a_later_update(
    web, manager, client_for, django_capture_on_commit_callbacks
):
    def version(when, qty):
        return webstore(
            event="updated",
            updated_at=when,
            lines=[{"sku": "TENT-2", "title": "Tent", "qty": qty, "price": "329.00"}],
            total=str(Decimal("329.00") * qty + Decimal("4.95")),
        )

    created = deliver(
        web, webstore(updated_at="2026-11-20T10:15:00Z"), django_capture_on_commit_callbacks
    )
    later = deliver(web, version("2026-11-20T12:00:00Z", 3), django_capture_on_commit_callbacks)
    older = deliver(web, version("2026-11-20T11:00:00Z", 2), django_capture_on_commit_callbacks)
    again = deliver(web, version("2026-11-20T11:00:00Z", 2), django_capture_on_commit_callbacks)

    assert (created.status, later.status) == ("ACCEPTED", "ACCEPTED")
    assert older.status == "STALE" and older.reasons[0].startswith("stale: "), older.reasons
    assert again.status in ("STALE", "DUPLICATE")
    order = Order.objects.get()
    assert order.item_count == 3  # the later update stands
    assert Activity.objects.filter(action="orders.intakemessage.stale").exists()
    desk = client_for(manager).get(reverse("intake:desk") + "?status=STALE").content.decode()
    assert "Stale" in desk and "stale: " in desk


# -- discard ----------------------------------------------------------------------------------


def test_discard_is_refused_for_an_accepted_or_waiting_message(
    web, admin_user, client_for, django_capture_on_commit_callbacks
):
    accepted = deliver(web, WEBSTORE, django_capture_on_commit_callbacks)
    waiting = intake_receive(channel=web, body=json.dumps(WEBSTORE | {"id": "W-2"}))
    client = client_for(admin_user)
    for message in (accepted, waiting):
        page = client.get(reverse("intake:message", args=[message.pk])).content.decode()
        assert reverse("intake:discard", args=[message.pk]) not in page
        response = client.post(
            reverse("intake:discard", args=[message.pk]), {"reason": "clean up"}, follow=True
        )
        assert "Only a rejected or dead message can be discarded" in response.content.decode()
    assert IntakeMessage.objects.get(pk=accepted.pk).status == "ACCEPTED"
    assert IntakeMessage.objects.get(pk=waiting.pk).status == "RECEIVED"
    with pytest.raises(InvalidTransition):
        intake_discard(message=accepted, by=admin_user, reason="clean up")


# -- duplicates -------------------------------------------------------------------------------


def test_identical_deliveries_one_after_another_give_one_accepted_and_the_rest_duplicate(
    web, manager, client_for, django_capture_on_commit_callbacks
):
    messages = [deliver(web, WEBSTORE, django_capture_on_commit_callbacks) for _ in range(3)]
    assert [m.status for m in messages] == ["ACCEPTED", "DUPLICATE", "DUPLICATE"]
    assert {m.order_id for m in messages} == {Order.objects.get().pk}
    desk = client_for(manager).get(reverse("intake:desk")).content.decode()
    assert "Duplicate: 2" in desk


def _at_once(*actions):
    start = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def run(index, action):
        start.wait()
        try:
            results[index] = action()
        except Exception as error:  # the outcome under test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_identical_deliveries_processed_at_once_give_one_accepted_and_the_rest_duplicate(
    retailer, attempt
):
    web = IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web store", kind="webstore", secret="s3cret"
    )
    body = json.dumps(WEBSTORE)
    ids = [intake_receive(channel=web, body=body).pk for _ in range(4)]

    results = _at_once(*[lambda pk=pk: intake_process(message_id=pk) for pk in ids])

    assert sorted(results) == ["ACCEPTED", "DUPLICATE", "DUPLICATE", "DUPLICATE"], [
        (m.status, m.reasons) for m in IntakeMessage.objects.all()
    ]
    assert Order.objects.count() == 1


def test_a_stale_or_duplicate_message_page_shows_its_status(
    web, manager, client_for, django_capture_on_commit_callbacks
):
    deliver(web, WEBSTORE, django_capture_on_commit_callbacks)
    duplicate = deliver(web, WEBSTORE, django_capture_on_commit_callbacks)
    page = client_for(manager).get(reverse("intake:message", args=[duplicate.pk]))
    assert 'data-testid="message-status">Duplicate' in page.content.decode()


# -- a sweep of hostile values through processing ---------------------------------------------

HOSTILE = [
    10**30,
    -1,
    "NaN",
    1e15,
    "²",
    "x" * 10_000,
    "a\r\nBcc: x@example.com",
    "9999-12-31T00:00:00Z",
    [1],
    {"a": 1},
]


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    if path:
        yield path


def test_a_hostile_value_in_any_field_is_rejected_with_its_field_or_taken_within_bounds(
    web, market
):
    from oms import bounds
    from orders.models import OrderLine

    outcomes = []
    for channel, base, id_key in ((web, WEBSTORE, "id"), (market, MARKETPLACE, "orderNumber")):
        for n, (path, value) in enumerate(
            (path, value) for path in _leaves(base) for value in HOSTILE
        ):
            payload = copy.deepcopy(base) | {id_key: f"H-{n}"}
            target = payload
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            message = intake_receive(channel=channel, body=json.dumps(payload))
            outcome = intake_process(message_id=message.pk)
            message.refresh_from_db()
            outcomes.append((channel.kind, path, repr(value)[:30], outcome, message.reasons))
    assert not [o for o in outcomes if o[3] not in ("ACCEPTED", "REJECTED")], [
        o for o in outcomes if o[3] not in ("ACCEPTED", "REJECTED")
    ]
    assert all(o[4] for o in outcomes)  # each refusal (and acceptance) says why
    # whatever was taken holds only values within their bounds
    assert not OrderLine.objects.filter(quantity__gt=bounds.MAX_QUANTITY).exists()
    assert not OrderLine.objects.filter(unit_price__lt=0).exists()
    assert not Order.objects.filter(shipping__lt=0).exists()
    first, last = bounds.date_window(web.retailer)
    assert not Order.objects.exclude(placed_at__range=(first, last)).exists()
