"""The one rule for stale actions: an action made from a page drawn before a change it depends
on is refused, and the refusal names the change ("Order cancelled by Max at 14:02").

A page carries the moment it was drawn (`seen`, oms/live/feed.py) and its forms send it back as
`_seen` (or htmx as the `X-OMS-Seen` header; the page's script advances it when it shows a
change in place). A view says what its action depends on with `live_touches` (topics; empty for
comments and notes) and which record it acts on with `model` and its `pk` argument.

`LiveGuardMiddleware` checks once before the view runs, and arms the guard; the lock helper
(oms/locking.py) checks again when the service locks that record's row, so a change that
commits between the two is caught under the lock too. Changes by the same user are not
counted: an agent's own earlier change is never news to them. Nor are the system's follow-ups
(a refund finishing, stock sourced): only a person's change, or what comes from outside
(`feed.EXTERNAL`: a customer's message, a channel's update), makes an action stale.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

# oms.activity imports this package (to announce its records): read it as a module
from oms import activity
from oms.live import feed
from oms.models import Activity


class StaleAction(ValidationError):
    """The page the action came from was drawn before a change the action depends on."""

    def __init__(self, entry: Activity) -> None:
        self.entry = entry
        super().__init__(stale_message(entry), code="stale")


@dataclass
class Guard:
    label: str
    pk: str
    since: datetime
    touches: frozenset[str]
    user_id: Any
    checked_under_lock: bool = False


SEEN_MARGIN_MICROS = 500_000
_active: ContextVar[Guard | None] = ContextVar("oms_live_guard", default=None)


def stale_change(
    label: str, pk: Any, since: datetime, touches: frozenset[str], user_id: Any
) -> Activity | None:
    """The first change to the record after `since`, by someone else (a person, or from outside),
    of a topic in `touches`."""
    if not touches:
        return None
    entries = (
        Activity.objects.filter(
            feed.about(label, pk),
            created_at__gt=since,
        )
        .filter(Q(actor__isnull=False) | Q(action__in=feed.EXTERNAL))
        .exclude(actor_id=user_id)
        .select_related("actor")
        .order_by("created_at", "pk")[:100]
    )
    for entry in entries:
        if feed.topic_of(entry.action) in touches:
            return entry
    return None


def stale_message(entry: Activity) -> str:
    when = timezone.localtime(entry.created_at)
    today = timezone.localdate()
    at = f"{when:%H:%M}" if when.date() == today else f"{when:%d %b %H:%M}"
    what = activity.describe(entry).rstrip(".")
    return (
        f"{what} by {feed.actor_name(entry.actor)} at {at}, after this page was opened. "
        "Nothing was changed: look at the page again before you act."
    )


def check_locked(label: str, pks: list[Any]) -> None:
    """Called by the lock helper for each set of rows it locks: the armed guard's check,
    under the lock of its record."""
    guard = _active.get()
    if guard is None or guard.checked_under_lock or guard.label != label:
        return
    if not any(str(pk) == guard.pk for pk in pks):
        return
    guard.checked_under_lock = True
    entry = stale_change(guard.label, guard.pk, guard.since, guard.touches, guard.user_id)
    if entry is not None:
        raise StaleAction(entry)


def seen_of(request: HttpRequest) -> datetime | None:
    value = request.POST.get("_seen") or request.headers.get("X-OMS-Seen")
    return feed.moment(value) if value else None


class LiveGuardMiddleware:
    """Refuse a stale action before its view runs, and arm the check under the lock."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # what the page drawn by this request has seen: a little before it began, so a change
        # that committed while the page read the database counts as unseen
        request.live_seen = feed.stamp(timezone.now()) - SEEN_MARGIN_MICROS
        try:
            return self.get_response(request)
        finally:
            _active.set(None)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST":
            return None
        view_class = getattr(view_func, "view_class", None)
        touches = getattr(view_class, "live_touches", None)
        model = getattr(view_class, "model", None)
        pk = view_kwargs.get("pk")
        if not touches or model is None or pk is None or not request.user.is_authenticated:
            return None
        since = seen_of(request)
        if since is None:
            return None
        guard = Guard(
            label=model._meta.label_lower,
            pk=str(pk),
            since=since,
            touches=frozenset(touches),
            user_id=request.user.pk,
        )
        # rows of other retailers are invisible here (row-level security and the scoped
        # managers), so this tells nothing about a record the user may not see
        if not model._default_manager.for_user(request.user).filter(pk=pk).exists():
            return None
        entry = stale_change(guard.label, guard.pk, since, guard.touches, guard.user_id)
        if entry is not None:
            return refuse(request, StaleAction(entry))
        _active.set(guard)
        return None


def refuse(request: HttpRequest, error: StaleAction) -> HttpResponse:
    """Back to the page the action came from, with the reason; 409 to a script."""
    message = error.messages[0]
    wants_text = request.accepts("application/json") and not request.accepts("text/html")
    if request.headers.get("HX-Request") or wants_text:
        response = HttpResponse(message, status=409, content_type="text/plain; charset=utf-8")
        response["X-OMS-Stale"] = "1"
        return response
    messages.error(request, message)
    back = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = "/"
    return redirect(back)
