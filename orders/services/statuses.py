"""The order statuses an admin shapes for a retailer."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.text import slugify

from oms import activity, bounds, locking
from oms.models import Retailer
from oms.roles import Role, require_role
from orders.models import Order, OrderStatus, StatusColour, SystemState

activity.describe_as(
    "orders.orderstatus.moved", "Status “{label}” moved {direction} past “{passed}”"
)


def _validate(label: str, colour: str, system_state: str) -> str:
    label = label.strip()
    if not label:
        raise ValidationError({"label": "Give the status a name."})
    if colour not in StatusColour.values:
        raise ValidationError({"colour": "Choose a colour from the palette."})
    if system_state not in SystemState.values:
        raise ValidationError({"system_state": "Choose the system state it stands for."})
    return label


@transaction.atomic
def order_status_create(
    *, retailer_id: int, by, label: str, colour: str, system_state: str, code: str = ""
) -> OrderStatus:
    require_role(by, retailer_id, Role.ADMIN)
    label = _validate(label, colour, system_state)
    code = slugify(code or label)[:50]
    if not code:
        raise ValidationError({"code": "Give the status a code of letters and digits."})
    if OrderStatus.objects.filter(retailer_id=retailer_id, code=code).exists():
        raise ValidationError({"code": f"There is a status with code {code!r} already."})
    position = (
        OrderStatus.objects.filter(retailer_id=retailer_id).aggregate(Max("position"))[
            "position__max"
        ]
        or 0
    ) + 1
    try:
        with transaction.atomic():
            status = OrderStatus.objects.create(
                retailer_id=retailer_id,
                code=code,
                label=label,
                colour=colour,
                system_state=system_state,
                position=position,
            )
    except IntegrityError as error:
        raise ValidationError({"code": f"There is a status with code {code!r} already."}) from error
    activity.record(
        action="orders.orderstatus.created",
        target=status,
        by=by,
        data={"label": label, "system_state": system_state, "colour": colour},
    )
    return status


@transaction.atomic
def order_status_update(
    *, status: OrderStatus, by, label: str, colour: str, system_state: str
) -> OrderStatus:
    require_role(by, status.retailer_id, Role.ADMIN)
    label = _validate(label, colour, system_state)
    status = locking.lock(status)
    if system_state != status.system_state:
        in_use = Order.objects.filter(status=status).count()
        if in_use:
            raise ValidationError(
                {
                    "system_state": f"{in_use} order(s) have this status: its system state cannot "
                    "change. Add a new status instead."
                }
            )
        _keep_one_per_state(status)
    before = {"label": status.label, "colour": status.colour, "system_state": status.system_state}
    status.label, status.colour, status.system_state = label, colour, system_state
    status.save(update_fields=["label", "colour", "system_state"])
    activity.record(
        action="orders.orderstatus.updated",
        target=status,
        by=by,
        data={
            "before": before,
            "after": {"label": label, "colour": colour, "system_state": system_state},
        },
    )
    return status


@transaction.atomic
def order_status_move(*, status: OrderStatus, by, direction: str) -> OrderStatus:
    """Move a status one place up or down in the retailer's list."""
    require_role(by, status.retailer_id, Role.ADMIN)
    if direction not in ("up", "down"):
        raise ValidationError("Move a status up or down.")
    statuses = sorted(
        locking.lock_all(OrderStatus.objects.filter(retailer_id=status.retailer_id)),
        key=lambda each: (each.position, each.pk),
    )
    index = next(i for i, s in enumerate(statuses) if s.pk == status.pk)
    other = index - 1 if direction == "up" else index + 1
    swapped = 0 <= other < len(statuses)
    if swapped:
        statuses[index], statuses[other] = statuses[other], statuses[index]
    for position, each in enumerate(statuses):
        if each.position != position:
            each.position = position
            each.save(update_fields=["position"])
    moved = statuses[other] if swapped else statuses[index]
    if swapped:
        activity.record(
            action="orders.orderstatus.moved",
            target=moved,
            by=by,
            data={
                "label": moved.label,
                "direction": direction,
                "before": index + 1,
                "after": other + 1,
                "passed": statuses[index].label,
            },
        )
    return moved


@transaction.atomic
def order_status_delete(*, status: OrderStatus, by) -> None:
    require_role(by, status.retailer_id, Role.ADMIN)
    status = locking.lock(status)
    in_use = (
        Order.objects.filter(status=status).count()
        + Order.objects.filter(suspended_from=status).count()
    )
    if in_use:
        raise ValidationError(
            f"“{status.label}” is in use by {in_use} order(s) and cannot be deleted. "
            "Move those orders to another status first, or rename it."
        )
    _keep_one_per_state(status)
    activity.record(
        action="orders.orderstatus.deleted",
        target=status,
        by=by,
        data={"label": status.label, "system_state": status.system_state},
    )
    status.delete()


def _keep_one_per_state(status: OrderStatus) -> None:
    others = OrderStatus.objects.filter(
        retailer_id=status.retailer_id, system_state=status.system_state
    ).exclude(pk=status.pk)
    if not others.exists():
        raise ValidationError(
            f"“{status.label}” is the only status for {status.get_system_state_display()}; "
            "every system state needs one."
        )


activity.describe_as(
    "oms.retailer.date_window_changed",
    "Dates accepted: from {after_from}, up to {after_days} days ahead",
)

# the earliest a retailer's window may start: before it no order of this system was taken
DATES_FROM_EARLIEST = date(1990, 1, 1)


@transaction.atomic
def retailer_date_window_update(
    *, retailer_id: int, by, dates_from: date, dates_ahead_days: int
) -> Retailer:
    """Set the dates a retailer's records may carry: from `dates_from` to `dates_ahead_days`
    ahead of today (admins). Orders, returns and payments dated outside are refused."""
    require_role(by, retailer_id, Role.ADMIN)
    retailer = Retailer.objects.get(pk=retailer_id)
    if not isinstance(dates_from, date) or not DATES_FROM_EARLIEST <= dates_from <= date.today():
        raise ValidationError(
            {"dates_from": f"The first date lies between {DATES_FROM_EARLIEST} and today."}
        )
    if (
        isinstance(dates_ahead_days, bool)
        or not isinstance(dates_ahead_days, int)
        or not 1 <= dates_ahead_days <= bounds.MOST_DAYS_AHEAD
    ):
        raise ValidationError(
            {"dates_ahead_days": f"Days ahead: from 1 to {bounds.MOST_DAYS_AHEAD}."}
        )
    before = {"dates_from": str(retailer.dates_from), "dates_ahead_days": retailer.dates_ahead_days}
    # one row, written in one statement: the retailer row is not taken under a lock
    Retailer.objects.filter(pk=retailer_id).update(
        dates_from=dates_from, dates_ahead_days=dates_ahead_days
    )
    retailer.dates_from, retailer.dates_ahead_days = dates_from, dates_ahead_days
    activity.record(
        action="oms.retailer.date_window_changed",
        target=retailer,
        by=by,
        data={
            "before": before,
            "after": {"dates_from": str(dates_from), "dates_ahead_days": dates_ahead_days},
            "after_from": str(dates_from),
            "after_days": dates_ahead_days,
        },
    )
    return retailer
