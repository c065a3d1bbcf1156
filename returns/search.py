"""Returns in the top bar's search: by return ref, or by id typed as digits."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest

from oms.bounds import parse_int
from oms.global_search import Group, Hit, exact_first, group_of
from oms.search import search_key
from returns.models import Return


def search_returns(request: HttpRequest, text: str, per_group: int) -> Group:
    """Returns whose ref starts with `text`; the ref or the id typed in full is an exact match."""
    key = search_key(text)
    match = Q(return_ref_key__key_prefix=key)
    number = parse_int(text)
    if number is not None:
        match |= Q(pk=number)
    scoped = Return.objects.for_user(request.user).select_related("order")
    exact = Q(return_ref_key=key)
    if number is not None:
        exact |= Q(pk=number)
    returns = exact_first(
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
    return group_of("returns", "Returns", hits, per_group, "returns:return_list", text)
