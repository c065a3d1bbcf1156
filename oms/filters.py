"""Filters the lists share: a date range typed in the retailer's date style, and the retailer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache

import django_filters
from django.utils.choices import BaseChoiceIterator
from django_filters.fields import DateRangeField

from oms.bounds import LocalDateField
from oms.models import retailers_of
from oms.tenancy import retailer_ids_for


class LocalDateRangeField(DateRangeField):
    """From and to dates typed as the retailer writes them (or ISO)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields = (LocalDateField(required=False), LocalDateField(required=False))


class LocalDateRangeFilter(django_filters.DateFromToRangeFilter):
    """`<name>_after` and `<name>_before`, each a date in the retailer's style or ISO; the
    range covers both days whole, in the retailer's time zone."""

    field_class = LocalDateRangeField


class LazyChoices(BaseChoiceIterator):
    """Choices read from the database when first iterated, then kept: a filter whose menu a
    page does not show, and whose value is not given, costs no query."""

    def __init__(self, read: Callable[[], list[tuple[str, str]]]):
        self._read = cache(read)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


class RetailerFilter(django_filters.MultipleChoiceFilter):
    """The retailers to show, offered to a user of several; the choices are the user's
    retailers as the request has read them already (`oms.models.retailers_of`), so the filter
    asks the database nothing of its own. Call `offer_retailers` from the filterset's
    `__init__`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("distinct", False)
        kwargs.setdefault("label", "Retailer")
        super().__init__(*args, field_name="retailer_id", **kwargs)


def offer_retailers(filterset: django_filters.FilterSet, user, name: str = "retailer") -> None:
    """Fill the filterset's retailer filter with the user's retailers, or drop it for a user
    of one retailer."""
    ids = set(retailer_ids_for(user))
    if len(ids) > 1:
        filterset.filters[name].extra["choices"] = [
            (str(retailer.pk), str(retailer))
            for retailer in retailers_of(user)
            if retailer.pk in ids
        ]
    else:
        del filterset.filters[name]
