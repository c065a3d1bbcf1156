"""The Returns API v4.1: create a return, get one, get an order's returns, search."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from rest_framework.response import Response

from oms.api import ApiView, error_response
from oms.roles import Role, has_role
from oms.search import could_be_a_name, name_words, search_key
from oms.tenancy import retailer_ids_for
from orders.models import Order
from returns.api import representation
from returns.api.parsing import (
    BadRequest,
    is_digits,
    parse_return_request,
    retailer_id_of,
    validation_message,
)
from returns.models import Return, ReturnStatus, ReturnType
from returns.services import return_create

SEARCH_SORT = "createdOn DESC"
MAX_COUNT = 100


def _returns(user):
    return (
        Return.objects.for_user(user)
        .select_related("order")
        .prefetch_related("items__reason", "items__condition", "fulfilments")
    )


class ReturnCollectionView(ApiView):
    """POST creates a return; GET searches the returns of a retailer."""

    def post(self, request):
        body = request.data
        try:
            if not isinstance(body, dict):
                raise BadRequest("The body must be a returnRequest object.")
            retailer_id = retailer_id_of(body)
            if not has_role(request.user, retailer_id, Role.AGENT):
                raise PermissionDenied(f"You have no access to retailer {retailer_id}.")
            order = _order_of(body, retailer_id, request.user)
            data = parse_return_request(body, retailer_id=retailer_id, order=order)
            ret = return_create(data=data, by=request.user)
        except BadRequest as error:
            return error_response(400, str(error))
        except ValidationError as error:
            return error_response(400, validation_message(error))
        return Response({"id": str(ret.pk)})

    def get(self, request):
        params = request.query_params
        try:
            if any("\x00" in value for _, values in params.lists() for value in values):
                raise BadRequest("Parameters must not contain NUL characters.")
            retailer_id = retailer_id_of({"retailerId": params.get("retailerId")})
            start = _whole(params.get("start"), "start", default=1, least=1)
            count = _whole(params.get("count"), "count", default=10, least=1)
            sort = params.get("sort") or SEARCH_SORT
            if sort != SEARCH_SORT:
                raise BadRequest(f"sort supports only {SEARCH_SORT!r}.")
            types = _several(params, "type", ReturnType.values)
            statuses = _several(params, "status", ReturnStatus.values)
        except BadRequest as error:
            return error_response(400, str(error))
        if retailer_id not in retailer_ids_for(request.user):
            return error_response(403, f"You have no access to retailer {retailer_id}.")
        found = Return.objects.for_retailers([retailer_id]).select_related("order")
        query = (params.get("query") or "").strip()
        if query:
            match = Q(return_ref_key=search_key(query))
            order_ids = Order.objects.for_retailers([retailer_id]).ids_by_ref(query, exact=True)
            if order_ids:
                match |= Q(order_id__in=order_ids)
            if is_digits(query):
                match |= Q(pk=int(query))
            if could_be_a_name(query):
                match |= name_words(query, "customer_first_name", "customer_last_name")
            found = found.filter(match)
        if types:
            found = found.filter(type__in=types)
        if statuses:
            found = found.filter(status__in=statuses)
        found = found.order_by("-created_at", "-pk")
        count = min(count, MAX_COUNT)
        total = found.count()
        page = found[start - 1 : start - 1 + count] if start <= total else []
        return Response(
            {
                "start": start,
                "count": count,
                "total": total,
                "retailerId": str(retailer_id),
                "results": [representation.search_result(ret) for ret in page],
                "query": query or None,
                "sort": sort,
                "status": statuses,
                "type": types,
            }
        )


class ReturnDetailView(ApiView):
    def get(self, request, return_id: str):
        ret = _returns(request.user).filter(pk=return_id).first() if is_digits(return_id) else None
        if ret is None:
            raise Http404(f"No return {return_id}.")
        return Response(representation.return_object(ret))


class OrderReturnsView(ApiView):
    def get(self, request, order_id: str):
        orders = Order.objects.for_user(request.user)
        order = orders.filter(pk=order_id).first() if is_digits(order_id) else None
        if order is None:
            raise Http404(f"No order {order_id}.")
        returns = _returns(request.user).filter(order=order).order_by("-created_at", "-pk")
        return Response(
            {
                "orderId": str(order.pk),
                "orderRef": order.ref,
                "retailerId": str(order.retailer_id),
                "returns": [representation.order_return(ret) for ret in returns],
            }
        )


def _order_of(body: dict, retailer_id: int, user) -> Order | None:
    order_id = body.get("orderId")
    order_ref = body.get("orderRef")
    if order_id in (None, "") and order_ref in (None, ""):
        return None
    orders = Order.objects.for_user(user).filter(retailer_id=retailer_id)
    if order_id not in (None, ""):
        if not is_digits(str(order_id)):
            raise BadRequest("orderId must be an order's id.")
        order = orders.filter(pk=int(order_id)).first()
        if order is None:
            raise BadRequest(f"orderId {order_id} is not an order of retailer {retailer_id}.")
        if order_ref not in (None, "") and str(order_ref) != order.ref:
            raise BadRequest(f"orderRef {order_ref} is not the ref of order {order_id}.")
        return order
    if "\x00" in str(order_ref):
        raise BadRequest("orderRef must not contain NUL characters.")
    order = orders.filter(ref=str(order_ref)).first()
    if order is None:
        raise BadRequest(f"orderRef {order_ref} is not an order of retailer {retailer_id}.")
    return order


def _whole(value, name: str, *, default: int, least: int) -> int:
    if value in (None, ""):
        return default
    if not is_digits(str(value)) or int(value) < least:
        raise BadRequest(f"{name} must be a whole number of at least {least}.")
    return int(value)


def _several(params, name: str, allowed: list[str]) -> list[str]:
    values = []
    for raw in params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    wrong = [value for value in values if value not in allowed]
    if wrong:
        raise BadRequest(f"{name} must be among {', '.join(allowed)}; not {', '.join(wrong)}.")
    return values
