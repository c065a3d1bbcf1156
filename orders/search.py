"""Orders in the top bar's search: by ref, customer email or name, or tracking number, through
the same filter as the orders list, so "all orders matching" lists what the group found."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import formats

from oms.global_search import Group, Hit, exact_first, group_of
from oms.search import search_key
from orders.filters import OrderFilter
from orders.models import Order, OrderLine, Shipment


def search_orders(request: HttpRequest, text: str, per_group: int) -> Group:
    """Orders matching `text`; a ref, a customer's email or a tracking number typed in full is
    an exact match."""
    key = search_key(text)
    scoped = Order.objects.for_user(request.user).with_list_columns()
    found = OrderFilter({"q": text}, queryset=scoped, request=request).qs
    orders = exact_first(
        scoped.filter(ref_key=key).order_by("-placed_at"),
        found.order_by("-placed_at", "-pk"),
        per_group,
    )
    tracked = set()
    if orders and "@" not in text:
        ids = [order.pk for order in orders]
        tracked = set(
            OrderLine.objects.filter(order_id__in=ids, tracking_key=key).values_list(
                "order_id", flat=True
            )
        ) | set(
            Shipment.objects.filter(order_id__in=ids, tracking_key=key).values_list(
                "order_id", flat=True
            )
        )
    hits = [
        Hit(
            title=order.ref,
            detail=" · ".join(
                part
                for part in (
                    order.customer.full_name if order.customer else "",
                    order.status.label,
                    f"placed {_date(order.placed_at)}",
                )
                if part
            ),
            url=order.get_absolute_url(),
            exact=order.ref_key == key
            or order.pk in tracked
            or (order.customer is not None and order.customer.email_key == key),
        )
        for order in orders
    ]
    return group_of("orders", "Orders", hits, per_group, "orders:order_list", text)


def _date(value) -> str:
    return formats.date_format(value, "j M Y") if value else ""
