import django_tables2 as tables
from django.utils.html import format_html

from fulfilments.models import Location
from oms.tables import BaseTable, DateTimeColumn, MoneyColumn, record_url
from returns.models import Return

WIDE_ONLY = {"td": {"class": "d-none d-lg-table-cell"}, "th": {"class": "d-none d-lg-table-cell"}}


class ReturnTable(BaseTable):
    live_row = "returns.return"  # rows changed while the list is open are marked
    id = tables.Column(
        "Return id",
        linkify=record_url("returns:return_detail"),
        attrs={"a": {"hx-boost": "false"}},
    )
    return_ref = tables.Column("Return ref", attrs={"td": {"class": "small text-nowrap"}})
    retailer = tables.Column("Retailer", accessor="retailer__name", attrs=WIDE_ONLY)
    order = tables.Column("Order", accessor="order__ref", order_by="order__ref")
    customer = tables.Column(
        "Customer",
        accessor="customer_last_name",
        order_by=("customer_last_name", "customer_first_name"),
    )
    type = tables.Column("Type")
    status = tables.Column("Status")
    total_return_price = MoneyColumn("Total")
    preferred_location = tables.Column(
        "Drop-off",
        accessor="fulfilment_choice__preferredLocationRef",
        orderable=False,
        attrs=WIDE_ONLY,
    )
    created_at = DateTimeColumn(
        format="d M Y H:i", verbose_name="Created", attrs={"td": {"class": "text-nowrap"}}
    )

    class Meta(BaseTable.Meta):
        model = Return
        fields = (
            "id",
            "return_ref",
            "retailer",
            "order",
            "customer",
            "type",
            "status",
            "total_return_price",
            "preferred_location",
            "created_at",
        )
        order_by = "-created_at"

    def _location_names(self) -> dict[tuple[int, str], str]:
        """The names of the locations the rows shown name as drop-off, read once a page."""
        if not hasattr(self, "_names"):
            rows = [row.record for row in self.paginated_rows]
            refs = {r.preferred_location_ref for r in rows if r.preferred_location_ref}
            found = Location.objects.filter(
                retailer_id__in={r.retailer_id for r in rows}, ref__in=refs
            ).values_list("retailer_id", "ref", "name")
            self._names = {(rid, ref): name for rid, ref, name in found}
        return self._names

    def render_preferred_location(self, value, record):
        name = self._location_names().get((record.retailer_id, value), "")
        return format_html(
            '<span class="text-nowrap">{}</span><div class="small text-body-secondary">{}</div>',
            value,
            name,
        )

    def render_order(self, value, record):
        return format_html(
            '<a href="{}" hx-boost="false">{}</a>', record.order.get_absolute_url(), value
        )

    def render_customer(self, value, record):
        # a long email breaks rather than widening the table past the screen
        return format_html(
            '{}<div class="small text-body-secondary text-break">{}</div>',
            record.customer_name or "—",
            record.customer_email,
        )

    def render_status(self, value, record):
        return format_html(
            '<span class="badge return-badge return-{}">{}</span>', record.status.lower(), value
        )
