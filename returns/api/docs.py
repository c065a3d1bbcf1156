"""The OpenAPI description of the Returns API v4.1, and a page that presents it."""

from __future__ import annotations

import copy

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import TemplateView

from oms.webhooks import schema as webhook_schema
from oms.webhooks import signing
from oms.webhooks.registry import EVENTS
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


# Webhooks: the POSTs this system makes to a retailer's endpoints, under `x-webhooks` (the
# OpenAPI 3.0 extension Redoc reads; 3.1 calls it `webhooks`), their bodies in the components.
WEBHOOK_HEADERS = [
    (
        signing.ID_HEADER,
        {"type": "string", "format": "uuid"},
        "The event's id, as the body's id: the same on every attempt and every redelivery. "
        "Handle each id once.",
    ),
    (signing.EVENT_HEADER, None, "The event's type, as the body's type."),
    (
        signing.TIMESTAMP_HEADER,
        {"type": "integer"},
        "When this attempt was signed, in Unix seconds. Refuse one far from your clock "
        "(five minutes), so that a captured request cannot be replayed.",
    ),
    (
        signing.SIGNATURE_HEADER,
        {"type": "string", "pattern": "^v1=[0-9a-f]{64}"},
        "v1= and the hex HMAC-SHA256 of {timestamp}.{raw body}, keyed with the endpoint's "
        "secret. Compute it over the bytes received and compare in constant time.",
    ),
    ("User-Agent", {"type": "string", "enum": [signing.USER_AGENT]}, "Who sends it."),
]
WEBHOOK_ABOUT = (
    "Sent to every active endpoint of the retailer subscribed to this event (Settings, "
    "Webhooks). The body is the envelope (`id`, `type`, `version`, `created_at`, `retailer`, "
    "`sequence`) with the event's `data`; `version` is 1, the shape described here. Answer "
    f"with a 2xx status within {settings.WEBHOOK_READ_TIMEOUT:g} seconds. Anything else (a "
    "redirect too, which is not followed), or no answer, is a failed attempt: it is tried "
    "again later with a growing wait, and after the last attempt the delivery is marked "
    "failed; an admin can redeliver it from its page. An endpoint gets its events in the "
    "order they happened: later ones wait while an earlier one is retried."
)


def _webhook(event: str, description: str) -> dict:
    """The POST made for one webhook event, as an OpenAPI path item."""
    parameters = [
        {
            "name": name,
            "in": "header",
            "required": True,
            "description": said,
            "schema": kind or {"type": "string", "enum": [event]},
        }
        for name, kind, said in WEBHOOK_HEADERS
    ]
    body = webhook_schema.EVENT_BODY[event]
    return {
        "post": {
            "summary": description,
            "description": WEBHOOK_ABOUT,
            "operationId": f"webhook_{event.replace('.', '_')}",
            "tags": ["Webhooks"],
            "parameters": parameters,
            "requestBody": {
                "required": True,
                "content": _json({"$ref": webhook_schema.PREFIX + body}),
            },
            "responses": {
                "2XX": {"description": "Received: the delivery is done"},
                "default": {"description": "Not received: the delivery is tried again later"},
            },
        }
    }


def webhooks() -> dict:
    """`x-webhooks`: each event's POST, in the order of the catalogue."""
    return {event: _webhook(event, description) for event, description in EVENTS}


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
                **copy.deepcopy(webhook_schema.SCHEMAS),
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "x-webhooks": webhooks(),
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
        hooks = [
            {
                "event": event,
                "summary": item["post"]["summary"],
                "body": webhook_schema.EVENT_BODY[event],
                "data": webhook_schema.EVENT_DATA[event],
                "data_fields": list(
                    SCHEMA["components"]["schemas"][webhook_schema.EVENT_DATA[event]]["properties"]
                ),
            }
            for event, item in SCHEMA["x-webhooks"].items()
        ]
        return super().get_context_data(
            schema=SCHEMA,
            operations=operations,
            webhooks=hooks,
            webhook_headers=WEBHOOK_HEADERS,
            envelope=list(SCHEMA["components"]["schemas"]["WebhookEvent"]["properties"]),
            request_fields=fields,
            required=RETURN_REQUEST["required"],
            **kwargs,
        )
