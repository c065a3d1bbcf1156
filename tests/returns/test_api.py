"""The Returns API v4.1 against the examples of its documentation."""

import copy
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token

from returns.models import Return, ReturnStatus
from tests.factories import (
    CustomerFactory,
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    ReturnFactory,
    ship,
)

pytestmark = pytest.mark.django_db

# The documentation's example returnRequest; ids and refs are filled in per test.
EXAMPLE_REQUEST = {
    "orderRef": "201607191462",
    "orderId": "427331",
    "type": "CUSTOMER_RETURN",
    "retailerId": 433,
    "customer": {
        "customerId": 903674,
        "customerRef": "38189566",
        "firstName": "swathi",
        "lastName": None,
        "mobile": None,
        "email": "eorxy@parcelpoint.com.au",
    },
    "items": [
        {
            "skuId": "368961",
            "skuRef": "1022096-578-2-3-se",
            "skuPrice": 19.99,
            "skuTaxPrice": None,
            "taxType": None,
            "currency": None,
            "returnQty": 1,
            "returnReason": "Damaged",
            "returnCondition": "0",
        },
        {
            "skuId": "368961",
            "skuRef": "1022096-578-2-3-se",
            "skuPrice": 19.99,
            "skuTaxPrice": None,
            "taxType": None,
            "currency": None,
            "returnQty": 1,
            "returnReason": "Damaged",
            "returnCondition": "0",
        },
    ],
    "fulfilmentChoice": {
        "preferredLocationRef": "SHA080",
        "fulfilmentType": "R_RTDC",
        "address": {"locationRef": "SHA080"},
    },
}


@pytest.fixture
def api(agent):
    token = Token.objects.create(user=agent)
    return Client(headers={"Authorization": f"Bearer {token.key}"})


@pytest.fixture
def order(retailer):
    order = OrderFactory(retailer=retailer, ref="201607191462")
    OrderLineFactory(order=order, sku="1022096-578-2-3-se", quantity=2, unit_price=Decimal("24.19"))
    return ship(order)  # a customer sends back what was shipped


def example(order, **changes):
    body = copy.deepcopy(EXAMPLE_REQUEST)
    body.update(orderId=str(order.pk), retailerId=order.retailer_id)
    body.update(changes)
    return body


def post(api, body):
    return api.post("/api/v4.1/return", body, content_type="application/json")


def error_of(response, code):
    assert response.status_code == code, response.content
    (error,) = response.json()["error"]
    assert error["code"] == str(code)
    return error["message"]


def test_the_documented_example_creates_a_return_and_reads_back_as_documented(api, order):
    response = post(api, example(order))

    assert response.status_code == 200
    return_id = response.json()["id"]
    assert isinstance(return_id, str) and return_id.isdigit()

    body = api.get(f"/api/v4.1/return/{return_id}").json()
    assert set(body) >= {
        "orderRef",
        "orderId",
        "returnRef",
        "retailerId",
        "type",
        "status",
        "customer",
        "items",
        "fulfilmentChoice",
        "fulfilments",
        "createdOn",
    }
    assert body["orderRef"] == "201607191462" and body["orderId"] == str(order.pk)
    assert body["retailerId"] == str(order.retailer_id)
    assert body["type"] == "CUSTOMER_RETURN" and body["status"] == "BOOKED"
    assert len(body["returnRef"]) == 36  # a UUID when none is given
    assert body["customer"] == {
        "customerId": str(order.customer_id),
        "customerRef": "38189566",
        "firstName": "swathi",
        "lastName": None,
        "email": "eorxy@parcelpoint.com.au",
        "mobile": None,
    }
    assert body["items"][0] == {
        "skuId": "368961",
        "skuRef": "1022096-578-2-3-se",
        "skuPrice": 19.99,
        "skuTaxPrice": None,
        "taxType": None,
        "currency": None,
        "returnQty": 1,
        "returnReason": "DAMAGED",  # "Damaged" is the retailer's reason of that code
        "returnCondition": "0",
    }
    assert body["fulfilmentChoice"]["fulfilmentType"] == "R_RTDC"
    assert body["fulfilmentChoice"]["address"]["locationRef"] == "SHA080"
    (fulfilment,) = body["fulfilments"]
    assert fulfilment["status"] == "CREATED" and fulfilment["fulfilmentType"] == "R_RTDC"
    assert isinstance(fulfilment["fulfilmentId"], str)
    assert body["totalReturnPrice"] == 39.98
    assert body["createdOn"].endswith("+0000") and len(body["createdOn"]) == 28


