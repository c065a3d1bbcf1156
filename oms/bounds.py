"""What may enter at an edge: the one place the bounds of dates, money, quantities, texts, email
addresses, phone numbers, countries and mail headers are written down.

Every edge (forms, the JSON APIs, intake adapters, CSV uploads, query parameters) calls these
instead of deciding for itself. Each check returns the clean value or raises `ValidationError`
with a reason a person can act on; none of them ever cuts, rounds or guesses silently.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone

from oms import datestyle
from oms.countries import COUNTRIES, NAMES

# ---------------------------------------------------------------------------------------------
# Dates: a retailer's window (Retailer.dates_from, Retailer.dates_ahead_days), by default from
# 2000-01-01 to two years ahead.

DATES_FROM = date(2000, 1, 1)
DATES_AHEAD_DAYS = 730
MOST_DAYS_AHEAD = 3650


def date_window(retailer: Any = None, ahead_days: int | None = None) -> tuple[datetime, datetime]:
    """The first and last moment a date of this retailer's records may hold (`ahead_days`
    instead of the retailer's own for what may lie further out, such as a task's reminder)."""
    start = getattr(retailer, "dates_from", None) or DATES_FROM
    ahead = ahead_days or getattr(retailer, "dates_ahead_days", None) or DATES_AHEAD_DAYS
    return datetime.combine(start, time.min, tzinfo=UTC), timezone.now() + timedelta(days=ahead)


def check_moment(
    value: datetime | date | None,
    retailer: Any = None,
    *,
    ahead_days: int | None = None,
    what: str = "the dates this retailer accepts",
) -> datetime | date | None:
    """The date or moment, when it falls within the retailer's window (`what` names it)."""
    if value is None:
        return None
    first, last = date_window(retailer, ahead_days)
    moment = value
    if not isinstance(value, datetime):
        moment = datetime.combine(value, time.min, tzinfo=UTC)
    elif timezone.is_naive(value):
        moment = timezone.make_aware(value, UTC)
    if not first <= moment <= last:
        raise ValidationError(
            f"{value:%Y-%m-%d} is outside {what} ({first:%Y-%m-%d} to {last:%Y-%m-%d})."
        )
    return value


class _StyleFormats:
    """The input formats of the current retailer's date style (`oms.datestyle`), read anew each
    time a value is parsed."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __iter__(self):
        return iter(getattr(datestyle.current(), self.kind))


class LocalDateInput(forms.DateInput):
    """A date typed as the retailer writes it (`dd-mm-yyyy` for a Dutch retailer). A text
    input: a browser's own date picker follows the browser's locale, not the retailer's."""

    input_type = "text"

    def format_value(self, value):
        if isinstance(value, date):
            return datestyle.current().show(value)
        return value

    def get_context(self, name, value, attrs):
        style = datestyle.current()
        attrs = {
            "inputmode": "numeric",
            "autocomplete": "off",
            "placeholder": style.placeholder,
            "pattern": style.pattern,
            "title": f"A date as {style.placeholder} (or yyyy-mm-dd)",
            **(attrs or {}),
        }
        return super().get_context(name, value, attrs)


class LocalDateField(forms.DateField):
    """A date in the retailer's style or ISO (`05-12-2026` or `2026-12-05` in the Netherlands)."""

    widget = LocalDateInput
    input_formats = _StyleFormats("date_inputs")
    default_error_messages = {"invalid": "Enter a valid date, as %(format)s (or yyyy-mm-dd)."}

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as error:
            if error.code != "invalid":
                raise
            raise ValidationError(
                self.error_messages["invalid"] % {"format": datestyle.current().placeholder},
                code="invalid",
            ) from None


class LocalDateTimeField(forms.DateTimeField):
    """A date and time in the retailer's style (`05-12-2026 14:30`) or ISO."""

    input_formats = _StyleFormats("datetime_inputs")


# ---------------------------------------------------------------------------------------------
# Money: finite, with at most two decimals, within the column, never negative where that makes
# no sense.

MONEY_DIGITS = 12
MONEY_PLACES = 2


