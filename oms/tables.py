"""Shared django-tables2 settings and columns, and a table body rendered in one pass.

django-tables2 renders each cell through the template engine, inspects the render method's
signature and the model field for every cell, and builds each column's attributes again for every
row: for a page of 50 orders that was most of the page's time. `BaseTable.body_html` renders the
same cells with the same columns, render methods and links, but inspects each column once per
page and writes the rows in Python. Date columns format directly instead of compiling a template per cell.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache, partialmethod
from operator import attrgetter, methodcaller
from typing import Any

import django_tables2 as tables
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.dateformat import DateFormat, TimeFormat, re_escaped, re_formatchars
from django.utils.dateformat import format as format_date
from django.utils.encoding import force_str
from django.utils.formats import localize
from django.utils.hashable import make_hashable
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django_tables2.columns.base import LinkTransform
from django_tables2.rows import BoundRow
from django_tables2.utils import A, AttributeDict, signature

from oms import datestyle
from oms.live import feed as live_feed
from oms.templatetags.dates import house_format, local
from oms.templatetags.money import format_money


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle oms-table mb-0"}
        template_name = "django_tables2/oms.html"
        per_page = 50
        empty_text = "Nothing matches these filters."

    # the kind of record of the rows (`orders.order`): each row names its record for the live
    # page (`data-live-row`, static/js/live.js), written here rather than as row_attrs, which
    # django-tables2 works out per row at a cost a 50-row page notices
    live_row: str = ""

    def _cell_plan(self, bound_column, record) -> tuple:
        """How to fill one column's cells, worked out once per page from its first record."""
        value_of = _value_getter(bound_column.accessor, record)
        names, catch_all = signature(bound_column.render)
        link = None
        if not catch_all and set(names) <= {"value", "record"}:
            link = _link_plan(bound_column.link)
        empty = bound_column.column.empty_values
        return bound_column, value_of, tuple(empty) == (None, ""), empty, names, catch_all, link

    def _cell(self, plan: tuple, record, row: BoundRow):
        """One cell's content, as django-tables2's BoundRow.get_cell makes it."""
        bound_column, value_of, usual_empty, empty, names, catch_all, link = plan
        try:
            value = value_of(record)
        except Exception:
            value = None
        # the usual empty values asked without `in`, which compares a record with each of them
        if usual_empty:
            is_empty = value is None or (isinstance(value, str) and not value)
        else:
            is_empty = value in empty
        if is_empty:
            return bound_column.default
        if names == ("value",) and not bound_column.link:
            return bound_column.render(value=value)
        if link is not None:
            simple = {"value": value, "record": record}
            return _linked(link, record, bound_column.render(**{n: simple[n] for n in names}))
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
            if self.live_row:
                attrs += f' data-live-row="{live_feed.ref(self.live_row, record.pk)}"'
            html.append(f"<tr {attrs}>{''.join(cells)}</tr>")
        if not html and self.empty_text:
            html.append(
                format_html('<tr><td colspan="{}">{}</td></tr>', len(columns), self.empty_text)
            )
        return mark_safe("".join(html))  # noqa: S308 - every cell is escaped above


def _value_getter(accessor, record) -> Callable[[Any], Any]:
    """How a column reads its value from a record, as django-tables2's Accessor does: a
    field with choices gives its label, as `get_<field>_display` does; a path of fields (a
    foreign key's field included) is read as attributes; anything else goes through the
    Accessor, which tries a dictionary key, an attribute and an index at every step."""
    fields = _field_path(accessor, record)
    if fields is None:
        resolve = A(accessor).resolve
        return resolve
    field = fields[-1]
    if len(fields) == 1 and field.choices and not _default_display(record, field):
        return methodcaller(f"get_{field.name}_display")
    if len(fields) == 1 and field.choices:
        labels = dict(make_hashable(field.flatchoices))
        attname = field.attname

        def display(record):
            value = getattr(record, attname)
            return force_str(labels.get(make_hashable(value), value), strings_only=True)

        return display
    return attrgetter(".".join(field.name for field in fields))