def test_a_return_ref_given_is_kept_and_must_be_unique(api, order):
    body = example(order, returnRef="87f996fe-f915-4e8c-bcde-275c5ca9cb4d")
    body["items"] = body["items"][:1]
    assert post(api, body).status_code == 200
    assert Return.objects.get().return_ref == "87f996fe-f915-4e8c-bcde-275c5ca9cb4d"
    assert "exists already" in error_of(post(api, body), 400)


def test_a_return_without_an_order(api, retailer):
    body = copy.deepcopy(EXAMPLE_REQUEST)
    body.pop("orderId")
    body.pop("orderRef")
    body["retailerId"] = str(retailer.pk)
    response = post(api, body)
    assert response.status_code == 200
    assert api.get(f"/api/v4.1/return/{response.json()['id']}").json()["orderId"] is None


@pytest.mark.parametrize(
    "change,message",
    [
        ({"type": None}, "type is compulsory"),
        ({"type": "EXCHANGE"}, "type must be one of"),
        ({"status": "SHIPPED"}, "status must be one of"),
        ({"customer": None}, "customer is compulsory"),
        ({"customer": {"firstName": "x"}}, "customer.email is compulsory"),
        ({"retailerId": None}, "retailerId is compulsory"),
        ({"items": [{"returnQty": 1}]}, "items[0].skuRef is compulsory"),
        (
            {"items": [{"skuRef": "1022096-578-2-3-se", "returnQty": 2}]},
            "returnQty can only be 1 for CUSTOMER_RETURN",
        ),
        (
            {"items": [{"skuRef": "1022096-578-2-3-se", "taxType": "SALES"}]},
            "taxType must be one of",
        ),
        ({"items": [{"skuRef": "NOT-ON-THE-ORDER"}]}, "is not an item of order"),
        ({"items": [{"skuRef": "1022096-578-2-3-se"}] * 3}, "only 2 of 2 ordered"),
        ({"fulfilmentChoice": {"fulfilmentType": "R_HOME"}}, "fulfilmentType must be one of"),
        ({"orderId": "99999999"}, "is not an order of retailer"),
    ],
)
def test_each_validation_rule_is_a_400_in_the_documented_shape(api, order, change, message):
    body = example(order, **change)
    response = post(api, body)
    assert message in error_of(response, 400)
    assert not Return.objects.exists()


def test_other_return_types_may_return_several_units_per_item(api, order):
    body = example(order, type="CANNOT_FULFIL")
    body["items"] = [{"skuRef": "1022096-578-2-3-se", "returnQty": 2}]
    assert post(api, body).status_code == 200


def test_a_missing_or_wrong_token_is_a_401(order):
    assert error_of(post(Client(), example(order)), 401)
    bad = Client(headers={"Authorization": "Bearer not-a-token"})
    assert error_of(bad.get("/api/v4.1/return", {"retailerId": order.retailer_id}), 401)


def test_a_retailer_the_user_does_not_belong_to_is_a_403(api, other_retailer):
    order = OrderFactory(retailer=other_retailer, lines=1)
    assert "no access" in error_of(post(api, example(order)), 403)
    response = api.get("/api/v4.1/return", {"retailerId": other_retailer.pk})
    assert error_of(response, 403)


def test_another_retailers_return_and_order_are_404s(api, other_retailer):
    theirs = ReturnFactory(retailer=other_retailer)
    assert error_of(api.get(f"/api/v4.1/return/{theirs.pk}"), 404)
    assert error_of(api.get(f"/api/v4.1/order/{theirs.order_id}/return"), 404)
    assert error_of(api.get("/api/v4.1/return/99999999"), 404)


def test_returns_of_an_order(api, retailer):
    order = OrderFactory(retailer=retailer, ref="201607191471", lines=2)
    first = ReturnFactory(retailer=retailer, order=order, type="CANNOT_FULFIL")
    second = ReturnFactory(retailer=retailer, order=order)
    body = api.get(f"/api/v4.1/order/{order.pk}/return").json()
    assert body["orderId"] == str(order.pk) and body["orderRef"] == "201607191471"
    assert body["retailerId"] == str(retailer.pk)
    assert [r["returnId"] for r in body["returns"]] == [str(second.pk), str(first.pk)]
    assert set(body["returns"][0]) >= {
        "returnId",
        "returnRef",
        "type",
        "status",
        "customer",
        "items",
        "fulfilmentChoice",
        "fulfilments",
        "createdOn",
    }
    assert body["returns"][1]["fulfilmentChoice"] is None


