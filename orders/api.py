"""A small JSON endpoint for a storefront: customers' messages about their order."""

from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import path
from rest_framework.response import Response

from oms.api import ApiView, error_response
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
        if ticket_id not in (None, "") and not str(ticket_id).isdigit():
            return error_response(400, "ticketId must be a ticket's id.")
        try:
            message = ticket_customer_message(
                order=order,
                by=request.user,
                body=str(body.get("message") or ""),
                subject=str(body.get("subject") or ""),
                ticket_id=int(ticket_id) if ticket_id not in (None, "") else None,
            )
        except ValidationError as error:
            return error_response(400, " ".join(error.messages))
        return Response(
            {"ticketId": str(message.ticket_id), "messageId": str(message.pk)}, status=201
        )


app_name = "storefront_api"
urlpatterns = [
    path("v1/orders/<int:order_id>/messages", OrderMessagesView.as_view(), name="order_messages"),
]
