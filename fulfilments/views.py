from __future__ import annotations

from typing import Any

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from fulfilments import escalation, services
from fulfilments.models import Fulfilment, FulfilmentStatus, Location, StockPosition
from oms import bounds
from oms.models import Activity, Retailer
from oms.roles import Role, has_role
from oms.search import search_key
from oms.state import InvalidTransition
from oms.tables import BaseTable, DateTimeColumn, record_url
from oms.tenancy import retailer_ids_for
from oms.views import HtmxResultsMixin, TenantDetailView, TenantObjectActionView, TenantScopedMixin
from orders import services as order_services
from orders.models import Order


class FulfilmentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.MultipleChoiceFilter(
        distinct=False, choices=FulfilmentStatus.choices, label="Status"
    )
    type = django_filters.ChoiceFilter(choices=Fulfilment.Type.choices, label="Type")

    class Meta:
        model = Fulfilment
        fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        retailer_ids = retailer_ids_for(self.request.user)
        match = Q(ref_key__key_prefix=search_key(value)) | Q(
            status=FulfilmentStatus.ESCALATED, escalation_reason__icontains=value
        )
        order_ids = Order.objects.for_retailers(retailer_ids).ids_by_ref(value)
        if order_ids:
            match |= Q(order_id__in=order_ids)
        location_ids = list(
            Location.objects.for_retailers(retailer_ids)
            .filter(name__icontains=value)
            .values_list("pk", flat=True)
        )
        if location_ids:
            match |= Q(location_id__in=location_ids)
        return queryset.filter(match)


class FulfilmentTable(BaseTable):
    live_row = "fulfilments.fulfilment"  # rows changed while the list is open are marked
    ref = tables.Column(
        "Fulfilment",
        linkify=record_url("fulfilments:fulfilment_detail"),
        attrs={"a": {"hx-boost": "false"}},
    )
    order = tables.Column("Order", accessor="order__ref", order_by="order__ref")
    customer = tables.Column("Customer", accessor="order__customer", orderable=False)
    location = tables.Column("Location", accessor="location__name", default="—")
    type = tables.Column("Type")
    status = tables.Column("Status")
    created_at = DateTimeColumn(format="d M Y H:i", verbose_name="Created")

    class Meta(BaseTable.Meta):
        model = Fulfilment
        fields = ("ref", "order", "customer", "location", "type", "status", "created_at")
        order_by = "-created_at"

    def render_order(self, value, record):
        return format_html(
            '<a hx-boost="false" href="{}">{}</a>', record.order.get_absolute_url(), value
        )

    def render_customer(self, value):
        return value.full_name

    def render_status(self, value, record):
        return format_html(
            '<span class="badge ful-badge ful-{}">{}</span>', record.status.lower(), value
        )


class EscalatedTable(FulfilmentTable):
    escalation_reason = tables.Column("Reason", attrs={"td": {"class": "small"}})
    escalated_at = tables.Column("Waiting", order_by="escalated_at")

    class Meta(FulfilmentTable.Meta):
        fields = ("ref", "order", "customer", "escalation_reason", "escalated_at", "type")
        exclude = ("location", "status", "created_at")
        order_by = "escalated_at"

    def render_escalated_at(self, value):
        return escalation.badge(value)


class _FulfilmentsMixin(TenantScopedMixin):
    model = Fulfilment

    def scope_queryset(self, queryset):
        return queryset.select_related("order", "order__customer", "location")


class FulfilmentListView(_FulfilmentsMixin, HtmxResultsMixin, SingleTableMixin, FilterView):
    table_class = FulfilmentTable
    filterset_class = FulfilmentFilter
    list_name = "fulfilments:fulfilment_list"
    list_label = "Fulfilments"
    template_name = "fulfilments/fulfilment_list.html"
    paginate_by = 50
    title = "Fulfilments"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(title=self.title, **kwargs)


class EscalatedListView(FulfilmentListView):
    table_class = EscalatedTable
    list_name = "fulfilments:escalated_list"
    list_label = "Escalated fulfilments"
    title = "Escalated fulfilments"

    def scope_queryset(self, queryset):
        return super().scope_queryset(queryset).escalated()


