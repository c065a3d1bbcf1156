"""Admins keep their retailer's webhook endpoints in the product (address, events, signing
secret rotated here and shown once), and follow what was posted to them: every delivery, its
answer, and a redelivery at a button."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import django_filters
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from oms import activity
from oms.filters import LazyChoices, RetailerFilter, offer_retailers
from oms.forms import refuse
from oms.models import WebhookDelivery, WebhookEndpoint
from oms.roles import Role
from oms.views import (
    AdminRetailerMixin,
    HtmxResultsMixin,
    TenantObjectActionView,
    TenantScopedMixin,
    role_refusal,
)
from oms.webhooks import services, signing
from oms.webhooks.forms import EndpointForm
from oms.webhooks.tables import DeliveryTable, record_link, status_badge

D = WebhookDelivery.Status
EDIT_TEMPLATE = "oms/webhooks/endpoint_edit.html"
# the most of a stored payload or answer a page shows: a page stays readable whatever was sent
SHOWN_CHARS = 20_000


def _list_url(retailer_id: int) -> str:
    return f"{reverse('webhook_settings:list')}?retailer={retailer_id}"


def _initial(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events or ()),
    }


def _edit_page(
    request: HttpRequest,
    endpoint: WebhookEndpoint,
    *,
    form: EndpointForm | None = None,
    new_secret: str = "",
    status: int = 200,
) -> HttpResponse:
    """The endpoint's page: its form, its secret (masked, or new and shown this once), its
    latest deliveries and its last changes."""
    recent = list(
        endpoint.deliveries.order_by("-created_at", "-pk").only(
            "pk", "event", "status", "created_at", "response_code", "attempts"
        )[:5]
    )
    context = {
        "endpoint": endpoint,
        "form": form or EndpointForm(initial=_initial(endpoint)),
        "masked_secret": services.masked(endpoint.secret),
        "new_secret": new_secret,
        "recent": recent,
        "history": activity.history_of(endpoint),
        "list_url": _list_url(endpoint.retailer_id),
    }
    return render(request, EDIT_TEMPLATE, context, status=status)


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    """To the page the action was made from, when it is one of ours; else to `fallback`."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = fallback
    return redirect(target)


class EndpointListView(AdminRetailerMixin, TemplateView):
    """The retailer's endpoints with how their deliveries fared, and the form to add one."""

    template_name = "oms/webhooks/endpoint_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        day = timezone.now() - timedelta(days=1)
        latest = WebhookDelivery.objects.filter(endpoint=OuterRef("pk")).order_by(
            "-created_at", "-pk"
        )
        found = WebhookEndpoint.objects.filter(retailer=self.retailer)
        rows = list(
            found.annotate(
                failed_day=Count(
                    "deliveries",
                    filter=Q(deliveries__status=D.FAILED, deliveries__created_at__gte=day),
                ),
                pending=Count("deliveries", filter=Q(deliveries__status=D.PENDING)),
                last_status=Subquery(latest.values("status")[:1]),
                last_at=Subquery(latest.values("created_at")[:1]),
            ).order_by("url", "pk")[:500]
        )
        for endpoint in rows:
            endpoint.masked_secret = services.masked(endpoint.secret)
            endpoint.last_badge = status_badge(endpoint.last_status) if endpoint.last_status else ""
        context["endpoints"] = rows
        context["more"] = max(found.count() - len(rows), 0) if len(rows) == 500 else 0
        context["form"] = kwargs.get("form") or EndpointForm()
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Add an endpoint, and show its secret this once."""
        retailer = self.retailer
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint = services.endpoint_create(
                    retailer_id=retailer.pk, by=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                refuse(form, error)
            else:
                messages.success(request, f"Endpoint {endpoint.url} added.")
                return _edit_page(request, endpoint, new_secret=endpoint.secret)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class _EndpointMixin(TenantScopedMixin):
    model = WebhookEndpoint
    required_role = Role.ADMIN


class EndpointEditView(_EndpointMixin, View):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _edit_page(request, self.find(pk=kwargs["pk"]))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        endpoint = self.find(pk=kwargs["pk"])
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                services.endpoint_update(endpoint=endpoint, by=request.user, **form.cleaned_data)
            except ValidationError as error:
                refuse(form, error)
            else:
                messages.success(request, f"Endpoint {form.cleaned_data['url']} saved.")
                return redirect(_list_url(endpoint.retailer_id))
        return _edit_page(request, endpoint, form=form, status=400)


class EndpointToggleView(_EndpointMixin, TenantObjectActionView):
    """Stop posting to an endpoint, or post to it again."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        endpoint = self.get_object()
        endpoint = services.endpoint_update(
            endpoint=endpoint, by=request.user, is_active=not endpoint.is_active
        )
        state = "gets events again" if endpoint.is_active else "no longer gets events"
        messages.success(request, f"{endpoint.url} {state}.")
        return redirect(_list_url(endpoint.retailer_id))


class EndpointRotateSecretView(_EndpointMixin, TenantObjectActionView):
    """Replace the endpoint's secret; the page shows the new one this once."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        endpoint = services.endpoint_rotate_secret(endpoint=self.get_object(), by=request.user)
        messages.success(
            request, f"{endpoint.url} has a new secret: deliveries are signed with it from now on."
        )
        return _edit_page(request, endpoint, new_secret=endpoint.secret)


class EndpointDeleteView(_EndpointMixin, TenantObjectActionView):
    """Remove an endpoint (its button asks first)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        endpoint = self.get_object()
        url, retailer_id = endpoint.url, endpoint.retailer_id
        services.endpoint_delete(endpoint=endpoint, by=request.user)
        messages.success(request, f"Endpoint {url} deleted.")
        return redirect(_list_url(retailer_id))


