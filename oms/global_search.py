"""The top bar's search: orders, returns, customers and fulfilments in one go, grouped by kind.

Each kind is looked up on its own indexes (refs, emails and tracking numbers by their search
keys, names by their words) and capped at a few hits. Within a group exact matches come first
(the ref, email, tracking number or id typed in full), then the most recent. When exactly one
record matches exactly, the search opens it instead of listing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Q
from django.urls import reverse
from django.utils import formats

from oms.search import could_be_a_name, name_words, search_key

PER_GROUP = 5
MAX_LENGTH = 200


@dataclass(frozen=True)
class Hit:
    title: str
    detail: str
    url: str
    exact: bool


@dataclass
class Group:
    kind: str
    label: str
    hits: list[Hit]
    more: bool  # more records match than are shown
    list_url: str  # the kind's list, searching the same text

    @property
    def has_exact(self) -> bool:
        return any(hit.exact for hit in self.hits)


@dataclass
class Results:
    query: str
    groups: list[Group] = field(default_factory=list)

    @property
    def found(self) -> int:
        return sum(len(group.hits) for group in self.groups)

    @property
    def only_exact(self) -> Hit | None:
        """The one record matching exactly, if there is exactly one."""
        exact = [hit for group in self.groups for hit in group.hits if hit.exact]
        return exact[0] if len(exact) == 1 else None


def search_everything(request, text: str, *, per_group: int = PER_GROUP) -> Results:
    text = text.strip()[:MAX_LENGTH]
    results = Results(query=text)
    if not text or "\x00" in text:
        return results
    user = request.user
    groups = [
        _orders(request, text, per_group),
        _returns(user, text, per_group),
        _customers(user, text, per_group),
        _fulfilments(user, text, per_group),
    ]
    found = [group for group in groups if group.hits]
    # a group holding an exact match first; otherwise the order above
    results.groups = sorted(found, key=lambda group: not group.has_exact)
    return results


def _group(kind, label, hits, per_group, list_name, text) -> Group:
    return Group(
        kind,
        label,
        hits[:per_group],
        more=len(hits) > per_group,
        list_url=f"{reverse(list_name)}?{urlencode({'q': text})}",
    )


def _fetch(exact, everything, per_group: int) -> list:
    """Up to per_group + 1 records: those matching exactly first (however old), then the rest
    in the queryset's order. The extra one tells whether there are more."""
    first = list(exact[: per_group + 1])
    rest = everything.exclude(pk__in=[record.pk for record in first])
    return first + list(rest[: per_group + 1 - len(first)])


def _date(value) -> str:
    return formats.date_format(value, "j M Y") if value else ""


def _orders(request, text: str, per_group: int) -> Group:
    from orders.filters import OrderFilter
    from orders.models import Order, OrderLine, Shipment

    key = search_key(text)
    scoped = Order.objects.for_user(request.user).with_list_columns()
    found = OrderFilter({"q": text}, queryset=scoped, request=request).qs
    orders = _fetch(
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
    return _group("orders", "Orders", hits, per_group, "orders:order_list", text)


def _returns(user, text: str, per_group: int) -> Group:
    from returns.models import Return

    key = search_key(text)
    match = Q(return_ref_key__key_prefix=key)
    if text.isdigit() and len(text) < 19:
        match |= Q(pk=int(text))
    scoped = Return.objects.for_user(user).select_related("order")
    exact = Q(return_ref_key=key)
    if text.isdigit() and len(text) < 19:
        exact |= Q(pk=int(text))
    returns = _fetch(
        scoped.filter(exact).order_by("-created_at"),
        scoped.filter(match).order_by("-created_at", "-pk"),
        per_group,
    )
    hits = [
        Hit(
            title=ret.return_ref,
            detail=" · ".join(
                part
                for part in (
                    f"{ret.customer_first_name} {ret.customer_last_name}".strip(),
                    ret.get_status_display(),
                    f"order {ret.order.ref}" if ret.order else "",
                )
                if part
            ),
            url=ret.get_absolute_url(),
            exact=ret.return_ref_key == key or str(ret.pk) == text,
        )
        for ret in returns
    ]
    return _group("returns", "Returns", hits, per_group, "returns:return_list", text)


def _customers(user, text: str, per_group: int) -> Group:
    from customers.models import Customer

    key = search_key(text)
    if "@" in text:
        match = Q(email_key=key)
    else:
        match = Q(ref_key__key_prefix=key)
        if could_be_a_name(text):
            match |= name_words(text)
    scoped = Customer.objects.for_user(user)
    customers = _fetch(
        scoped.filter(Q(email_key=key) | Q(ref_key=key)).order_by("pk"),
        scoped.filter(match).order_by("last_name", "first_name", "pk"),
        per_group,
    )
    hits = [
        Hit(
            title=customer.full_name or customer.ref,
            detail=" · ".join(part for part in (customer.email, customer.ref) if part),
            url=customer.get_absolute_url(),
            exact=customer.email_key == key or customer.ref_key == key,
        )
        for customer in customers
    ]
    return _group("customers", "Customers", hits, per_group, "customers:customer_list", text)


def _fulfilments(user, text: str, per_group: int) -> Group:
    from fulfilments.models import Fulfilment

    key = search_key(text)
    scoped = Fulfilment.objects.for_user(user).select_related("order", "location")
    fulfilments = _fetch(
        scoped.filter(ref_key=key).order_by("-created_at"),
        scoped.filter(ref_key__key_prefix=key).order_by("-created_at", "-pk"),
        per_group,
    )
    hits = [
        Hit(
            title=fulfilment.ref,
            detail=" · ".join(
                part
                for part in (
                    fulfilment.get_status_display(),
                    fulfilment.location.name if fulfilment.location else "",
                    f"order {fulfilment.order.ref}",
                )
                if part
            ),
            url=fulfilment.get_absolute_url(),
            exact=fulfilment.ref_key == key,
        )
        for fulfilment in fulfilments
    ]
    return _group(
        "fulfilments", "Fulfilments", hits, per_group, "fulfilments:fulfilment_list", text
    )
