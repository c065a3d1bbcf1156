"""The Returns API v4.1 fuzzed from its own OpenAPI schema (schemathesis).

The schema is read from the application (`returns_api:schema`) and every operation is called
in-process through Django's WSGI handler, as an agent of one retailer with a bearer token,
against Postgres holding two retailers' orders and returns. Every response must be free of
server errors, have a documented status code and content type and the schema's shape, and none
may carry the other retailer's data.

schemathesis derives cases from the schema's bounds (lengths, ranges, enums, required fields,
wrong types, other methods, no credentials), then fuzzes; ids, refs and retailer ids of both
retailers are mixed into what it generates, so that requests reach records and not only 404s.

`API_FUZZ_EXAMPLES` sets the fuzzed examples per operation (25 here; the long run: 250).

The storefront API (`storefront_api`) publishes no schema, so it is not fuzzed here.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from returns.models import Return, ReturnFulfilment, ReturnStatus, ReturnType
from tests.factories import CustomerFactory, OrderFactory, ReturnFactory

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Seeded:
    """Two retailers' records, the agent's token, and the answers the fuzz got."""

    retailer_id: int
    other_retailer_id: int
    token: str
    order_ids: list[int]
    order_refs: list[str]
    skus_by_order: dict[str, list[str]]
    return_ids: list[int]
    return_refs: list[str]
    other_order_ids: list[int]
    other_return_ids: list[int]
    # text that only the other retailer's records hold: refs, emails, names, locations
    other_secrets: list[str]
    answers: Counter = field(default_factory=Counter)


def _returns_of(retailer, prefix: str) -> list[Return]:
    """Three orders with a return each (one with a fulfilment choice and a parcel), and a
    return without an order; every ref and name carries the prefix."""
    made = []
    for n in range(3):
        customer = CustomerFactory(
            retailer=retailer,
            first_name=f"{prefix.title()}first{n}",
            last_name=f"{prefix.title()}last{n}",
            email=f"customer{n}@{prefix.lower()}.example",
        )
        order = OrderFactory(
            retailer=retailer,
            ref=f"{prefix}-ORD-{n:04d}",
            customer=customer,
            lines=2,
            lines__quantity=50,
        )
        choice = {
            "fulfilmentType": "R_RTDC",
            "preferredLocationRef": f"{prefix}-LOC",
            "fulfilmentPrice": 4.95,
            "fulfilmentTaxPrice": None,
            "currency": "EUR",
            "address": {"locationRef": f"{prefix}-LOC", "city": "Utrecht"},
        }
        made.append(
            ReturnFactory(
                retailer=retailer,
                order=order,
                return_ref=f"{prefix}-RET-{n:04d}",
                type=ReturnType.values[n],
                status=[ReturnStatus.CREATED, ReturnStatus.BOOKED, ReturnStatus.COMPLETE][n],
                fulfilment_choice=choice if n == 1 else None,
            )
        )
    ReturnFulfilment.objects.create(
        retailer=retailer, return_request=made[1], ref=f"{prefix}-RF-0001", type="R_RTDC"
    )
    made.append(
        ReturnFactory(
            retailer=retailer,
            order=None,
            customer=None,
            return_ref=f"{prefix}-RET-NOORDER",
            customer_email=f"guest@{prefix.lower()}.example",
        )
    )
    return made


@pytest.fixture
def seeded(retailer, other_retailer, agent) -> Seeded:
    ours, theirs = _returns_of(retailer, "ACME"), _returns_of(other_retailer, "GLOBEX")
    with_order, theirs_with_order = ours[:3], theirs[:3]
    return Seeded(
        retailer_id=retailer.pk,
        other_retailer_id=other_retailer.pk,
        token=Token.objects.create(user=agent).key,
        order_ids=[r.order_id for r in with_order],
        order_refs=[r.order.ref for r in with_order],
        skus_by_order={
            str(r.order_id): [line.sku for line in r.order.lines.all()] for r in with_order
        },
        return_ids=[r.pk for r in ours],
        return_refs=[r.return_ref for r in ours],
        other_order_ids=[r.order_id for r in theirs_with_order],
        other_return_ids=[r.pk for r in theirs],
        other_secrets=[
            *(r.return_ref for r in theirs),
            *(r.order.ref for r in theirs_with_order),
            *(r.customer_email for r in theirs),
            *(r.customer_last_name for r in theirs_with_order),
            "GLOBEX-LOC",
            "GLOBEX-RF-0001",
        ],
    )


@pytest.fixture
def in_process_app():
    """Keep the WSGI handler's requests on the test's connection and transaction.

    A request ends by closing the database connection; Django's test client prevents that, and
    so does this, so that every example sees the seeded rows and all is rolled back with the
    test.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# The schema as the application serves it. Serving it reads no table, so it is loaded when the
