from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView

from oms import rls
from oms.roles import Role, has_role
from oms.state import InvalidTransition
from oms.views import TenantObjectActionView, TenantScopedMixin
from orders.intake import processing
from orders.intake.kinds import ADAPTERS
from orders.intake.models import IntakeChannel, IntakeMessage

M = IntakeMessage.Status


@method_decorator([login_not_required, csrf_exempt], name="dispatch")
class ReceiveView(View):
    """POST /intake/<retailer>/<channel>/, signed as the channel's kind signs
    (`orders.intake.kinds`): the project's own kinds with X-Signature (hex HMAC-SHA256 of the
    body with the channel's secret); Shopify and WooCommerce with their own headers. Answers
    202 with the message id once it is stored, or 200 with the message kept the first time
    when the platform sends a delivery again."""

    def post(self, request: HttpRequest, retailer: str, channel: str) -> JsonResponse:
        with rls.all_retailers():  # a signed channel says whose the message is
            found = (
                IntakeChannel.objects.select_related("retailer")
                .filter(retailer__ref=retailer, code=channel, is_active=True)
                .first()
            )
        if found is None:
            return JsonResponse({"error": "No such channel."}, status=404)
        rls.use_retailers([found.retailer_id])
        kind = ADAPTERS[found.kind]
        if kind.is_ping(request.body):
            return JsonResponse({"ping": "ok"}, status=200)
        header = kind.signature_header
        if not processing.signature_ok(found, request.body, request.headers.get(header)):
            return JsonResponse({"error": f"Bad or missing {header}."}, status=401)
        topic = ""
        if kind.topic_header:
            topic = request.headers.get(kind.topic_header, "").strip()
            if topic not in kind.topics:
                return JsonResponse(
                    {
                        "error": f"{kind.topic_header} {topic[:64]!r} is not taken here; "
                        f"subscribe this address to {', '.join(kind.topics)}."
                    },
                    status=400,
                )
        delivery_id = ""
        if kind.delivery_header:
            delivery_id = kind.delivery_key(
                request.headers.get(kind.delivery_header, "").strip(), request.body
            )
            if len(delivery_id) > IntakeMessage._meta.get_field("delivery_id").max_length:
                return JsonResponse({"error": f"{kind.delivery_header} is too long."}, status=400)
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return JsonResponse({"error": "The body is not UTF-8."}, status=400)
        message, new = processing.intake_receive_once(
            channel=found, body=body, topic=topic, delivery_id=delivery_id
        )
        answer = {"id": str(message.pk), "status": message.status}
        if not new:
            answer["repeated"] = True
        return JsonResponse(answer, status=202 if new else 200)


class DeskView(TenantScopedMixin, TemplateView):
    """The intake desk: channel health and the failed messages, costliest and oldest first."""

    model = IntakeMessage
    required_role = Role.MANAGER
    template_name = "orders/intake/desk.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        messages_qs = self.get_queryset()
        day = timezone.now() - timedelta(days=1)
        channels = list(
            IntakeChannel.objects.for_user(self.request.user, role=self.required_role)
            .select_related("retailer")
            .annotate(
                accepted=Count(
                    "messages",
                    filter=Q(messages__status=M.ACCEPTED, messages__received_at__gte=day),
                ),
                failed=Count(
                    "messages",
                    filter=Q(
                        messages__status__in=[M.REJECTED, M.DEAD], messages__received_at__gte=day
                    ),
                ),
                backlog=Count("messages", filter=Q(messages__status=M.RECEIVED)),
                last_success=Max("messages__processed_at", filter=Q(messages__status=M.ACCEPTED)),
            )
        )
        for channel in channels:
            total = channel.accepted + channel.failed
            channel.failure_rate = round(100 * channel.failed / total) if total else 0
        # ?status= lists the messages of one status (a duplicate, a stale one); by default the
        # rejected and dead ones
        status = self.request.GET.get("status", "")
        shown = [status] if status in M.values else [M.REJECTED, M.DEAD]
        failed = (
            messages_qs.filter(status__in=shown)
            .select_related("channel", "retailer")
            .order_by("-value", "received_at")[:200]
        )
        counts = dict(messages_qs.values_list("status").annotate(n=Count("pk")))
        return super().get_context_data(
            channels=channels,
            failed=list(failed),
            status=status if status in M.values else "",
            status_label=M(status).label if status in M.values else "",
            counts=counts,
            is_admin=any(has_role(self.request.user, c.retailer_id, Role.ADMIN) for c in channels),
            **kwargs,
        )


class MessageView(TenantScopedMixin, TemplateView):
    model = IntakeMessage
    required_role = Role.MANAGER
    template_name = "orders/intake/message.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        message = self.find(
            self.get_queryset().select_related("channel", "order"), pk=self.kwargs["pk"]
        )
        return super().get_context_data(
            message=message,
            can_act=has_role(self.request.user, message.retailer_id, Role.ADMIN)
            and message.status in (M.REJECTED, M.DEAD),
            **kwargs,
        )


class _MessageAction(TenantObjectActionView):
    model = IntakeMessage
    required_role = Role.ADMIN

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        message = self.get_object()
        try:
            text = self.perform(message)
        except (ValidationError, InvalidTransition) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(request, text)
        return redirect("intake:message", pk=message.pk)


class ReplayView(_MessageAction):
    def perform(self, message):
        body = self.request.POST.get("body")
        message = processing.intake_replay(
            message=message, by=self.request.user, body=body if body is not None else None
        )
        message.refresh_from_db()
        return f"Replayed: {message.get_status_display()}."


class DiscardView(_MessageAction):
    def perform(self, message):
        processing.intake_discard(
            message=message, by=self.request.user, reason=self.request.POST.get("reason", "")
        )
        return "Discarded."
