from __future__ import annotations

from typing import Any

import django_filters
import django_tables2 as tables
from django.db.models import Count, Q, Sum
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from billing.ledger import refundable_by_method
from billing.models import Payment
from customers.models import Customer
from oms.search import name_words, search_key
from oms.tables import BaseTable
from oms.views import HtmxResultsMixin, TenantDetailView, TenantScopedMixin
from orders.models import Order, Ticket
from returns.models import Return


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    segment = django_filters.MultipleChoiceFilter(distinct=False, choices=Customer.Segment.choices)

    class Meta:
        model = Customer
        fields: list[str] = []

    def search(self, queryset, name, value):
        """Name, email, customer ref or mobile."""
        value = value.strip()
        if not value:
            return queryset
        match = (
            Q(email_key=search_key(value))
            | Q(ref_key__key_prefix=search_key(value))
            | Q(mobile__icontains=value.replace(" ", ""))
            | Q(mobile__icontains=value)
        )
        return queryset.filter(match | name_words(value))


class CustomerTable(BaseTable):
    name = tables.Column(
        "Customer",
        accessor="last_name",
        order_by=("last_name", "first_name"),
        linkify=lambda record: record.get_absolute_url(),
        attrs={"a": {"hx-boost": "false"}},
    )
    email = tables.Column("Email")
    ref = tables.Column("Ref")
    mobile = tables.Column("Mobile")
    segment = tables.Column("Segment")
    status = tables.Column("Status")
    retailer = tables.Column("Retailer", accessor="retailer__name")

    class Meta(BaseTable.Meta):
        model = Customer
        fields = ("name", "email", "ref", "mobile", "segment", "status", "retailer")
        order_by = "name"

    def render_name(self, record):
        return record.full_name


class CustomerListView(TenantScopedMixin, HtmxResultsMixin, SingleTableMixin, FilterView):
    model = Customer
    table_class = CustomerTable
    filterset_class = CustomerFilter
    list_name = "customers:customer_list"
    list_label = "Customers"
    template_name = "customers/customer_list.html"
    paginate_by = 50

    def scope_queryset(self, queryset):
        return queryset.select_related("retailer")


# The customer page shows the latest of each; all of a customer's orders are a filter of the list.
RECENT = 25


class CustomerDetailView(TenantDetailView):
    model = Customer
    template_name = "customers/customer_detail.html"
    context_object_name = "customer"

    def scope_queryset(self, queryset):
        return queryset.select_related("retailer")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        customer = self.object
        orders = Order.objects.filter(retailer_id=customer.retailer_id, customer=customer)
        figures = orders.aggregate(count=Count("pk"), value=Sum("total"))
        context.update(
            figures=figures,
            orders=list(orders.select_related("status").order_by("-placed_at")[:RECENT]),
            recent=RECENT,
            returns=list(
                Return.objects.filter(
                    retailer_id=customer.retailer_id, customer=customer
                ).select_related("order")[:RECENT]
            ),
            tickets=list(
                Ticket.objects.filter(
                    retailer_id=customer.retailer_id, order__customer=customer
                ).select_related("order")[:RECENT]
            ),
            accounts=list(customer.billing_accounts.all()),
            addresses=list(customer.addresses.all()[:20]),
            refunds=refundable_by_method(
                Payment.objects.filter(retailer_id=customer.retailer_id, order__customer=customer)
            ),
        )
        return context