# module is collected, and each operation becomes a test of its own.
schema = schemathesis.openapi.from_wsgi(reverse("returns_api:schema"), WSGIHandler())

# The running test's records, for the hooks below; empty between tests.
current: dict[str, Seeded] = {}


def _without_none(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not None}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    seeded = current.get("seeded")
    if seeded is None or not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    if "returnId" in path_parameters:
        name, ours, theirs = "returnId", seeded.return_ids, seeded.other_return_ids
    else:
        name, ours, theirs = "orderId", seeded.order_ids, seeded.other_order_ids
    # the user's own records twice as often as the other retailer's
    values = [path_parameters.get(name), *map(str, ours * 2 + theirs)]
    return st.sampled_from(values).map(lambda value: {**path_parameters, name: value})


@schema.hook
def flatmap_query(context, query):
    seeded = current.get("seeded")
    if seeded is None or not isinstance(query, dict):
        return st.just(query)
    retailers = st.sampled_from(
        [str(seeded.retailer_id)] * 2 + [query.get("retailerId"), str(seeded.other_retailer_id)]
    )
    searches = st.sampled_from(
        [
            query.get("query"),
            seeded.order_refs[0],
            seeded.return_refs[0],
            str(seeded.return_ids[0]),
            *seeded.other_secrets[:2],
            str(seeded.other_return_ids[0]),
        ]
    )
    return st.tuples(retailers, searches).map(
        lambda chosen: _without_none({**query, "retailerId": chosen[0], "query": chosen[1]})
    )


@schema.hook
def flatmap_body(context, body):
    seeded = current.get("seeded")
    if seeded is None or not isinstance(body, dict):
        return st.just(body)
    # the user's own retailer and orders most often: only there can a return be created
    retailers = st.sampled_from(
        [str(seeded.retailer_id)] * 2 + [body.get("retailerId"), str(seeded.other_retailer_id)]
    )
    orders = st.sampled_from(
        [*map(str, seeded.order_ids[:2]), body.get("orderId"), str(seeded.other_order_ids[0])]
    )
    plausible = st.sampled_from([True, True, False])
    return st.tuples(retailers, orders, plausible).map(
        lambda chosen: _return_request(body, seeded, *chosen)
    )


def _return_request(body: dict, seeded: Seeded, retailer_id, order_id, plausible: bool) -> dict:
    """The generated returnRequest for the retailer and order chosen; a plausible one names
    that order's SKUs, one unit each, so that the fuzz creates returns and does not stop at the
    first rule."""
    body = _without_none({**body, "retailerId": retailer_id, "orderId": order_id})
    skus = seeded.skus_by_order.get(str(order_id))
    if plausible and skus and isinstance(body.get("items"), list):
        body.pop("orderRef", None)
        body["items"] = [
            {**item, "skuRef": sku, "returnQty": 1}
            for item, sku in zip(body["items"], skus, strict=False)
            if isinstance(item, dict)
        ]
    return body


def _aim_at_seeded_records(case, seeded: Seeded) -> None:
    """A retailer id or order id of digits that is no seeded record's becomes the user's
    retailer, or no order: the cases derived from the schema's bounds (made before any record
    exists) then reach the rules they test rather than a 403 or an unknown order."""
    retailers = {str(seeded.retailer_id), str(seeded.other_retailer_id)}
    orders = {str(pk) for pk in seeded.order_ids + seeded.other_order_ids}
    for values in (case.query, case.body):
        if not isinstance(values, dict):
            continue
        retailer_id = values.get("retailerId")
        if isinstance(retailer_id, str) and retailer_id.isdigit() and retailer_id not in retailers:
            values["retailerId"] = str(seeded.retailer_id)
    if isinstance(case.body, dict):
        order_id = case.body.get("orderId")
        if isinstance(order_id, str) and order_id.isdigit() and order_id not in orders:
            del case.body["orderId"]


