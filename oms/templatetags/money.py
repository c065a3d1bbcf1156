from decimal import Decimal

from django import template
from django.utils.formats import number_format

register = template.Library()

SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "AUD": "A$", "CAD": "C$", "JPY": "¥"}


def format_money(amount: Decimal | str | None, currency: str) -> str:
    """`€1,234.50`; an unknown currency is written by its code: `SEK 1,234.50`."""
    if amount is None or amount == "":
        return ""
    amount = Decimal(str(amount))
    number = number_format(abs(amount), decimal_pos=2, force_grouping=True)
    sign = "−" if amount < 0 else ""
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency} {number}"


@register.filter
def money(amount, currency: str) -> str:
    """{{ order.total|money:order.currency }}"""
    return format_money(amount, currency)
