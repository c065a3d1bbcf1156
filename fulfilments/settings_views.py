"""Admins keep their retailer's locations (zones, daily capacity) and carriers (zones, transit
days) in the product."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from fulfilments import configuration
from fulfilments.models import Carrier, Location
from oms import activity, bounds
from oms.forms import StyledForm, refuse
from oms.roles import Role
from oms.views import AdminRetailerMixin, TenantObjectActionView, TenantScopedMixin

ZONES_MAX_TEXT = 4_000  # every country's name, comma-separated, fits


class CountField(forms.CharField):
    """A whole number within bounds, in ASCII digits (`oms.bounds.check_quantity`)."""

    def __init__(self, *, most: int, **kwargs: Any) -> None:
        self.most = most
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget",
            forms.NumberInput(attrs={"min": 0, "max": most, "inputmode": "numeric"}),
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> int:
        return bounds.check_quantity(super().clean(value), most=self.most)


class ZonesField(forms.CharField):
    """Countries, comma-separated, as ISO codes or English names; stored as codes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", ZONES_MAX_TEXT)
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text", "Countries it serves, as ISO codes separated by commas: NL, BE, DE."
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value) or ""
        items = [item for item in (part.strip() for part in re.split(r"[,;\n]", text)) if item]
        return configuration.check_zones(items)


class LocationForm(StyledForm):
    ref = forms.CharField(
        label="Ref",
        max_length=bounds.text_limit(Location, "ref"),
        help_text="How stock files and returns name it; it cannot change later.",
    )
    name = forms.CharField(max_length=bounds.text_limit(Location, "name"))
    type = forms.ChoiceField(label="Kind", choices=Location.Type.choices)
    daily_capacity = CountField(
        label="Daily capacity",
        most=configuration.MOST_CAPACITY,
        help_text="Fulfilments it can take for one promised day; sourcing skips it when full.",
    )
    zones = ZonesField(
        label="Ships to",
        help_text="Countries it ships home deliveries to, as ISO codes separated by commas: "
        "NL, BE, DE. Leave it empty for a location that only serves click and collect.",
    )
    line1 = forms.CharField(
        label="Street", required=False, max_length=bounds.text_limit(Location, "line1")
    )
    postcode = forms.CharField(required=False, max_length=bounds.text_limit(Location, "postcode"))
    city = forms.CharField(required=False, max_length=bounds.text_limit(Location, "city"))
    country = bounds.CountryField(required=False, help_text="ISO code or English name.")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["ref"]


class CarrierForm(StyledForm):
    name = forms.CharField(
        max_length=bounds.text_limit(Carrier, "name"),
        help_text="Orders name their carrier by this name; under a name no carrier has, an "
        "order counts 2 transit days.",
    )
    transit_days = CountField(
        label="Transit days",
        most=configuration.MOST_TRANSIT_DAYS,
        help_text="Days from handing a parcel over to its delivery; the at-risk flag counts them.",
    )
    zones = ZonesField(label="Delivers to")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


class _Kind:
    """What differs between the locations and the carriers pages."""

    model: ClassVar[type]
    form_class: ClassVar[type[forms.Form]]
    list_name: ClassVar[str]
    noun: ClassVar[str]

    def list_url(self, retailer_id: int) -> str:
        return f"{reverse(f'fulfilment_settings:{self.list_name}')}?retailer={retailer_id}"


class _LocationKind(_Kind):
    model = Location
    form_class = LocationForm
    list_name = "locations"
    noun = "location"


class _CarrierKind(_Kind):
    model = Carrier
    form_class = CarrierForm
    list_name = "carriers"
    noun = "carrier"


