"""The OpenAPI description of the Returns API v4.1, and a page that presents it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import TemplateView

from returns.api import openapi
from returns.api.serializers import (
    CreatedResponse,
    ErrorResponse,
    OrderAt,
    OrderReturnsResponse,
    ReturnAt,
    ReturnRequest,
    ReturnResponse,
    ReturnSearch,
    SearchResponse,
)

# The prose of the document is written here; every body and parameter schema is generated from
# the serializers the views read requests with and the ones declaring their answers.

INFO = {
    "title": "Returns API",
    "version": "4.1",
    "description": "Create and look up returns. Send `Authorization: Bearer <token>`; "
    "`python manage.py api_token <username>` prints a user's token.",
}
FAILURES = [(400, "Bad Request"), (401, "Unauthorised"), (403, "Forbidden"), (404, "Not Found")]

# path, method, summary, request body, parameters (query or path), 200's description and body,
# failures
OPERATIONS = [
    (
        "/api/v4.1/return",
        "post",
        "Create a return",
        ReturnRequest,
        None,
        ("The new return's id", CreatedResponse),
        FAILURES,
    ),
    (
        "/api/v4.1/return",
        "get",
        "Search returns of a retailer, newest first",
        None,
        (ReturnSearch, "query"),
        ("A page of results", SearchResponse),
        FAILURES,
    ),
    (
        "/api/v4.1/return/{returnId}",
        "get",
        "Get a return by its id",
        None,
        (ReturnAt, "path"),
        ("The return", ReturnResponse),
        FAILURES[1:],
    ),
    (
        "/api/v4.1/order/{orderId}/return",
        "get",
        "Get the returns of an order",
        None,
        (OrderAt, "path"),
        ("The order's returns", OrderReturnsResponse),
        FAILURES[1:],
    ),
]


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def build_schema() -> dict:
    """The OpenAPI document of the Returns API v4.1, from the API's serializers."""
    request = openapi.object_schema(ReturnRequest())
    error = openapi.object_schema(ErrorResponse())
    paths: dict = {}
    for path, method, summary, body, parameters, (said, answer), failures in OPERATIONS:
        operation: dict = {"summary": summary}
        if parameters is not None:
            serializer, where = parameters
            operation["parameters"] = openapi.parameters(serializer(), where)
        if body is not None:
            operation["requestBody"] = {"required": True, "content": _json(request)}
        operation["responses"] = {
            "200": {"description": said, "content": _json(openapi.object_schema(answer()))},
            **{
                str(code): {"description": text, "content": _json(error)} for code, text in failures
            },
        }
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.0.3",
        "info": INFO,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "returnRequest": request,
                "returnResponse": openapi.object_schema(ReturnResponse()),
                "error": error,
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


SCHEMA = build_schema()
RETURN_REQUEST = SCHEMA["components"]["schemas"]["returnRequest"]


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
        fields = [
            (name, [value for value in field.get("enum", []) if value is not None])
            for name, field in RETURN_REQUEST["properties"].items()
        ]
        return super().get_context_data(
            schema=SCHEMA,
            operations=operations,
            request_fields=fields,
            required=RETURN_REQUEST["required"],
            **kwargs,
        )
