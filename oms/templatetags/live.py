"""The live corner of a record or list page: where the page's script shows who else is there
and what changed, and what it needs to know to ask (static/js/live.js)."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from oms.live import feed

register = template.Library()


def _urls() -> dict[str, str]:
    return {
        "stream": settings.LIVE_STREAM_URL or reverse("live:stream"),
        "poll": reverse("live:poll"),
        "presence": reverse("live:presence"),
    }


@register.simple_tag(takes_context=True)
def live_record(context, record: models.Model, *also: models.Model):
    """Presence and changes for `record` (and `also`: records whose changes show on its page,
    like an order's returns), with the moment the page was drawn."""
    request = context.get("request")
    refs = [feed.ref(r._meta.label_lower, r.pk) for r in (record, *also) if r is not None]
    urls = _urls()
    return format_html(
        '<div id="oms-live" class="oms-live" data-testid="live" data-live-watch="{}" '
        'data-live-seen="{}" data-live-self="{}" data-live-stream="{}" data-live-poll="{}" '
        'data-live-presence="{}" data-live-poll-seconds="{}" data-live-tz="{}">'
        '<div class="oms-presence" data-testid="presence" aria-live="polite"></div>'
        '<div class="oms-live-changes" data-testid="live-changes" aria-live="polite"></div>'
        "</div>",
        ",".join(refs[:8]),
        getattr(request, "live_seen", ""),
        getattr(getattr(request, "user", None), "pk", "") or "",
        urls["stream"],
        urls["poll"],
        urls["presence"],
        settings.LIVE_POLL_SECONDS,
        timezone.get_current_timezone_name(),  # the page's times: "since HH:MM" reads the same
    )


@register.simple_tag(takes_context=True)
def live_list(context, label: str):
    """Rows of this kind of record that change while the list is open are marked."""
    request = context.get("request")
    urls = _urls()
    return format_html(
        '<div id="oms-live" class="oms-live" data-testid="live" data-live-list="{}" '
        'data-live-seen="{}" data-live-self="{}" data-live-stream="{}" data-live-poll="{}" '
        'data-live-poll-seconds="{}">'
        '<div class="oms-live-changes" data-testid="live-changes" aria-live="polite"></div>'
        "</div>",
        label,
        getattr(request, "live_seen", ""),
        getattr(getattr(request, "user", None), "pk", "") or "",
        urls["stream"],
        urls["poll"],
        settings.LIVE_POLL_SECONDS,
    )
