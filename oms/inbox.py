"""The home page: the work that waits, as counts that open the list holding it, and the figures a
lead watches. Every count is the count of the list its link opens, for the user's retailers.

The apps give the queues (`register_queue`) and the figures (`register_figures`) in their
`AppConfig.ready()`; this module holds their shapes and lays them out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from oms.registry import Registry
from oms.roles import Role, has_role_anywhere
from oms.templatetags.dates import duration
from oms.tenancy import least_role

CHART_WIDTH = 600
CHART_HEIGHT = 120


@dataclass(frozen=True)
class Queue:
    label: str
    count: int
    url: str
    note: str = ""  # e.g. how long the oldest has waited
    urgent: bool = False  # money or a customer is stuck: shown in red while not empty


@dataclass(frozen=True)
class StatusCount:
    label: str
    colour: str
    count: int
    url: str


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Figures:
    open_by_status: list[StatusCount]
    bars: list[Bar]
    chart_max: int
    placed_30_days: int
    placed_today: int
    to_ship: timedelta | None  # the average time from placed to first shipment
    shipped_orders: int  # how many of the latest orders shipped that average covers

    @property
    def to_ship_text(self) -> str:
        return duration(self.to_ship) if self.to_ship is not None else ""


@dataclass(frozen=True)
class QueueSource:
    queue: Callable[[Any], Queue]  # the queue as it stands for the user
    role: Role  # the least role that sees the queue; it counts the retailers where it is held


_QUEUES: Registry[QueueSource] = Registry("home queue")
_FIGURES: list[Callable[[Any], Figures]] = []  # one at most


def register_queue(
    name: str, queue: Callable[[Any], Queue], *, position: int, role: Role = Role.AGENT
) -> None:
    """Show a queue on the home page, at `position` (lower first), to users holding `role`."""
    _QUEUES.register(name, QueueSource(queue, role), position=position)


def register_figures(figures: Callable[[Any], Figures]) -> None:
    """Draw the lead's figures under the queues: one app gives them, the one owning orders."""
    if _FIGURES and _name(_FIGURES[0]) != _name(figures):
        raise ImproperlyConfigured(f"The lead's figures come from {_name(_FIGURES[0])} already.")
    _FIGURES[:] = [figures]


def work_queues(user) -> list[Queue]:
    """What waits for someone, most pressing first. A queue behind a role is shown to a user
    holding it in any retailer, and counts the rows of the retailers where they hold it only:
    the list its link opens shows no more."""
    queues = []
    for source in _QUEUES:
        if has_role_anywhere(user, source.role):
            with least_role(source.role):
                queues.append(source.queue(user))
    return queues


def lead_figures(user) -> Figures | None:
    """The figures a lead watches, when an app gives them."""
    return _FIGURES[0](user) if _FIGURES else None


def _name(function: Callable) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def bars(days: list[date], counts: list[int]) -> list[Bar]:
    """The chart's bars, in an SVG box CHART_WIDTH x CHART_HEIGHT, scaled to the busiest day."""
    top = max(counts, default=0) or 1
    slot = CHART_WIDTH / max(len(days), 1)
    result = []
    for n, (day, count) in enumerate(zip(days, counts, strict=True)):
        height = round(CHART_HEIGHT * count / top, 1)
        result.append(
            Bar(day, count, round(n * slot + 1, 1), CHART_HEIGHT - height, slot - 2, height)
        )
    return result
