"""Dates and times shown in the current time zone, whatever a record holds.

A stored moment may sit at the very ends of the calendar (0001-01-01 or 9999-12-31 in UTC: an
old import, a channel's far date stored before it was checked). Moving it into a time zone ahead
or behind UTC leaves Python's calendar (`OverflowError`), and Django's `date` and `time` filters
convert before formatting, so one such record made a whole page answer 500. These filters
replace Django's own in every template (they are a builtin library, `TEMPLATES` in settings):
a moment that cannot move into the time zone is shown as it is stored, in UTC. Python code that
formats moments (tables, exports) calls `local()` instead of `timezone.localtime()`.

Dates are written in the style of the retailer (`oms.datestyle`): the house formats below
("d M Y", "d M Y H:i", "d M H:i", ...) become the retailer's numeric date (05-12-2026 for a
Dutch retailer, 05.12.2026 for a German one, 05/12/2026 for a British one); long, spelled-out
formats ("j F Y") stay as written. A span of time has one format everywhere: `duration`
("58 d 2 h", "3 h 5 min", "4 min"), and `age`, `timesince` and `timeuntil` give it too.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.template import defaultfilters
from django.utils import timezone
from django.utils.html import format_html

from oms import datestyle

register = template.Library()

# house format -> how it is built from the retailer's style (D: date, M: day and month)
_HOUSE_FORMATS = {
    "d M Y": "{D}",
    "d M Y H:i": "{D} H:i",
    "d M Y H:i:s": "{D} H:i:s",
    "D d M Y": "D {D}",
    "d M H:i": "{M} H:i",
    "D d M": "D {M}",
    "D d M H:i": "D {M} H:i",
}


def house_format(format_string: str | None) -> str | None:
    """The Django date format to use for `format_string` in the current retailer's style."""
    style = datestyle.active()
    built = _HOUSE_FORMATS.get(format_string or "d M Y")
    if built is None or style is None:
        return format_string
    return built.format(D=style.date_format, M=style.day_month_format)


def duration(span: dt.timedelta | None) -> str:
    """A span in its two largest units: "58 d 2 h", "3 h 5 min", "4 min"; negative spans are
    0 min."""
    if span is None:
        return ""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def age(since: dt.datetime | None, until: dt.datetime | None = None) -> str:
    """How long from `since` until `until` (now when None), as `duration` writes it."""
    if not isinstance(since, dt.datetime):
        return ""
    until = until if isinstance(until, dt.datetime) else timezone.now()
    try:
        return duration(until - since)
    except (OverflowError, TypeError):
        return ""


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
    """Django's `date` filter, tolerant of moments at the ends of the calendar, writing the
    house formats in the retailer's style. An empty value is shown empty (as Django's is), so
    `|default:` can say what it means, never as the current time."""
    if value in (None, ""):
        return ""
    return defaultfilters.date(local(value), house_format(arg))


@register.filter(expects_localtime=False, is_safe=False)
def time(value, arg=None):
    """Django's `time` filter, tolerant of moments at the ends of the calendar; empty for an
    empty value."""
    if value in (None, ""):
        return ""
    return defaultfilters.time(local(value), arg)


@register.filter(name="duration", is_safe=False)
def duration_filter(value):
    """{{ span|duration }}: a timedelta as "58 d 2 h"."""
    return duration(value) if isinstance(value, dt.timedelta) else ""


@register.filter(name="age", is_safe=False)
def age_filter(value, arg=None):
    """{{ moment|age }}: how long ago, as "58 d 2 h"."""
    return age(value, arg)


@register.filter(is_safe=False)
def timesince(value, arg=None):
    """How long since the moment, in the one duration format (as `age`)."""
    return age(value, arg)


@register.filter(is_safe=False)
def timeuntil(value, arg=None):
    """How long until the moment, in the one duration format."""
    if not isinstance(value, dt.datetime):
        return ""
    return age(arg if isinstance(arg, dt.datetime) else timezone.now(), value)


@register.filter(is_safe=False)
def date_input(value):
    """A date input's value in the retailer's style: a typed or ISO date is rewritten, other
    text is kept as typed (its error says what is expected)."""
    style = datestyle.current()
    if isinstance(value, dt.date):
        return style.show(value)
    parsed = style.parse(value) if value else None
    return style.show(parsed) if parsed else (value or "")


@register.simple_tag
def date_input_attrs(with_time: bool = False):
    """The attributes of a date text input in the retailer's style: placeholder, pattern, hint
    (`{% date_input_attrs with_time=True %}` for a date and time)."""
    style = datestyle.current()
    placeholder = style.datetime_placeholder if with_time else style.placeholder
    return format_html(
        'autocomplete="off" placeholder="{}" pattern="{}" title="{} (or {})"',
        placeholder,
        style.datetime_pattern if with_time else style.pattern,
        placeholder,
        "yyyy-mm-dd hh:mm" if with_time else "yyyy-mm-dd",
    )


@register.filter(is_safe=False)
def datetime_input(value):
    """A date-and-time input's value in the retailer's style (`05-12-2026 14:30`)."""
    if isinstance(value, dt.datetime):
        return f"{datestyle.current().show(value)} {local(value):%H:%M}"
    return value or ""
