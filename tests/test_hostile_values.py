"""Hostile values: every POST endpoint and every API write, sent its valid data with one field
replaced by a hostile value, answers without a server error, stores nothing out of bounds, and
says why when it refuses.

The endpoints and their valid data are the mass-assignment sweep's catalogue (`ENDPOINTS` of
tests/test_mass_assignment.py, which fails when a POST endpoint has no valid data there). The
fields tried are the fields of the valid data: each form field; each key, at any depth, of a JSON
body (and of the JSON a form field carries); and for an upload, CSV files with huge rows and
bad cells. Each field gets each value of `HOSTILE`: huge, negative, NaN and Infinity, Unicode
digits, 10 kB and 1 MB texts, CR/LF, far dates, several values, arrays, objects and nothing.

After each request every row of every tenant table it changed is scanned against the bounds of
oms/bounds.py: money finite, within its column and `MONEY_MAX`, never negative for prices,
amounts and shipping; dates within the retailer's window; texts within their column; no CR/LF in
an email address or an email's subject; countries known ISO codes; quantities within
`MAX_QUANTITY`; no array or object stored as its Python text; no intake message DEAD, none
REJECTED without its reasons.

`make test` tries a sample (every endpoint and field, every value somewhere); `make reliability`
(HOSTILE_ALL=1) tries every field with every value.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import pytest
from django.apps import apps
from django.contrib import messages
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import got_request_exception
from django.db import DatabaseError, models, transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import include, path, reverse
from django.utils import timezone

from oms.bounds import MAX_QUANTITY, MONEY_MAX, MOST_DAYS_AHEAD, date_window, money_limit
from oms.countries import COUNTRIES
from oms.models import OutboundEmail, Retailer
from oms.views import TenantObjectActionView
from orders.intake.models import IntakeMessage
from orders.models import Order, Task
from orders.services.statuses import DATES_FROM_EARLIEST
from tests import test_mass_assignment
from tests.test_mass_assignment import (
    APPS,
    ENDPOINTS,
    Endpoint,
    World,
    _client,
    _on_order,
    _send,
    changed,
    snapshot,
)

pytestmark = pytest.mark.django_db


# the mass-assignment sweep's two retailers, with one of everything each
world = test_mass_assignment.world

ALL = bool(os.environ.get("HOSTILE_ALL"))
SAMPLE = 7  # `make test` tries one value in SAMPLE for each field (rotating over the fields)

KB10 = "x" * 10_240
MB1 = "y" * 1_048_576


@dataclass(frozen=True)
class Hostile:
    label: str
    form: Any  # as a form sends it (a list: several values under the one name)
    json: Any  # as a JSON body carries it
    strict_json: bool = True  # False: not JSON at all (NaN, Infinity), any parse error will do


SEVERAL = object()  # the valid value and hostile ones, under one name
ARRAY = object()  # the valid value inside an array
OBJECT = object()  # the valid value inside an object

HOSTILE = [
    Hostile("1e15", "1e15", 1e15),
    Hostile("10**40", str(10**40), 10**40),
    Hostile("20 nines", "9" * 20, "9" * 20),
    Hostile("-1", "-1", -1),
    Hostile("-0.01", "-0.01", -0.01),
    Hostile("NaN", "NaN", float("nan"), strict_json=False),
    Hostile("Infinity", "Infinity", float("inf"), strict_json=False),
    Hostile("-Infinity", "-Infinity", float("-inf"), strict_json=False),
    Hostile("NaN text", "nan", "NaN"),
    Hostile("superscript two", "²", "²"),
    Hostile("Arabic-Indic three", "٣", "٣"),
    Hostile("fullwidth twelve", "１２", "１２"),
    Hostile("10 kB", KB10, KB10),
    Hostile("1 MB", MB1, MB1),
    Hostile("CR/LF", "a\r\nBcc: x@example.com", "a\r\nBcc: x@example.com"),
    Hostile("0001-01-01", "0001-01-01", "0001-01-01"),
    Hostile("9999-12-31", "9999-12-31", "9999-12-31"),
    Hostile("1900-01-01", "1900-01-01", "1900-01-01"),
    Hostile("2999-12-31", "2999-12-31", "2999-12-31"),
    Hostile("several values", SEVERAL, ARRAY),
    Hostile("object", OBJECT, OBJECT),
    Hostile("empty", "", ""),
    Hostile("null", "null", None),
    Hostile("true", "true", True),
]


def _form_value(hostile: Hostile, valid: Any) -> Any:
    values = valid if isinstance(valid, list) else [valid]
    if hostile.form is SEVERAL:
        return [*values, "-1", "1e15"]
    if hostile.form is OBJECT:
        return json.dumps({"value": valid})
    return hostile.form


def _json_value(hostile: Hostile, valid: Any) -> Any:
    if hostile.json is ARRAY:
        return [valid]
    if hostile.json is OBJECT:
        return {"value": valid}
    return hostile.json


# uploads: CSV files with huge rows and bad cells
def _csv(text: str) -> bytes:
    return text.encode()


UPLOADS = (
    [
        ("huge row: 1 MB cell", _csv(f"location_ref,sku,on_hand\nWH-1,{MB1},7\n")),
        ("huge row: 10,000 cells", _csv("location_ref,sku,on_hand\nWH-1,SKU-1,7" + ",7" * 10_000)),
        ("10,000 rows", _csv("location_ref,sku,on_hand\n" + "WH-1,SKU-1,7\n" * 10_000)),
        ("long sku", _csv(f"location_ref,sku,on_hand\nWH-1,{KB10},7\n")),
        ("CR in a cell", _csv('location_ref,sku,on_hand\nWH-1,"SKU\r\n1",7\n')),
        ("no header", _csv("WH-1,SKU-1,7\n")),
        ("empty file", b""),
        ("not UTF-8", b"location_ref,sku,on_hand\nWH-1,\xff\xfe,7\n"),
        ("NUL", b"location_ref,sku,on_hand\nWH-1,SKU\x001,7\n"),
    ]
    + [
        (f"on_hand {h.label}", _csv(f"location_ref,sku,on_hand\nWH-1,SKU-1,{h.form}\n"))
        for h in HOSTILE
        if isinstance(h.form, str) and len(h.form) < 100 and "\n" not in h.form
    ]
    + [
        (f"location_ref {h.label}", _csv(f"location_ref,sku,on_hand\n{h.form},SKU-1,7\n"))
        for h in HOSTILE
        if isinstance(h.form, str) and len(h.form) < 100 and "\n" not in h.form
    ]
)


# ---------------------------------------------------------------------------------------------
# the fields of an endpoint's valid data, and the data with one of them replaced


@dataclass(frozen=True)
class Case:
    field: str  # the field as a person reads it: name, or a path into a JSON body
    label: str
    data: dict  # what is sent
    reason_words: tuple[str, ...]  # a JSON refusal names one of these
    strict_json: bool = True


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key, at any depth, of a JSON value: containers first, then what they hold."""
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            found.append((*prefix, key))
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


