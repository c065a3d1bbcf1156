"""JSON Schemas of webhook bodies, version 1: the envelope and each event's `data`.

OpenAPI 3.0 schema objects (`nullable` rather than a null type), named for
`components/schemas` and pointing at each other with `#/components/schemas/<name>`:
`SCHEMAS` holds them all, `EVENT_DATA` names the data schema of each event and `EVENT_BODY`
the whole body's. `as_json_schema()` turns them into plain JSON Schema for a validator.

Money is a decimal string with two places ("24.95"), next to its ISO 4217 currency; times are
ISO 8601 in UTC ("2026-12-05T10:00:00.123456Z"); codes (states, statuses) are stable, labels
are the words the retailer's staff see and may change.
"""

from __future__ import annotations

import copy
from typing import Any

from oms.webhooks.registry import EVENTS

PREFIX = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    return {"$ref": PREFIX + name}


def _object(properties: dict[str, Any], *, description: str = "", nullable: bool = False) -> dict:
    schema: dict[str, Any] = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
    }
    if description:
        schema["description"] = description
    if nullable:
        schema["nullable"] = True
    return schema


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "example": "24.95"}
CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$", "example": "EUR"}
TIME = {"type": "string", "format": "date-time", "example": "2026-12-05T10:00:00.123456Z"}
NULLABLE_TIME = {**TIME, "nullable": True}
RECORD = _object({"id": INTEGER, "ref": STRING}, description="A record named by id and ref")

EVENT_NAMES = [name for name, _ in EVENTS]

SCHEMAS: dict[str, dict[str, Any]] = {
    "WebhookEvent": _object(
        {
            "id": {
                "type": "string",
                "format": "uuid",
                "description": "The event's id: the same on every attempt and every resend "
                "(also in the OMS-Webhook-Id header). Handle an id once.",
            },
            "type": {"type": "string", "enum": EVENT_NAMES},
            "version": {"type": "integer", "enum": [1]},
            "created_at": {**TIME, "description": "When the change happened"},
            "retailer": {**STRING, "description": "The retailer's ref"},
            "sequence": {
                "type": "integer",
                "description": "Increases in the order changes happened (not contiguous): "
                "events about one record arrive in increasing order.",
            },
            "data": {"type": "object", "description": "The event's data: see its schema"},
        },
        description="The body of every webhook POST",
    ),
    "WebhookRecord": RECORD,
    "WebhookOrderStatus": _object(
        {
            "code": STRING,
            "label": STRING,
            "state": {
                "type": "string",
                "enum": ["NEW", "PROCESSING", "COMPLETED", "CANCELLED", "FRAUD", "SUSPENDED"],
                "description": "The system state the retailer's status stands for",
            },
        }
    ),
    "WebhookCustomer": _object(
        {
            "id": INTEGER,
            "ref": STRING,
            "email": STRING,
            "first_name": STRING,
            "last_name": STRING,
        },
        nullable=True,
        description="Empty (null) for an order without a customer record",
    ),
    "WebhookOrderLine": _object(
        {
            "id": INTEGER,
            "sku": STRING,
            "name": STRING,
            "quantity": INTEGER,
            "cancelled": {**INTEGER, "description": "Units cancelled"},
            "unit_price": MONEY,
            "discount": MONEY,
            "tax": MONEY,
            "total": MONEY,
            "shipment_status": STRING,
            "tracking_number": STRING,
        }
    ),
    "WebhookOrder": _object(
        {
            "id": INTEGER,
            "ref": STRING,
            "channel": STRING,
            "type": STRING,
            "status": ref("WebhookOrderStatus"),
            "payment_status": {
                "type": "string",
                "enum": [
                    "not_paid",
                    "authorised",
                    "partially_paid",
                    "paid",
                    "partially_refunded",
                    "refunded",
                ],
            },
            "currency": CURRENCY,
            "subtotal": MONEY,
            "discount": MONEY,
            "shipping": MONEY,
            "tax": MONEY,
            "total": MONEY,
            "placed_at": TIME,
            "customer": ref("WebhookCustomer"),
            "lines": {"type": "array", "items": ref("WebhookOrderLine")},
        },
        description="The order as it was at the moment of the event",
    ),
    "WebhookShipment": _object(
        {
            "id": INTEGER,
            "carrier": STRING,
            "service": STRING,
            "tracking_number": STRING,
            "shipped_at": NULLABLE_TIME,
            "estimated_delivery": {"type": "string", "format": "date", "nullable": True},
        }
    ),
    "WebhookPayment": _object(
        {
            "id": {**INTEGER, "description": "The payment operation's id"},
            "payment_id": INTEGER,
            "kind": {"type": "string", "enum": ["capture", "refund", "manual_refund"]},
            "by_hand": {**BOOLEAN, "description": "Refunded outside the gateway"},
            "amount": MONEY,
            "currency": CURRENCY,
            "method": STRING,
            "method_label": STRING,
            "provider": STRING,
            "reference": {**STRING, "description": "The gateway's reference"},
            "return_id": {**INTEGER, "nullable": True},
            "completed_at": NULLABLE_TIME,
        },
        description="The money movement (a capture or a refund)",
    ),
    "WebhookReturnItem": _object(
        {
            "id": INTEGER,
            "sku": STRING,
            "quantity": INTEGER,
            "amount": MONEY,
            "reason": STRING,
            "condition": STRING,
            "order_line_id": {**INTEGER, "nullable": True},
        }
    ),
    "WebhookReturn": _object(
        {
            "id": INTEGER,
            "ref": STRING,
            "type": {
                "type": "string",
                "enum": ["CUSTOMER_RETURN", "CANNOT_FULFIL", "CANCELLATION"],
            },
            "status": {
                "type": "string",
                "enum": ["CREATED", "BOOKED", "LODGED", "PENDING_REFUND", "COMPLETE"],
            },
            "status_label": STRING,
            "currency": STRING,
            "total": MONEY,
            "order": {**RECORD, "nullable": True},
            "customer_email": STRING,
            "created_at": TIME,
            "items": {"type": "array", "items": ref("WebhookReturnItem")},
        }
    ),
    "WebhookFulfilmentItem": _object(
        {"order_line_id": INTEGER, "sku": STRING, "requested": INTEGER}
    ),
    "WebhookFulfilment": _object(
        {
            "id": INTEGER,
            "ref": STRING,
            "status": STRING,
            "type": STRING,
            "reason": {**STRING, "description": "Why it could not be sourced"},
            "escalated_at": NULLABLE_TIME,
            "order": ref("WebhookRecord"),
            "items": {"type": "array", "items": ref("WebhookFulfilmentItem")},
        }
    ),
    # each event's data
    "WebhookOrderCreatedData": _object({"order": ref("WebhookOrder")}),
    "WebhookOrderStatusChangedData": _object(
        {
            "order": ref("WebhookOrder"),
            "previous_status": ref("WebhookOrderStatus"),
            "reason": STRING,
        },
        description="Sent for every change of status, cancelling included",
    ),
    "WebhookOrderCancelledData": _object(
        {
            "order": ref("WebhookOrder"),
            "reason": STRING,
            "refund": {**MONEY, "description": "Captured money that is refunded"},
            "release": {**MONEY, "description": "Authorised money that is released"},
            "currency": CURRENCY,
        },
        description="Follows the order.status_changed event of the same cancellation",
    ),
    "WebhookOrderShippedData": _object(
        {"order": ref("WebhookOrder"), "shipment": ref("WebhookShipment")}
    ),
    "WebhookPaymentData": _object(
        {"payment": ref("WebhookPayment"), "order": ref("WebhookRecord")}
    ),
    "WebhookReturnData": _object({"return": ref("WebhookReturn")}),
    "WebhookFulfilmentData": _object({"fulfilment": ref("WebhookFulfilment")}),
}