@pytest.fixture
def many(retailer):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    made = []
    for n in range(12):
        customer = CustomerFactory(
            retailer=retailer, first_name="Nick" if n % 3 == 0 else "Ann", last_name="Yaw"
        )
        order = OrderFactory(retailer=retailer, ref=f"20160713{n:04d}", customer=customer, lines=1)
        made.append(
            ReturnFactory(
                retailer=retailer,
                order=order,
                type=["CUSTOMER_RETURN", "CANNOT_FULFIL", "CANCELLATION"][n % 3],
                status=["CREATED", "PENDING_REFUND"][n % 2],
                customer_first_name=customer.first_name,
                created_at=now - timedelta(hours=n),
            )
        )
    return made


def test_search_pages_newest_first(api, retailer, many):
    body = api.get("/api/v4.1/return", {"retailerId": retailer.pk, "start": 1, "count": 5}).json()
    assert (body["start"], body["count"], body["total"]) == (1, 5, 12)
    assert body["retailerId"] == str(retailer.pk) and body["sort"] == "createdOn DESC"
    assert [r["returnId"] for r in body["results"]] == [str(r.pk) for r in many[:5]]
    page = api.get("/api/v4.1/return", {"retailerId": retailer.pk, "start": 11, "count": 5})
    assert [r["returnId"] for r in page.json()["results"]] == [str(r.pk) for r in many[10:]]
    result = body["results"][0]
    assert set(result) == {
        "orderId",
        "orderRef",
        "customerId",
        "customerFirstName",
        "customerLastName",
        "totalReturnPrice",
        "currency",
        "createdOn",
        "type",
        "status",
        "preferredLocationRef",
        "returnId",
        "returnRef",
    }


def test_search_filters_by_several_types_and_statuses(api, retailer, many):
    body = api.get(
        "/api/v4.1/return?type=CANNOT_FULFIL&type=CANCELLATION&status=PENDING_REFUND"
        f"&retailerId={retailer.pk}"
    ).json()
    expected = {
        str(r.pk)
        for r in many
        if r.type != "CUSTOMER_RETURN" and r.status == ReturnStatus.PENDING_REFUND
    }
    assert {r["returnId"] for r in body["results"]} == expected
    assert body["type"] == ["CANNOT_FULFIL", "CANCELLATION"]
    assert body["status"] == ["PENDING_REFUND"]
    comma = api.get(
        "/api/v4.1/return", {"retailerId": retailer.pk, "type": "CANNOT_FULFIL,CANCELLATION"}
    ).json()
    assert comma["total"] == 8


@pytest.mark.parametrize("query,index", [("201607130005", 5), ("nick", None), (None, 7)])
def test_search_query_over_order_ref_customer_name_and_return_id(api, retailer, many, query, index):
    query = query if query is not None else str(many[7].pk)
    body = api.get("/api/v4.1/return", {"retailerId": retailer.pk, "query": query}).json()
    found = {r["returnId"] for r in body["results"]}
    if index is None:
        assert found == {str(r.pk) for n, r in enumerate(many) if n % 3 == 0}
    else:
        assert found == {str(many[index].pk)}


@pytest.mark.parametrize(
    "params,message",
    [
        ({}, "retailerId is compulsory"),
        ({"sort": "createdOn ASC"}, "sort supports only"),
        ({"start": "0"}, "start must be"),
        ({"type": "SWAP"}, "type must be among"),
    ],
)
def test_search_refuses_bad_parameters(api, retailer, params, message):
    params = {"retailerId": retailer.pk, **params} if params else params
    assert message in error_of(api.get("/api/v4.1/return", params), 400)


def test_api_token_command_prints_a_token_that_works(agent, retailer, capsys):
    call_command("api_token", "agent")
    token = capsys.readouterr().out.strip()
    client = Client(headers={"Authorization": f"Bearer {token}"})
    assert client.get("/api/v4.1/return", {"retailerId": retailer.pk}).status_code == 200
    call_command("api_token", "agent")
    assert capsys.readouterr().out.strip() == token