def money_limit(max_digits: int = MONEY_DIGITS, decimal_places: int = MONEY_PLACES) -> Decimal:
    """The largest amount a money column holds (9,999,999,999.99 for 12 digits, 2 places)."""
    return Decimal(10) ** (max_digits - decimal_places) - Decimal(1).scaleb(-decimal_places)


MONEY_MAX = money_limit()


def check_money(
    value: Any,
    *,
    negative: bool = False,
    max_digits: int = MONEY_DIGITS,
    decimal_places: int = MONEY_PLACES,
) -> Decimal:
    """An amount as a Decimal with `decimal_places` places, or a ValidationError saying why not.

    Accepts a Decimal, an int or a text; a float is accepted only when it has no more places than
    allowed. Booleans, lists, objects, NaN and Infinity are refused. The refusal's code says
    which bound it broke (invalid, max_value, max_decimal_places, min_value), for an edge that
    words it in its own language."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValidationError("Not an amount.", code="invalid")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(f"Not an amount ({str(value)[:40]!r}).", code="invalid") from None
    if not amount.is_finite():
        raise ValidationError("Not an amount (it must be a finite number).", code="invalid")
    step = Decimal(1).scaleb(-decimal_places)
    limit = money_limit(max_digits, decimal_places)
    if abs(amount) > limit:
        raise ValidationError(
            f"{amount:.2E} is more than an amount may be ({limit}).", code="max_value"
        )
    if amount != amount.quantize(step):
        raise ValidationError(
            f"An amount has at most {decimal_places} decimals.", code="max_decimal_places"
        )
    if amount < 0 and not negative:
        raise ValidationError("An amount may not be negative here.", code="min_value")
    return amount.quantize(step)


class MoneyField(forms.DecimalField):
    """A form field for an amount, with the bounds of `check_money`."""

    def __init__(self, *, negative: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", MONEY_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_PLACES)
        self.negative = negative
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Decimal | None:
        amount = super().clean(value)
        if amount is None:
            return None
        return check_money(
            amount,
            negative=self.negative,
            max_digits=self.max_digits,
            decimal_places=self.decimal_places,
        )


# ---------------------------------------------------------------------------------------------
# Whole numbers: quantities, ids and page numbers, in ASCII digits only ("²" and "٣" pass
# str.isdigit() but are not numbers anyone typed).

MAX_QUANTITY = 100_000
_DIGITS = re.compile(r"[0-9]{1,18}")


def parse_int(raw: Any) -> int | None:
    """A non-negative whole number written in ASCII digits (at most 18), else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 <= raw < 10**18 else None
    text = str(raw).strip() if raw is not None else ""
    return int(text) if _DIGITS.fullmatch(text) else None


def check_quantity(raw: Any, *, most: int = MAX_QUANTITY, least: int = 0) -> int:
    """A count of units between `least` and `most` (what the record allows)."""
    number = parse_int(raw)
    if number is None:
        raise ValidationError(f"Not a whole number ({str(raw)[:20]!r}).")
    if not least <= number <= most:
        raise ValidationError(f"{number} is not between {least} and {most}.")
    return number


# ---------------------------------------------------------------------------------------------
# Texts: lengths come from the model.


def text_limit(model: type[models.Model], field_name: str) -> int | None:
    """The longest text the model's field holds, or None when it has no limit."""
    try:
        return model._meta.get_field(field_name).max_length
    except FieldDoesNotExist:
        return None


def check_text(value: Any, model: type[models.Model], field_name: str) -> str:
    """A text that fits the model's column and holds no NUL character."""
    text = "" if value is None else str(value)
    if "\x00" in text:
        raise ValidationError("A text may not contain NUL characters.")
    limit = text_limit(model, field_name)
    if limit is not None and len(text) > limit:
        raise ValidationError(f"At most {limit} characters (this has {len(text)}).")
    return text


# A message, comment or memo a person writes: long enough for any letter, bounded so that one
# request cannot store megabytes that every page showing it then carries.
MESSAGE_MAX = 20_000