class FulfilmentDetailView(TenantDetailView):
    model = Fulfilment
    template_name = "fulfilments/fulfilment_detail.html"
    context_object_name = "fulfilment"

    def scope_queryset(self, queryset):
        return queryset.select_related("order", "order__customer", "location")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        fulfilment = self.object
        # an escalated fulfilment is resolved by its own actions (retry, assign, cancel lines)
        moves = []
        if fulfilment.status != FulfilmentStatus.ESCALATED:
            moves = [
                s
                for s in fulfilment.available_transitions()
                if s not in (FulfilmentStatus.ASSIGNED, FulfilmentStatus.ESCALATED)
            ]
        context.update(
            # the page shows the first items and counts the rest (`capped` in the template)
            items=fulfilment.items.select_related("order_line"),
            steps=[
                (FulfilmentStatus(s).label, parse_datetime(fulfilment.history[s]))
                for s in services.LIFECYCLE
                if s in fulfilment.history
            ],
            moves=[
                (
                    s,
                    "Cancel"
                    if s == FulfilmentStatus.CANCELLED
                    else f"Mark {FulfilmentStatus(s).label.lower()}",
                )
                for s in moves
            ],
            can_manage=has_role(self.request.user, fulfilment.retailer_id, Role.MANAGER),
            locations=Location.objects.filter(retailer_id=fulfilment.retailer_id, is_active=True),
            activity=Activity.objects.filter(
                retailer_id=fulfilment.retailer_id,
                target_type="fulfilments.fulfilment",
                target_id=str(fulfilment.pk),
            ).select_related("actor")[:100],
        )
        return context


class _FulfilmentAction(TenantObjectActionView):
    model = Fulfilment
    required_role = Role.MANAGER

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        fulfilment = self.get_object()
        try:
            message = self.perform(fulfilment)
        except (ValidationError, InvalidTransition) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(request, message)
        return redirect(fulfilment)


class FulfilmentMoveView(_FulfilmentAction):
    def perform(self, fulfilment):
        fulfilment = services.fulfilment_move(
            fulfilment=fulfilment, to=self.request.POST.get("status", ""), by=self.request.user
        )
        return f"Fulfilment {fulfilment.ref} is {fulfilment.get_status_display()}."


class FulfilmentRetryView(_FulfilmentAction):
    def perform(self, fulfilment):
        result = services.fulfilment_retry(fulfilment=fulfilment, by=self.request.user)
        if not result.assigned:
            return "Still nothing to source it from: " + "; ".join(result.reasons)
        return "Sourced to " + ", ".join(f.location.name for f in result.assigned) + "."


class FulfilmentAssignView(_FulfilmentAction):
    def perform(self, fulfilment):
        location = get_object_or_404(
            Location.objects.filter(retailer_id=fulfilment.retailer_id),
            pk=bounds.parse_int(self.request.POST.get("location")) or 0,
        )
        services.fulfilment_assign(fulfilment=fulfilment, location=location, by=self.request.user)
        return f"Assigned to {location.name}; the stock is reserved."


class FulfilmentCancelLinesView(_FulfilmentAction):
    def perform(self, fulfilment):
        ret = order_services.fulfilment_lines_cancel(fulfilment=fulfilment, by=self.request.user)
        if ret is None:
            return "The lines are cancelled; nothing had been paid for them."
        return f"The lines are cancelled; return {ret.return_ref} refunds them."


class StockView(TenantScopedMixin, TemplateView):
    """Stock positions, the ones below their safety threshold first; CSV upload."""

    model = StockPosition
    template_name = "fulfilments/stock.html"

    def scope_queryset(self, queryset):
        return queryset.select_related("location", "retailer")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        positions = list(self.get_queryset().order_by("location__name", "sku")[:1000])
        positions.sort(key=lambda p: not p.below_threshold)
        retailers = [
            r
            for r in Retailer.objects.filter(pk__in=retailer_ids_for(self.request.user))
            if has_role(self.request.user, r.pk, Role.MANAGER)
        ]
        return super().get_context_data(positions=positions, retailers=retailers, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        upload = request.FILES.get("file")
        retailer_id = bounds.parse_int(request.POST.get("retailer", ""))
        if upload is None or retailer_id is None:
            messages.error(request, "Choose the retailer and a CSV file.")
            return redirect("fulfilments:stock")
        if upload.size > services.STOCK_FILE_MAX_BYTES:
            limit = services.STOCK_FILE_MAX_BYTES // (1024 * 1024)
            messages.error(
                request, f"The file is too large: at most {limit} MB. Nothing was imported."
            )
            return redirect("fulfilments:stock")
        try:
            text = upload.read().decode("utf-8")
            result = services.stock_import(retailer_id=retailer_id, csv_text=text, by=request.user)
        except UnicodeDecodeError:
            messages.error(request, "The file is not UTF-8 text.")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, f"Stock updated: {result.created} new, {result.updated} changed."
            )
        return redirect("fulfilments:stock")
