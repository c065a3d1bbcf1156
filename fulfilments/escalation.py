"""How long an escalation has waited, in steps a colour tells apart: under a day (yellow), one to
three days (orange), over three days (red). The escalated queue, a fulfilment's page and the
order page show the same badge, with the step's meaning as its title, and the queue a legend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from oms.templatetags.dates import age


@dataclass(frozen=True)
class Step:
    css: str
    label: str  # the step's meaning, for the legend and the badge's title
    under: timedelta | None  # the step holds escalations younger than this (None: any older)


STEPS = [
    Step("esc-age-1", "Escalated less than a day ago", timedelta(days=1)),
    Step("esc-age-2", "Waiting 1 to 3 days", timedelta(days=3)),
    Step("esc-age-3", "Waiting more than 3 days: act now", None),
]


def step(since: datetime | None, now: datetime | None = None) -> Step:
    """The step of an escalation raised at `since` (the first step when unknown)."""
    if since is None:
        return STEPS[0]
    waited = (now or timezone.now()) - since
    for candidate in STEPS:
        if candidate.under is None or waited < candidate.under:
            return candidate
    return STEPS[-1]


def badge(since: datetime | None, prefix: str = "") -> SafeString:
    """The waiting time as a badge coloured by its step: `waiting 2 d 4 h`."""
    found = step(since)
    return format_html(
        '<span class="badge {}" title="{}" data-testid="escalation-age">{}{}</span>',
        found.css,
        found.label,
        prefix,
        age(since) if since else "—",
    )
