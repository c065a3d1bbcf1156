import django_tables2 as tables
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from oms.tables import (
    BaseTable,
    DateColumn,
    DateTimeColumn,
    MoneyColumn,
    date_text,
    record_url,
    styled_format,
)
from orders.models import Order

# Columns an agent can do without on a phone.
WIDE_ONLY = {"td": {"class": "d-none d-lg-table-cell"}, "th": {"class": "d-none d-lg-table-cell"}}


SELECT_PAGE = mark_safe(
    '<input type="checkbox" class="form-check-input oms-select-page" '
    'aria-label="Select the orders on this page" data-testid="select-page">'
)


class OrderTable(BaseTable):
    live_row = "orders.order"  # rows changed while the list is open are marked
    # managers tick orders for a bulk action (the list leaves the column out for others)
    select = tables.Column(SELECT_PAGE, accessor="pk", orderable=False, empty_values=())
    # the results are boosted for sorting and paging; opening an order is a page of its own
    ref = tables.Column(
        "Order",
        linkify=record_url("orders:order_detail"),
        attrs={"td": {"class": "text-nowrap fw-semibold"}, "a": {"hx-boost": "false"}},
    )
    retailer = tables.Column(
        "Retailer", accessor="retailer__name", order_by="retailer__name", attrs=WIDE_ONLY
    )
    customer = tables.Column(
        "Customer", accessor="customer", order_by=("customer__last_name", "customer__first_name")
    )
    status = tables.Column("Status", order_by=("status__position", "status__label"))
    channel = tables.Column("Channel")
    type = tables.Column("Type")
    item_count = tables.Column(
        "Items", attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}}
    )
    total = MoneyColumn("Total")
    placed_at = DateTimeColumn(
        format="d M Y H:i", verbose_name="Placed", attrs={"td": {"class": "text-nowrap"}}
    )
    promised_date = DateColumn(
        format="d M Y",
        verbose_name="Promised",
        attrs={"td": {"class": "text-nowrap d-none d-lg-table-cell"}, "th": WIDE_ONLY["th"]},
    )

    class Meta(BaseTable.Meta):
        model = Order
        fields = (
            "select",
            "ref",
            "retailer",
            "customer",
            "status",
            "channel",
            "type",
            "item_count",
            "total",
            "placed_at",
            "promised_date",
        )
        order_by = "-placed_at"

    # the retailers where the user may run bulk actions; the rows of others offer no checkbox
    managed_retailers: frozenset[int] | None = None

    def render_select(self, record):
        if self.managed_retailers is not None and record.retailer_id not in self.managed_retailers:
            return ""
        return format_html(
            '<input type="checkbox" class="form-check-input oms-select" name="ids" value="{}" '
            'form="bulk-form" aria-label="Select {}">',
            record.pk,
            record.ref,
        )

    def render_customer(self, value):
        # a long email breaks rather than widening the table past the screen
        return format_html(
            '{}<div class="small text-body-secondary text-break">{}</div>',
            value.full_name,
            value.email,
        )

    # the reasons each order of the page is at risk of missing its promised date (orders.risk)
    risks: dict[int, list[str]] = {}

    def render_promised_date(self, value, record):
        shown = date_text(value, styled_format("d M Y"))
        reasons = self.risks.get(record.pk)
        if not reasons:
            return shown
        return format_html(
            '{}<div><span class="badge text-bg-danger" title="{}" data-testid="at-risk">'
            "at risk</span></div>",
            shown,
            "; ".join(reasons),
        )

    def render_status(self, value, record):
        badge = format_html(
            '<span class="badge status-badge status-{}">{}</span>', value.colour, value.label
        )
        holds = record.holds
        if not holds:
            return badge
        # the kind on the row; the rule that set it in the title (the order page says it all)
        return format_html(
            '{}<div class="small text-danger" data-testid="held" title="{}">{}</div>',
            badge,
            "; ".join(f"Held: {hold}" for hold in holds),
            format_html_join("; ", "Held: {}", ((hold.label,) for hold in holds)),
        )