def _get(value: Any, where: tuple) -> Any:
    for step in where:
        value = value[step]
    return value


def _replaced(body: Any, where: tuple, new: Any) -> Any:
    copy = json.loads(json.dumps(body))
    _get(copy, where[:-1])[where[-1]] = new
    return copy


def _words(where: tuple) -> tuple[str, ...]:
    names = [str(step) for step in where if not isinstance(step, int)]
    snake = [
        "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_") for name in names
    ]
    return tuple(dict.fromkeys(names + snake + [s.replace("_", " ") for s in snake]))


def _shown(where: tuple) -> str:
    return ".".join(str(step) if not isinstance(step, int) else f"[{step}]" for step in where)


def _json_body_of(value: Any) -> dict | None:
    if not isinstance(value, str) or not value.startswith("{"):
        return None
    try:
        body = json.loads(value)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def cases(endpoint: Endpoint, data: dict) -> list[Case]:
    """Every field of the valid data with every hostile value."""
    found = []
    if endpoint.client in ("token", "signed", "stripe"):
        for where in _paths(data):
            valid = _get(data, where)
            for hostile in HOSTILE:
                new = _json_value(hostile, valid)
                found.append(
                    Case(
                        _shown(where),
                        hostile.label,
                        _replaced(data, where, new),
                        _words(where),
                        hostile.strict_json,
                    )
                )
        return found
    for name, valid in data.items():
        if callable(valid):  # an upload
            for label, content in UPLOADS:
                upload = _upload(content)
                found.append(Case(name, label, {**data, name: upload}, (name,)))
            found.append(Case(name, "not a file", {**data, name: "x"}, (name,)))
            continue
        for hostile in HOSTILE:
            found.append(Case(name, hostile.label, {**data, name: _form_value(hostile, valid)}, ()))
        inner = _json_body_of(valid)
        for where in _paths(inner) if inner is not None else []:
            for hostile in HOSTILE:
                if not hostile.strict_json:
                    continue
                new = _replaced(inner, where, _json_value(hostile, _get(inner, where)))
                found.append(
                    Case(
                        f"{name}:{_shown(where)}",
                        hostile.label,
                        {**data, name: json.dumps(new)},
                        (),
                    )
                )
    return found


