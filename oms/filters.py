"""Filters the lists share: a date range typed in the retailer's date style."""

from __future__ import annotations

import django_filters
from django_filters.fields import DateRangeField

from oms.bounds import LocalDateField


class LocalDateRangeField(DateRangeField):
    """From and to dates typed as the retailer writes them (or ISO)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields = (LocalDateField(required=False), LocalDateField(required=False))


class LocalDateRangeFilter(django_filters.DateFromToRangeFilter):
    """`<name>_after` and `<name>_before`, each a date in the retailer's style or ISO; the
    range covers both days whole, in the retailer's time zone."""

    field_class = LocalDateRangeField