class _ListView(AdminRetailerMixin, TemplateView):
    """A retailer's entries, and the form that adds one."""

    kind: ClassVar[_Kind]

    def rows(self, retailer) -> dict[str, Any]:
        raise NotImplementedError

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(self.rows(self.retailer))
        context["form"] = kwargs.get("form") or self.initial_form()
        return context

    def initial_form(self) -> forms.Form:
        return self.kind.form_class()

    def create(self, retailer, data: dict[str, Any]):
        raise NotImplementedError

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Add an entry."""
        retailer = self.retailer
        form = self.kind.form_class(request.POST)
        if form.is_valid():
            try:
                entry = self.create(retailer, form.cleaned_data)
            except ValidationError as error:
                refuse(form, error)
            else:
                messages.success(request, f"{self.kind.noun.capitalize()} “{entry}” added.")
                return redirect(self.kind.list_url(retailer.pk))
        return self.render_to_response(self.get_context_data(form=form), status=400)


class LocationListView(_ListView):
    template_name = "fulfilments/settings/location_list.html"
    kind = _LocationKind()

    def rows(self, retailer) -> dict[str, Any]:
        locations = list(Location.objects.filter(retailer=retailer).order_by("name", "pk")[:500])
        today = timezone.localdate()
        loads = configuration.location_loads(locations, today)
        for location in locations:
            location.load_today = loads.get(location.pk, 0)
            location.zones_text = configuration.zones_text(location.zones)
        total = Location.objects.filter(retailer=retailer).count()
        return {"locations": locations, "more": max(total - len(locations), 0), "today": today}

    def initial_form(self) -> forms.Form:
        return LocationForm(initial={"type": Location.Type.WAREHOUSE, "daily_capacity": 100})

    def create(self, retailer, data: dict[str, Any]):
        return configuration.location_create(retailer_id=retailer.pk, by=self.request.user, **data)


class CarrierListView(_ListView):
    template_name = "fulfilments/settings/carrier_list.html"
    kind = _CarrierKind()

    def rows(self, retailer) -> dict[str, Any]:
        carriers = list(Carrier.objects.filter(retailer=retailer).order_by("name", "pk")[:500])
        for carrier in carriers:
            carrier.zones_text = configuration.zones_text(carrier.zones)
        total = Carrier.objects.filter(retailer=retailer).count()
        return {"carriers": carriers, "more": max(total - len(carriers), 0)}

    def initial_form(self) -> forms.Form:
        return CarrierForm(initial={"transit_days": 2})

    def create(self, retailer, data: dict[str, Any]):
        return configuration.carrier_create(retailer_id=retailer.pk, by=self.request.user, **data)


class _EntryMixin(TenantScopedMixin):
    required_role = Role.ADMIN
    kind: ClassVar[_Kind]


class _EditView(_EntryMixin, TemplateView):
    """One entry's form, its recent changes, and the save."""

    template_name = "fulfilments/settings/entry_edit.html"

    def initial(self, entry) -> dict[str, Any]:
        raise NotImplementedError

    def update(self, entry, data: dict[str, Any]):
        raise NotImplementedError

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        entry = kwargs.pop("entry", None) or self.find(pk=self.kwargs["pk"])
        form = kwargs.pop("form", None) or self.kind.form_class(
            initial=self.initial(entry), editing=True
        )
        return super().get_context_data(
            entry=entry,
            form=form,
            kind=self.kind,
            list_url=self.kind.list_url(entry.retailer_id),
            history=activity.history_of(entry),
            **kwargs,
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        entry = self.find(pk=kwargs["pk"])
        form = self.kind.form_class(request.POST, editing=True)
        if form.is_valid():
            try:
                self.update(entry, form.cleaned_data)
            except ValidationError as error:
                refuse(form, error)
            else:
                messages.success(request, f"{self.kind.noun.capitalize()} “{entry}” saved.")
                return redirect(self.kind.list_url(entry.retailer_id))
        return self.render_to_response(self.get_context_data(entry=entry, form=form), status=400)


class LocationEditView(_EditView):
    model = Location
    kind = _LocationKind()

    def initial(self, entry) -> dict[str, Any]:
        fields = ("name", "type", "line1", "postcode", "city", "country", "daily_capacity")
        return {
            **{name: getattr(entry, name) for name in fields},
            "zones": configuration.zones_text(entry.zones),
        }

    def update(self, entry, data: dict[str, Any]):
        return configuration.location_update(location=entry, by=self.request.user, **data)


class CarrierEditView(_EditView):
    model = Carrier
    kind = _CarrierKind()

    def initial(self, entry) -> dict[str, Any]:
        return {
            "name": entry.name,
            "zones": configuration.zones_text(entry.zones),
            "transit_days": entry.transit_days,
        }

    def update(self, entry, data: dict[str, Any]):
        return configuration.carrier_update(carrier=entry, by=self.request.user, **data)


class LocationToggleView(_EntryMixin, TenantObjectActionView):
    """Deactivate a location (its stock and fulfilments stay) or bring it back."""

    model = Location
    kind = _LocationKind()

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        location = configuration.location_toggle(location=self.get_object(), by=request.user)
        state = "sources orders again" if location.is_active else "no longer sources orders"
        messages.success(request, f"“{location.name}” {state}.")
        return redirect(self.kind.list_url(location.retailer_id))


class CarrierToggleView(_EntryMixin, TenantObjectActionView):
    """Make a carrier unavailable or available again."""

    model = Carrier
    kind = _CarrierKind()

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        carrier = configuration.carrier_toggle(carrier=self.get_object(), by=request.user)
        state = "is available again" if carrier.is_available else "is no longer used"
        messages.success(request, f"“{carrier.name}” {state}.")
        return redirect(self.kind.list_url(carrier.retailer_id))
