"""Filters of the documents and emails written for customers, in the language active."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.html import format_html
from django.utils.translation import get_language

from oms.countries import COUNTRIES
from oms.country_names import LOCAL_NAMES

register = template.Library()


@register.filter
def country_name(code: str) -> str:
    """A country's name in the active language ("DE" reads Deutschland in German); a text that
    is no country code is left as it is."""
    key = str(code or "").strip().upper()
    if len(key) != 2 or key not in COUNTRIES:
        return code
    return LOCAL_NAMES.get(get_language() or "", {}).get(key) or COUNTRIES[key]


@register.filter
def negated(amount):
    """The amount with its sign turned: a credit note's amounts read as credits."""
    try:
        return -Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return amount


@register.filter
def unbroken(text) -> str:
    """A ref kept on one line (INV-2026-00001 never breaks at its hyphens), escaped."""
    return format_html('<span style="white-space: nowrap">{}</span>', text)
