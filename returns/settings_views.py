"""Admins keep their retailer's return reasons, actions and conditions."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from oms.roles import Role
from oms.views import AdminRetailerMixin, TenantObjectActionView, TenantScopedMixin
from returns.models import ReturnAction, ReturnCondition, ReturnReason
from returns.services import config_save, config_toggle


class _ConfigForm(forms.ModelForm):
    def __init__(self, *args, retailer_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        if "default_action" in self.fields:
            self.fields["default_action"].queryset = ReturnAction.objects.filter(
                retailer_id=retailer_id, is_active=True
            )
            self.fields["default_action"].required = False
        self.fields["code"].required = False


def _form(model, fields):
    return type(
        f"{model.__name__}Form",
        (_ConfigForm,),
        {"Meta": type("Meta", (), {"model": model, "fields": fields})},
    )


KINDS = {
    "reasons": (ReturnReason, ["label", "code", "default_action"], "Return reasons"),
    "actions": (ReturnAction, ["label", "code", "kind", "timing"], "Return actions"),
    "conditions": (ReturnCondition, ["label", "code", "restockable"], "Return conditions"),
}


class ConfigListView(AdminRetailerMixin, TemplateView):
    template_name = "returns/settings/config_list.html"
    kind: ClassVar[str] = ""

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.model, self.fields, self.title = KINDS[self.kind]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        retailer = self.retailer
        form = kwargs.pop("form", None) or _form(self.model, self.fields)(retailer_id=retailer.pk)
        return super().get_context_data(
            title=self.title,
            kind=self.kind,
            form=form,
            entries=list(self.model.objects.filter(retailer=retailer)),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        retailer = self.retailer
        form = _form(self.model, self.fields)(request.POST, retailer_id=retailer.pk)
        if form.is_valid():
            try:
                entry = config_save(form=form, retailer_id=retailer.pk, by=request.user)
            except ValueError:
                pass
            else:
                messages.success(request, f"“{entry.label}” added.")
                return redirect(f"{reverse(f'return_config:{self.kind}')}?retailer={retailer.pk}")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class _EntryMixin(TenantScopedMixin):
    required_role = Role.ADMIN
    kind: ClassVar[str] = ""

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        if kwargs.get("kind") not in KINDS:  # /settings/return-<anything>/...: no such page
            raise Http404("No such settings page.")
        self.model, self.fields, self.title = KINDS[kwargs["kind"]]


class ConfigEditView(_EntryMixin, TemplateView):
    template_name = "returns/settings/config_edit.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        entry = self.find(pk=self.kwargs["pk"])
        form = kwargs.pop("form", None) or _form(self.model, self.fields)(
            instance=entry, retailer_id=entry.retailer_id
        )
        return super().get_context_data(entry=entry, form=form, title=self.title, **kwargs)

    def post(self, request, *args, **kwargs):
        entry = self.find(pk=kwargs["pk"])
        form = _form(self.model, self.fields)(
            request.POST, instance=entry, retailer_id=entry.retailer_id
        )
        if form.is_valid():
            try:
                config_save(form=form, retailer_id=entry.retailer_id, by=request.user)
            except ValueError:
                pass
            else:
                messages.success(request, "Saved.")
                return redirect(
                    f"{reverse(f'return_config:{kwargs["kind"]}')}?retailer={entry.retailer_id}"
                )
        return self.render_to_response(self.get_context_data(form=form, **kwargs), status=400)


class ConfigToggleView(_EntryMixin, TenantObjectActionView):
    """Deactivate an entry (it stays on the returns that use it) or bring it back."""

    def post(self, request, *args, **kwargs):
        entry = config_toggle(entry=self.get_object(), by=request.user)
        messages.success(
            request, f"“{entry.label}” is {'active' if entry.is_active else 'no longer offered'}."
        )
        return redirect(
            f"{reverse(f'return_config:{kwargs["kind"]}')}?retailer={entry.retailer_id}"
        )