@pytest.fixture
def fuzzed(seeded, in_process_app):
    current["seeded"] = seeded
    yield seeded
    current.clear()
    for operation in sorted({label for label, _ in seeded.answers}):
        answers = {code: n for (label, code), n in seeded.answers.items() if label == operation}
        print(f"{operation}: {sum(answers.values())} calls, {dict(sorted(answers.items()))}")
    reached = {label for (label, code) in seeded.answers if code == 200}
    assert reached == {label for label, _ in seeded.answers}, "some operation never answered 200"


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_answers_as_documented_and_only_with_the_users_data(case, fuzzed):
    # given an agent of one retailer with a bearer token, and two retailers' records
    seeded = fuzzed
    _aim_at_seeded_records(case, seeded)

    # when the generated request is sent
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {seeded.token}"}, checks=CHECKS
    )

    # then it was no server error, and documented (the checks above); and nothing in the answer
    # belongs to the other retailer, unless the request itself sent it
    seeded.answers[(case.operation.label, response.status_code)] += 1
    sent = " ".join(str(part) for part in (case.path_parameters, case.query, case.body))
    leaked = [
        secret for secret in seeded.other_secrets if secret in response.text and secret not in sent
    ]
    assert not leaked, f"{case.operation.label} answered with the other retailer's {leaked}"


# What the fuzz found, kept as plain cases.


@pytest.fixture
def api(seeded):
    return Client(headers={"Authorization": f"Bearer {seeded.token}"})


def test_a_return_with_its_optional_fields_empty_reads_back_as_the_schema_says(
    seeded, in_process_app
):
    # given a return without an order, fulfilment choice, customer names or mobile
    ret = Return.objects.get(return_ref="ACME-RET-NOORDER")
    operation = schema["/api/v4.1/return/{returnId}"]["GET"]

    # when it is read; then its nulls are what the schema documents (once: "null is not of
    # type string" for orderId, customer.mobile, fulfilmentChoice and more)
    case = operation.Case(path_parameters={"returnId": str(ret.pk)})
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {seeded.token}"}, checks=CHECKS
    )
    assert response.json()["orderId"] is None
    assert response.json()["fulfilmentChoice"] is None


@pytest.mark.parametrize(
    "path", ["/api/v4.1/return/content", "/api/v4.1/order/content/return", "/api/v4.1/return/²"]
)
def test_an_id_that_is_not_a_number_is_a_404_in_the_apis_shape(api, path):
    # once an HTML page: the URL took only digits, and the schema promised any string
    response = api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"][0]["code"] == "404"


EXAMPLE = {
    "type": "CANNOT_FULFIL",
    "customer": {"email": "jane@example.com"},
    "items": [{"skuRef": "SKU-1"}],
}


def _post(api, seeded, changes: dict, **item_changes):
    body = copy.deepcopy(EXAMPLE) | {"retailerId": str(seeded.retailer_id)} | changes
    body["items"] = [body["items"][0] | item_changes]
    return api.post("/api/v4.1/return", body, content_type="application/json")