def _upload(content: bytes):
    return lambda: SimpleUploadedFile("stock.csv", content, "text/csv")


def sample(found: list[Case], offset: int) -> list[Case]:
    """Every case (HOSTILE_ALL), or one in SAMPLE, rotating so that every value is tried."""
    if ALL:
        return found
    return [case for i, case in enumerate(found) if (i + offset) % SAMPLE == 0]


# ---------------------------------------------------------------------------------------------
# bounds: what no changed row may hold

NOT_NEGATIVE = ("price", "amount", "shipping", "total", "subtotal", "tax", "captured")
NOT_NEGATIVE += ("refunded", "authorised", "voided", "value", "discount")
QUANTITIES = ("quantity", "qty", "on_hand", "reserved")
HEADER_COLUMNS = {(OutboundEmail._meta.db_table, "to"), (OutboundEmail._meta.db_table, "subject")}
JSON_MONEY = ("amount", "total", "subtotal", "shipping", "tax", "discount")
# dates of reminders, which may lie up to MOST_DAYS_AHEAD days ahead (a task's due date)
REMINDERS = {(Task._meta.db_table, "due_at")}
# what an intake message records of the request as it came (its id, shown on the desk)
RECORDED_AS_SENT = {(IntakeMessage._meta.db_table, "external_id")}
TEXT_NOTED = 10_000  # a TextField storing more than this is listed as unbounded


def _by_table() -> dict[str, type[models.Model]]:
    return {
        m._meta.db_table: m
        for m in apps.get_models()
        if m._meta.app_label in APPS and m._meta.managed and not m._meta.proxy
    }


@cache
def _window(retailer_id: int) -> tuple[datetime, datetime]:
    return date_window(Retailer.objects.get(pk=retailer_id))