EVENT_DATA: dict[str, str] = {
    "order.created": "WebhookOrderCreatedData",
    "order.status_changed": "WebhookOrderStatusChangedData",
    "order.cancelled": "WebhookOrderCancelledData",
    "order.shipped": "WebhookOrderShippedData",
    "payment.captured": "WebhookPaymentData",
    "payment.refunded": "WebhookPaymentData",
    "return.created": "WebhookReturnData",
    "return.completed": "WebhookReturnData",
    "fulfilment.escalated": "WebhookFulfilmentData",
}


def _body_name(event: str) -> str:
    words = event.replace(".", "_").split("_")
    return "Webhook" + "".join(word.capitalize() for word in words) + "Event"


# the whole body of each event: the envelope, its type fixed and its data described
EVENT_BODY: dict[str, str] = {event: _body_name(event) for event in EVENT_NAMES}
for _event, _name in EVENT_BODY.items():
    SCHEMAS[_name] = {
        "allOf": [
            ref("WebhookEvent"),
            {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": [_event]},
                    "data": ref(EVENT_DATA[_event]),
                },
            },
        ]
    }


def _plain(node: Any, strict: bool) -> Any:
    if isinstance(node, list):
        return [_plain(each, strict) for each in node]
    if not isinstance(node, dict):
        return node
    plain = {key: _plain(value, strict) for key, value in node.items() if key != "nullable"}
    if strict and "required" in node and "properties" in node:
        plain["additionalProperties"] = False
    if node.get("nullable"):
        if "type" in plain:
            plain["type"] = [plain["type"], "null"]
            if "enum" in plain:
                plain["enum"] = [*plain["enum"], None]
        else:
            plain = {"anyOf": [plain, {"type": "null"}]}
    return plain


def as_json_schema(name: str, *, strict: bool = False) -> dict[str, Any]:
    """The schema `name` as plain JSON Schema (nullable as a null type), with every schema it
    points at under `components/schemas`, ready for a validator. `strict` refuses properties an
    object's schema does not name (the tests hold the payloads to the published shapes)."""
    return {
        "$ref": PREFIX + name,
        "components": {"schemas": _plain(copy.deepcopy(SCHEMAS), strict)},
    }