def check_message(value: Any) -> str:
    """A written message (a comment, a memo, a ticket message): at most MESSAGE_MAX characters."""
    text = "" if value is None else str(value)
    if "\x00" in text:
        raise ValidationError("A text may not contain NUL characters.")
    if len(text) > MESSAGE_MAX:
        raise ValidationError(f"At most {MESSAGE_MAX:,} characters (this has {len(text):,}).")
    return text


def check_fits(values: dict[str, Any], model: type[models.Model]) -> dict[str, str]:
    """For each named text, the reason it does not fit the model's column (empty when all do)."""
    errors = {}
    for name, value in values.items():
        try:
            check_text(value, model, name)
        except ValidationError as error:
            errors[name] = " ".join(error.messages)
    return errors


# ---------------------------------------------------------------------------------------------
# Email addresses, phone numbers, countries and mail headers.

EMAIL_MAX = 254


def check_email(value: Any) -> str:
    """An email address: one line, at most 254 characters, in the form Django accepts."""
    text = "" if value is None else str(value).strip()
    if "\r" in text or "\n" in text:
        raise ValidationError("An email address is one line.")
    if len(text) > EMAIL_MAX:
        raise ValidationError(f"An email address has at most {EMAIL_MAX} characters.")
    try:
        validate_email(text)
    except ValidationError:
        raise ValidationError(f"{text[:60]!r} is not an email address.") from None
    return text


_PHONE = re.compile(r"\+?[0-9 ()./-]+")


def check_phone(value: Any) -> str:
    """A phone number: digits with an optional leading +, spaces, dots, dashes and brackets;
    from 5 to 15 digits (E.164)."""
    text = "" if value is None else str(value).strip()
    digits = sum(ch.isascii() and ch.isdigit() for ch in text)
    if not _PHONE.fullmatch(text) or not 5 <= digits <= 15 or len(text) > 32:
        raise ValidationError(f"{text[:40]!r} is not a phone number.")
    return text


def country_code(value: Any) -> str:
    """The ISO 3166-1 alpha-2 code of a country given by its code (any case), its alpha-3 code
    or its English name. An unknown country is refused, never cut to two letters."""
    text = "" if value is None else " ".join(str(value).split())
    if len(text) == 2 and text.upper() in COUNTRIES:
        return text.upper()
    code = NAMES.get(text.casefold())
    if code is None:
        raise ValidationError(
            f"{text[:40]!r} is not a country: give its ISO 3166 code or English name."
        )
    return code


_VAT_NUMBER = re.compile(r"[A-Z]{2}[0-9A-Z+*]{2,13}")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[0-9A-Z]{11,30}")


def check_vat_number(value: Any) -> str:
    """A VAT identification number as VIES writes it: a two-letter country prefix and 2 to 13
    letters or digits, upper case; spaces, dots and dashes people type are dropped."""
    text = "".join(ch for ch in str(value or "") if ch not in " .-").upper()
    if not _VAT_NUMBER.fullmatch(text):
        raise ValidationError(
            f"{str(value)[:40]!r} is not a VAT number: a country prefix and its number "
            "(NL123456789B01)."
        )
    return text


def check_iban(value: Any) -> str:
    """An IBAN (ISO 13616), upper case without spaces, whose check digits are right."""
    text = "".join(str(value or "").split()).upper()
    digits = "".join(str(int(ch, 36)) for ch in text[4:] + text[:4]) if text.isalnum() else ""
    if not _IBAN.fullmatch(text) or int(digits) % 97 != 1:
        raise ValidationError(f"{str(value)[:40]!r} is not an IBAN: check its digits.")
    return text


def check_header(value: Any) -> str:
    """A text that goes into a mail header (a subject, a name, an address): one line."""
    text = "" if value is None else str(value)
    if "\r" in text or "\n" in text:
        raise ValidationError("This goes into an email header and must be one line.")
    return text


class CountryField(forms.CharField):
    """A form field for a country: its ISO code or English name, stored as the code."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 60)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        return country_code(text) if text else text


class HeaderField(forms.CharField):
    """A form field whose text goes into a mail header."""

    def clean(self, value: Any) -> str:
        return check_header(super().clean(value))