def _moment(raw: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        try:
            value = datetime.combine(date.fromisoformat(raw), time.min)
        except ValueError:
            return None
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def _money_problem(raw: Any, name: str, limit: Decimal) -> str | None:
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        return f"not a number: {str(raw)[:40]!r}"
    if not amount.is_finite():
        return f"not finite: {raw!r}"
    if abs(amount) > limit:
        return f"beyond {limit}: {amount}"
    if amount < 0 and any(word in name for word in NOT_NEGATIVE):
        return f"negative: {amount}"
    return None


def _is_amount_key(key: str) -> bool:
    name = key.lower()
    return name in JSON_MONEY or name.endswith(("price", "amount", "_total", "cost"))


def _json_money(value: Any, where: str = "") -> list[str]:
    """The amounts inside a JSON column (invoice lines, a return's choices) beyond bounds."""
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, dict | list):
                found += _json_money(inner, f"{where}.{key}")
            elif _is_amount_key(str(key)) and isinstance(inner, int | float | Decimal | str):
                problem = _money_problem(inner, str(key).lower(), MONEY_MAX)
                if problem and not problem.startswith("not a number"):
                    found.append(f"{where}.{key} {problem}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _json_money(inner, f"{where}[{index}]")
    return found


def out_of_bounds(before: dict, after: dict, noted: set[str]) -> list[str]:
    """What the rows a request changed hold beyond their bounds (dates: in tenant tables)."""
    tables = _by_table()
    found = []
    for key, row in changed(before, after).items():
        table, pk = key
        model = tables.get(table)
        if row is None or model is None:
            continue
        if model is Retailer:
            found += _retailer_problems(row)
        old = before.get(key) or {}
        for f in model._meta.concrete_fields:
            value = row.get(f.column)
            if value is None or (key in before and old.get(f.column) == value):
                continue
            where = f"{table} #{pk}.{f.column}"
            problem = _value_problem(table, f, value, row, noted)
            if problem:
                found.append(f"{where} {problem}")
        if model is IntakeMessage:
            if row.get("status") == "DEAD":
                found.append(f"{table} #{pk} is DEAD: {row.get('reasons')!r:.300}")
            if row.get("status") == "REJECTED" and not row.get("reasons"):
                found.append(f"{table} #{pk} is REJECTED with no reason")
    return found


def _retailer_problems(row: dict) -> list[str]:
    """A retailer's date window: from a day between DATES_FROM_EARLIEST and today, to at most
    MOST_DAYS_AHEAD days ahead."""
    found = []
    ahead = row.get("dates_ahead_days")
    if ahead is not None and not 0 <= ahead <= MOST_DAYS_AHEAD:
        found.append(
            f"oms_retailer #{row['id']}.dates_ahead_days beyond {MOST_DAYS_AHEAD}: {ahead}"
        )
    start = row.get("dates_from")
    if start and not DATES_FROM_EARLIEST <= date.fromisoformat(start) <= timezone.now().date():
        found.append(f"oms_retailer #{row['id']}.dates_from outside {DATES_FROM_EARLIEST}..today")
    return found


def _value_problem(table: str, f: models.Field, value: Any, row: dict, noted: set) -> str | None:
    name = f.name.lower()
    if isinstance(f, models.DecimalField):
        limit = min(MONEY_MAX, money_limit(f.max_digits, f.decimal_places))
        return _money_problem(value, name, limit)
    if isinstance(f, models.DateField) and isinstance(value, str) and "retailer_id" in row:
        moment = _moment(value)
        first, last = _window(row["retailer_id"])
        if (table, f.column) in REMINDERS:  # may lie further out than an order's dates
            last = max(last, timezone.now() + timedelta(days=MOST_DAYS_AHEAD))
        if moment is None or not first <= moment <= last:
            return f"outside {first:%Y-%m-%d}..{last:%Y-%m-%d}: {value}"
        return None
    if isinstance(f, models.JSONField):
        problems = _json_money(value)
        return "; ".join(problems) if problems else None
    if isinstance(f, models.IntegerField) and not isinstance(f, models.AutoField):
        if any(word in name for word in QUANTITIES) and not 0 <= int(value) <= MAX_QUANTITY:
            return f"a quantity beyond 0..{MAX_QUANTITY}: {value}"
        return None
    if not isinstance(value, str):
        return None
    header = (table, f.column) in HEADER_COLUMNS or isinstance(f, models.EmailField)
    if header and ("\r" in value or "\n" in value):
        return f"CR/LF in a mail header: {value[:60]!r}"
    as_python = value.startswith("{'value': ") or (value.startswith("['") and value.endswith("']"))
    if as_python and (table, f.column) not in RECORDED_AS_SENT:
        return f"an array or object stored as its Python text: {value[:60]!r}"
    if "country" in name and value and value not in COUNTRIES:
        return f"not an ISO country code: {value[:40]!r}"
    if f.max_length is not None and len(value) > f.max_length:
        return f"{len(value)} characters, beyond {f.max_length}"
    if isinstance(f, models.TextField) and len(value) > TEXT_NOTED:
        noted.add(f"{table}.{f.column}")
    return None


# ---------------------------------------------------------------------------------------------
# a refusal's reason


def _messages(response) -> list:
    request = getattr(response, "wsgi_request", None)
    return list(get_messages(request)) if request is not None else []


def _form_errors(response) -> list[str]:
    found = []
    for context in getattr(response, "context", None) or []:
        for value in context.flatten().values() if hasattr(context, "flatten") else []:
            errors = getattr(value, "errors", None)
            if errors and not callable(errors):
                found.append(str(errors)[:200])
    return found


def reason_of(response, case: Case, endpoint: Endpoint) -> str | None:
    """The reason the response gives for refusing, or None when it gives none."""
    told = [str(m) for m in _messages(response) if m.level >= messages.WARNING]
    if told:
        return told[0]
    errors = _form_errors(response)
    if errors:
        return errors[0]
    content_type = response.get("Content-Type", "")
    if response.status_code in (403, 404) and "html" in content_type:
        return f"{response.status_code}: no such record among the user's retailers"
    if not getattr(response, "streaming", False) and "html" in content_type:
        text = response.content.decode(errors="replace")
        for mark in ("alert-danger", "invalid-feedback", "errorlist", 'class="error'):
            if mark in text:
                return mark
    if "json" in content_type and response.status_code >= 400:
        text = response.content.decode(errors="replace")
        if response.status_code == 413 and '"error"' in text:
            return text[:200]  # a body beyond the endpoint's bound: the size is the reason
        if response.status_code in (403, 404) and '"message"' in text:
            return text[:200]  # no such record among the user's: the record named is the reason
        if not case.strict_json and "JSON" in text:
            return text[:200]
        if any(word.lower() in text.lower() for word in case.reason_words):
            return text[:200]
        return None
    return None


# ---------------------------------------------------------------------------------------------
# the sweep


@dataclass
class Tally:
    tried: int = 0
    fields: set[str] = field(default_factory=set)
    endpoints: set[str] = field(default_factory=set)
    accepted: int = 0
    refused: Counter = field(default_factory=Counter)  # endpoint -> refusals with a reason
    server_errors: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the catalogue's valid data fails
    noted: set[str] = field(default_factory=set)  # TextFields that took more than 10 kB

    def failures(self) -> list[str]:
        return self.problems + self.server_errors + self.stored + self.silent


class _Exceptions:
    """The exceptions a request raised, though the client answers them with a 500."""

    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, sender, request=None, **kwargs):
        error = sys.exc_info()[1]
        self.seen.append(f"{type(error).__name__}: {str(error)[:200]}")

    def __enter__(self):
        got_request_exception.connect(self)
        return self

    def __exit__(self, *exc):
        got_request_exception.disconnect(self)