def test_the_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/").json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v4.1/return",
        "/api/v4.1/return/{returnId}",
        "/api/v4.1/order/{orderId}/return",
    }
    assert "Returns API v4.1" in client.get("/api/docs/").content.decode()


def test_a_multi_retailer_user_creates_in_the_retailer_named(api, agent, other_retailer):
    MembershipFactory(user=agent, retailer=other_retailer)
    order = OrderFactory(retailer=other_retailer, ref="201607191462")
    OrderLineFactory(order=order, sku="1022096-578-2-3-se", quantity=2)
    ship(order)
    response = post(api, example(order))
    assert response.status_code == 200, response.content
    assert Return.objects.get(pk=response.json()["id"]).retailer == other_retailer


# The field lists of the Returns API v4.1's documentation (seed 002), name -> JSON type.
SEED_CUSTOMER = dict.fromkeys(
    ("customerId", "customerRef", "email", "firstName", "lastName", "mobile"), "string"
)
SEED_ADDRESS = dict.fromkeys(
    ("city", "companyName", "country", "locationRef", "name", "postcode", "state", "street"),
    "string",
)
SEED_CHOICE = {
    "address": "object",
    "currency": "string",
    "fulfilmentPrice": "number",
    "fulfilmentTaxPrice": "number",
    "fulfilmentType": "string",
    "preferredLocationRef": "string",
}
SEED_FULFILMENT = dict.fromkeys(
    ("fulfilmentId", "fulfilmentRef", "fulfilmentType", "status"), "string"
)
SEED_ITEM = {
    "currency": "string",
    "returnCondition": "string",
    "returnQty": "integer",
    "returnReason": "string",
    "skuId": "string",
    "skuPrice": "number",
    "skuRef": "string",
    "skuTaxPrice": "number",
    "taxType": "string",
}
SEED_REQUEST = {
    "customer": "object",
    "fulfilmentChoice": "object",
    "fulfilments": "array",
    "items": "array",
    "orderId": "string",
    "orderRef": "string",
    "retailerId": "string",
    "returnRef": "string",
    "status": "string",
    "type": "string",
    # the return's custom attributes, [{name, type, value}] (issue 18)
    "customAttributes": "array",
}
SEED_RETURN = {
    **SEED_REQUEST,
    "createdOn": "string",
    "updatedOn": "string",
    "totalReturnPrice": "number",
}
SEED_SEARCH_RESULT = {
    **dict.fromkeys(
        (
            "orderId",
            "orderRef",
            "customerId",
            "customerFirstName",
            "customerLastName",
            "currency",
            "createdOn",
            "type",
            "status",
            "preferredLocationRef",
            "returnId",
            "returnRef",
        ),
        "string",
    ),
    "totalReturnPrice": "number",
}
SEED_ENUMS = {
    "type": ["CUSTOMER_RETURN", "CANNOT_FULFIL", "CANCELLATION"],
    "taxType": ["GST", "VAT", "EXCLTAX"],
    "fulfilmentType": ["R_RTDC", "R_RTS"],
    "fulfilmentStatus": ["CREATED", "COMPLETE", "ARRIVED"],
    "status": ["CREATED", "BOOKED", "LODGED", "PENDING_REFUND", "COMPLETE"],
}


def _shape(schema: dict) -> dict:
    return {name: field["type"] for name, field in schema["properties"].items()}


def _enum(field: dict) -> set:
    return {value for value in field["enum"] if value is not None}


def _body(operation: dict, code: str = "200") -> dict:
    return operation["responses"][code]["content"]["application/json"]["schema"]


def test_the_served_schema_is_generated_from_the_serializers(client):
    from returns.api import docs, openapi, serializers

    served = client.get("/api/schema/").json()
    assert served == docs.build_schema()
    request = served["paths"]["/api/v4.1/return"]["post"]["requestBody"]
    assert request["content"]["application/json"]["schema"] == openapi.object_schema(
        serializers.ReturnRequest()
    )
    one = served["paths"]["/api/v4.1/return/{returnId}"]["get"]
    assert _body(one) == openapi.object_schema(serializers.ReturnResponse())