def _endpoint_for(request: HttpRequest, pk: int) -> WebhookEndpoint:
    """The endpoint of a retailer the user administers: 404 for one they may not know of, 403
    for one of a retailer where they are a member without the admin role."""
    found = WebhookEndpoint.objects.for_user(request.user, role=Role.ADMIN).filter(pk=pk).first()
    if found is None:
        if WebhookEndpoint.objects.for_user(request.user).filter(pk=pk).exists():
            raise role_refusal(Role.ADMIN)
        raise Http404("No webhook endpoint found matching the query.")
    return found


class DeliveryFilter(django_filters.FilterSet):
    retailer = RetailerFilter()
    endpoint = django_filters.ChoiceFilter(
        field_name="endpoint_id", label="Endpoint", empty_label="Any endpoint"
    )
    status = django_filters.MultipleChoiceFilter(distinct=False, choices=D.choices)
    event = django_filters.ChoiceFilter(
        choices=[(name, name) for name, _ in services.EVENTS], empty_label="Any event"
    )

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []

    def __init__(self, *args: Any, endpoints: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_retailers(self, self.request.user)
        self.filters["endpoint"].extra["choices"] = LazyChoices(
            lambda: [(str(pk), url) for pk, url in endpoints.values_list("pk", "url")[:500]]
        )


class DeliveryListView(TenantScopedMixin, HtmxResultsMixin, SingleTableMixin, FilterView):
    """What was posted to the retailers' endpoints, newest first: all of them, or one
    endpoint's (`<pk>/deliveries/`)."""

    model = WebhookDelivery
    required_role = Role.ADMIN
    table_class = DeliveryTable
    filterset_class = DeliveryFilter
    template_name = "oms/webhooks/delivery_list.html"
    paginate_by = 50

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.endpoint = None
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "pk" in kwargs:
            self.endpoint = _endpoint_for(request, kwargs["pk"])
        return super().get(request, *args, **kwargs)

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.endpoint is not None:
            queryset = queryset.filter(endpoint_id=self.endpoint.pk)
        return (
            queryset.select_related("endpoint")
            .defer("payload", "response_body", "endpoint__secret")
            .order_by("-created_at", "-pk")
        )

    def get_filterset_kwargs(self, filterset_class) -> dict[str, Any]:
        kwargs = super().get_filterset_kwargs(filterset_class)
        kwargs["endpoints"] = WebhookEndpoint.objects.for_user(
            self.request.user, role=self.required_role
        ).order_by("url", "pk")
        return kwargs

    def get_table_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"next_url": self.request.get_full_path()}
        if self.endpoint is not None:
            kwargs["exclude"] = ("endpoint",)
        return kwargs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(endpoint=self.endpoint, **kwargs)


def _pretty(value: Any) -> str:
    """A stored JSON value as indented text, cut at SHOWN_CHARS."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return _cut(text)


def _cut(text: str) -> str:
    text = text or ""
    if len(text) > SHOWN_CHARS:
        return f"{text[:SHOWN_CHARS]}\n… ({len(text) - SHOWN_CHARS} more characters not shown)"
    return text


class DeliveryDetailView(TenantScopedMixin, TemplateView):
    """One delivery: what was sent (headers and body), what came back, and its redeliveries."""

    model = WebhookDelivery
    required_role = Role.ADMIN
    template_name = "oms/webhooks/delivery_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        delivery = self.find(
            self.get_queryset().select_related("endpoint", "redelivery_of"), pk=self.kwargs["pk"]
        )
        attempted = delivery.last_attempt_at
        headers = [
            ("Content-Type", "application/json"),
            ("User-Agent", signing.USER_AGENT),
            (signing.ID_HEADER, str(delivery.event_id)),
            (signing.EVENT_HEADER, delivery.event),
            (
                signing.TIMESTAMP_HEADER,
                f"{int(attempted.timestamp())} (about, of the last attempt)"
                if attempted
                else "not sent yet",
            ),
            (signing.SIGNATURE_HEADER, "v1=… (HMAC-SHA256 with the endpoint's secret)"),
        ]
        redeliveries = list(
            WebhookDelivery.objects.filter(
                retailer_id=delivery.retailer_id, redelivery_of_id=delivery.pk
            )
            .only("pk", "status", "created_at")
            .order_by("-created_at", "-pk")[:20]
        )
        return super().get_context_data(
            delivery=delivery,
            endpoint=delivery.endpoint,
            headers=headers,
            payload=_pretty(delivery.payload),
            response_body=_cut(delivery.response_body),
            record_url=record_link(delivery),
            status_badge=status_badge(delivery.status),
            pending=D.PENDING,
            redeliveries=redeliveries,
            **kwargs,
        )


class DeliveryRedeliverView(TenantObjectActionView):
    """Send a delivery's payload again, as a new delivery."""

    model = WebhookDelivery
    required_role = Role.ADMIN

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        delivery = self.get_object()
        fallback = reverse("webhook_settings:endpoint_deliveries", args=[delivery.endpoint_id])
        try:
            again = services.delivery_redeliver(delivery=delivery, by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, f"{delivery.event} queued for redelivery as delivery {again.pk}."
            )
        return _back(request, fallback)
