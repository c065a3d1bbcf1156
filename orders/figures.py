"""The figures a lead watches under the home page's queues: open orders by status, orders per
day, and how long orders take to ship."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Avg, Count, F
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from oms.inbox import Figures, StatusCount, bars
from orders.models import Order
from orders.queues import open_orders

CHART_DAYS = 30
SHIPPED_SAMPLE = 500  # time to ship: the average over the latest orders shipped


def lead_figures(user) -> Figures:
    """Open orders by status, orders per day for 30 days, and how long orders take to ship."""
    orders = Order.objects.for_user(user)
    open_by_status = open_orders_by_status(user)

    today = timezone.localdate()
    first = today - timedelta(days=CHART_DAYS - 1)
    since = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    until = timezone.make_aware(datetime.combine(today + timedelta(days=1), datetime.min.time()))
    # the chart's days only: a date far outside them (year 9999) would leave the calendar when
    # the database moves it into the time zone to find its day
    recent = orders.filter(placed_at__gte=since, placed_at__lt=until)
    per_day = dict(
        recent.annotate(day=TruncDate("placed_at"))
        .values("day")
        .annotate(count=Count("pk"))
        .values_list("day", "count")
        .order_by()
    )
    days = [first + timedelta(days=n) for n in range(CHART_DAYS)]
    counts = [per_day.get(day, 0) for day in days]

    to_ship, shipped_orders = _time_to_ship(user)
    return Figures(
        open_by_status=open_by_status,
        bars=bars(days, counts),
        chart_max=max(counts, default=0),
        placed_30_days=sum(counts),
        placed_today=counts[-1],
        to_ship=to_ship,
        shipped_orders=shipped_orders,
    )


def open_orders_by_status(user) -> list[StatusCount]:
    """The user's open orders counted by status, most first, each linking to its list."""
    order_list = reverse("orders:order_list")
    by_status = (
        open_orders(user)
        .values("status__code", "status__label", "status__colour")
        .annotate(count=Count("pk"))
        .order_by("-count", "status__label")
    )
    return [
        StatusCount(
            row["status__label"],
            row["status__colour"],
            row["count"],
            f"{order_list}?view=open&status={row['status__code']}",
        )
        for row in by_status
    ]


def _time_to_ship(user) -> tuple[timedelta | None, int]:
    """The average time from placed to first shipment over the latest orders shipped, and how
    many orders that is; averaged by the database, which hands back one row instead of them
    all. An order's `shipped_at` is its first parcel's time, read from an index alone."""
    latest = (
        Order.objects.for_user(user)
        .filter(shipped_at__isnull=False)
        .annotate(wait=F("shipped_at") - F("placed_at"))
        .order_by("-shipped_at")[:SHIPPED_SAMPLE]
    )
    found = latest.aggregate(to_ship=Avg("wait"), shipped=Count("pk"))
    return found["to_ship"], found["shipped"]
