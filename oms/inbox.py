"""The home page: the work that waits, as counts that open the list holding it, and the figures a
lead watches. Every count is the count of the list its link opens, for the user's retailers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from oms.roles import Role, has_role_anywhere
from oms.tenancy import retailer_ids_for

CHART_DAYS = 30
CHART_WIDTH = 600
CHART_HEIGHT = 120
SHIPPED_SAMPLE = 500  # time to ship: the average over the latest orders shipped


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


def work_queues(user) -> list[Queue]:
    """What waits for someone, most pressing first."""
    from fulfilments.models import Fulfilment
    from orders.intake.models import IntakeMessage
    from orders.models import Order, Task
    from orders.risk import at_risk
    from returns.models import Return, ReturnStatus

    orders = Order.objects.for_user(user)
    order_list = reverse("orders:order_list")
    escalated = (
        Fulfilment.objects.for_user(user)
        .escalated()
        .aggregate(count=Count("pk"), oldest=Min("escalated_at"))
    )
    queues = [
        Queue(
            "Escalated fulfilments",
            escalated["count"],
            reverse("fulfilments:escalated_list"),
            note=f"oldest waiting {age(escalated['oldest'])}" if escalated["oldest"] else "",
            urgent=True,
        ),
        Queue(
            "Failed payment operations",
            orders.payment_failed().count(),
            f"{order_list}?view=payment_failed",
            urgent=True,
        ),
        Queue(
            "Orders at risk",
            at_risk(orders, retailer_ids_for(user)).count(),
            f"{order_list}?view=at_risk",
            note="of missing their promised date",
            urgent=True,
        ),
        Queue(
            "Returns pending refund",
            Return.objects.for_user(user).filter(status=ReturnStatus.PENDING_REFUND).count(),
            f"{reverse('returns:return_list')}?status={ReturnStatus.PENDING_REFUND}",
        ),
        Queue("Unanswered tickets", orders.unanswered().count(), f"{order_list}?view=unanswered"),
        Queue("Orders on hold", _count_on_hold(orders), f"{order_list}?view=on_hold"),
        Queue(
            "Awaiting payment",
            orders.awaiting_payment().count(),
            f"{order_list}?view=awaiting_payment",
        ),
    ]
    if has_role_anywhere(user, Role.MANAGER):
        failed = IntakeMessage.objects.for_user(user).filter(
            status__in=[IntakeMessage.Status.REJECTED, IntakeMessage.Status.DEAD]
        )
        queues.append(
            Queue(
                "Intake messages rejected or dead",
                failed.count(),
                reverse("intake:desk"),
                urgent=True,
            )
        )
    my_tasks = Task.objects.for_user(user).filter(assignee=user).exclude(status=Task.Status.DONE)
    queues.append(Queue("My open tasks", my_tasks.count(), reverse("orders:my_tasks")))
    return queues


def lead_figures(user) -> Figures:
    """Open orders by status, orders per day for 30 days, and how long orders take to ship."""
    from orders.models import OPEN_STATES, Order, Shipment

    orders = Order.objects.for_user(user)
    order_list = reverse("orders:order_list")
    by_status = (
        orders.filter(status__system_state__in=OPEN_STATES)
        .values("status__code", "status__label", "status__colour")
        .annotate(count=Count("pk"))
        .order_by("-count", "status__label")
    )
    open_by_status = [
        StatusCount(
            row["status__label"],
            row["status__colour"],
            row["count"],
            f"{order_list}?view=open&status={row['status__code']}",
        )
        for row in by_status
    ]

    today = timezone.localdate()
    first = today - timedelta(days=CHART_DAYS - 1)
    since = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    recent = orders.filter(placed_at__gte=since)
    per_day = dict(
        recent.annotate(day=TruncDate("placed_at"))
        .values("day")
        .annotate(count=Count("pk"))
        .values_list("day", "count")
        .order_by()
    )
    days = [first + timedelta(days=n) for n in range(CHART_DAYS)]
    counts = [per_day.get(day, 0) for day in days]

    earlier = Shipment.objects.filter(
        order_id=OuterRef("order_id"),
        retailer_id=OuterRef("retailer_id"),
        shipped_at__lt=OuterRef("shipped_at"),
    )
    first_shipments = (
        Shipment.objects.for_user(user)
        .filter(~Exists(earlier), shipped_at__isnull=False)
        .order_by("-shipped_at")
        .values_list("order__placed_at", "shipped_at")[:SHIPPED_SAMPLE]
    )
    waits = [shipped_at - placed_at for placed_at, shipped_at in first_shipments]
    return Figures(
        open_by_status=open_by_status,
        bars=bars(days, counts),
        chart_max=max(counts, default=0),
        placed_30_days=sum(counts),
        placed_today=counts[-1],
        to_ship=sum(waits, timedelta()) / len(waits) if waits else None,
        shipped_orders=len(waits),
    )


def _count_on_hold(orders) -> int:
    """`orders.on_hold().count()`, as a union of held and suspended orders: each is found on its
    own index, where the OR of both reads every order of the retailer."""
    from orders.models import SystemState

    held = orders.filter(Q(hold_documentation=True) | Q(hold_compliance=True)).values("pk")
    suspended = orders.filter(status__system_state=SystemState.SUSPENDED).values("pk")
    return held.order_by().union(suspended.order_by()).count()


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


def age(since: datetime | None) -> str:
    """How long ago, in the two largest units: "2 d 4 h", "3 h 10 min", "5 min"."""
    if since is None:
        return ""
    return duration(timezone.now() - since)


def duration(span: timedelta) -> str:
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
