"""The Returns API v4.1: create a return, get one, get an order's returns, search."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.response import Response

from oms.api import ApiView, error_response
from oms.bounds import parse_int
from oms.roles import Role, has_role
from oms.search import could_be_a_name, name_words, search_key
from oms.tenancy import retailer_ids_for
from orders.models import Order
from returns.api import representation
from returns.api.serializers import (
    SEARCH_SORT,
    ReturnRequest,
    ReturnSearch,
    refusal,
    validation_message,
)
from returns.models import Return
from returns.services import return_create

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
        if not isinstance(body, dict):
            return error_response(400, "The body must be a returnRequest object.")
        # the retailer first: a user learns nothing of a retailer that is not theirs
        try:
            retailer_id = (
                ReturnRequest().fields["retailerId"].run_validation(body.get("retailerId", empty))
            )
        except serializers.ValidationError:
            # every fault of the request is listed, the retailer among them
            request_body = ReturnRequest(data=body, context={"user": None, "retailer_id": None})
            request_body.is_valid()
            return error_response(400, refusal(request_body.errors))
        if not has_role(request.user, retailer_id, Role.AGENT):
            raise PermissionDenied(f"You have no access to retailer {retailer_id}.")
        request_body = ReturnRequest(
            data=body, context={"user": request.user, "retailer_id": retailer_id}
        )
        if not request_body.is_valid():
            return error_response(400, refusal(request_body.errors))
        try:
            ret = return_create(data=request_body.return_input(), by=request.user)
        except ValidationError as error:
            return error_response(400, validation_message(error))
        return Response({"id": str(ret.pk)})

    def get(self, request):
        params = request.query_params
        for name, values in params.lists():
            if any("\x00" in value for value in values):
                return error_response(400, f"{name} must not contain NUL characters.")
        search = ReturnSearch(data=params)
        if not search.is_valid():
            return error_response(400, refusal(search.errors))
        found_by = search.validated_data
        retailer_id, start, count = found_by["retailerId"], found_by["start"], found_by["count"]
        sort = found_by.get("sort") or SEARCH_SORT
        types, statuses = found_by.get("type", []), found_by.get("status", [])
        if retailer_id not in retailer_ids_for(request.user):
            return error_response(403, f"You have no access to retailer {retailer_id}.")
        found = Return.objects.for_retailers([retailer_id]).select_related("order")
        query = found_by.get("query") or ""
        if query:
            match = Q(return_ref_key=search_key(query))
            order_ids = Order.objects.for_retailers([retailer_id]).ids_by_ref(query, exact=True)
            if order_ids:
                match |= Q(order_id__in=order_ids)
            if parse_int(query) is not None:
                match |= Q(pk=parse_int(query))
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
        number = parse_int(return_id)
        ret = _returns(request.user).filter(pk=number).first() if number is not None else None
        if ret is None:
            raise Http404(f"No return {return_id}.")
        return Response(representation.return_object(ret))


class OrderReturnsView(ApiView):
    def get(self, request, order_id: str):
        orders = Order.objects.for_user(request.user)
        number = parse_int(order_id)
        order = orders.filter(pk=number).first() if number is not None else None
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
