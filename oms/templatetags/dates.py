"""Dates and times shown in the current time zone, whatever a record holds.

A stored moment may sit at the very ends of the calendar (0001-01-01 or 9999-12-31 in UTC: an
old import, a channel's far date stored before it was checked). Moving it into a time zone ahead
or behind UTC leaves Python's calendar (`OverflowError`), and Django's `date` and `time` filters
convert before formatting, so one such record made a whole page answer 500. These filters
replace Django's own in every template (they are a builtin library, `TEMPLATES` in settings):
a moment that cannot move into the time zone is shown as it is stored, in UTC. Python code that
formats moments (tables, exports) calls `local()` instead of `timezone.localtime()`.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.template import defaultfilters
from django.utils import timezone

register = template.Library()


def local(value: dt.datetime | None = None) -> dt.datetime:
    """The moment (now when None) in the current time zone; in UTC when the time zone would
    carry it past the first or last day of the calendar."""
    if value is None:
        return timezone.localtime()
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        return value
    try:
        return timezone.localtime(value)
    except OverflowError:
        return value.astimezone(dt.UTC)


@register.filter(expects_localtime=False, is_safe=False)
def date(value, arg=None):
    """Django's `date` filter, tolerant of moments at the ends of the calendar."""
    return defaultfilters.date(local(value), arg)


@register.filter(expects_localtime=False, is_safe=False)
def time(value, arg=None):
    """Django's `time` filter, tolerant of moments at the ends of the calendar."""
    return defaultfilters.time(local(value), arg)


@register.filter(is_safe=False)
def timesince(value, arg=None):
    """Django's `timesince`; nothing rather than an error for a moment it cannot measure."""
    try:
        return defaultfilters.timesince_filter(value, arg)
    except (OverflowError, ValueError):
        return ""


@register.filter(is_safe=False)
def timeuntil(value, arg=None):
    """Django's `timeuntil`; nothing rather than an error for a moment it cannot measure."""
    try:
        return defaultfilters.timeuntil_filter(value, arg)
    except (OverflowError, ValueError):
        return ""
