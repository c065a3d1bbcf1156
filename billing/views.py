from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from billing.models import BillingSettings
from billing.services import billing_settings, billing_settings_update
from oms.views import AdminRetailerMixin


class BillingSettingsForm(forms.ModelForm):
    class Meta:
        model = BillingSettings
        fields = [
            "invoice_trigger",
            "invoice_prefix",
            "credit_note_prefix",
            "default_delivery_time",
        ]


class BillingSettingsView(AdminRetailerMixin, TemplateView):
    template_name = "billing/settings.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.pop("form", None) or BillingSettingsForm(
            instance=billing_settings(self.retailer.pk)
        )
        return super().get_context_data(form=form, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        retailer = self.retailer
        form = BillingSettingsForm(request.POST, instance=billing_settings(retailer.pk))
        if form.is_valid():
            try:
                billing_settings_update(
                    retailer_id=retailer.pk,
                    by=request.user,
                    **{field: form.cleaned_data[field] for field in form.Meta.fields},
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, "Invoicing settings saved.")
                return redirect(f"{reverse('billing_settings:edit')}?retailer={retailer.pk}")
        return self.render_to_response(self.get_context_data(form=form), status=400)
