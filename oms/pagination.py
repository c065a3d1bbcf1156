"""Paging that stays fast on a retailer with hundreds of thousands of rows.

Two costs grow with the data: counting every matching row for "200,000 orders", and skipping to
a deep page, which reads and joins every row before it. `FastPaginator` counts exactly up to
`EXACT_COUNT_LIMIT` rows and beyond that takes the planner's estimate (shown as "about"); and it
fetches a later page in two steps, first only the ids of the page's rows (an index-only scan),
then those rows with their joins, so the rows before the page are never joined.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django_tables2.rows import BoundRows

EXACT_COUNT_LIMIT = 10_000
MAX_PER_PAGE = 200


def _queryset_of(object_list) -> QuerySet | None:
    """The queryset behind a list, a django-tables2 table's rows included."""
    if isinstance(object_list, QuerySet):
        return object_list
    data = getattr(getattr(object_list, "data", None), "data", None)
    return data if isinstance(data, QuerySet) else None


def estimated_count(queryset: QuerySet) -> int | None:
    """The planner's estimate of the rows a queryset matches (Postgres), else None."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().values("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class FastPaginator(Paginator):
    """A paginator whose count is exact up to EXACT_COUNT_LIMIT and estimated beyond.

    `?per_page=` is held between 1 and MAX_PER_PAGE; a page past the end shows the last one.
    `rows_of` adds to the page's query what only its rows need (flags worked out per row):
    the count, and the ids of a deep page, leave it out.
    """

    estimated = False

    def __init__(
        self,
        object_list,
        per_page,
        *args,
        rows_of: Callable[[QuerySet], QuerySet] | None = None,
        **kwargs,
    ):
        super().__init__(object_list, min(max(int(per_page), 1), MAX_PER_PAGE), *args, **kwargs)
        self.rows_of = rows_of

    @cached_property
    def count(self) -> int:
        queryset = _queryset_of(self.object_list)
        if queryset is None:
            return super().count
        exact = queryset.order_by()[: EXACT_COUNT_LIMIT + 1].count()
        if exact <= EXACT_COUNT_LIMIT:
            return exact
        estimate = estimated_count(queryset)
        if estimate is None:
            return queryset.count()
        self.estimated = True
        return max(estimate, exact)

    def _rows(self, queryset: QuerySet) -> QuerySet:
        return self.rows_of(queryset) if self.rows_of else queryset

    def page(self, number):
        number = self.validate_number(number)
        queryset = _queryset_of(self.object_list)
        if queryset is None:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        if bottom == 0 and self.rows_of is None:  # nothing to skip: one query
            rows = list(queryset[: self.per_page])
        elif bottom == 0:
            # still one query, the page's ids a subquery of it: given the whole list, the
            # planner would plan what `rows_of` adds for every row rather than the page's
            page_ids = queryset.values("pk")[: self.per_page]
            rows = list(self._rows(queryset.filter(pk__in=page_ids)))
        else:
            ids = list(queryset.values_list("pk", flat=True)[bottom : bottom + self.per_page])
            rows = list(self._rows(queryset.filter(pk__in=ids))) if ids else []
            position = {pk: index for index, pk in enumerate(ids)}
            rows.sort(key=lambda row: position[row.pk])
        if isinstance(self.object_list, BoundRows):
            rows = BoundRows(rows, self.object_list.table, self.object_list.pinned_data)
        return self._get_page(rows, number, self)
