"""Admins shape their retailer's order statuses."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from oms import bounds
from oms.roles import Role
from oms.views import AdminRetailerMixin, TenantObjectActionView, TenantScopedMixin
from orders import services
from orders.models import OrderStatus, StatusColour, SystemState


class StatusForm(forms.Form):
    label = forms.CharField(max_length=100)
    code = forms.SlugField(max_length=50, required=False)
    colour = forms.ChoiceField(choices=StatusColour.choices)
    system_state = forms.ChoiceField(choices=SystemState.choices)


class DateWindowForm(forms.Form):
    """The dates the retailer's records may carry."""

    dates_from = bounds.LocalDateField(
        label="Earliest date",
        widget=bounds.LocalDateInput(attrs={"class": "form-control form-control-sm"}),
        help_text="Orders, returns and payments dated before it are refused.",
    )
    dates_ahead_days = forms.IntegerField(
        label="Days ahead",
        min_value=1,
        max_value=bounds.MOST_DAYS_AHEAD,
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm"}),
        help_text="How far past today a date (a promised date, a due date) may lie.",
    )


def _list_url(retailer_id: int) -> str:
    return f"{reverse('order_statuses:list')}?retailer={retailer_id}"


def _errors(error: ValidationError) -> str:
    return " ".join(error.messages)


class StatusListView(AdminRetailerMixin, TemplateView):
    template_name = "orders/settings/status_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["statuses"] = list(
            OrderStatus.objects.filter(retailer=self.retailer).order_by("position", "pk")
        )
        context["form"] = kwargs.get("form") or StatusForm(initial={"colour": "blue"})
        context["dates_form"] = kwargs.get("dates_form") or DateWindowForm(
            initial={
                "dates_from": self.retailer.dates_from,
                "dates_ahead_days": self.retailer.dates_ahead_days,
            }
        )
        context["colours"] = StatusColour.choices
        context["states"] = SystemState.choices
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Add a status."""
        form = StatusForm(request.POST)
        retailer = self.retailer
        if form.is_valid():
            try:
                status = services.order_status_create(
                    retailer_id=retailer.pk, by=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                messages.error(request, _errors(error))
            else:
                messages.success(request, f"Status “{status.label}” added.")
                return redirect(_list_url(retailer.pk))
        return self.render_to_response(self.get_context_data(form=form), status=400)


class DateWindowView(StatusListView):
    """Set the retailer's date window (the form sits on the statuses page)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return redirect(_list_url(self.retailer.pk))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = DateWindowForm(request.POST)
        retailer = self.retailer
        if form.is_valid():
            try:
                services.retailer_date_window_update(
                    retailer_id=retailer.pk, by=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                messages.error(request, _errors(error))
            else:
                messages.success(request, "Date window saved.")
                return redirect(_list_url(retailer.pk))
        return self.render_to_response(self.get_context_data(dates_form=form), status=400)


class _StatusMixin(TenantScopedMixin):
    model = OrderStatus
    required_role = Role.ADMIN


class StatusEditView(_StatusMixin, TemplateView):
    template_name = "orders/settings/status_edit.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        status = self.find(pk=self.kwargs["pk"])
        form = kwargs.pop("form", None) or StatusForm(
            initial={
                "label": status.label,
                "code": status.code,
                "colour": status.colour,
                "system_state": status.system_state,
            }
        )
        return super().get_context_data(status=status, form=form, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        status = self.find(pk=kwargs["pk"])
        form = StatusForm(request.POST)
        if form.is_valid():
            try:
                services.order_status_update(
                    status=status,
                    by=request.user,
                    label=form.cleaned_data["label"],
                    colour=form.cleaned_data["colour"],
                    system_state=form.cleaned_data["system_state"],
                )
            except ValidationError as error:
                messages.error(request, _errors(error))
            else:
                messages.success(request, "Status saved.")
                return redirect(_list_url(status.retailer_id))
        return self.render_to_response(self.get_context_data(form=form), status=400)


class StatusMoveView(_StatusMixin, TenantObjectActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        status = self.get_object()
        try:
            services.order_status_move(
                status=status, by=request.user, direction=request.POST.get("direction", "")
            )
        except ValidationError as error:
            messages.error(request, _errors(error))
        return redirect(_list_url(status.retailer_id))


class StatusDeleteView(_StatusMixin, TenantObjectActionView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        status = self.get_object()
        try:
            services.order_status_delete(status=status, by=request.user)
        except ValidationError as error:
            messages.error(request, _errors(error))
        else:
            messages.success(request, f"Status “{status.label}” deleted.")
        return redirect(_list_url(status.retailer_id))
