"""The Return object of the Returns API v4.1, field for field as the API's documentation shows it."""

from __future__ import annotations

from decimal import Decimal

from returns.models import Return


def timestamp(value) -> str:
    """2016-07-20T00:40:34.845+0000"""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def customer(ret: Return) -> dict:
    return {
        "customerId": str(ret.customer_id) if ret.customer_id else None,
        "customerRef": ret.customer_ref or None,
        "firstName": ret.customer_first_name or None,
        "lastName": ret.customer_last_name or None,
        "email": ret.customer_email,
        "mobile": ret.customer_mobile or None,
    }


def item(row) -> dict:
    return {
        "skuId": row.sku_id or None,
        "skuRef": row.sku_ref,
        "skuPrice": number(row.sku_price),
        "skuTaxPrice": number(row.sku_tax_price),
        "taxType": row.tax_type or None,
        "currency": row.currency or None,
        "returnQty": row.quantity,
        # codes, whatever made the return: the retailer's code when it knows the reason
        "returnReason": (row.reason.code if row.reason_id else row.reason_text) or None,
        "returnCondition": (row.condition.code if row.condition_id else row.condition_text) or None,
    }


ADDRESS_FIELDS = [
    "locationRef",
    "companyName",
    "name",
    "street",
    "city",
    "postcode",
    "state",
    "country",
]


def fulfilment_choice(ret: Return) -> dict | None:
    choice = ret.fulfilment_choice
    if not choice:
        return None
    address = choice.get("address")
    return {
        "fulfilmentType": choice.get("fulfilmentType"),
        "preferredLocationRef": choice.get("preferredLocationRef"),
        "fulfilmentPrice": choice.get("fulfilmentPrice"),
        "fulfilmentTaxPrice": choice.get("fulfilmentTaxPrice"),
        "currency": choice.get("currency"),
        "address": None if address is None else {key: address.get(key) for key in ADDRESS_FIELDS},
    }


def fulfilment(row) -> dict:
    return {
        "fulfilmentId": str(row.pk),
        "fulfilmentRef": row.ref or None,
        "status": row.status,
        "fulfilmentType": row.type,
    }


def return_object(ret: Return) -> dict:
    """GET /api/v4.1/return/{returnId}"""
    return {
        "orderRef": ret.order.ref if ret.order_id else None,
        "orderId": str(ret.order_id) if ret.order_id else None,
        "returnRef": ret.return_ref,
        "retailerId": str(ret.retailer_id),
        "type": ret.type,
        "status": ret.status,
        "customer": customer(ret),
        "items": [item(row) for row in ret.items.all()],
        "fulfilmentChoice": fulfilment_choice(ret),
        "fulfilments": [fulfilment(row) for row in ret.fulfilments.all()],
        "customAttributes": ret.attributes,
        "totalReturnPrice": number(ret.total_return_price),
        "createdOn": timestamp(ret.created_at),
        "updatedOn": timestamp(ret.updated_at),
    }


def order_return(ret: Return) -> dict:
    """One of the returns of GET /api/v4.1/order/{orderId}/return"""
    body = return_object(ret)
    for key in ("orderRef", "orderId", "retailerId"):
        body.pop(key)
    return {"returnId": str(ret.pk), **body}


def search_result(ret: Return) -> dict:
    """One of the results of GET /api/v4.1/return"""
    return {
        "orderId": str(ret.order_id) if ret.order_id else None,
        "orderRef": ret.order.ref if ret.order_id else None,
        "customerId": str(ret.customer_id) if ret.customer_id else None,
        "customerFirstName": ret.customer_first_name or None,
        "customerLastName": ret.customer_last_name or None,
        "totalReturnPrice": number(ret.total_return_price),
        "currency": ret.currency or None,
        "createdOn": timestamp(ret.created_at),
        "type": ret.type,
        "status": ret.status,
        "preferredLocationRef": ret.preferred_location_ref,
        "returnId": str(ret.pk),
        "returnRef": ret.return_ref,
    }
