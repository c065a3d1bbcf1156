"""The readiness check of intake: messages left waiting mean it is stuck."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from oms import rls
from orders.intake.models import IntakeMessage


def intake_backlog() -> str:
    """Messages waiting more than 15 minutes mean intake is stuck."""
    try:
        with rls.all_retailers():
            stale = IntakeMessage.objects.filter(
                status="RECEIVED", received_at__lt=timezone.now() - timedelta(minutes=15)
            ).count()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return (
        f"error: {stale} messages waiting over 15 minutes"
        if stale > 100
        else f"ok ({stale} waiting)"
    )