def _attempt(world, endpoint, url, data, capture):
    """The response and the database after, or the error the request ended in."""
    with _Exceptions() as raised:
        try:
            with capture(execute=True):
                response = _send(_client(world, endpoint.client), endpoint, url, data, world)
        except Exception as error:  # an on-commit callback failing
            return None, None, f"{type(error).__name__}: {str(error)[:200]}"
        if response.status_code >= 500 or raised.seen:
            return response, None, f"{response.status_code} {'; '.join(raised.seen)}"
    try:
        return response, snapshot(), None
    except DatabaseError as error:
        return response, None, f"the transaction broke: {str(error)[:200]}"


def _restore(savepoint) -> None:
    """Back to the savepoint, also after a request whose query failed."""
    transaction.set_rollback(False)
    transaction.savepoint_rollback(savepoint)


def try_endpoint(name: str, endpoint: Endpoint, world: World, capture, tally: Tally, offset=0):
    outer = transaction.savepoint_create()
    try:
        kwargs, data, _target = endpoint.build(world)
        url = reverse(name, kwargs=kwargs)
        before = snapshot()
        inner = transaction.savepoint_create()
        response, control, error = _attempt(world, endpoint, url, data, capture)
        _restore(inner)
        if error or response.status_code >= 400 or (endpoint.changes and control == before):
            tally.problems.append(f"{name}: the valid request failed ({error or response})")
            return
        tally.endpoints.add(name)
        for case in sample(cases(endpoint, data), offset):
            tally.tried += 1
            tally.fields.add(f"{name} {case.field}")
            what = f"{name} {case.field} = {case.label}"
            response, after, error = _attempt(world, endpoint, url, case.data, capture)
            _restore(inner)
            if error:
                tally.server_errors.append(f"{what}: {error}")
                continue
            tally.stored += [f"{what}: {p}" for p in out_of_bounds(before, after, tally.noted)]
            levels = [m.level for m in _messages(response)]
            refused = response.status_code >= 400 or any(lv >= messages.WARNING for lv in levels)
            answered = any(lv in (messages.SUCCESS, messages.INFO) for lv in levels)
            if not refused and (not endpoint.changes or answered or changed(before, after)):
                tally.accepted += 1
                continue
            reason = reason_of(response, case, endpoint)
            if reason is None:
                tally.silent.append(
                    f"{what}: refused without a reason ({response.status_code} "
                    f"{response.content[:200]!r})"
                )
            else:
                tally.refused[name] += 1
    finally:
        _restore(outer)


