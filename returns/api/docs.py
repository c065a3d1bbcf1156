"""The OpenAPI description of the Returns API v4.1, and a page that presents it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import TemplateView

from returns.models import FulfilmentType, ReturnFulfilment, ReturnStatus, ReturnType, TaxType

S = {"type": "string"}
N = {"type": "number", "nullable": True}


def _enum(values):
    return {"type": "string", "enum": list(values)}


ADDRESS = {
    "type": "object",
    "properties": dict.fromkeys(
        ("locationRef", "companyName", "name", "street", "city", "postcode", "state", "country"), S
    ),
}
CUSTOMER = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "customerId": S,
        "customerRef": S,
        "email": S,
        "firstName": S,
        "lastName": S,
        "mobile": S,
    },
}
ITEM = {
    "type": "object",
    "required": ["skuRef"],
    "properties": {
        "skuId": S,
        "skuRef": S,
        "skuPrice": N,
        "skuTaxPrice": N,
        "taxType": _enum(TaxType.values),
        "currency": S,
        "returnQty": {"type": "integer", "description": "Only 1 for CUSTOMER_RETURN."},
        "returnReason": S,
        "returnCondition": S,
    },
}
FULFILMENT_CHOICE = {
    "type": "object",
    "properties": {
        "preferredLocationRef": S,
        "fulfilmentType": _enum(FulfilmentType.values),
        "fulfilmentPrice": N,
        "fulfilmentTaxPrice": N,
        "currency": S,
        "address": ADDRESS,
    },
}
FULFILMENT = {
    "type": "object",
    "properties": {
        "fulfilmentId": S,
        "fulfilmentRef": S,
        "fulfilmentType": _enum(FulfilmentType.values),
        "status": _enum(ReturnFulfilment.Status.values),
    },
}
RETURN_FIELDS = {
    "orderRef": S,
    "orderId": S,
    "returnRef": S,
    "retailerId": S,
    "type": _enum(ReturnType.values),
    "status": _enum(ReturnStatus.values),
    "customer": CUSTOMER,
    "items": {"type": "array", "items": ITEM},
    "fulfilmentChoice": FULFILMENT_CHOICE,
    "fulfilments": {"type": "array", "items": FULFILMENT},
}
RETURN_REQUEST = {
    "type": "object",
    "required": ["customer", "retailerId", "type"],
    "properties": RETURN_FIELDS,
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
    "properties": dict.fromkeys(
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
        S,
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
                    {"name": "retailerId", "in": "query", "required": True, "schema": S},
                    {"name": "start", "in": "query", "schema": {"type": "integer", "default": 1}},
                    {"name": "count", "in": "query", "schema": {"type": "integer", "default": 10}},
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
                                        "query": S,
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
