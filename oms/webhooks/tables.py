"""The deliveries table: one row per POST made (or to be made) to an endpoint."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.middleware.csrf import get_token
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from oms.models import WebhookDelivery
from oms.tables import BaseTable, DateTimeColumn, record_url

D = WebhookDelivery.Status

# the page of each kind of record a delivery can be about, by its label; the kernel names the
# apps' pages by URL name only
RECORD_PAGES = {
    "orders.order": "orders:order_detail",
    "returns.return": "returns:return_detail",
    "fulfilments.fulfilment": "fulfilments:fulfilment_detail",
}
BADGES = {D.PENDING: "text-bg-warning", D.DELIVERED: "text-bg-success", D.FAILED: "text-bg-danger"}


def record_link(delivery: WebhookDelivery) -> str:
    """The page of the record the delivery is about, or "" when it names none we show."""
    name = RECORD_PAGES.get(delivery.record_label or "")
    if name is None or delivery.record_id is None:
        return ""
    try:
        return reverse(name, kwargs={"pk": int(delivery.record_id)})
    except (NoReverseMatch, TypeError, ValueError):
        return ""


def status_badge(status: str) -> str:
    try:
        label = D(status).label
    except ValueError:
        label = status
    return format_html(
        '<span class="badge {}">{}</span>', BADGES.get(status, "text-bg-secondary"), label
    )


class DeliveryTable(BaseTable):
    created_at = DateTimeColumn(
        "Time",
        linkify=record_url("webhook_settings:delivery"),
        attrs={"td": {"class": "text-nowrap"}},
        orderable=False,
    )
    event = tables.Column("Event", orderable=False, attrs={"td": {"class": "text-nowrap"}})
    record = tables.Column("Record", accessor="record_ref", default="—", orderable=False)
    endpoint = tables.Column(
        "Endpoint",
        accessor="endpoint__url",
        orderable=False,
        attrs={"td": {"class": "text-break small"}},
    )
    status = tables.Column("Status", orderable=False)
    attempts = tables.Column(
        "Attempts",
        orderable=False,
        attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}},
    )
    response_code = tables.Column(
        "Answer", default="—", orderable=False, attrs={"td": {"class": "text-end"}}
    )
    latency_ms = tables.Column(
        "Latency (ms)",
        default="—",
        orderable=False,
        attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}},
    )
    next_attempt_at = DateTimeColumn("Next attempt", default="—", orderable=False)
    actions = tables.Column(
        "", accessor="pk", orderable=False, attrs={"td": {"class": "text-end text-nowrap"}}
    )

    class Meta(BaseTable.Meta):
        model = WebhookDelivery
        fields = (
            "created_at",
            "event",
            "record",
            "endpoint",
            "status",
            "attempts",
            "response_code",
            "latency_ms",
            "next_attempt_at",
            "actions",
        )
        empty_text = "No deliveries match these filters."

    def __init__(self, *args: Any, next_url: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.next_url = next_url

    def render_record(self, value: str, record: WebhookDelivery) -> str:
        text = value if len(value) <= 40 else f"{value[:39]}…"
        link = record_link(record)
        if link:
            return format_html('<a href="{}" class="text-break">{}</a>', link, text)
        return format_html('<span class="text-break">{}</span>', text)

    def render_endpoint(self, value: str) -> str:
        return value if len(value) <= 80 else f"{value[:79]}…"

    def render_status(self, value: str, record: WebhookDelivery) -> str:
        # the value is the choice's label: the badge goes by the code
        return status_badge(record.status)

    def render_next_attempt_at(self, value, record: WebhookDelivery) -> str:
        if record.status != D.PENDING:
            return "—"
        return self.columns["next_attempt_at"].column.render(value)

    def render_actions(self, value: int, record: WebhookDelivery) -> str:
        return format_html(
            '<form method="post" action="{}" class="d-inline" hx-boost="false">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="next" value="{}">'
            '<button class="btn btn-sm btn-outline-primary" type="submit"'
            ' aria-label="Redeliver delivery {}">Redeliver</button></form>',
            reverse("webhook_settings:redeliver", args=[value]),
            get_token(self.request),
            self.next_url,
            value,
        )
