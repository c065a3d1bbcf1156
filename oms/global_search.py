"""The top bar's search: orders, returns, customers and fulfilments in one go, grouped by kind.

Each kind is looked up on its own indexes (refs, emails and tracking numbers by their search
keys, names by their words) and capped at a few hits. Within a group exact matches come first
(the ref, email, tracking number or id typed in full), then the most recent. When exactly one
record matches exactly, the search opens it instead of listing.

The apps give the groups (`register_search`) in their `AppConfig.ready()`; this module holds
their shapes, asks each in turn and puts a group holding an exact match first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse

from oms.registry import Registry

PER_GROUP = 5
MAX_LENGTH = 200


@dataclass(frozen=True)
class Hit:
    title: str
    detail: str
    url: str
    exact: bool


@dataclass
class Group:
    kind: str
    label: str
    hits: list[Hit]
    more: bool  # more records match than are shown
    list_url: str  # the kind's list, searching the same text

    @property
    def has_exact(self) -> bool:
        return any(hit.exact for hit in self.hits)


@dataclass
class Results:
    query: str
    groups: list[Group] = field(default_factory=list)

    @property
    def found(self) -> int:
        return sum(len(group.hits) for group in self.groups)

    @property
    def only_exact(self) -> Hit | None:
        """The one record matching exactly, if there is exactly one."""
        exact = [hit for group in self.groups for hit in group.hits if hit.exact]
        return exact[0] if len(exact) == 1 else None


# (request, text, per_group) -> the kind's group: up to per_group hits, and whether there are more
Search = Callable[[HttpRequest, str, int], Group]

_SEARCHES: Registry[Search] = Registry("search group")


def register_search(kind: str, search: Search, *, position: int) -> None:
    """Search one kind of record from the top bar; groups are asked in `position` order."""
    _SEARCHES.register(kind, search, position=position)


def search_everything(request, text: str, *, per_group: int = PER_GROUP) -> Results:
    text = text.strip()[:MAX_LENGTH]
    results = Results(query=text)
    if not text or "\x00" in text:
        return results
    groups = [search(request, text, per_group) for search in _SEARCHES]
    found = [group for group in groups if group.hits]
    # a group holding an exact match first; otherwise the order of their positions
    results.groups = sorted(found, key=lambda group: not group.has_exact)
    return results


def group_of(
    kind: str, label: str, hits: list[Hit], per_group: int, list_name: str, text: str
) -> Group:
    """The group of the first per_group hits, linking to the kind's list searching `text`."""
    return Group(
        kind,
        label,
        hits[:per_group],
        more=len(hits) > per_group,
        list_url=f"{reverse(list_name)}?{urlencode({'q': text})}",
    )


def exact_first(exact: QuerySet, everything: QuerySet, per_group: int) -> list:
    """Up to per_group + 1 records: those matching exactly first (however old), then the rest
    in the queryset's order. The extra one tells whether there are more."""
    first = list(exact[: per_group + 1])
    rest = everything.exclude(pk__in=[record.pk for record in first])
    return first + list(rest[: per_group + 1 - len(first)])
