import django_tables2 as tables
from django.utils.html import format_html

from oms.tables import BaseTable, DateColumn, DateTimeColumn, MoneyColumn
from orders.models import Order

# Columns an agent can do without on a phone.
WIDE_ONLY = {"td": {"class": "d-none d-lg-table-cell"}, "th": {"class": "d-none d-lg-table-cell"}}


class OrderTable(BaseTable):
    # the results are boosted for sorting and paging; opening an order is a page of its own
    ref = tables.Column(
        "Order",
        linkify=True,
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

    def render_customer(self, value):
        return format_html(
            '{}<div class="small text-body-secondary">{}</div>', value.full_name, value.email
        )

    def render_status(self, value):
        return format_html(
            '<span class="badge status-badge status-{}">{}</span>', value.colour, value.label
        )
