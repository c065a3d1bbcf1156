"""Saved views: a list's filters, sort and columns under a name.

Anyone may save a view for themselves; managers and admins may also share one with everyone of
their retailer. The owner deletes their views; an admin may also delete a view shared with their
retailer. Saving under a name already used on that list replaces it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from oms import activity, locking
from oms.activity import describe_as
from oms.models import SavedView, retailers_of
from oms.roles import Role, has_role, require_role

describe_as("oms.savedview.saved", "View “{name}” saved on {list_label}{shared_text}")
describe_as("oms.savedview.deleted", "View “{name}” deleted from {list_label}")

# The lists that offer saved views: URL name -> label. Filled by the list views' mixin.
LISTS: dict[str, str] = {}

# Parameters a view does not keep: which page was open, and how it was rendered.
NOT_SAVED = {"page", "csrfmiddlewaretoken"}


def clean_query(query: str) -> str:
    """The query string as it will be saved: the page number and empty values dropped."""
    if "\x00" in query or len(query) > 2000:
        raise ValidationError("That view is too long to save.")
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=False) if k not in NOT_SAVED]
    return urlencode(pairs)


def views_for(user, list_name: str) -> QuerySet[SavedView]:
    """The views of a list the user sees: their own and those shared with their retailers."""
    return (
        SavedView.objects.for_user(user)
        .filter(list_name=list_name)
        .filter(Q(owner=user) | Q(shared=True))
        .select_related("owner")
        .order_by("name", "pk")
    )


def views_shown(user, list_name: str) -> list[SavedView]:
    """The views of a list as its menu shows them, in one query: each with its retailer (taken
    from the user's retailers the request has read already, not joined or fetched per view)
    and whether the user may delete it (`deletable`)."""
    retailers = {retailer.pk: retailer for retailer in retailers_of(user)}
    views = list(views_for(user, list_name))
    for view in views:
        if view.retailer_id in retailers:
            view.retailer = retailers[view.retailer_id]
        view.deletable = may_delete(view, user)
    return views


def save_view(
    *, by, retailer_id: int, list_name: str, name: str, query: str, shared: bool
) -> SavedView:
    require_role(by, retailer_id, Role.MANAGER if shared else Role.AGENT)
    if list_name not in LISTS:
        raise ValidationError("There is no such list.")
    name = " ".join(name.split())
    if not name or len(name) > 80 or "\x00" in name:
        raise ValidationError("Give the view a name of up to 80 characters.")
    query = clean_query(query)
    with transaction.atomic():
        same = SavedView.objects.filter(
            retailer_id=retailer_id, owner=by, list_name=list_name, name=name
        )
        found = locking.lock_all(same)
        created = not found
        if found:
            view = found[0]
            view.query, view.shared = query, shared
            view.save(update_fields=["query", "shared"])
        else:
            view = SavedView.objects.create(
                retailer_id=retailer_id,
                owner=by,
                list_name=list_name,
                name=name,
                query=query,
                shared=shared,
            )
        activity.record(
            action="oms.savedview.saved",
            target=view,
            by=by,
            data={
                "name": name,
                "list": list_name,
                "list_label": LISTS[list_name],
                "query": query,
                "shared": shared,
                "shared_text": ", shared with the retailer" if shared else "",
                "replaced": not created,
            },
        )
    return view


def may_delete(view: SavedView, user) -> bool:
    """Its owner may delete a view; an admin of its retailer may also delete a shared one."""
    return view.owner_id == user.pk or (
        view.shared and has_role(user, view.retailer_id, Role.ADMIN)
    )


def delete_view(*, view: SavedView, by) -> None:
    if not may_delete(view, by):
        raise PermissionDenied("Only its owner, or an admin for a shared view, may delete it.")
    with transaction.atomic():
        view = locking.lock(view)
        activity.record(
            action="oms.savedview.deleted",
            target=view,
            by=by,
            data={
                "name": view.name,
                "list": view.list_name,
                "list_label": LISTS.get(view.list_name, view.list_name),
            },
        )
        view.delete()
