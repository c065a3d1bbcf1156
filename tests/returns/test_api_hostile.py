"""Hostile values at every field of the Returns API v4.1.

Every field of the returnRequest (taken from the published OpenAPI document, so that a field
added later is swept too) and every search parameter gets, one at a time, each value of
`HOSTILE`: huge numbers, a negative one, NaN and Infinity, Unicode digits, 10 kB and 1 MB texts,
a line break inside a text, dates at the ends of the calendar, and the wrong JSON types. The
rest of the request is a valid one.

Each answer must be a 200 or a 400 (no server error). A 400 names the field and changes nothing
in the database; a 200 stores only values within their bounds: texts within their columns and
on one line, amounts finite, with two decimals, not negative and within the column, quantities
within the column, an email address and phone number that are one, a known country.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import models
from django.test import Client
from rest_framework.authtoken.models import Token

from oms import bounds
from returns.api.docs import SCHEMA
from returns.models import Return, ReturnFulfilment, ReturnItem
from returns.services import check_attributes

pytestmark = pytest.mark.django_db

HOSTILE = [
    1e15,
    10**40,
    -1,
    "NaN",
    "Infinity",
    "²",
    "٣",
    "9" * 5000,  # a huge number written out
    "x" * 10_000,
    "x" * 1_000_000,
    "first line\r\nBcc: someone@example.com",
    "0001-01-01",
    "9999-12-31",
    True,
    [],
    {},
]

VALID = {
    "orderRef": None,
    "orderId": None,
    "returnRef": None,
    "type": "CANNOT_FULFIL",
    "status": "CREATED",
    "customer": {
        "customerId": None,
        "customerRef": "C-1",
        "email": "jane@example.com",
        "firstName": "Jane",
        "lastName": "Doe",
        "mobile": "+31 6 1234 5678",
    },
    "items": [
        {
            "skuId": "1",
            "skuRef": "SKU-1",
            "skuPrice": "9.99",
            "skuTaxPrice": 1.5,
            "taxType": "VAT",
            "currency": "EUR",
            "returnQty": 2,
            "returnReason": "Damaged",
            "returnCondition": "New",
        }
    ],
    "fulfilmentChoice": {
        "preferredLocationRef": "DC1",
        "fulfilmentType": "R_RTDC",
        "fulfilmentPrice": 4.95,
        "fulfilmentTaxPrice": "0.50",
        "currency": "EUR",
        "address": {
            "locationRef": "DC1",
            "companyName": "Acme",
            "name": "Returns desk",
            "street": "1 Main Street",
            "city": "Utrecht",
            "postcode": "3511 AA",
            "state": "Utrecht",
            "country": "NL",
        },
    },
    "fulfilments": [
        {"fulfilmentId": None, "fulfilmentRef": "RF-1", "fulfilmentType": "R_RTDC", "status": None}
    ],
    "customAttributes": [{"name": "gift", "type": "BOOLEAN", "value": "true"}],
}


def _paths(schema: dict, prefix: str = "") -> list[str]:
    """Every field of a request schema by its path, objects and arrays included."""
    found = []
    for name, field in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        found.append(path)
        if field.get("type") == "object":
            found.extend(_paths(field, path))
        elif field.get("type") == "array" and field["items"].get("type") == "object":
            found.append(f"{path}[0]")
            found.extend(_paths(field["items"], f"{path}[0]"))
    return found


REQUEST_FIELDS = _paths(SCHEMA["components"]["schemas"]["returnRequest"])
SEARCH_PARAMETERS = [p["name"] for p in SCHEMA["paths"]["/api/v4.1/return"]["get"]["parameters"]]


def _with(body: dict, path: str, value) -> dict:
    """The body with the field at `path` ("items[0].skuPrice") set to `value`."""
    body = copy.deepcopy(body)
    steps = path.replace("[0]", ".0").split(".")
    holder = body
    for step in steps[:-1]:
        holder = holder[int(step)] if step == "0" else holder[step]
    last = steps[-1]
    if last == "0":
        holder[0] = value
    else:
        holder[last] = value
    return body


def _state() -> tuple:
    return tuple(
        sorted(model.objects.values_list("pk", flat=True))
        for model in (Return, ReturnItem, ReturnFulfilment)
    )


def _text_problems(where: str, text) -> list[str]:
    if not isinstance(text, str):
        return []
    if any(ch in text for ch in "\r\n\x00"):
        return [f"{where} holds a line break or NUL"]
    return []


def _json_problems(where: str, value) -> list[str]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _json_problems(f"{where}.{key}", item)]
    if isinstance(value, list):
        return [f"{where} holds a list"]
    if isinstance(value, str):
        long = [f"{where} is {len(value)} characters long"] if len(value) > 200 else []
        return long + _text_problems(where, value)
    if isinstance(value, bool):
        return [f"{where} holds a boolean"]
    if isinstance(value, int | float) and not (
        math.isfinite(value) and 0 <= value <= bounds.MONEY_MAX
    ):
        return [f"{where} holds {value}"]
    return []


def _out_of_bounds(row: models.Model) -> list[str]:
    """What the stored row holds beyond its bounds."""
    problems = []
    name = type(row).__name__
    for field in row._meta.concrete_fields:
        value = getattr(row, field.attname)
        where = f"{name}.{field.name}"
        if isinstance(field, models.CharField) and isinstance(value, str):
            if field.max_length and len(value) > field.max_length:
                problems.append(f"{where} is {len(value)} characters long")
            problems += _text_problems(where, value)
        elif isinstance(field, models.DecimalField) and value is not None:
            if not (value.is_finite() and 0 <= value <= bounds.MONEY_MAX):
                problems.append(f"{where} holds {value}")
            elif value != value.quantize(Decimal("0.01")):
                problems.append(f"{where} has more than two decimals")
        elif isinstance(field, models.PositiveIntegerField) and value is not None:
            if not 1 <= value <= 2**31 - 1:
                problems.append(f"{where} holds {value}")
        elif field.name == "custom_attributes":  # a list of attributes, each within bounds
            try:
                if check_attributes(value) != value:
                    problems.append(f"{where} holds {str(value)[:60]}, not as checked")
            except ValidationError as error:
                problems.append(f"{where} holds {str(value)[:60]}: {error.messages[0]}")
        elif isinstance(field, models.JSONField) and value is not None:
            problems += _json_problems(where, value)
    if isinstance(row, Return):
        checks = [(bounds.check_email, row.customer_email)]
        if row.customer_mobile:
            checks.append((bounds.check_phone, row.customer_mobile))
        country = ((row.fulfilment_choice or {}).get("address") or {}).get("country")
        if country:
            checks.append((bounds.country_code, country))
        for check, value in checks:
            try:
                check(value)
            except ValidationError as error:
                problems.append(f"{name} holds {value[:40]!r}: {error.messages[0]}")
    return problems


@pytest.fixture
def api(agent):
    return Client(headers={"Authorization": f"Bearer {Token.objects.create(user=agent).key}"})


@pytest.fixture
def tally():
    counts = Counter()
    yield counts
    print(dict(counts))


def test_the_valid_request_the_sweep_starts_from_is_accepted(api, retailer):
    response = api.post(
        "/api/v4.1/return", VALID | {"retailerId": str(retailer.pk)}, "application/json"
    )

    assert response.status_code == 200, response.content
    assert all(
        not _out_of_bounds(row) for model in (Return, ReturnItem) for row in model.objects.all()
    )


def test_the_sweep_covers_every_field_of_the_request():
    assert len(REQUEST_FIELDS) == 50
    assert {"items[0].skuPrice", "fulfilmentChoice.address.country", "fulfilments[0]"} <= set(
        REQUEST_FIELDS
    )


@pytest.mark.parametrize("path", REQUEST_FIELDS)
def test_a_hostile_value_in_any_field_of_a_new_return_is_refused_by_name_or_stored_in_bounds(
    api, retailer, tally, path
):
    valid = VALID | {"retailerId": str(retailer.pk)}
    wrong = []
    for value in HOSTILE:
        # given the database as it is
        before = _state()

        # when a return is posted with one field holding the hostile value
        response = api.post("/api/v4.1/return", _with(valid, path, value), "application/json")

        # then it is refused naming the field, and nothing changed; or stored within bounds
        tally[response.status_code] += 1
        shown = f"{path}={str(value)[:30]!r}"
        if response.status_code == 400:
            message = response.json()["error"][0]["message"]
            if path not in message:
                wrong.append(f"{shown}: the refusal names no field: {message[:200]}")
            if _state() != before:
                wrong.append(f"{shown}: refused, but the database changed")
        elif response.status_code == 200:
            ret = Return.objects.get(pk=response.json()["id"])
            rows = [ret, *ret.items.all(), *ret.fulfilments.all()]
            wrong += [f"{shown}: {problem}" for row in rows for problem in _out_of_bounds(row)]
        else:
            wrong.append(f"{shown}: answered {response.status_code}")

    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", SEARCH_PARAMETERS)
def test_a_hostile_search_parameter_is_refused_by_name_or_answered(api, retailer, tally, name):
    wrong = []
    for value in HOSTILE:
        params = {"retailerId": str(retailer.pk), name: str(value)}

        response = api.get("/api/v4.1/return", params)

        tally[response.status_code] += 1
        shown = f"{name}={str(value)[:30]!r}"
        if response.status_code == 400:
            message = response.json()["error"][0]["message"]
            if name not in message:
                wrong.append(f"{shown}: the refusal names no parameter: {message[:200]}")
        elif response.status_code != 200:
            wrong.append(f"{shown}: answered {response.status_code}")

    assert not wrong, "\n".join(wrong)