def test_the_schema_matches_the_documentation_field_for_field(client):
    schema = client.get("/api/schema/").json()
    paths = schema["paths"]
    assert {path: set(methods) for path, methods in paths.items()} == {
        "/api/v4.1/return": {"post", "get"},
        "/api/v4.1/return/{returnId}": {"get"},
        "/api/v4.1/order/{orderId}/return": {"get"},
    }

    # the returnRequest: exactly the documented fields, of the documented types
    request = paths["/api/v4.1/return"]["post"]["requestBody"]["content"]["application/json"]
    request = request["schema"]
    parts = request["properties"]
    assert _shape(request) == SEED_REQUEST
    assert _shape(parts["customer"]) == SEED_CUSTOMER
    assert _shape(parts["items"]["items"]) == SEED_ITEM
    assert _shape(parts["fulfilmentChoice"]) == SEED_CHOICE
    assert _shape(parts["fulfilmentChoice"]["properties"]["address"]) == SEED_ADDRESS
    assert _shape(parts["fulfilments"]["items"]) == SEED_FULFILMENT
    # compulsory as documented (and items, without which no return is made)
    assert set(request["required"]) == {"customer", "retailerId", "type", "items"}
    assert parts["customer"]["required"] == ["email"]
    assert parts["items"]["items"]["required"] == ["skuRef"]
    assert _enum(parts["type"]) == set(SEED_ENUMS["type"])
    assert _enum(parts["status"]) == {"CREATED", "BOOKED"}  # a new return; the rest follow
    assert _enum(parts["items"]["items"]["properties"]["taxType"]) == set(SEED_ENUMS["taxType"])
    fulfilment = parts["fulfilments"]["items"]["properties"]
    assert _enum(fulfilment["fulfilmentType"]) == set(SEED_ENUMS["fulfilmentType"])
    assert _enum(fulfilment["status"]) == set(SEED_ENUMS["fulfilmentStatus"])

    # the Return object, as one return and as each of an order's returns
    one = _body(paths["/api/v4.1/return/{returnId}"]["get"])
    assert _shape(one) == SEED_RETURN
    assert _shape(one["properties"]["customer"]) == SEED_CUSTOMER
    assert _shape(one["properties"]["items"]["items"]) == SEED_ITEM
    assert _shape(one["properties"]["fulfilmentChoice"]) == SEED_CHOICE
    assert _shape(one["properties"]["fulfilments"]["items"]) == SEED_FULFILMENT
    assert _enum(one["properties"]["status"]) == set(SEED_ENUMS["status"])
    of_order = _body(paths["/api/v4.1/order/{orderId}/return"]["get"])
    assert _shape(of_order) == {
        "orderId": "string",
        "orderRef": "string",
        "retailerId": "string",
        "returns": "array",
    }
    each = of_order["properties"]["returns"]["items"]
    assert _shape(each) == {"returnId": "string"} | {
        name: kind
        for name, kind in SEED_RETURN.items()
        if name not in ("orderId", "orderRef", "retailerId")
    }

    # search: its parameters and its page of results
    search = paths["/api/v4.1/return"]["get"]
    parameters = {p["name"]: p for p in search["parameters"]}
    assert list(parameters) == ["retailerId", "start", "count", "sort", "query", "type", "status"]
    assert parameters["retailerId"]["required"] is True
    assert [parameters[name]["schema"]["type"] for name in ("start", "count")] == ["integer"] * 2
    assert set(parameters["type"]["schema"]["items"]["enum"]) == set(SEED_ENUMS["type"])
    assert set(parameters["status"]["schema"]["items"]["enum"]) == set(SEED_ENUMS["status"])
    page = _body(search)
    assert {"start", "count", "total", "retailerId", "results"} <= set(page["properties"])
    assert _shape(page["properties"]["results"]["items"]) == SEED_SEARCH_RESULT

    # every failure in the one error shape
    for methods in paths.values():
        for operation in methods.values():
            for code in set(operation["responses"]) - {"200"}:
                error = _body(operation, code)["properties"]["error"]["items"]
                assert _shape(error) == {"code": "string", "message": "string"}


def test_a_request_with_several_faults_is_refused_naming_each_field(api, order):
    body = example(order)
    body["customer"] = {**body["customer"], "email": "eorxy@parcel\r\npoint.com.au"}
    body["items"][1] = {**body["items"][1], "skuPrice": "NaN", "returnQty": "²"}

    message = error_of(post(api, body), 400)

    assert "customer.email must be one line" in message
    assert "items[1].skuPrice must be a number" in message
    assert "items[1].returnQty must be a whole number" in message
    assert not Return.objects.exists()
