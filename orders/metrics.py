"""Orders' figures for /metrics (registered in OrdersConfig.ready): intake per channel, and the
intake messages and bulk jobs waiting for a worker as outboxes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from oms import metrics
from oms.models import Retailer
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.models import BulkJob

# how far back "intake per channel" looks
INTAKE_WINDOW = timedelta(hours=1)


def _retailer_ids() -> list[int]:
    """Every retailer: `intake_by_status` leads with the retailer, so naming them all lets
    Postgres walk the index per retailer instead of reading it whole."""
    return list(Retailer.objects.order_by().values_list("pk", flat=True))


def intake_backlog() -> metrics.Backlog:
    """Messages received and not yet worked on."""
    return metrics.backlog_of(
        IntakeMessage.objects.filter(
            retailer_id__in=_retailer_ids(), status=IntakeMessage.Status.RECEIVED
        ),
        "received_at",
    )


def bulk_jobs_backlog() -> metrics.Backlog:
    """Bulk jobs queued and not yet started (`bulkjob_by_status`)."""
    return metrics.backlog_of(BulkJob.objects.filter(status=BulkJob.Status.QUEUED), "created_at")


def intake_per_channel() -> Iterable[Metric]:
    """Messages each channel delivered in the last hour, by what became of them."""
    family = GaugeMetricFamily(
        "oms_intake_messages_last_hour",
        "Intake messages received in the last hour, by retailer, channel and status "
        f"(counted up to {metrics.BACKLOG_LIMIT} in all).",
        labels=["retailer", "channel", "status"],
    )
    recent = IntakeMessage.objects.filter(
        retailer_id__in=_retailer_ids(),
        status__in=IntakeMessage.Status.values,
        received_at__gte=timezone.now() - INTAKE_WINDOW,
    )
    bounded = recent.order_by().values("pk")[: metrics.BACKLOG_LIMIT]
    rows = list(
        IntakeMessage.objects.filter(pk__in=bounded)
        .order_by()
        .values("channel_id", "status")
        .annotate(n=Count("pk"))
    )
    channels = {
        channel.pk: channel
        for channel in IntakeChannel.objects.filter(
            pk__in={row["channel_id"] for row in rows}
        ).select_related("retailer")
    }
    for row in sorted(rows, key=lambda row: (row["channel_id"], row["status"])):
        channel = channels[row["channel_id"]]
        family.add_metric([channel.retailer.ref, channel.code, row["status"]], row["n"])
    yield family
