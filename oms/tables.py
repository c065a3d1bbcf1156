"""Shared django-tables2 settings and columns, and a table body rendered in one pass.

django-tables2 renders each cell through the template engine, inspects the render method's
signature and the model field for every cell, and builds each column's attributes again for every
row: for a page of 50 orders that was most of the page's time. `BaseTable.body_html` renders the
same cells with the same columns, render methods and links, but inspects each column once per
page and writes the rows in Python. Date columns format directly instead of compiling a template per cell.
"""

from __future__ import annotations

from datetime import datetime

import django_tables2 as tables
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.formats import localize
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django_tables2.rows import BoundRow
from django_tables2.utils import A, signature

from oms.templatetags.dates import house_format, local
from oms.templatetags.money import format_money


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle oms-table mb-0"}
        template_name = "django_tables2/oms.html"
        per_page = 50
        empty_text = "Nothing matches these filters."

    def _cell_plan(self, bound_column, record) -> tuple:
        """How to fill one column's cells, worked out once per page from its first record."""
        accessor = A(bound_column.accessor)
        display = None
        name = str(bound_column.accessor)
        if "__" not in name and "." not in name and hasattr(record, "_meta"):
            try:
                field = record._meta.get_field(name)
            except FieldDoesNotExist:
                field = None
            if getattr(field, "choices", None) and hasattr(record, f"get_{name}_display"):
                display = f"get_{name}_display"
        names, catch_all = signature(bound_column.render)
        return bound_column, accessor, display, names, catch_all

    def _cell(self, plan: tuple, record, row: BoundRow):
        """One cell's content, as django-tables2's BoundRow.get_cell makes it."""
        bound_column, accessor, display, names, catch_all = plan
        if display:
            value = getattr(record, display)()
        else:
            try:
                value = accessor.resolve(record)
            except Exception:
                value = None
        if value in bound_column.column.empty_values:
            return bound_column.default
        if names == ("value",) and not bound_column.link:
            return bound_column.render(value=value)
        offered = {
            "value": value,
            "record": record,
            "column": bound_column.column,
            "bound_column": bound_column,
            "bound_row": row,
            "table": self,
        }
        if catch_all:
            content = bound_column.render(**offered)
        elif all(name in offered for name in names):
            content = bound_column.render(**{name: offered[name] for name in names})
        else:
            content = None
        return bound_column.link(content, **offered) if bound_column.link else content

    def body_html(self) -> str:
        """The rows of the current page as `<tr>` elements, as the stock template renders them."""
        columns = list(self.columns)
        static = {
            column.name: not any(callable(v) for v in column.column.attrs.get("td", {}).values())
            for column in columns
        }
        td = {column.name: column.attrs["td"].as_html() for column in columns}
        rows = self.paginated_rows
        records = rows.data if hasattr(rows, "data") else rows
        plans = None
        html = []
        for record in records:
            if plans is None:
                plans = [self._cell_plan(column, record) for column in columns]
            row = BoundRow(record, table=self)
            cells = []
            for column, plan in zip(columns, plans, strict=True):
                value = self._cell(plan, record, row)
                if not static[column.name]:
                    column.current_record, column.current_value = record, value
                    td[column.name] = column.attrs["td"].as_html()
                if column.localize is None:
                    value = localize(value)
                cells.append(f"<td {td[column.name]}>{conditional_escape(value)}</td>")
            attrs = (
                row.attrs.as_html() if self.row_attrs else f'class="{row.get_even_odd_css_class()}"'
            )
            html.append(f"<tr {attrs}>{''.join(cells)}</tr>")
        if not html and self.empty_text:
            html.append(
                format_html('<tr><td colspan="{}">{}</td></tr>', len(columns), self.empty_text)
            )
        return mark_safe("".join(html))  # noqa: S308 - every cell is escaped above


class MoneyColumn(tables.Column):
    """An amount in the row's currency (the record's `currency` attribute), right-aligned."""

    def __init__(self, *args, **kwargs):
        attrs = kwargs.pop("attrs", {})
        attrs.setdefault("td", {"class": "text-end text-nowrap"})
        attrs.setdefault("th", {"class": "text-end"})
        super().__init__(*args, attrs=attrs, **kwargs)

    def render(self, value, record):
        return format_money(value, record.currency)


class DateTimeColumn(tables.Column):
    """A date and time in the current time zone, in Django's date format syntax; the house
    formats ("d M Y H:i") are written in the retailer's date style (`oms.datestyle`)."""

    def __init__(self, *args, format: str = "d M Y H:i", **kwargs):
        self.format = format
        super().__init__(*args, **kwargs)

    def render(self, value):
        if isinstance(value, datetime) and timezone.is_aware(value):
            value = local(value)
        return format_date(value, house_format(self.format))


class DateColumn(DateTimeColumn):
    def __init__(self, *args, format: str = "d M Y", **kwargs):
        super().__init__(*args, format=format, **kwargs)
