"""What an order's lines and totals come to: one way for every path that makes or changes an
order (placing, a channel's update, a copy, a corrected quantity). Prices include tax."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def default_tax_rate(currency: str) -> Decimal:
    """The tax rate of a line whose channel sends none: the standard VAT rate where the
    currency is the euro's, else the pound's."""
    return Decimal("21.00") if currency == "EUR" else Decimal("20.00")


@dataclass(frozen=True)
class LineAmounts:
    total: Decimal
    tax: Decimal


def line_amounts(
    *,
    unit_price: Decimal,
    quantity: int,
    discount: Decimal,
    tax_rate: Decimal,
    tax: Decimal | None = None,
) -> LineAmounts:
    """A line's total (its units less its discount) and the tax included in it: `tax` when the
    channel says what it charged, else worked out from the rate."""
    total = (unit_price * quantity - discount).quantize(CENT, ROUND_HALF_UP)
    if tax is None:
        tax = (total * tax_rate / (100 + tax_rate)).quantize(CENT, ROUND_HALF_UP)
    return LineAmounts(total, tax.quantize(CENT, ROUND_HALF_UP))


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    item_count: int

    def as_fields(self) -> dict:
        return {
            "subtotal": self.subtotal,
            "discount": self.discount,
            "tax": self.tax,
            "total": self.total,
            "item_count": self.item_count,
        }


def order_totals(lines: Iterable, shipping: Decimal) -> Totals:
    """An order's totals from its lines (each with unit_price, quantity, discount, tax) and its
    shipping."""
    lines = list(lines)
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    discount = sum((line.discount for line in lines), Decimal(0))
    return Totals(
        subtotal=subtotal.quantize(CENT),
        discount=discount.quantize(CENT),
        tax=sum((line.tax for line in lines), Decimal(0)).quantize(CENT),
        total=(subtotal - discount + shipping).quantize(CENT),
        item_count=sum(line.quantity for line in lines),
    )
