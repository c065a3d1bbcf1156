"""A role matrix over every URL that accepts a POST, and the audit trail each change leaves.

For each case of `tests/role_matrix.py` an agent, a manager and an admin of the retailer post the
same valid form, each on records built for them. Below the case's least role the POST is refused
as the user sees it (the "Not allowed" page naming the role, or a message on the page they are
sent back to) and nothing changed: every tenant table has the rows it had, the record and the
rows the case watches are field for field as they were, and there is no new activity. At or
above it the POST succeeds, something changed, and a new activity names the user as its actor
and the record (or the order it hangs off), with data saying what changed.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib import messages
from django.contrib.messages import get_messages
from django.db import connection
from django.db.models import Max
from django.urls import reverse

from billing.services import billing_settings
from oms import activity
from oms.activity import RecordRef
from oms.models import Activity
from oms.roles import Role
from oms.tenancy import TenantOwned
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.models import BulkJob, Order, OrderStatus, SystemState
from returns.models import ReturnAction, ReturnCondition, ReturnReason
from tests.factories import (
    CarrierFactory,
    LocationFactory,
    MembershipFactory,
    OrderFactory,
    StatusFactory,
    UserFactory,
    status_for,
)
from tests.object_urls import OBJECT_URLS
from tests.role_matrix import CASES, Case, Prepared
from tests.urlwalk import walk

pytestmark = pytest.mark.django_db

ROUTES = walk()


def _accepts_post(route) -> bool:
    view_class = route.view_class
    return (
        view_class is not None
        and "post" in view_class.http_method_names
        and hasattr(view_class, "post")
    )


POSTING = [r for r in ROUTES if _accepts_post(r) and not r.is_public]
TENANT_TABLES = sorted(
    model._meta.db_table for model in apps.get_models() if issubclass(model, TenantOwned)
)


def test_every_url_that_accepts_a_post_has_a_case_in_the_role_matrix():
    covered = {case.url_name for case in CASES}
    missing = sorted(r.name for r in POSTING if r.name not in covered)
    assert not missing, (
        "These URLs change state but tests/role_matrix.py has no case for them, so nobody "
        f"checks which roles may use them and that each change is recorded: {missing}"
    )


def test_the_role_matrix_has_no_stale_cases():
    assert not {case.url_name for case in CASES} - {r.name for r in POSTING}


def test_the_matrix_covers_every_state_changing_url_of_the_safety_net():
    state_changing = {r.name for r in ROUTES if r.is_state_changing and not r.is_public}
    assert len(state_changing) >= 48
    assert state_changing <= {case.url_name for case in CASES}


# -- snapshots -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, int]
    fields: dict[str, Any]
    last_activity: int


def _row_counts() -> dict[str, int]:
    """Rows of every tenant table, in one query (table names from the model registry)."""
    quote = connection.ops.quote_name
    counts = ", ".join(f"(SELECT count(*) FROM {quote(table)})" for table in TENANT_TABLES)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        return dict(zip(TENANT_TABLES, cursor.fetchone(), strict=True))


def _watched(prepared: Prepared) -> list:
    rows = list(prepared.watch)
    if not isinstance(prepared.record, type):
        rows.insert(0, prepared.record)
    return rows


def _snapshot(prepared: Prepared) -> Snapshot:
    fields = {
        f"{row._meta.label}#{row.pk}": type(row)._base_manager.filter(pk=row.pk).values().first()
        for row in _watched(prepared)
    }
    if isinstance(prepared.record, type):
        model = prepared.record
        fields[f"last {model._meta.label}"] = model._base_manager.aggregate(last=Max("pk"))["last"]
    last = Activity.objects.aggregate(last=Max("pk"))["last"] or 0
    return Snapshot(_row_counts(), fields, last)


def _differences(before: Snapshot, after: Snapshot, *, ignore=()) -> list[str]:
    changed = [
        f"{table}: {before.rows[table]} -> {after.rows[table]} rows"
        for table in TENANT_TABLES
        if before.rows[table] != after.rows[table] and table not in ignore
    ]
    changed += [
        f"{name} changed" for name in before.fields if before.fields[name] != after.fields[name]
    ]
    return changed


# -- what the user sees ----------------------------------------------------------------------


def _post(client, case: Case, prepared: Prepared):
    url = reverse(case.url_name, kwargs=prepared.kwargs)
    if prepared.json:
        return client.post(url, prepared.data, content_type="application/json")
    return client.post(url, prepared.data)


def _error_messages(response) -> list[str]:
    return [
        message.message
        for message in get_messages(response.wsgi_request)
        if message.level >= messages.ERROR
    ]


def _refusal_problems(client, case: Case, response) -> list[str]:
    if case.refused_with is None:
        if response.status_code != 403:
            return [f"answered {response.status_code}, not 403"]
        page = response.content.decode().lower()
        if f"{case.least.label.lower()} role" not in page:
            return [f"the 403 page does not name the {case.least.label} role"]
        return []
    if response.status_code != 302:
        return [f"answered {response.status_code}, not a redirect with the reason"]
    page = client.get(response["Location"]).content.decode()
    return [] if case.refused_with in page else [f"the page does not say {case.refused_with!r}"]


# -- what the activity says ------------------------------------------------------------------


def _record_refs(prepared: Prepared, before: Snapshot) -> set[RecordRef]:
    record = prepared.record
    if not isinstance(record, type):
        return {RecordRef.of(record)}
    last = before.fields[f"last {record._meta.label}"] or 0
    return {RecordRef.of(row) for row in record._base_manager.filter(pk__gt=last)}


def _unfilled_placeholders(entry: Activity) -> list[str]:
    """Names the timeline's wording of the activity uses that its data lacks."""
    text = activity._DESCRIPTIONS.get(entry.action, "")
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return sorted(names - set(entry.data))