@pytest.mark.parametrize(
    "changes,item_changes,message",
    [
        ({"retailerId": "²"}, {}, "retailerId must be a retailer's id"),
        ({"orderId": "²"}, {}, "orderId must be an order's id"),
        ({"orderRef": "A\x00B"}, {}, "orderRef must not contain NUL characters"),
        ({"returnRef": "R" * 101}, {}, "returnRef must be at most 100 characters"),
        ({"customer": {"email": "a" * 250 + "@b.cc"}}, {}, "customer.email must be at most 254"),
        (
            {"customer": {"email": "jane@example.com", "firstName": "J\x00"}},
            {},
            "customer.firstName must not contain NUL characters",
        ),
        ({}, {"skuRef": "S" * 101}, "items[0].skuRef must be at most 100 characters"),
        ({}, {"returnReason": "\x00"}, "items[0].returnReason must not contain NUL"),
        ({}, {"returnQty": 10**30}, "items[0].returnQty must be at most 2147483647"),
        ({}, {"skuPrice": 1e300}, "items[0].skuPrice must be less than 10000000000"),
        ({}, {"skuTaxPrice": "NaN"}, "items[0].skuTaxPrice must be a number"),
        (
            {},
            {"skuPrice": 9999999999, "returnQty": 2},
            "The total must be less than 10000000000",
        ),
        (
            {"fulfilmentChoice": {"fulfilmentPrice": "1e23"}},
            {},
            "fulfilmentChoice.fulfilmentPrice must be less than 10000000000",
        ),
        (
            {"fulfilmentChoice": {"preferredLocationRef": {"ref": "DC1"}}},
            {},
            "fulfilmentChoice.preferredLocationRef must be a string",
        ),
        (
            {"fulfilmentChoice": {"address": {"city": {"name": "Utrecht"}}}},
            {},
            "fulfilmentChoice.address.city must be a string",
        ),
        ({"fulfilmentChoice": {"currency": "ßßß"}}, {}, "must be a 3-letter ISO code"),
    ],
)
def test_a_return_request_beyond_what_is_stored_is_a_400_and_creates_nothing(
    api, seeded, changes, item_changes, message
):
    # given a request with one value that no column holds (each was a 500, or stored a value
    # that later broke the documented shape)
    before = Return.objects.count()

    # when it is posted
    response = _post(api, seeded, changes, **item_changes)

    # then it is refused with its reason, and nothing is created
    assert response.status_code == 400, response.content
    assert message in response.json()["error"][0]["message"]
    assert Return.objects.count() == before


@pytest.mark.parametrize(
    "customer",
    [
        {"email": "jane@example.com", "firstName": "F" * 100, "lastName": "L" * 100},
        {"email": "j" * 240 + "@example.com"},
    ],
)
def test_a_parcel_from_a_customer_with_the_longest_name_or_email_is_booked(api, seeded, customer):
    # given the longest name or email a return keeps (once a 500: the parcel's "from" is shorter)
    changes = {"customer": customer, "fulfilmentChoice": {"fulfilmentType": "R_RTDC"}}

    # when
    response = _post(api, seeded, changes)

    # then
    assert response.status_code == 200, response.content
    ret = Return.objects.get(pk=response.json()["id"])
    (parcel,) = ret.fulfilments.all()
    assert len(parcel.from_location) == 200


def test_a_customer_id_of_unicode_digits_is_ignored(api, seeded):
    # "²" passed str.isdigit() and then failed int(): a 500
    response = _post(api, seeded, {"customer": {"email": "jane@example.com", "customerId": "²"}})

    assert response.status_code == 200, response.content
    assert Return.objects.get(pk=response.json()["id"]).customer is None


@pytest.mark.parametrize(
    "params,message",
    [
        ({"retailerId": "²"}, "retailerId must be a retailer's id"),
        ({"start": "²"}, "start must be a whole number"),
        ({"count": "¹"}, "count must be a whole number"),
        ({"query": "ACME\x00"}, "must not contain NUL characters"),
    ],
)
def test_a_search_with_unusable_parameters_is_a_400(api, seeded, params, message):
    response = api.get("/api/v4.1/return", {"retailerId": seeded.retailer_id} | params)

    assert response.status_code == 400, response.content
    assert message in response.json()["error"][0]["message"]


def test_a_search_starting_past_any_number_the_database_takes_is_an_empty_page(api, seeded):
    # once a 500: the offset did not fit Postgres's bigint
    response = api.get("/api/v4.1/return", {"retailerId": seeded.retailer_id, "start": "9" * 25})

    assert response.status_code == 200, response.content
    assert response.json()["results"] == []
    assert response.json()["total"] == len(seeded.return_ids)


def test_a_bearer_token_with_a_nul_character_is_a_401(seeded):
    # once a 500: Postgres cannot compare text holding a NUL
    client = Client(headers={"Authorization": "Bearer abc\x00def"})

    response = client.get("/api/v4.1/return", {"retailerId": seeded.retailer_id})

    assert response.status_code == 401
    assert response.json()["error"][0]["code"] == "401"
