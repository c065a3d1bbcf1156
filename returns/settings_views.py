"""Admins keep their retailer's return reasons, actions and conditions."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.text import slugify
from django.views.generic import TemplateView

from oms import activity
from oms.roles import Role, require_role
from oms.views import AdminRetailerMixin, TenantObjectActionView, TenantScopedMixin
from returns.models import ReturnAction, ReturnCondition, ReturnReason


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


@transaction.atomic
def config_save(*, form: forms.ModelForm, retailer_id: int, by):
    """Add or change an entry of a retailer's list (admins)."""
    require_role(by, retailer_id, Role.ADMIN)
    entry = form.save(commit=False)
    entry.retailer_id = retailer_id
    entry.code = slugify(entry.code or entry.label).upper()[:50]
    adding = entry.pk is None
    stored = None if adding else type(entry).objects.get(pk=entry.pk)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as error:
        form.add_error("code", f"There is an entry with code {entry.code} already.")
        raise ValueError from error
    data = {"label": entry.label, "code": entry.code}
    if stored is not None:
        changed = [f for f in form.Meta.fields if getattr(stored, f) != getattr(entry, f)]
        data["before"] = {f: _shown(getattr(stored, f)) for f in changed}
        data["after"] = {f: _shown(getattr(entry, f)) for f in changed}
    activity.record(
        action=f"returns.{type(entry).__name__.lower()}.{'created' if adding else 'updated'}",
        target=entry,
        by=by,
        data=data,
    )
    return entry


@transaction.atomic
def config_toggle(*, entry, by):
    """Stop offering an entry (it stays on the returns that use it) or offer it again. The row
    is locked, so two admins toggling at once take turns and each sees the other's change."""
    require_role(by, entry.retailer_id, Role.ADMIN)
    entry = type(entry).objects.select_for_update().get(pk=entry.pk)
    entry.is_active = not entry.is_active
    entry.save(update_fields=["is_active"])
    activity.record(
        action=f"returns.{type(entry).__name__.lower()}."
        f"{'activated' if entry.is_active else 'deactivated'}",
        target=entry,
        by=by,
        data={"label": entry.label},
    )
    return entry


def _shown(value):
    """A field's value as the activity keeps it: a related entry by its label."""
    return value if value is None or isinstance(value, str | int | bool) else str(value)


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
        self.model, self.fields, self.title = KINDS[kwargs["kind"]]


class ConfigEditView(_EntryMixin, TemplateView):
    template_name = "returns/settings/config_edit.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        entry = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        form = kwargs.pop("form", None) or _form(self.model, self.fields)(
            instance=entry, retailer_id=entry.retailer_id
        )
        return super().get_context_data(entry=entry, form=form, title=self.title, **kwargs)

    def post(self, request, *args, **kwargs):
        entry = get_object_or_404(self.get_queryset(), pk=kwargs["pk"])
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