def _audit_problems(user, prepared: Prepared, before: Snapshot) -> list[str]:
    new = list(Activity.objects.filter(pk__gt=before.last_activity).order_by("pk"))
    refs = _record_refs(prepared, before)
    named = [
        entry
        for entry in new
        if entry.actor_id == user.pk
        and (
            RecordRef(entry.target_type, entry.target_id) in refs
            or RecordRef(entry.root_type, entry.root_id) in refs
        )
    ]
    if not named:
        seen = [(e.action, e.actor_id, e.target_type, e.target_id) for e in new]
        return [f"no activity by the user names {sorted(refs)}; new activity: {seen}"]
    problems = []
    said = json.dumps([entry.data for entry in named], ensure_ascii=False, default=str).lower()
    if not any(entry.data for entry in named):
        problems.append(f"the activity {[e.action for e in named]} does not say what changed")
    for word in prepared.shows:
        if word.lower() not in said:
            problems.append(f"the activity does not say {word!r}: {said}")
    for entry in new:
        if missing := _unfilled_placeholders(entry):
            problems.append(f"{entry.action} reads with {missing} missing from its data")
    return problems


# -- the matrix ------------------------------------------------------------------------------


def _judged(client, case, prepared, before, response, user, role: Role) -> list[str]:
    """What is wrong with the answer to a case's POST by a user holding `role` there."""
    if not role.includes(case.least):
        return _refusal_problems(client, case, response) + _differences(before, _snapshot(prepared))
    found = []
    if response.status_code not in (200, 201, 302):
        found.append(f"answered {response.status_code}")
    found += [f"showed the error {text!r}" for text in _error_messages(response)]
    after = _snapshot(prepared)
    if case.changes:
        if not _differences(before, after, ignore={Activity._meta.db_table}):
            found.append("changed nothing")
        found += _audit_problems(user, prepared, before)
    else:
        found += _differences(before, after)
    return found


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_role_is_refused_or_succeeds_and_is_recorded_as_the_matrix_says(
    client_for, retailer, agent, manager, admin_user, case
):
    problems = []
    for role, user in ((Role.AGENT, agent), (Role.MANAGER, manager), (Role.ADMIN, admin_user)):
        # given records of the retailer and a valid form for this action
        prepared = case.build(retailer, user)
        client = client_for(user)
        before = _snapshot(prepared)

        # when a user with this role posts it
        response = _post(client, case, prepared)

        # then below the case's least role it is refused, saying why, and nothing changed at all;
        # at or above it it is done: no error shown, something changed, the change recorded
        found = _judged(client, case, prepared, before, response, user, role)
        problems += [f"{role.label}: {problem}" for problem in found]
    assert not problems, problems


# -- bulk updates: each record changed has its own activity ----------------------------------


def _bulk_orders(retailer, action: str) -> tuple[list[Order], dict[str, str], str]:
    """Three orders the bulk action can take, its form fields, and the activity per order."""
    if action == "resume":
        processing = status_for(retailer, SystemState.PROCESSING)
        orders = [
            OrderFactory(retailer=retailer, state=SystemState.SUSPENDED, suspended_from=processing)
            for _ in range(3)
        ]
        return orders, {}, "orders.order.status_changed"
    if action == "set_status":
        orders = [OrderFactory(retailer=retailer, state=SystemState.NEW) for _ in range(3)]
        code = status_for(retailer, SystemState.PROCESSING).code
        return orders, {"status": code}, "orders.order.status_changed"
    orders = [OrderFactory(retailer=retailer, state=SystemState.PROCESSING) for _ in range(3)]
    fields, recorded = {
        "cancel": ({"reason": "Out of stock"}, "orders.order.cancelled"),
        "suspend": ({"reason": "Stock count"}, "orders.order.status_changed"),
        "notify": ({"message": "Your parcel is delayed"}, "orders.order.customer_notified"),
    }[action]
    return orders, fields, recorded


