"""A small JSON endpoint for a storefront: customers' messages about their order."""

from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import path
from rest_framework.response import Response

from oms.api import ApiView, error_response
from oms.bounds import parse_int
from orders.models import Order
from orders.services import ticket_customer_message


class OrderMessagesView(ApiView):
    """POST {"message": "...", "subject": "...", "ticketId": "12"} -> {"ticketId", "messageId"}.

    Without ticketId a new ticket is opened; with it, the message is added to that ticket."""

    def post(self, request, order_id: int):
        order = Order.objects.for_user(request.user).filter(pk=order_id).first()
        if order is None:
            raise Http404(f"No order {order_id}.")
        body = request.data if isinstance(request.data, dict) else {}
        ticket_id = body.get("ticketId")
        if ticket_id not in (None, "") and parse_int(ticket_id) is None:
            return error_response(400, "ticketId must be a ticket's id.")
        for name in ("message", "subject"):
            if body.get(name) is not None and not isinstance(body[name], str):
                return error_response(400, f"{name} must be a text.")
        try:
            message = ticket_customer_message(
                order=order,
                by=request.user,
                body=str(body.get("message") or ""),
                subject=str(body.get("subject") or ""),
                ticket_id=parse_int(ticket_id) if ticket_id not in (None, "") else None,
            )
        except ValidationError as error:  # the fields named as the request names them
            return error_response(400, _named(error))
        return Response(
            {"ticketId": str(message.ticket_id), "messageId": str(message.pk)}, status=201
        )


def _named(error: ValidationError) -> str:
    if not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    return " ".join(
        f"{name}: {message}" if name != "__all__" else message
        for name, messages in error.message_dict.items()
        for message in messages
    )


app_name = "storefront_api"
urlpatterns = [
    path("v1/orders/<int:order_id>/messages", OrderMessagesView.as_view(), name="order_messages"),
]
