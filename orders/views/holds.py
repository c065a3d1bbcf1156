"""Admins keep their retailer's hold rules (Settings, Hold rules)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from oms.roles import Role
from oms.views import AdminRetailerMixin, TenantObjectActionView, TenantScopedMixin
from orders import services
from orders.models import HoldRule
from orders.services.holds import MOST_COUNTRIES


class HoldRuleForm(forms.Form):
    """What a person types; the service checks every bound and says what is wrong."""

    name = forms.CharField(max_length=100, help_text="How the order page names the rule.")
    kind = forms.ChoiceField(label="Hold", choices=HoldRule.Kind.choices)
    condition = forms.ChoiceField(choices=HoldRule.Condition.choices)
    amount = forms.CharField(
        required=False,
        max_length=20,
        label="Amount",
        help_text="For the conditions on the total: the amount it must go above.",
    )
    countries = forms.CharField(
        required=False,
        max_length=4 * MOST_COUNTRIES,
        label="Countries",
        help_text="For the delivery condition: the countries (codes, separated by commas) an "
        "order may ship to without a hold.",
    )

    def save(self, *, retailer_id: int, by, rule: HoldRule | None = None) -> HoldRule | None:
        """The rule saved, or None with the service's refusals on the form."""
        try:
            return services.hold_rule_save(
                retailer_id=retailer_id, by=by, rule=rule, **self.cleaned_data
            )
        except ValidationError as error:
            for field, reasons in error.message_dict.items():
                self.add_error(field if field in self.fields else None, reasons)
            return None


def _initial(rule: HoldRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "condition": rule.condition,
        "amount": "" if rule.amount is None else rule.amount,
        "countries": ", ".join(rule.countries),
    }


def _list_url(retailer_id: int) -> str:
    return f"{reverse('hold_rules:list')}?retailer={retailer_id}"


class HoldRuleListView(AdminRetailerMixin, TemplateView):
    template_name = "orders/settings/hold_rules.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        retailer = self.retailer
        return super().get_context_data(
            rules=list(HoldRule.objects.filter(retailer=retailer)),
            form=kwargs.pop("form", None) or HoldRuleForm(),
            **kwargs,
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Add a rule."""
        retailer = self.retailer
        form = HoldRuleForm(request.POST)
        if form.is_valid():
            rule = form.save(retailer_id=retailer.pk, by=request.user)
            if rule is not None:
                messages.success(request, f"Hold rule “{rule.name}” added.")
                return redirect(_list_url(retailer.pk))
        return self.render_to_response(self.get_context_data(form=form), status=400)


class _RuleMixin(TenantScopedMixin):
    model = HoldRule
    required_role = Role.ADMIN


class HoldRuleEditView(_RuleMixin, TemplateView):
    template_name = "orders/settings/hold_rule_edit.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        rule = self.find(pk=self.kwargs["pk"])
        form = kwargs.pop("form", None) or HoldRuleForm(initial=_initial(rule))
        return super().get_context_data(rule=rule, form=form, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rule = self.find(pk=kwargs["pk"])
        form = HoldRuleForm(request.POST)
        if form.is_valid() and form.save(retailer_id=rule.retailer_id, by=request.user, rule=rule):
            messages.success(request, f"Hold rule “{rule.name}” saved.")
            return redirect(_list_url(rule.retailer_id))
        return self.render_to_response(self.get_context_data(form=form), status=400)


class HoldRuleActiveView(_RuleMixin, TenantObjectActionView):
    """Deactivate a rule (the orders it held keep naming it) or apply it again."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rule = self.get_object()
        active = request.POST.get("active") == "1"
        services.hold_rule_set_active(rule=rule, by=request.user, active=active)
        messages.success(
            request,
            f"Hold rule “{rule.name}” "
            f"{'applies to new orders' if active else 'is deactivated: new orders are not held by it'}.",
        )
        return redirect(_list_url(rule.retailer_id))