@pytest.mark.parametrize("action", ["cancel", "suspend", "resume", "set_status", "notify"])
def test_a_bulk_action_records_each_order_it_changes_as_the_manager(
    client_for, manager, retailer, action, django_capture_on_commit_callbacks
):
    # given three orders the action can take
    orders, fields, recorded = _bulk_orders(retailer, action)

    # when a manager runs the bulk action on them from the orders list
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(manager).post(
            reverse("orders:bulk_start"),
            {"action": action, "ids": [order.pk for order in orders], **fields},
        )

    # then the job did each order
    job = BulkJob.objects.get()
    assert response.status_code == 302
    assert (job.status, job.succeeded, job.skipped, job.failed) == (BulkJob.Status.DONE, 3, 0, 0)
    # and each order has its own activity, by the manager, saying what changed
    for order in orders:
        (entry,) = Activity.objects.filter(
            root_type="orders.order", root_id=str(order.pk), action=recorded
        )
        assert entry.actor == manager
        assert entry.data
    # and the job itself is recorded with who started what on how many orders
    started = Activity.objects.get(action="orders.bulk.started")
    assert (started.actor, started.data["action"], started.data["total"]) == (manager, action, 3)


def test_a_shipment_update_of_several_items_records_each_item(client_for, manager, retailer):
    # given an order of three items
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=3)
    lines = list(order.lines.all())

    # when a manager gives all three one tracking number
    client_for(manager).post(
        reverse("orders:shipment_update", args=[order.pk]),
        {"lines": [line.pk for line in lines], "tracking_number": "3SBULK"},
    )

    # then each item has its own activity with its before and after
    for line in lines:
        (entry,) = Activity.objects.filter(
            action="orders.orderline.shipment_updated", target_id=str(line.pk)
        )
        assert entry.actor == manager and entry.root_id == str(order.pk)
        assert entry.data["after"] == {"tracking_number": "3SBULK"}


def test_moving_a_status_in_no_direction_is_a_message_and_changes_nothing(
    client_for, admin_user, retailer
):
    # given an extra status of the retailer
    status = StatusFactory(retailer=retailer)
    before = Activity.objects.count()

    # when a hand-made form moves it neither up nor down
    client = client_for(admin_user)
    response = client.post(reverse("order_statuses:move", args=[status.pk]), {"direction": "x"})

    # then the list says so, and nothing moved
    assert response.status_code == 302
    assert "Move a status up or down." in client.get(response["Location"]).content.decode()
    assert OrderStatus.objects.get(pk=status.pk).position == status.position
    assert Activity.objects.count() == before


# -- roles per retailer: users holding different roles in two retailers ----------------------
#
# Roles are held per retailer. Each case of the matrix is posted again by users who hold one
# role in Acme and another in Globex, on records built in each retailer: where the user's role
# in the record's retailer is below the case's least role the POST is refused and nothing
# changes, whatever they hold in the other retailer; where it is enough the change is done and
# recorded. Every page behind a role (`required_role` above agent) is read by the same users:
# its lists hold no row of the retailer where the role is missing, and a record of that retailer
# is refused.

SPLIT_USERS = [
    # (role in Acme, role in Globex)
    (Role.MANAGER, Role.AGENT),
    (Role.ADMIN, Role.AGENT),
    (Role.AGENT, Role.MANAGER),
]


def _split_id(roles: tuple[Role, Role]) -> str:
    return f"{roles[0]}-of-acme+{roles[1]}-of-globex"


def _split_user(roles: tuple[Role, Role], retailer, other_retailer):
    user = UserFactory(username=f"split-{_split_id(roles)}")
    MembershipFactory(user=user, retailer=retailer, role=roles[0])
    MembershipFactory(user=user, retailer=other_retailer, role=roles[1])
    return user


@pytest.mark.parametrize("roles", SPLIT_USERS, ids=_split_id)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_post_asks_for_the_role_in_the_records_retailer(
    client_for, retailer, other_retailer, case, roles
):
    user = _split_user(roles, retailer, other_retailer)
    client = client_for(user)
    problems = []
    for where, role in ((retailer, roles[0]), (other_retailer, roles[1])):
        # given records of one of the user's retailers and a valid form for this action
        prepared = case.build(where, user)
        before = _snapshot(prepared)

        # when the user, holding `role` in that retailer, posts it
        response = _post(client, case, prepared)

        # then it is refused as for a user holding no more anywhere, and nothing changed; or it
        # is done and recorded
        found = _judged(client, case, prepared, before, response, user, role)
        problems += [f"{role.label} of {where.ref}: {problem}" for problem in found]
    assert not problems, problems


