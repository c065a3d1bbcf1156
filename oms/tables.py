"""Shared django-tables2 settings and columns."""

import django_tables2 as tables

from oms.templatetags.money import format_money


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle oms-table mb-0"}
        template_name = "django_tables2/bootstrap5-responsive.html"
        per_page = 50
        empty_text = "Nothing matches these filters."


class MoneyColumn(tables.Column):
    """An amount in the row's currency (the record's `currency` attribute), right-aligned."""

    def __init__(self, *args, **kwargs):
        attrs = kwargs.pop("attrs", {})
        attrs.setdefault("td", {"class": "text-end text-nowrap"})
        attrs.setdefault("th", {"class": "text-end"})
        super().__init__(*args, attrs=attrs, **kwargs)

    def render(self, value, record):
        return format_money(value, record.currency)
