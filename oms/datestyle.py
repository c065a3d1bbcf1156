"""How a retailer writes a date: the one place a date is shown and read in the retailer's locale.

The locale comes from the retailer's first language and, for English, its time zone (a retailer
in America writes 12/05/2026, one in Europe 05/12/2026): nl 05-12-2026, de 05.12.2026, en-GB
05/12/2026. Pages show dates in the style of the user's retailer (set per request with the time
zone, `oms.middleware`) or of the record's retailer (`shown_for`); date inputs show the style as
their placeholder and accept it, and ISO dates (2026-12-05) too, so a shared link keeps working.
Times are written 24-hour everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from asgiref.local import Local
from django.utils import dateformat, timezone

ISO_DATE = "%Y-%m-%d"
ISO_INPUTS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class DateStyle:
    """A locale's numeric date: `order` of day, month and year, joined by `separator`."""

    locale: str
    order: str  # "dmy", "mdy" or "ymd"
    separator: str

    def _join(self, parts: dict[str, str]) -> str:
        return self.separator.join(parts[letter] for letter in self.order)

    @property
    def date_format(self) -> str:
        """Django's date format syntax: `d-m-Y`."""
        return self._join({"d": "d", "m": "m", "y": "Y"})

    @property
    def day_month_format(self) -> str:
        """The day and month without the year: `d-m`."""
        return self.separator.join({"d": "d", "m": "m"}[c] for c in self.order if c != "y")

    @property
    def strptime_format(self) -> str:
        return self._join({"d": "%d", "m": "%m", "y": "%Y"})

    @property
    def placeholder(self) -> str:
        """What a date input shows while empty: `dd-mm-yyyy`."""
        return self._join({"d": "dd", "m": "mm", "y": "yyyy"})

    @property
    def pattern(self) -> str:
        """An HTML `pattern` accepting this style or an ISO date."""
        sep = re.escape(self.separator)
        own = sep.join(
            {"d": "[0-9]{1,2}", "m": "[0-9]{1,2}", "y": "[0-9]{4}"}[c] for c in self.order
        )
        return f"{own}|[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}"

    @property
    def datetime_placeholder(self) -> str:
        return f"{self.placeholder} hh:mm"

    @property
    def datetime_pattern(self) -> str:
        """An HTML `pattern` accepting this style with a time, or an ISO date and time."""
        own, iso = self.pattern.split("|")
        time = "[0-9]{1,2}:[0-9]{2}"
        return f"{own} {time}|{iso}[T ]{time}"

    @property
    def date_inputs(self) -> list[str]:
        return [self.strptime_format, ISO_DATE]

    @property
    def datetime_inputs(self) -> list[str]:
        return [f"{self.strptime_format} %H:%M", f"{self.strptime_format} %H:%M:%S", *ISO_INPUTS]

    def parse(self, text: str) -> date | None:
        """The date typed in this style or as ISO; None when it is neither."""
        text = str(text or "").strip()
        for pattern in self.date_inputs:
            try:
                return datetime.strptime(text, pattern).date()
            except ValueError:
                continue
        return None

    def show(self, value: date | None) -> str:
        """The date (a moment's date in the current time zone) in this style."""
        if value is None:
            return ""
        if isinstance(value, datetime) and timezone.is_aware(value):
            try:
                value = timezone.localtime(value)
            except OverflowError:  # at the ends of the calendar: as stored, in UTC
                value = value.astimezone(UTC)
        return dateformat.format(value, self.date_format)


ISO = DateStyle("iso", "ymd", "-")
_BY_LANGUAGE = {
    "nl": DateStyle("nl", "dmy", "-"),
    "de": DateStyle("de", "dmy", "."),
    "da": DateStyle("da", "dmy", "."),
    "nb": DateStyle("nb", "dmy", "."),
    "no": DateStyle("no", "dmy", "."),
    "fi": DateStyle("fi", "dmy", "."),
    "pl": DateStyle("pl", "dmy", "."),
    "fr": DateStyle("fr", "dmy", "/"),
    "es": DateStyle("es", "dmy", "/"),
    "it": DateStyle("it", "dmy", "/"),
    "pt": DateStyle("pt", "dmy", "/"),
    "sv": DateStyle("sv", "ymd", "-"),
    "en": DateStyle("en-GB", "dmy", "/"),
}
US = DateStyle("en-US", "mdy", "/")

_current = Local()


def style_of(languages: list | None, time_zone: str | None = "", country: str = "") -> DateStyle:
    """The style of a retailer with these languages (the first counts), time zone and country;
    ISO for a language without a known style."""
    first = str(languages[0]).lower()[:2] if isinstance(languages, list) and languages else ""
    american = str(country or "").upper() == "US" or (
        not country and str(time_zone or "").startswith("America/")
    )
    if first == "en" and american:
        return US
    return _BY_LANGUAGE.get(first, ISO)


def style_for(retailer) -> DateStyle:
    return style_of(
        getattr(retailer, "languages", None),
        getattr(retailer, "time_zone", ""),
        getattr(retailer, "country", ""),
    )


def current() -> DateStyle:
    """The style dates are shown in now: the retailer's of this request, else ISO."""
    return getattr(_current, "value", ISO)


def active() -> DateStyle | None:
    """The retailer's style when a request or a record set one; None outside them (a document
    rendered by a worker keeps its written format)."""
    return getattr(_current, "value", None)


def activate(style: DateStyle) -> None:
    _current.value = style


def deactivate() -> None:
    if hasattr(_current, "value"):
        del _current.value


@contextmanager
def override(style: DateStyle) -> Iterator[None]:
    before = getattr(_current, "value", None)
    _current.value = style
    try:
        yield
    finally:
        if before is None:
            deactivate()
        else:
            _current.value = before


@contextmanager
def shown_for(retailer) -> Iterator[None]:
    """Times in the retailer's time zone and dates in its style, for a page about its record."""
    with timezone.override(retailer.time_zone or "UTC"), override(style_for(retailer)):
        yield