def _field_path(accessor, record) -> list | None:
    """The model fields an accessor (`customer__email`) walks through, if it walks through
    nothing else (a method, a property, a reverse relation)."""
    model = getattr(record, "_meta", None) and type(record)
    fields = []
    for bit in str(accessor).split("__"):
        if model is None:
            return None
        try:
            field = model._meta.get_field(bit)
        except FieldDoesNotExist:
            return None
        if not field.concrete or field.many_to_many or field.name != bit:
            return None
        fields.append(field)
        model = field.related_model
    return fields or None


def _default_display(record, field) -> bool:
    """Whether the record's `get_<field>_display` is Django's own, not one of the model's."""
    method = inspect.getattr_static(type(record), f"get_{field.name}_display", None)
    return isinstance(method, partialmethod) and method.func is Model._get_FIELD_display


# a pk no record has, written into a URL once to find where each record's pk goes
_PK_MARK = 918_273_645_546_372_819


@lru_cache(maxsize=256)
def _url_around_pk(viewname: str, prefix: str, urlconf: str | None) -> tuple[str, str] | None:
    url = reverse(viewname, kwargs={"pk": _PK_MARK}, urlconf=urlconf)
    before, mark, after = url.partition(str(_PK_MARK))
    return (before, after) if mark and str(_PK_MARK) not in after else None


def record_url(viewname: str) -> Callable[..., str]:
    """`linkify` for a column whose cells link to `viewname` of their record (by its pk): the
    URL is reversed once and each row's pk written into it, where reversing it for every row
    of a page was a good part of the page's time."""

    def url(record) -> str:
        around = _url_around_pk(viewname, get_script_prefix(), get_urlconf())
        if around is None:
            return reverse(viewname, kwargs={"pk": record.pk})
        return f"{around[0]}{record.pk}{around[1]}"

    return url


def _link_plan(link) -> tuple[Callable[..., Any], str] | None:
    """A column's link as its URL function and the `<a>`'s other attributes written out, when
    both can be worked out once per page: the URL a function of the record alone (`record_url`),
    the attributes fixed. Other links go through django-tables2's LinkTransform per cell."""
    url = getattr(link, "url", None)
    if not isinstance(link, LinkTransform) or not callable(url) or link.reverse_args:
        return None
    if signature(url) != (("record",), None):
        return None
    attrs = link.attrs or {}
    if any(callable(value) for value in attrs.values()):
        return None
    return url, AttributeDict(attrs).as_html()


def _linked(link: tuple[Callable[..., Any], str], record, content) -> str:
    """The cell's content in its link, as LinkTransform writes it (its attributes, then href)."""
    url, attrs = link
    href = url(record=record)
    if href is None:
        return content
    if not attrs:
        return format_html('<a href="{}">{}</a>', href, content)
    return format_html('<a {} href="{}">{}</a>', attrs, href, content)


@lru_cache(maxsize=128)
def _format_pieces(format_string: str) -> tuple[tuple[bool, str], ...]:
    """A date format cut into its specifiers (True) and its literal text (False), as Django's
    date formatter cuts it: once per format, not once per cell."""
    pieces = []
    for index, piece in enumerate(re_formatchars.split(format_string)):
        if index % 2:
            pieces.append((True, piece))
        elif piece:
            pieces.append((False, re_escaped.sub(r"\1", piece)))
    return tuple(pieces)


def date_text(value, format_string: str) -> str:
    """`django.utils.dateformat.format`, the same text, with the format cut up once per format:
    cutting it up again for every cell was most of the time a date column took."""
    pieces = _format_pieces(str(format_string))
    if type(value) is date and any(spec and hasattr(TimeFormat, p) for spec, p in pieces):
        return format_date(value, format_string)  # Django's error: a time asked of a date
    formatter = DateFormat(value)
    return "".join([str(getattr(formatter, piece)()) if spec else piece for spec, piece in pieces])


def styled_format(format_string: str) -> str:
    """`house_format` of the format in the active date style, worked out once per style and
    format rather than once per cell."""
    return _styled_format(format_string, datestyle.active())


@lru_cache(maxsize=64)
def _styled_format(format_string: str, style: datestyle.DateStyle | None) -> str:
    with datestyle.override(style):
        return house_format(format_string)


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
        return date_text(value, styled_format(self.format))


class DateColumn(DateTimeColumn):
    def __init__(self, *args, format: str = "d M Y", **kwargs):
        super().__init__(*args, format=format, **kwargs)
