"""Bulk actions on the orders list: preview, start, follow the job, download what it made."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from oms.bounds import parse_int
from oms.roles import Role
from oms.tenancy import retailer_ids_for
from oms.views import RoleRequiredMixin, TenantDetailView, TenantScopedMixin, role_refusal
from orders.filters import OrderFilter
from orders.models import BulkJob, BulkJobItem, Order
from orders.services import bulk

__all__ = ["BulkJobDownloadView", "BulkJobView", "BulkPreviewView", "BulkStartView"]

PARAM_FIELDS = ("reason", "notify", "status", "message")


class _BulkSelection(RoleRequiredMixin, View):
    """The orders a bulk form names: the ticked ids, or every order matching the list's
    filters ("all"), among the retailers where the user is a manager. Ticking an order of a
    retailer where they are not is refused (403) before anything is previewed."""

    http_method_names = ["post"]
    required_role = Role.MANAGER

    def selected(self) -> list[Order]:
        request = self.request
        scoped = Order.objects.for_user(request.user, role=self.required_role).select_related(
            "status", "suspended_from", "customer"
        )
        if request.POST.get("all") == "on":
            query = QueryDict(request.POST.get("query", "")[:2000])
            found = OrderFilter(query, queryset=scoped, request=request)
            if not found.is_valid():
                raise ValidationError("The list's filters are not valid any more.")
            orders = found.qs.order_by("-placed_at", "-pk")
        else:
            ids = [i for i in map(parse_int, request.POST.getlist("ids")) if i is not None]
            not_managed = (
                Order.objects.for_user(request.user)
                .filter(pk__in=ids)
                .exclude(retailer_id__in=retailer_ids_for(request.user, self.required_role))
            )
            if not_managed.exists():
                raise role_refusal(self.required_role)
            orders = scoped.filter(pk__in=ids).order_by("-placed_at", "-pk")
        return list(orders[: bulk.BULK_LIMIT + 1])

    def data(self) -> dict[str, Any]:
        return {name: self.request.POST.get(name, "") for name in PARAM_FIELDS}

    def call(self, service):
        """The service on the selected orders, or None with the reason shown when refused."""
        try:
            orders = self.selected()
        except ValidationError as error:
            messages.error(self.request, " ".join(error.messages))
            return None
        try:
            return service(
                by=self.request.user,
                orders=orders,
                action_name=self.request.POST.get("action", ""),
                data=self.data(),
            )
        except (ValidationError, PermissionDenied) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            messages.error(self.request, text or "You may not do that.")
            return None

    def back(self) -> HttpResponse:
        query = self.request.POST.get("query", "")
        list_url = reverse("orders:order_list")
        return redirect(f"{list_url}?{query}" if query else list_url)


class BulkPreviewView(_BulkSelection):
    """What the action would do to each selected order; nothing changes yet."""

    def post(self, request: HttpRequest) -> HttpResponse:
        preview = self.call(bulk.preview)
        if preview is None:
            return self.back()
        return render(
            request,
            "orders/bulk_preview.html",
            {"preview": preview, "query": request.POST.get("query", "")},
        )


class BulkStartView(_BulkSelection):
    """Write the job and hand it to a worker; then follow it."""

    def post(self, request: HttpRequest) -> HttpResponse:
        job = self.call(bulk.start)
        return self.back() if job is None else redirect(job)


class BulkJobView(TenantDetailView):
    """A job's progress and each order's result; polled while it runs."""

    model = BulkJob
    template_name = "orders/bulk_job.html"
    context_object_name = "job"

    def get_template_names(self) -> list[str]:
        if self.request.htmx:
            return [f"{self.template_name}#progress"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        job = self.object
        context.update(
            action=bulk.ACTIONS.get(job.action),
            items=list(
                job.items.select_related("order", "order__customer")
                .exclude(status=BulkJobItem.Status.PENDING)
                .order_by("-finished_at", "-pk")[:1000]
            ),
            finished=job.status == BulkJob.Status.DONE,
        )
        return context


class BulkJobDownloadView(TenantScopedMixin, View):
    model = BulkJob

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.get_queryset().filter(pk=pk).first()
        if job is None or not job.output:
            raise Http404("This job made no file.")
        return HttpResponse(
            bytes(job.output),
            content_type=job.output_type,
            headers={"Content-Disposition": f'attachment; filename="{job.output_name}"'},
        )