def _role_gated_pages() -> list:
    """Every page (GET) behind a role above agent."""
    return [
        route
        for route in ROUTES
        if not route.is_state_changing
        and not route.is_public
        and getattr(route.view_class, "required_role", Role.AGENT) != Role.AGENT
    ]


GATED_PAGES = _role_gated_pages()
MARKERS = {"acme": "Zanzibarian", "globex": "Quetzalcoatl"}


def _mark(retailer) -> None:
    """Records of every configuration and intake list, their texts carrying the marker."""
    marker = MARKERS[retailer.ref]
    StatusFactory(retailer=retailer, label=f"{marker} status")
    ReturnReason.objects.create(retailer=retailer, code=f"{marker}_R", label=f"{marker} reason")
    ReturnAction.objects.create(retailer=retailer, code=f"{marker}_A", label=f"{marker} action")
    ReturnCondition.objects.create(
        retailer=retailer, code=f"{marker}_C", label=f"{marker} condition"
    )
    config = billing_settings(retailer.pk)
    config.invoice_prefix = f"{marker}-"
    config.save(update_fields=["invoice_prefix"])
    LocationFactory(retailer=retailer, name=f"{marker} depot")
    CarrierFactory(retailer=retailer, name=f"{marker} courier")
    channel = IntakeChannel.objects.create(
        retailer=retailer, code=f"{marker.lower()}", name=f"{marker} shop", kind="webstore"
    )
    IntakeMessage.objects.create(
        retailer=retailer,
        channel=channel,
        body="{}",
        external_id=f"EXT-{marker}",
        status=IntakeMessage.Status.REJECTED,
        reasons=[f"no lines for {marker}"],
    )


def test_the_role_gated_pages_are_found():
    names = {route.name for route in GATED_PAGES}
    assert {"intake:desk", "intake:message", "order_statuses:edit", "settings"} <= names


@pytest.mark.parametrize("roles", SPLIT_USERS, ids=_split_id)
@pytest.mark.parametrize("route", GATED_PAGES, ids=str)
def test_each_page_behind_a_role_shows_only_the_retailers_where_the_role_is_held(
    client_for, retailer, other_retailer, roles, route
):
    # given marked records in both retailers
    _mark(retailer)
    _mark(other_retailer)
    user = _split_user(roles, retailer, other_retailer)
    client = client_for(user)
    least = route.view_class.required_role
    held = {retailer.ref: roles[0].includes(least), other_retailer.ref: roles[1].includes(least)}
    problems = []
    for where in (retailer, other_retailer):
        if route.kwarg_names:
            # when the user opens a record of each retailer
            url = reverse(route.name, kwargs=OBJECT_URLS[route.name](where))
            response = client.get(url)
            page = response.content.decode()
            if held[where.ref]:
                # then it opens where the role is held
                if response.status_code != 200:
                    problems.append(f"{where.ref}: answered {response.status_code}")
            elif response.status_code != 403 or f"{least.label} role" not in page:
                # and is refused, naming the role, where it is not
                problems.append(f"{where.ref}: answered {response.status_code}, not a 403")
            continue
        # when the user opens the page, and the page for one retailer
        for query in ("", f"?retailer={where.pk}"):
            response = client.get(reverse(route.name) + query)
            page = response.content.decode()
            if not any(held.values()):
                if response.status_code != 403 or f"{least.label} role" not in page:
                    problems.append(f"{query}: answered {response.status_code}, not a 403")
                continue
            if query and not held[where.ref] and response.status_code == 403:
                # a page of one retailer refuses the retailer where the role is missing
                if f"{least.label} role" not in page:
                    problems.append(f"{query}: the 403 page does not name the {least} role")
                continue
            if response.status_code not in (200, 302):  # a form's address may lead to its page
                problems.append(f"{query or 'the page'}: answered {response.status_code}")
            # then no row of a retailer where the role is missing shows
            for ref, marker in MARKERS.items():
                if not held[ref] and marker in page:
                    problems.append(f"{query or 'the page'} shows {ref}'s {marker!r} records")
    assert not problems, problems


def test_the_marker_check_finds_the_records_where_the_role_is_held(
    client_for, retailer, other_retailer
):
    _mark(retailer)
    _mark(other_retailer)
    user = _split_user((Role.ADMIN, Role.AGENT), retailer, other_retailer)
    page = client_for(user).get(reverse("intake:desk")).content.decode()
    assert MARKERS["acme"] in page and MARKERS["globex"] not in page
    page = client_for(user).get(reverse("order_statuses:list")).content.decode()
    assert MARKERS["acme"] in page
