"""Admins keep their retailer's intake channels in the product: name, format, rules and the
signing secret (rotated here, shown once)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from oms import activity, bounds
from oms.forms import StyledForm, refuse
from oms.roles import Role
from oms.views import AdminRetailerMixin, TenantObjectActionView, TenantScopedMixin
from orders.intake import channels
from orders.intake.kinds import ADAPTERS
from orders.intake.models import IntakeChannel, IntakeMessage

M = IntakeMessage.Status
EDIT_TEMPLATE = "orders/intake/settings/channel_edit.html"


class ChannelForm(StyledForm):
    code = forms.SlugField(
        max_length=bounds.text_limit(IntakeChannel, "code"),
        help_text="Part of the address the channel posts to; it cannot change later.",
    )
    name = forms.CharField(max_length=bounds.text_limit(IntakeChannel, "name"))
    kind = forms.ChoiceField(label="Format", choices=IntakeChannel.Kind.choices)
    require_phone = forms.BooleanField(
        label="Require a phone number", required=False, help_text="Refuse orders without one."
    )
    require_known_sku = forms.BooleanField(
        label="Require known SKUs",
        required=False,
        help_text="Refuse lines whose SKU no location stocks.",
    )
    total_tolerance = bounds.MoneyField(
        label="Total tolerance",
        min_value=0,
        max_value=channels.MOST_TOLERANCE,
        help_text="How far the sent total may differ from the lines plus shipping. "
        "Shopify's and WooCommerce's totals must match to the cent.",
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["code"]


def _list_url(retailer_id: int) -> str:
    return f"{reverse('channel_settings:list')}?retailer={retailer_id}"


def _initial(channel: IntakeChannel) -> dict[str, Any]:
    return {"name": channel.name, "kind": channel.kind, **channels.rules_of(channel)}


def _edit_page(
    request: HttpRequest,
    channel: IntakeChannel,
    *,
    form: forms.Form | None = None,
    new_secret: str = "",
    secret_form: forms.Form | None = None,
    status: int = 200,
) -> HttpResponse:
    """The channel's page: its form, its address, its secret (masked, or new and shown this
    once), and its last changes."""
    history = activity.history_of(channel)
    try:
        address = request.build_absolute_uri(
            reverse(
                "intake:receive",
                kwargs={"retailer": channel.retailer.ref, "channel": channel.code},
            )
        )
    except NoReverseMatch:  # a code stored before it was checked: no address can carry it
        address = ""
    context = {
        "channel": channel,
        "form": form or ChannelForm(initial=_initial(channel), editing=True),
        "masked_secret": channels.masked(channel.secret),
        "secret_form": secret_form or SecretForm(),
        "kind": ADAPTERS.get(channel.kind),
        "new_secret": new_secret,
        "address": address,
        "history": history,
        "list_url": _list_url(channel.retailer_id),
    }
    return render(request, EDIT_TEMPLATE, context, status=status)


class ChannelListView(AdminRetailerMixin, TemplateView):
    """The retailer's channels with their traffic of the last 24 hours, and the form to add one."""

    template_name = "orders/intake/settings/channel_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        day = timezone.now() - timedelta(days=1)
        recent = Q(messages__received_at__gte=day)
        found = IntakeChannel.objects.filter(retailer=self.retailer)
        rows = list(
            found.annotate(
                received=Count("messages", filter=recent),
                failed=Count(
                    "messages", filter=recent & Q(messages__status__in=[M.REJECTED, M.DEAD])
                ),
            ).order_by("name", "pk")[:500]
        )
        for channel in rows:
            channel.masked_secret = channels.masked(channel.secret)
            channel.rules_now = channels.rules_of(channel)
        context["channels"] = rows
        context["more"] = max(found.count() - len(rows), 0)
        context["form"] = kwargs.get("form") or ChannelForm(
            initial={
                "kind": IntakeChannel.Kind.WEBSTORE,
                "total_tolerance": channels.DEFAULT_TOLERANCE,
            }
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Add a channel, and show its secret this once."""
        retailer = self.retailer
        form = ChannelForm(request.POST)
        if form.is_valid():
            try:
                channel = channels.channel_create(
                    retailer_id=retailer.pk, by=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                refuse(form, error)
            else:
                messages.success(request, f"Channel “{channel.name}” added.")
                return _edit_page(request, channel, new_secret=channel.secret)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class _ChannelMixin(TenantScopedMixin):
    model = IntakeChannel
    required_role = Role.ADMIN


class ChannelEditView(_ChannelMixin, View):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _edit_page(request, self.find(pk=kwargs["pk"]))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        channel = self.find(pk=kwargs["pk"])
        form = ChannelForm(request.POST, editing=True)
        if form.is_valid():
            try:
                channels.channel_update(channel=channel, by=request.user, **form.cleaned_data)
            except ValidationError as error:
                refuse(form, error)
            else:
                messages.success(request, f"Channel “{form.cleaned_data['name']}” saved.")
                return redirect(_list_url(channel.retailer_id))
        return _edit_page(request, channel, form=form, status=400)


class ChannelToggleView(_ChannelMixin, TenantObjectActionView):
    """Stop taking a channel's messages or take them again."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        channel = channels.channel_toggle(channel=self.get_object(), by=request.user)
        state = "takes orders again" if channel.is_active else "no longer takes orders"
        messages.success(request, f"“{channel.name}” {state}.")
        return redirect(_list_url(channel.retailer_id))


class ChannelRotateSecretView(_ChannelMixin, TenantObjectActionView):
    """Replace the channel's secret; the page shows the new one this once."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        channel = channels.channel_rotate_secret(channel=self.get_object(), by=request.user)
        messages.success(
            request, f"“{channel.name}” has a new secret: the old one no longer works."
        )
        return _edit_page(request, channel, new_secret=channel.secret)


class SecretForm(StyledForm):
    secret = forms.CharField(
        label="The platform's secret",
        max_length=channels.SECRET_LENGTHS[1],
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Shopify shows the key its webhooks are signed with; a WooCommerce webhook "
        "signs with the secret typed into it.",
    )


class ChannelSetSecretView(_ChannelMixin, TenantObjectActionView):
    """Sign with the secret a platform made; the page never shows it back."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        channel = self.get_object()
        form = SecretForm(request.POST)
        if form.is_valid():
            try:
                channels.channel_set_secret(
                    channel=channel, by=request.user, secret=form.cleaned_data["secret"]
                )
            except ValidationError as error:
                refuse(form, error)
            else:
                messages.success(
                    request, f"“{channel.name}” now takes messages signed with that secret only."
                )
                return redirect("channel_settings:edit", pk=channel.pk)
        return _edit_page(request, channel, secret_form=form, status=400)
