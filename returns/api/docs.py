"""The OpenAPI description of the Returns API v4.1, and a page that presents it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import TemplateView

from returns.models import (
    FulfilmentType,
    Return,
    ReturnFulfilment,
    ReturnItem,
    ReturnStatus,
    ReturnType,
    TaxType,
)

S = {"type": "string"}
# optional fields are null when not set, as in the documentation's examples
NS = {"type": "string", "nullable": True}
N = {"type": "number", "nullable": True}


def _enum(values, *, nullable: bool = False):
    if nullable:
        return {"type": "string", "enum": [*values, None], "nullable": True}
    return {"type": "string", "enum": list(values)}


ADDRESS = {
    "type": "object",
    "nullable": True,
    "properties": dict.fromkeys(
        ("locationRef", "companyName", "name", "street", "city", "postcode", "state", "country"), NS
    ),
}
CUSTOMER = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "customerId": NS,
        "customerRef": NS,
        "email": S,
        "firstName": NS,
        "lastName": NS,
        "mobile": NS,
    },
}
ITEM = {
    "type": "object",
    "required": ["skuRef"],
    "properties": {
        "skuId": NS,
        "skuRef": S,
        "skuPrice": N,
        "skuTaxPrice": N,
        "taxType": _enum(TaxType.values, nullable=True),
        "currency": NS,
        "returnQty": {"type": "integer", "description": "Only 1 for CUSTOMER_RETURN."},
        "returnReason": NS,
        "returnCondition": NS,
    },
}
FULFILMENT_CHOICE = {
    "type": "object",
    "nullable": True,
    "properties": {
        "preferredLocationRef": NS,
        "fulfilmentType": _enum(FulfilmentType.values, nullable=True),
        "fulfilmentPrice": N,
        "fulfilmentTaxPrice": N,
        "currency": NS,
        "address": ADDRESS,
    },
}
FULFILMENT = {
    "type": "object",
    "properties": {
        "fulfilmentId": S,
        "fulfilmentRef": NS,
        "fulfilmentType": _enum(FulfilmentType.values),
        "status": _enum(ReturnFulfilment.Status.values),
    },
}
RETURN_FIELDS = {
    "orderRef": NS,
    "orderId": NS,
    "returnRef": S,
    "retailerId": S,
    "type": _enum(ReturnType.values),
    "status": _enum(ReturnStatus.values),
    "customer": CUSTOMER,
    "items": {"type": "array", "items": ITEM},
    "fulfilmentChoice": FULFILMENT_CHOICE,
    "fulfilments": {"type": "array", "items": FULFILMENT},
}


# A request's fields are held to what the database keeps: the columns' lengths and ranges.
def _longest(schema: dict, model, field: str) -> dict:
    return {**schema, "maxLength": model._meta.get_field(field).max_length}


def _with(schema: dict, **properties) -> dict:
    return {**schema, "properties": {**schema["properties"], **properties}}


ID = {"type": "string", "pattern": "^[0-9]+$"}
AMOUNT = {**N, "minimum": 0, "maximum": 9999999999.99}
RETURN_REQUEST = {
    "type": "object",
    "required": ["customer", "items", "retailerId", "type"],
    "properties": {
        **RETURN_FIELDS,
        "orderId": {**ID, "nullable": True},
        "returnRef": _longest(NS, Return, "return_ref"),
        "retailerId": ID,
        "status": _enum([ReturnStatus.CREATED, ReturnStatus.BOOKED], nullable=True),
        "customer": _with(
            CUSTOMER,
            email={**_longest(S, Return, "customer_email"), "pattern": "@"},
            firstName=_longest(NS, Return, "customer_first_name"),
            lastName=_longest(NS, Return, "customer_last_name"),
            mobile=_longest(NS, Return, "customer_mobile"),
            customerRef=_longest(NS, Return, "customer_ref"),
        ),
        "items": {
            "type": "array",
            "minItems": 1,
            "items": _with(
                ITEM,
                skuId=_longest(NS, ReturnItem, "sku_id"),
                skuRef={**_longest(S, ReturnItem, "sku_ref"), "pattern": "\\S"},
                skuPrice=AMOUNT,
                skuTaxPrice=AMOUNT,
                returnQty={**ITEM["properties"]["returnQty"], "minimum": 1, "maximum": 2**31 - 1},
                returnReason=_longest(NS, ReturnItem, "reason_text"),
                returnCondition=_longest(NS, ReturnItem, "condition_text"),
            ),
        },
        "fulfilmentChoice": _with(
            FULFILMENT_CHOICE,
            preferredLocationRef=_longest(NS, ReturnFulfilment, "to_location"),
            fulfilmentPrice=AMOUNT,
            fulfilmentTaxPrice=AMOUNT,
        ),
        "fulfilments": {
            "type": "array",
            "items": _with(FULFILMENT, fulfilmentRef=_longest(NS, ReturnFulfilment, "ref")),
        },
    },
}
RETURN_RESPONSE = {
    "type": "object",
    "properties": {**RETURN_FIELDS, "totalReturnPrice": N, "createdOn": S, "updatedOn": S},
}
ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "array",
            "items": {"type": "object", "properties": {"code": S, "message": S}},
        }
    },
}
SEARCH_RESULT = {
    "type": "object",
    "properties": dict.fromkeys(("createdOn", "type", "status", "returnId", "returnRef"), S)
    | dict.fromkeys(
        (
            "orderId",
            "orderRef",
            "customerId",
            "customerFirstName",
            "customerLastName",
            "currency",
            "preferredLocationRef",
        ),
        NS,
    )
    | {"totalReturnPrice": N},
}


def _errors(*codes):
    return {
        str(code): {"description": text, "content": {"application/json": {"schema": ERROR}}}
        for code, text in codes
    }


FAILURES = [(400, "Bad Request"), (401, "Unauthorised"), (403, "Forbidden"), (404, "Not Found")]

SCHEMA = {
    "openapi": "3.0.3",
    "info": {
        "title": "Returns API",
        "version": "4.1",
        "description": "Create and look up returns. Send `Authorization: Bearer <token>`; "
        "`python manage.py api_token <username>` prints a user's token.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "returnRequest": RETURN_REQUEST,
            "returnResponse": RETURN_RESPONSE,
            "error": ERROR,
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/v4.1/return": {
            "post": {
                "summary": "Create a return",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": RETURN_REQUEST}},
                },
                "responses": {
                    "200": {
                        "description": "The new return's id",
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"id": S}}
                            }
                        },
                    },
                    **_errors(*FAILURES),
                },
            },
            "get": {
                "summary": "Search returns of a retailer, newest first",
                "parameters": [
                    {"name": "retailerId", "in": "query", "required": True, "schema": ID},
                    {
                        "name": "start",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "default": 1},
                    },
                    {
                        "name": "count",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "default": 10},
                    },
                    {"name": "sort", "in": "query", "schema": _enum(["createdOn DESC"])},
                    {
                        "name": "query",
                        "in": "query",
                        "schema": S,
                        "description": "Return id, customer name or order ref",
                    },
                    {
                        "name": "type",
                        "in": "query",
                        "schema": {"type": "array", "items": _enum(ReturnType.values)},
                        "explode": True,
                    },
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "array", "items": _enum(ReturnStatus.values)},
                        "explode": True,
                    },
                ],
                "responses": {
                    "200": {
                        "description": "A page of results",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "start": {"type": "integer"},
                                        "count": {"type": "integer"},
                                        "total": {"type": "integer"},
                                        "retailerId": S,
                                        "results": {"type": "array", "items": SEARCH_RESULT},
                                        "query": NS,
                                        "sort": S,
                                        "status": {"type": "array", "items": S},
                                        "type": {"type": "array", "items": S},
                                    },
                                }
                            }
                        },
                    },
                    **_errors(*FAILURES),
                },
            },
        },
        "/api/v4.1/return/{returnId}": {
            "get": {
                "summary": "Get a return by its id",
                "parameters": [{"name": "returnId", "in": "path", "required": True, "schema": S}],
                "responses": {
                    "200": {
                        "description": "The return",
                        "content": {"application/json": {"schema": RETURN_RESPONSE}},
                    },
                    **_errors(*FAILURES[1:]),
                },
            }
        },
        "/api/v4.1/order/{orderId}/return": {
            "get": {
                "summary": "Get the returns of an order",
                "parameters": [{"name": "orderId", "in": "path", "required": True, "schema": S}],
                "responses": {
                    "200": {
                        "description": "The order's returns",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "orderId": S,
                                        "orderRef": S,
                                        "retailerId": S,
                                        "returns": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "properties": {
                                                    "returnId": S,
                                                    **RETURN_RESPONSE["properties"],
                                                },
                                            },
                                        },
                                    },
                                }
                            }
                        },
                    },
                    **_errors(*FAILURES[1:]),
                },
            }
        },
    },
}


@method_decorator(login_not_required, name="dispatch")
class SchemaView(View):
    def get(self, request):
        return JsonResponse(SCHEMA)


@method_decorator(login_not_required, name="dispatch")
class DocsView(TemplateView):
    template_name = "returns/api_docs.html"

    def get_context_data(self, **kwargs):
        operations = [
            {
                "method": method.upper(),
                "path": path,
                "summary": operation["summary"],
                "parameters": operation.get("parameters", []),
                "has_body": "requestBody" in operation,
                "responses": [
                    (code, r["description"]) for code, r in operation["responses"].items()
                ],
            }
            for path, methods in SCHEMA["paths"].items()
            for method, operation in methods.items()
        ]
        fields = [(name, field.get("enum", [])) for name, field in RETURN_FIELDS.items()]
        return super().get_context_data(
            schema=SCHEMA,
            operations=operations,
            request_fields=fields,
            required=RETURN_REQUEST["required"],
            **kwargs,
        )
