"""For each URL that takes an object id: how to build that object in a retailer.

Maps a URL name to a function that, given a retailer, creates the record(s) with factories and
returns the URL's kwargs. The safety net fails when a URL with an id has no entry here, so every
new detail page, tab or action is checked for other-retailer 404s.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from billing.models import PaymentTransaction
from oms.models import Retailer
from orders.models import HoldRule
from tests.factories import (
    BillingAccountFactory,
    CarrierFactory,
    FulfilmentFactory,
    InvoiceFactory,
    LocationFactory,
    MembershipFactory,
    OrderFactory,
    PaymentFactory,
    PaymentTransactionFactory,
    ReturnFactory,
    StatusFactory,
    TaskFactory,
    TicketFactory,
)


def _order(retailer: Retailer) -> dict[str, Any]:
    return {"pk": OrderFactory(retailer=retailer, lines=1).pk}


def _order_tab(retailer: Retailer) -> dict[str, Any]:
    return {**_order(retailer), "tab": "activity"}


def _order_task(retailer: Retailer) -> dict[str, Any]:
    task = TaskFactory(order=OrderFactory(retailer=retailer))
    return {"pk": task.order_id, "task_pk": task.pk}


def _payment(retailer: Retailer) -> dict[str, Any]:
    payment = PaymentFactory(order=OrderFactory(retailer=retailer, lines=1))
    return {"pk": payment.order_id, "payment_pk": payment.pk}


def _failed_operation(retailer: Retailer) -> dict[str, Any]:
    operation = PaymentTransactionFactory(
        payment=PaymentFactory(order=OrderFactory(retailer=retailer, lines=1)),
        kind=PaymentTransaction.Kind.CAPTURE,
        status=PaymentTransaction.Status.FAILED,
        error_code="declined",
    )
    return {"pk": operation.order_id, "transaction_pk": operation.pk}


def _with_invoice(retailer: Retailer) -> dict[str, Any]:
    return {"pk": InvoiceFactory(order=OrderFactory(retailer=retailer, lines=1)).order_id}


def _invoice(retailer: Retailer) -> dict[str, Any]:
    invoice = InvoiceFactory(order=OrderFactory(retailer=retailer, lines=1))
    return {"pk": invoice.order_id, "invoice_pk": invoice.pk}


def _return(retailer: Retailer) -> dict[str, Any]:
    return {"return_id": ReturnFactory(retailer=retailer).pk}


def _api_order(retailer: Retailer) -> dict[str, Any]:
    return {"order_id": OrderFactory(retailer=retailer, lines=1).pk}


def _return_page(retailer: Retailer) -> dict[str, Any]:
    return {"pk": ReturnFactory(retailer=retailer).pk}


def _return_fulfilment(retailer: Retailer) -> dict[str, Any]:
    ret = ReturnFactory(retailer=retailer)
    fulfilment = ret.fulfilments.create(retailer=retailer, type="R_RTDC")
    return {"pk": ret.pk, "fid": fulfilment.pk}


def _return_reason(retailer: Retailer) -> dict[str, Any]:
    from returns.models import ReturnReason

    return {"kind": "reasons", "pk": ReturnReason.objects.filter(retailer=retailer).first().pk}


def _fulfilment(retailer: Retailer) -> dict[str, Any]:
    return {"pk": FulfilmentFactory(order=OrderFactory(retailer=retailer, lines=1)).pk}


def _order_line(retailer: Retailer) -> dict[str, Any]:
    order = OrderFactory(retailer=retailer, lines=1)
    return {"pk": order.pk, "line_pk": order.lines.get().pk}


def _customer(retailer: Retailer) -> dict[str, Any]:
    return {"pk": OrderFactory(retailer=retailer).customer_id}


def _account(retailer: Retailer) -> dict[str, Any]:
    return {"pk": BillingAccountFactory(customer=OrderFactory(retailer=retailer).customer).pk}


def _account_invoice(retailer: Retailer) -> dict[str, Any]:
    invoice = InvoiceFactory(order=OrderFactory(retailer=retailer, lines=1))
    account = BillingAccountFactory(customer=invoice.order.customer)
    return {"pk": account.pk, "invoice_pk": invoice.pk}


def _ticket(retailer: Retailer) -> dict[str, Any]:
    ticket = TicketFactory(order=OrderFactory(retailer=retailer))
    return {"pk": ticket.order_id, "ticket_pk": ticket.pk}


def _intake_message(retailer: Retailer) -> dict[str, Any]:
    from orders.intake.models import IntakeChannel, IntakeMessage

    channel, _ = IntakeChannel.objects.get_or_create(
        retailer=retailer, code="web", defaults={"name": "Web", "kind": "webstore"}
    )
    message = IntakeMessage.objects.create(
        retailer=retailer, channel=channel, body="{}", status="REJECTED", reasons=["x"]
    )
    return {"pk": message.pk}


def _location(retailer: Retailer) -> dict[str, Any]:
    return {"pk": LocationFactory(retailer=retailer).pk}


def _carrier(retailer: Retailer) -> dict[str, Any]:
    return {"pk": CarrierFactory(retailer=retailer).pk}


def _channel(retailer: Retailer) -> dict[str, Any]:
    from orders.intake.models import IntakeChannel

    channel, _ = IntakeChannel.objects.get_or_create(
        retailer=retailer, code="web", defaults={"name": "Web", "kind": "webstore"}
    )
    return {"pk": channel.pk}


def _webhook_endpoint(retailer: Retailer) -> dict[str, Any]:
    from oms.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(
        retailer=retailer, url="https://erp.example.com/hooks", events=["order.created"]
    )
    return {"pk": endpoint.pk}


def _webhook_delivery(retailer: Retailer) -> dict[str, Any]:
    import uuid

    from oms.models import WebhookDelivery, WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(
        retailer=retailer, url="https://erp.example.com/hooks", events=["order.created"]
    )
    delivery = WebhookDelivery.objects.create(
        retailer=retailer,
        endpoint=endpoint,
        event="order.created",
        event_id=uuid.uuid4(),
        payload={"type": "order.created"},
    )
    return {"pk": delivery.pk}


def _status(retailer: Retailer) -> dict[str, Any]:
    return {"pk": StatusFactory(retailer=retailer).pk}


def _hold_rule(retailer: Retailer) -> dict[str, Any]:
    rule = HoldRule.objects.create(
        retailer=retailer,
        name=f"Over 1,000 #{HoldRule.objects.count() + 1}",
        condition="total_over",
        amount=Decimal("1000.00"),
    )
    return {"pk": rule.pk}


ORDER_ACTIONS = [
    "comment_add",
    "memo_add",
    "task_add",
    "set_status",
    "cancel",
    "suspend",
    "resume",
    "copy",
    "hold_set",
    "hold_clear",
    "mark_paid",
    "mark_not_paid",
    "invoice_number",
    "payments_sync",
    "shipment_update",
    "mark_sent",
    "notify",
    "payment_reminder",
    "packing_slip",
    "invoice_create",
]


def _saved_view(retailer: Retailer) -> dict[str, Any]:
    from oms.models import SavedView

    owner = MembershipFactory(retailer=retailer).user
    view = SavedView.objects.create(
        retailer=retailer, owner=owner, list_name="orders:order_list", name="Mine", shared=True
    )
    return {"pk": view.pk}


def _bulk_job(retailer: Retailer) -> dict[str, Any]:
    from orders.models import BulkJob

    job = BulkJob.objects.create(
        retailer=retailer,
        action="export",
        status=BulkJob.Status.DONE,
        output=b"Order ref\n",
        output_name="orders.csv",
        output_type="text/csv",
    )
    return {"pk": job.pk}


OBJECT_URLS: dict[str, Callable[[Retailer], dict[str, Any]]] = {
    "saved_view_delete": _saved_view,
    "orders:bulk_job": _bulk_job,
    "orders:bulk_download": _bulk_job,
    "orders:order_detail": _order,
    "orders:order_tab": _order_tab,
    **{f"orders:{name}": _order for name in ORDER_ACTIONS},
    "orders:task_status": _order_task,
    "orders:payment_capture": _payment,
    "orders:payment_refund": _payment,
    "orders:payment_void": _payment,
    "orders:operation_retry": _failed_operation,
    "orders:invoices_pdf": _with_invoice,
    "orders:invoice_pdf": _invoice,
    "orders:invoice_update": _invoice,
    "orders:invoice_resend": _invoice,
    "orders:credit_note": _invoice,
    "returns_api:return": _return,
    "returns:return_detail": _return_page,
    "returns:release_refund": _return_page,
    "returns:attribute_set": _return_page,
    "returns:fulfilment_detail": _return_fulfilment,
    "returns:fulfilment_move": _return_fulfilment,
    "orders:return_create": _order,
    "orders:ticket_reply": _ticket,
    "orders:ticket_close": _ticket,
    "customers:customer_detail": _customer,
    "customers:customer_edit": _customer,
    "customers:address_save": _customer,
    "customers:address_remove": _customer,
    "billing:account_detail": _account,
    "billing:account_status": _account,
    "billing:account_attribute": _account,
    "billing:debit_memo": _account,
    "billing:account_invoice_email": _account_invoice,
    "storefront_api:order_messages": _api_order,
    "intake:message": _intake_message,
    "intake:replay": _intake_message,
    "intake:discard": _intake_message,
    "orders:live": _order,
    "orders:line_quantity": _order_line,
    "fulfilments:fulfilment_detail": _fulfilment,
    "fulfilments:move": _fulfilment,
    "fulfilments:retry": _fulfilment,
    "fulfilments:assign": _fulfilment,
    "fulfilments:cancel_lines": _fulfilment,
    "orders:lines_cancel": _order,
    "return_config:edit": _return_reason,
    "return_config:toggle": _return_reason,
    "returns_api:order_returns": _api_order,
    "order_statuses:edit": _status,
    "order_statuses:move": _status,
    "order_statuses:delete": _status,
    "fulfilment_settings:location_edit": _location,
    "fulfilment_settings:location_toggle": _location,
    "fulfilment_settings:carrier_edit": _carrier,
    "fulfilment_settings:carrier_toggle": _carrier,
    "channel_settings:edit": _channel,
    "channel_settings:toggle": _channel,
    "channel_settings:rotate": _channel,
    "channel_settings:set_secret": _channel,
    "webhook_settings:edit": _webhook_endpoint,
    "webhook_settings:toggle": _webhook_endpoint,
    "webhook_settings:rotate": _webhook_endpoint,
    "webhook_settings:delete": _webhook_endpoint,
    "webhook_settings:endpoint_deliveries": _webhook_endpoint,
    "webhook_settings:delivery": _webhook_delivery,
    "webhook_settings:redeliver": _webhook_delivery,
    "hold_rules:edit": _hold_rule,
    "hold_rules:active": _hold_rule,
}
