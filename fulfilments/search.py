"""Fulfilments in the top bar's search: by fulfilment ref."""

from __future__ import annotations

from django.http import HttpRequest

from fulfilments.models import Fulfilment
from oms.global_search import Group, Hit, exact_first, group_of
from oms.search import search_key


def search_fulfilments(request: HttpRequest, text: str, per_group: int) -> Group:
    """Fulfilments whose ref starts with `text`; the ref typed in full is an exact match."""
    key = search_key(text)
    scoped = Fulfilment.objects.for_user(request.user).select_related("order", "location")
    fulfilments = exact_first(
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
    return group_of(
        "fulfilments", "Fulfilments", hits, per_group, "fulfilments:fulfilment_list", text
    )
