"""Lists of children shown with a bound: a page or a PDF shows the first rows of a record's
lines or items and says how many more there are, so an order of 10,000 lines is drawn in the
time of a few hundred.

    {% load listing %}
    {% with rows=lines|capped:200 %}
      {% for line in rows %}...{% endfor %}
      {% if rows.more %}and {{ rows.more }} more{% endif %}
    {% endwith %}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.db.models import QuerySet

register = template.Library()

PAGE_ROWS = 100  # on a page or a tab
DOCUMENT_ROWS = 200  # in a PDF


class Capped(list):
    """The first rows, and how many more the full list holds (`more`)."""

    def __init__(self, rows: Iterable[Any], total: int):
        super().__init__(rows)
        self.total = total
        self.more = max(total - len(self), 0)


def capped_rows(items: Any, limit: int = PAGE_ROWS) -> Capped:
    """At most `limit` of the items. A queryset (a manager, a prefetched relation) is cut in
    the database, or in its prefetched rows, and counted the same way."""
    if items is None or items == "":
        return Capped([], 0)
    if hasattr(items, "all") and not isinstance(items, QuerySet):
        items = items.all()
    if isinstance(items, QuerySet):
        return Capped(items[:limit], items.count())
    items = list(items)
    return Capped(items[:limit], len(items))


@register.filter
def capped(items: Any, limit: int | str = PAGE_ROWS) -> Capped:
    """{{ lines|capped:200 }}: the first rows; `.more` says how many are left out."""
    try:
        limit = max(int(limit), 0)
    except (TypeError, ValueError):
        limit = PAGE_ROWS
    return capped_rows(items, limit)