def _each_endpoint():
    for name, each in ENDPOINTS.items():
        for endpoint in each if isinstance(each, list) else [each]:
            yield name, endpoint


def test_no_hostile_value_breaks_an_endpoint_or_is_stored_out_of_bounds(
    world, django_capture_on_commit_callbacks
):
    # given every POST endpoint and API write, each with valid data for a record of its own
    tally = Tally()
    _window.cache_clear()

    # when each field of the valid data is replaced by each hostile value in turn
    for offset, (name, endpoint) in enumerate(_each_endpoint()):
        try_endpoint(name, endpoint, world, django_capture_on_commit_callbacks, tally, offset)

    # then no request ends in a server error, no changed row holds a value beyond its bounds,
    # and every refusal says why
    print(
        f"\n{len(tally.endpoints)} endpoints, {len(tally.fields)} fields, {tally.tried} requests:"
        f" {tally.accepted} accepted within bounds, {sum(tally.refused.values())} refused with"
        f" a reason; {len(tally.server_errors)} server errors, {len(tally.stored)} values out of"
        f" bounds, {len(tally.silent)} refusals without a reason"
    )
    print("TextFields that took more than 10 kB:", ", ".join(sorted(tally.noted)) or "none")
    assert tally.failures() == [], "\n".join(tally.failures())
    assert tally.tried >= (len(HOSTILE) * 150 if ALL else 600)


# ---------------------------------------------------------------------------------------------
# the sweep catches an endpoint that stores what it is sent


class CarelessShippingView(TenantObjectActionView):
    """Sets an order's shipping, promised date and an email subject the careless way: whatever
    the request says, unchecked, and a silent redirect when it cannot read it."""

    model = Order

    def post(self, request, *args, **kwargs):
        order = self.get_object()
        try:
            shipping = Decimal(request.POST["shipping"])
        except InvalidOperation:
            return redirect("/")
        Order.objects.filter(pk=order.pk).update(
            shipping=shipping, promised_date=request.POST["promised_date"] or None
        )
        OutboundEmail.objects.create(
            retailer=order.retailer, to="jan@example.nl", subject=request.POST["subject"], body="-"
        )
        return HttpResponse(status=204)


urlpatterns = [
    path("careless/<int:pk>/", CarelessShippingView.as_view(), name="careless_shipping"),
    path("", include("oms.urls")),
]


@pytest.mark.urls("tests.test_hostile_values")
def test_the_sweep_finds_an_endpoint_that_stores_hostile_values(
    world, django_capture_on_commit_callbacks, monkeypatch
):
    # given an endpoint that stores shipping, a date and a subject unchecked
    endpoint = Endpoint(
        _on_order({"shipping": "4.95", "promised_date": "2026-12-24", "subject": "Your parcel"})
    )
    monkeypatch.setattr(sys.modules[__name__], "ALL", True)
    tally = Tally()

    # when the sweep tries it
    try_endpoint("careless_shipping", endpoint, world, django_capture_on_commit_callbacks, tally)

    # then it reports the server errors, the values stored beyond their bounds, and the silent
    # refusals
    stored = "\n".join(tally.stored)
    assert any("shipping = 1e15" in e for e in tally.server_errors), tally.server_errors
    assert "shipping = -1: orders_order" in stored and ".shipping negative: -1" in stored
    assert ".promised_date outside" in stored and "9999-12-31" in stored
    assert "oms_outboundemail" in stored and "CR/LF in a mail header" in stored
    assert any("refused without a reason" in s for s in tally.silent), tally.silent
