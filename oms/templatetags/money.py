from decimal import Decimal, InvalidOperation

from django import template
from django.utils.formats import number_format

register = template.Library()

SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "AUD": "A$", "CAD": "C$", "JPY": "¥"}


def format_money(amount: Decimal | str | None, currency: str | None) -> str:
    """The one way money is shown: `€1,234.50`, `−€7.90`; an unknown currency is written by
    its code, `SEK 1,234.50`. Two decimals and grouped thousands, with the separators of the
    active language: pages (English) read `€1,234.50`, a Dutch invoice `€1.234,50`. A value
    that is not an amount is shown as it is; nothing for no amount. CSV exports do not use it:
    they keep plain numbers (`1234.50`) beside a currency column, for machines to read."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return str(amount)
    if not value.is_finite():
        return str(amount)
    number = number_format(abs(value), decimal_pos=2, force_grouping=True)
    sign = "−" if value < 0 else ""
    code = str(currency or "").strip().upper()
    symbol = SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{code} {number}" if code else f"{sign}{number}"


@register.filter
def money(amount, currency: str) -> str:
    """{{ order.total|money:order.currency }}"""
    return format_money(amount, currency)


@register.filter
def currency_symbol(currency: str) -> str:
    """The sign money in this currency is shown with: `€`, or the code (`SEK`) without one."""
    code = str(currency or "").strip().upper()
    return SYMBOLS.get(code, code)
