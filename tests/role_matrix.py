"""For each URL that changes state: the least role that may use it, and a POST that succeeds.

Each case builds, in a retailer and for the user about to post, the records behind the URL and
form data that the action accepts, so that a user with the role really changes something. It
also names the record whose activity must show the change (the record itself, or the order it
hangs off) and words the activity data must contain (what changed). `tests/test_role_matrix.py`
posts every case as an agent, a manager and an admin of the retailer, and fails when a URL that
accepts a POST has no case here.

Roles, as the architecture gives them: agents comment, add tasks, memos and ticket replies, write
to the customer and create returns; managers also move orders, money, shipments, fulfilments and
billing accounts; admins also configure.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models

from billing.models import PaymentTransaction, SimulatedGatewayRecord
from billing.services import billing_settings
from fulfilments.models import Carrier, Location
from oms.models import Retailer, SavedView, WebhookDelivery, WebhookEndpoint
from oms.roles import Role
from orders.models import BulkJob, HoldRule, OrderStatus, PaymentStatus, SystemState
from returns.models import (
    Return,
    ReturnAction,
    ReturnCondition,
    ReturnFulfilment,
    ReturnReason,
    ReturnStatus,
)
from tests.factories import (
    AddressFactory,
    BillingAccountFactory,
    CarrierFactory,
    CustomerFactory,
    FulfilmentFactory,
    InvoiceFactory,
    LocationFactory,
    MembershipFactory,
    OrderFactory,
    PaymentFactory,
    PaymentTransactionFactory,
    ReturnFactory,
    StatusFactory,
    StockFactory,
    TaskFactory,
    TicketFactory,
    ship,
    status_for,
)


@dataclass
class Prepared:
    """What one POST needs, built for one user."""

    kwargs: dict[str, Any]
    data: dict[str, Any]
    # the record the activity names as its target or root; a model class when the POST makes
    # the record (a new row of that model)
    record: models.Model | type[models.Model]
    # words the activity data must hold: what changed
    shows: tuple[str, ...] = ()
    # more rows that a refused POST must leave exactly as they were
    watch: tuple[models.Model, ...] = ()
    json: bool = False


Builder = Callable[[Retailer, Any], Prepared]


@dataclass(frozen=True)
class Case:
    url_name: str
    least: Role
    build: Builder
    variant: str = ""
    # False: the POST answers (a preview, logging out) but changes no record
    changes: bool = True
    # how a refused POST looks: None for the "Not allowed" page (403) naming the role; else the
    # message shown on the page the user is sent back to
    refused_with: str | None = None

    def __str__(self) -> str:
        return f"{self.url_name}[{self.variant}]" if self.variant else self.url_name


def _unique() -> str:
    return uuid.uuid4().hex[:8]


def _order(retailer: Retailer, state: str = SystemState.PROCESSING, **kwargs) -> Any:
    kwargs.setdefault("lines", 1)
    return OrderFactory(retailer=retailer, state=state, **kwargs)


def _on_order(order, data: dict[str, Any], *, shows=(), watch=(), **kwargs) -> Prepared:
    return Prepared({"pk": order.pk, **kwargs}, data, order, tuple(shows), tuple(watch))


# -- kernel ----------------------------------------------------------------------------------


def _saved_view_save(shared: bool) -> Builder:
    def build(retailer, user):
        name = f"Open orders {_unique()}"
        data = {
            "list_name": "orders:order_list",
            "name": name,
            "query": "status=NEW&page=3",
            "retailer": retailer.pk,
        }
        if shared:
            data["shared"] = "on"
        return Prepared({}, data, SavedView, shows=(name,))

    return build


def _own_saved_view(retailer, user):
    view = SavedView.objects.create(
        retailer=retailer, owner=user, list_name="orders:order_list", name=f"Mine {_unique()}"
    )
    return Prepared({"pk": view.pk}, {}, view, shows=(view.name,))


def _colleagues_shared_view(retailer, user):
    owner = MembershipFactory(retailer=retailer, role=Role.MANAGER).user
    view = SavedView.objects.create(
        retailer=retailer,
        owner=owner,
        list_name="orders:order_list",
        name=f"Team {_unique()}",
        shared=True,
    )
    return Prepared({"pk": view.pk}, {}, view, shows=(view.name,))


def _logout(retailer, user):
    return Prepared({}, {}, retailer)


# -- orders: notes, tasks, tickets, emails ---------------------------------------------------


def _comment(retailer, user):
    return _on_order(
        _order(retailer), {"body": "Customer called about the delivery"}, shows=["called"]
    )


def _memo(retailer, user):
    return _on_order(_order(retailer), {"body": "Call back before noon"}, shows=["noon"])


def _task(retailer, user):
    data = {"description": "Check the stock count", "status": "open"}
    return _on_order(_order(retailer), data, shows=["stock count"])


def _task_status(retailer, user):
    task = TaskFactory(order=_order(retailer))
    return Prepared(
        {"pk": task.order_id, "task_pk": task.pk}, {"status": "done"}, task, shows=("done",)
    )


def _ticket_reply(retailer, user):
    ticket = TicketFactory(order=_order(retailer))
    return Prepared(
        {"pk": ticket.order_id, "ticket_pk": ticket.pk},
        {"body": "It left our warehouse today"},
        ticket,
        shows=("warehouse today",),
    )


def _ticket_close(retailer, user):
    ticket = TicketFactory(order=_order(retailer))
    return Prepared(
        {"pk": ticket.order_id, "ticket_pk": ticket.pk}, {}, ticket, shows=(ticket.subject,)
    )


def _notify(retailer, user):
    data = {"confirm": "on", "message": "Your parcel is delayed by a day"}
    return _on_order(_order(retailer), data, shows=["delayed"])


def _payment_reminder(retailer, user):
    order = _order(retailer)
    return _on_order(order, {"confirm": "on"}, shows=[str(order.total)])


def _storefront_message(retailer, user):
    order = _order(retailer)
    data = {"subject": "Gift wrap", "message": "Can you gift wrap it"}
    return Prepared({"order_id": order.pk}, data, order, shows=("gift wrap it",), json=True)


# -- orders: status, holds, payments status, invoice number ----------------------------------


def _set_status(retailer, user):
    order = _order(retailer, SystemState.NEW)
    target = status_for(retailer, SystemState.PROCESSING)
    data = {"status": target.pk, "reason": "Confirmed by phone"}
    return _on_order(order, data, shows=[target.label, "Confirmed by phone"])


def _cancel(retailer, user):
    order = _order(retailer)
    payment = PaymentFactory(order=order)
    data = {"confirm": "on", "reason": "Customer changed their mind"}
    return _on_order(order, data, shows=["changed their mind"], watch=[payment])


def _suspend(retailer, user):
    data = {"reason": "Address looks wrong"}
    return _on_order(_order(retailer), data, shows=["Address looks wrong"])


def _resume(retailer, user):
    processing = status_for(retailer, SystemState.PROCESSING)
    order = _order(retailer, SystemState.SUSPENDED, suspended_from=processing)
    return _on_order(order, {}, shows=[processing.label])


def _copy(retailer, user):
    order = _order(retailer)
    return _on_order(order, {"confirm": "on"}, shows=[f"{order.ref}-C"])


def _hold_set(retailer, user):
    data = {"flag": "compliance", "reason": "Sanctions check"}
    return _on_order(_order(retailer), data, shows=["Sanctions check"])


def _hold_clear(retailer, user):
    data = {"flag": "compliance", "reason": "Sanctions check passed"}
    return _on_order(_order(retailer, hold_compliance=True), data, shows=["check passed"])


def _mark_paid(retailer, user):
    return _on_order(_order(retailer), {}, shows=[PaymentStatus.PAID])


def _mark_not_paid(retailer, user):
    order = _order(retailer, payment_status=PaymentStatus.PAID)
    return _on_order(order, {}, shows=[PaymentStatus.NOT_PAID])


def _invoice_number(retailer, user):
    number = f"INV-{_unique()}"
    return _on_order(_order(retailer), {"invoice_number": number}, shows=[number])


# -- orders: money -------------------------------------------------------------------------


def _capture(retailer, user):
    payment = PaymentFactory(order=_order(retailer))
    data = {"amount": "10.00", "confirm": "on"}
    return _on_order(
        payment.order, data, shows=["10.00", "capture"], watch=[payment], payment_pk=payment.pk
    )


def _refund(retailer, user):
    order = _order(retailer)
    payment = PaymentFactory(order=order, captured=order.total)
    data = {"amount": "5.00", "confirm": "on"}
    return _on_order(order, data, shows=["5.00", "refund"], watch=[payment], payment_pk=payment.pk)


def _void(retailer, user):
    payment = PaymentFactory(order=_order(retailer))
    data = {"confirm": "on"}
    return _on_order(
        payment.order,
        data,
        shows=[str(payment.authorised), "void"],
        watch=[payment],
        payment_pk=payment.pk,
    )


def _payments_sync(retailer, user):
    payment = PaymentFactory(order=_order(retailer))
    # the gateway captured 10.00 that the back office never heard of
    SimulatedGatewayRecord.objects.create(
        idempotency_key=f"outside-{_unique()}",
        payment_reference=payment.provider_reference,
        kind="capture",
        amount=Decimal("10.00"),
        currency=payment.currency,
        reference=f"sim_cap_{_unique()}",
    )
    return Prepared({"pk": payment.order_id}, {}, payment, shows=("10.00",), watch=(payment.order,))


def _operation_retry(retailer, user):
    payment = PaymentFactory(order=_order(retailer))
    failed = PaymentTransactionFactory(
        payment=payment,
        kind=PaymentTransaction.Kind.CAPTURE,
        status=PaymentTransaction.Status.FAILED,
        error_code="declined",
        amount=Decimal("1.00"),
    )
    return _on_order(
        payment.order,
        {"confirm": "on"},
        shows=["1.00", "capture"],
        watch=[payment, failed],
        transaction_pk=failed.pk,
    )


# -- orders: items and shipments -----------------------------------------------------------


def _shipment_update(retailer, user):
    order = _order(retailer)
    line = order.lines.get()
    data = {"lines": [line.pk], "tracking_number": "3STRACK01"}
    return _on_order(order, data, shows=["3STRACK01"], watch=[line])


def _mark_sent(retailer, user):
    data = {"confirm": "on", "tracking_number": "3STRACK02", "carrier": "DHL"}
    return _on_order(_order(retailer), data, shows=["3STRACK02"])


def _lines_cancel(retailer, user):
    order = _order(retailer, lines=2)
    line = order.lines.first()
    return _on_order(
        order, {"confirm": "on", "lines": [line.pk]}, shows=["cancelled"], watch=[line]
    )


def _line_quantity(retailer, user):
    order = _order(retailer, lines__quantity=3)
    line = order.lines.get()
    return Prepared(
        {"pk": order.pk, "line_pk": line.pk},
        {"quantity": "2"},
        line,
        shows=("3", "2"),
        watch=(order,),
    )


# -- orders: invoices ----------------------------------------------------------------------


def _invoice_create(retailer, user):
    return _on_order(_order(retailer, SystemState.NEW), {"language": "en"}, shows=["INV"])


def _invoice_update(retailer, user):
    invoice = InvoiceFactory(order=_order(retailer))
    data = {"status": "paid", "delivery_time": "Delivered next day"}
    return Prepared(
        {"pk": invoice.order_id, "invoice_pk": invoice.pk},
        data,
        invoice,
        shows=("paid", "next day"),
    )


def _invoice_resend(retailer, user):
    invoice = InvoiceFactory(order=_order(retailer))
    return Prepared(
        {"pk": invoice.order_id, "invoice_pk": invoice.pk},
        {"confirm": "on"},
        invoice,
        shows=(invoice.number, invoice.order.customer.email),
    )


def _credit_note(retailer, user):
    invoice = InvoiceFactory(order=_order(retailer))
    line = invoice.order.lines.get()
    return Prepared(
        {"pk": invoice.order_id, "invoice_pk": invoice.pk},
        {f"qty_{line.pk}": "1"},
        invoice.order,
        shows=(invoice.number,),
        watch=(invoice,),
    )


# -- bulk ----------------------------------------------------------------------------------


def _bulk_preview(retailer, user):
    order = _order(retailer)
    return Prepared({}, {"action": "cancel", "ids": [order.pk]}, order)


def _bulk_start(retailer, user):
    order = _order(retailer)
    data = {"action": "suspend", "ids": [order.pk], "reason": "Stock count"}
    return Prepared({}, data, BulkJob, shows=("suspend", "Stock count"), watch=(order,))


# -- fulfilments ---------------------------------------------------------------------------


def _network(retailer, sku: str, on_hand: int = 5, reserved: int = 0):
    """A carrier and a warehouse delivering to the Netherlands, with the SKU in stock."""
    CarrierFactory(retailer=retailer, zones=["NL"])
    location = LocationFactory(retailer=retailer)
    stock = StockFactory(location=location, sku=sku, on_hand=on_hand, reserved=reserved)
    return location, stock


def _fulfilment_move(retailer, user):
    order = _order(retailer)
    location, stock = _network(retailer, order.lines.get().sku, reserved=1)
    fulfilment = FulfilmentFactory(
        order=order, status="ASSIGNED", location=location, escalation_reason="", escalated_at=None
    )
    return Prepared(
        {"pk": fulfilment.pk}, {"status": "PICKED"}, fulfilment, shows=("Picked",), watch=(stock,)
    )


def _fulfilment_retry(retailer, user):
    order = _order(retailer)
    _, stock = _network(retailer, order.lines.get().sku)
    fulfilment = FulfilmentFactory(order=order)
    return Prepared({"pk": fulfilment.pk}, {}, fulfilment, shows=("Cancelled",), watch=(stock,))


def _fulfilment_assign(retailer, user):
    order = _order(retailer)
    location, stock = _network(retailer, order.lines.get().sku)
    fulfilment = FulfilmentFactory(order=order)
    return Prepared(
        {"pk": fulfilment.pk},
        {"location": location.pk},
        fulfilment,
        shows=(location.name,),
        watch=(stock,),
    )


def _fulfilment_cancel_lines(retailer, user):
    fulfilment = FulfilmentFactory(order=_order(retailer))
    return Prepared({"pk": fulfilment.pk}, {}, fulfilment, shows=("lines cancelled",))


def _stock_import(retailer, user):
    location = LocationFactory(retailer=retailer)
    csv = f"location_ref,sku,on_hand,safety_threshold\n{location.ref},SKU-NEW,12,2\n"
    data = {"retailer": retailer.pk, "file": SimpleUploadedFile("stock.csv", csv.encode())}
    return Prepared({}, data, retailer, shows=("created",))


# -- returns -------------------------------------------------------------------------------


def _return_create(retailer, user):
    order = ship(_order(retailer, lines__quantity=2))
    line = order.lines.get()
    data = {
        f"qty_{line.pk}": "1",
        f"reason_{line.pk}": "WRONG_SIZE",
        f"condition_{line.pk}": "0",
        "action": "",
        "fulfilment_type": "R_RTDC",
        "preferred_location_ref": "",
    }
    return Prepared({"pk": order.pk}, data, Return, shows=("1 item",), watch=(order,))


def _return_api_create(retailer, user):
    order = ship(_order(retailer, lines__quantity=2))
    line = order.lines.get()
    body = {
        "orderId": str(order.pk),
        "retailerId": retailer.pk,
        "type": "CUSTOMER_RETURN",
        "customer": {"email": order.customer.email, "firstName": "Jo"},
        "items": [
            {
                "skuRef": line.sku,
                "returnQty": 1,
                "returnReason": "WRONG_SIZE",
                "returnCondition": "0",
            }
        ],
    }
    return Prepared({}, body, Return, shows=("1 item",), watch=(order,), json=True)


def _release_refund(retailer, user):
    ret = ReturnFactory(retailer=retailer, status=ReturnStatus.PENDING_REFUND)
    PaymentFactory(order=ret.order, captured=ret.order.total)
    data = {"confirm": "yes", "how": "by_hand"}
    return Prepared({"pk": ret.pk}, data, ret, shows=(str(ret.total_return_price),))


def _return_attribute(retailer, user):
    ret = ReturnFactory(retailer=retailer)
    data = {"name": "gift wrap", "type": "BOOLEAN", "value": "true"}
    return Prepared({"pk": ret.pk}, data, ret, shows=("gift wrap", "true"))


def _return_parcel_move(retailer, user):
    ret = ReturnFactory(retailer=retailer)
    parcel = ret.fulfilments.create(retailer=retailer, type="R_RTDC")
    return Prepared(
        {"pk": ret.pk, "fid": parcel.pk},
        {"status": ReturnFulfilment.Status.ARRIVED},
        parcel,
        shows=("Arrived",),
        watch=(ret,),
    )


# -- billing -------------------------------------------------------------------------------


def _account(retailer):
    return BillingAccountFactory(customer=OrderFactory(retailer=retailer).customer)


def _account_status(retailer, user):
    account = _account(retailer)
    return Prepared({"pk": account.pk}, {"status": "SUSPENDED"}, account, shows=("Suspended",))


def _account_attribute(retailer, user):
    account = _account(retailer)
    data = {"key": "po_number", "value": "PO-7781"}
    return Prepared({"pk": account.pk}, data, account, shows=("po_number", "PO-7781"))


def _debit_memo(retailer, user):
    account = _account(retailer)
    data = {"amount": "12.50", "reason": "Late payment fee"}
    return Prepared({"pk": account.pk}, data, account, shows=("12.50", "Late payment fee"))


def _account_invoice_email(retailer, user):
    invoice = InvoiceFactory(order=_order(retailer))
    account = BillingAccountFactory(customer=invoice.order.customer, contact_email="ap@acme.test")
    return Prepared(
        {"pk": account.pk, "invoice_pk": invoice.pk},
        {},
        invoice,
        shows=(invoice.number, "ap@acme.test"),
        watch=(account,),
    )


# -- customers: what agents do --------------------------------------------------------------


def _customer_edit(retailer, user):
    customer = CustomerFactory(retailer=retailer)
    last_name = f"Byron {_unique()}"
    data = {
        "first_name": customer.first_name,
        "last_name": last_name,
        "email": customer.email,
        "mobile": customer.mobile,
        "segment": "vip",
        "status": customer.status,
        "language": "",
    }
    return Prepared({"pk": customer.pk}, data, customer, shows=(last_name, "VIP"))


_NEW_ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "Damrak 5",
    "postcode": "1012 LG",
    "city": "Amsterdam",
    "country": "Netherlands",
}


def _address_add(retailer, user):
    customer = CustomerFactory(retailer=retailer)
    return Prepared({"pk": customer.pk}, dict(_NEW_ADDRESS), customer, shows=("Damrak 5",))


def _address_change(retailer, user):
    customer = CustomerFactory(retailer=retailer)
    address = AddressFactory(retailer=retailer, customer=customer, line1="Old street 1")
    data = {**_NEW_ADDRESS, "address": address.pk}
    return Prepared(
        {"pk": customer.pk}, data, customer, shows=("Old street 1", "Damrak 5"), watch=(address,)
    )


def _address_remove(retailer, user):
    customer = CustomerFactory(retailer=retailer)
    address = AddressFactory(retailer=retailer, customer=customer, line1="Old street 1")
    data = {"address": address.pk}
    return Prepared({"pk": customer.pk}, data, customer, shows=("Old street 1",), watch=(address,))


# -- configuration (admins) ----------------------------------------------------------------


def _status_create(retailer, user):
    label = f"Awaiting stock {_unique()}"
    data = {"retailer": retailer.pk, "label": label, "colour": "teal", "system_state": "PROCESSING"}
    return Prepared({}, data, OrderStatus, shows=(label,))


def _status_edit(retailer, user):
    status = StatusFactory(retailer=retailer)
    label = f"Picking {_unique()}"
    data = {"label": label, "colour": "orange", "system_state": status.system_state}
    return Prepared({"pk": status.pk}, data, status, shows=(label, status.label, "orange"))


def _date_window(retailer, user):
    data = {"retailer": retailer.pk, "dates_from": "2010-03-01", "dates_ahead_days": "365"}
    return Prepared({}, data, retailer, shows=("2010-03-01", "365"))


def _hold_rule_create(retailer, user):
    name = f"New customer over 1,000 {_unique()}"
    data = {
        "retailer": retailer.pk,
        "name": name,
        "kind": "compliance",
        "condition": "new_customer_over",
        "amount": "1000.00",
        "countries": "",
    }
    return Prepared({}, data, HoldRule, shows=(name,))


def _hold_rule(retailer) -> HoldRule:
    return HoldRule.objects.create(
        retailer=retailer, name=f"Rule {_unique()}", condition="total_over", amount=Decimal("5")
    )


def _hold_rule_edit(retailer, user):
    rule = _hold_rule(retailer)
    data = {
        "name": rule.name,
        "kind": "documentation",
        "condition": "ships_outside",
        "amount": "",
        "countries": "NL, BE",
    }
    return Prepared({"pk": rule.pk}, data, rule, shows=("ships_outside", "BE"))


def _hold_rule_deactivate(retailer, user):
    rule = _hold_rule(retailer)
    return Prepared({"pk": rule.pk}, {"active": "0"}, rule, shows=(rule.name,))


def _status_move(retailer, user):
    status = StatusFactory(retailer=retailer)
    return Prepared({"pk": status.pk}, {"direction": "up"}, status, shows=(status.label,))


def _status_delete(retailer, user):
    status = StatusFactory(retailer=retailer)
    return Prepared({"pk": status.pk}, {}, status, shows=(status.label,))


def _billing_settings(retailer, user):
    config = billing_settings(retailer.pk)
    data = {
        "retailer": retailer.pk,
        "invoice_trigger": "manual",
        "invoice_prefix": "ACME-",
        "credit_note_prefix": "ACME-CN-",
        "default_delivery_time": "Delivered within 2 days",
    }
    return Prepared({}, data, config, shows=("ACME-", "manual"))


def _seller_details(retailer, user):
    data = {
        "retailer": retailer.pk,
        "legal_name": "Acme Outfitters B.V.",
        "street": "Keizersgracht 123",
        "postcode": "1015 CJ",
        "city": "Amsterdam",
        "country": "NL",
        "vat_number": "NL852869327B01",
    }
    return Prepared({}, data, retailer, shows=("Keizersgracht 123", "NL852869327B01"))


def _config_create(kind: str) -> Builder:
    model, extra = {
        "reasons": (ReturnReason, {"default_action": ""}),
        "actions": (ReturnAction, {"kind": "credit_note", "timing": "on_approval"}),
        "conditions": (ReturnCondition, {"restockable": "on"}),
    }[kind]

    def build(retailer, user):
        label = f"Label {_unique()}"
        data = {"retailer": retailer.pk, "label": label, "code": "", **extra}
        return Prepared({}, data, model, shows=(label,))

    return build


def _reason(retailer) -> ReturnReason:
    code = f"TOO_LATE_{_unique()}".upper()
    return ReturnReason.objects.create(retailer=retailer, code=code, label="Arrived too late")


def _config_edit(retailer, user):
    reason = _reason(retailer)
    exchange = ReturnAction.objects.get(retailer=retailer, code="EXCHANGE")
    data = {"label": reason.label, "code": reason.code, "default_action": exchange.pk}
    return Prepared({"kind": "reasons", "pk": reason.pk}, data, reason, shows=(exchange.label,))


def _config_toggle(retailer, user):
    reason = _reason(retailer)
    return Prepared({"kind": "reasons", "pk": reason.pk}, {}, reason, shows=(reason.label,))


def _location_create(retailer, user):
    name = f"Depot {_unique()}"
    data = {
        "retailer": retailer.pk,
        "ref": f"DEP-{_unique()}",
        "name": name,
        "type": "warehouse",
        "zones": "NL, BE",
        "daily_capacity": "80",
    }
    return Prepared({}, data, Location, shows=(name,))


def _location_edit(retailer, user):
    location = LocationFactory(retailer=retailer, zones=["NL"], daily_capacity=100)
    data = {"name": location.name, "type": "warehouse", "zones": "NL, DE", "daily_capacity": "40"}
    return Prepared(
        {"pk": location.pk}, data, location, shows=("daily capacity 100 → 40", "NL, DE")
    )


def _location_toggle(retailer, user):
    location = LocationFactory(retailer=retailer)
    return Prepared({"pk": location.pk}, {}, location, shows=(location.name,))


def _carrier_create(retailer, user):
    name = f"Courier {_unique()}"
    data = {"retailer": retailer.pk, "name": name, "zones": "NL", "transit_days": "1"}
    return Prepared({}, data, Carrier, shows=(name,))


def _carrier_edit(retailer, user):
    carrier = CarrierFactory(retailer=retailer, zones=["NL"], transit_days=2)
    data = {"name": carrier.name, "zones": "NL", "transit_days": "6"}
    return Prepared({"pk": carrier.pk}, data, carrier, shows=("transit days 2 → 6",))


def _carrier_toggle(retailer, user):
    carrier = CarrierFactory(retailer=retailer)
    return Prepared({"pk": carrier.pk}, {}, carrier, shows=(carrier.name,))


def _channel(retailer):
    from orders.intake.models import IntakeChannel

    return IntakeChannel.objects.create(
        retailer=retailer, code=f"shop-{_unique()}", name="Shop", kind="webstore"
    )


def _channel_create(retailer, user):
    from orders.intake.models import IntakeChannel

    name = f"Marketplace {_unique()}"
    data = {
        "retailer": retailer.pk,
        "code": f"mp-{_unique()}",
        "name": name,
        "kind": "marketplace",
        "total_tolerance": "0.05",
    }
    return Prepared({}, data, IntakeChannel, shows=(name,))


def _channel_edit(retailer, user):
    channel = _channel(retailer)
    data = {"name": "Shop NL", "kind": "webstore", "require_phone": "on", "total_tolerance": "1"}
    return Prepared({"pk": channel.pk}, data, channel, shows=("Shop NL", "require phone no → yes"))


def _channel_toggle(retailer, user):
    channel = _channel(retailer)
    return Prepared({"pk": channel.pk}, {}, channel, shows=(channel.code,))


def _channel_rotate(retailer, user):
    channel = _channel(retailer)
    return Prepared({"pk": channel.pk}, {}, channel, shows=(channel.code, "replaced"))


def _channel_set_secret(retailer, user):
    channel = _channel(retailer)
    data = {"secret": "shpss_0123456789abcdef0123456789abcdef"}
    return Prepared({"pk": channel.pk}, data, channel, shows=(channel.code, "set by hand"))


def _webhook_endpoint(retailer, **fields):
    return WebhookEndpoint.objects.create(
        retailer=retailer,
        url=f"https://erp-{_unique()}.example.com/hooks",
        events=["order.created"],
        **fields,
    )


def _webhook_create(retailer, user):
    url = f"https://erp-{_unique()}.example.com/hooks"
    data = {"retailer": retailer.pk, "url": url, "events": ["order.created", "order.shipped"]}
    return Prepared({}, data, WebhookEndpoint, shows=(url, "order.shipped"))


def _webhook_edit(retailer, user):
    endpoint = _webhook_endpoint(retailer)
    data = {"url": endpoint.url, "description": "ERP feed", "events": ["order.cancelled"]}
    return Prepared({"pk": endpoint.pk}, data, endpoint, shows=("order.cancelled", "ERP feed"))


def _webhook_toggle(retailer, user):
    endpoint = _webhook_endpoint(retailer)
    return Prepared({"pk": endpoint.pk}, {}, endpoint, shows=(endpoint.url, "is active false"))


def _webhook_rotate(retailer, user):
    endpoint = _webhook_endpoint(retailer)
    return Prepared({"pk": endpoint.pk}, {}, endpoint, shows=(endpoint.url,))


def _webhook_delete(retailer, user):
    endpoint = _webhook_endpoint(retailer)
    return Prepared({"pk": endpoint.pk}, {}, endpoint, shows=(endpoint.url,))


def _webhook_redeliver(retailer, user):
    endpoint = _webhook_endpoint(retailer)
    delivery = WebhookDelivery.objects.create(
        retailer=retailer,
        endpoint=endpoint,
        event="order.created",
        event_id=uuid.uuid4(),
        payload={"type": "order.created", "version": 1},
        status=WebhookDelivery.Status.FAILED,
        attempts=7,
    )
    return Prepared({"pk": delivery.pk}, {}, endpoint, shows=("order.created",), watch=(delivery,))


def _intake_message(retailer):
    from orders.intake.models import IntakeChannel, IntakeMessage

    channel, _ = IntakeChannel.objects.get_or_create(
        retailer=retailer, code="web", defaults={"name": "Web", "kind": "webstore"}
    )
    return IntakeMessage.objects.create(
        retailer=retailer, channel=channel, body="{}", status="REJECTED", reasons=["no lines"]
    )


def _intake_replay(retailer, user):
    message = _intake_message(retailer)
    return Prepared({"pk": message.pk}, {"body": '{"lines": []}'}, message, shows=("edited",))


def _intake_discard(retailer, user):
    message = _intake_message(retailer)
    data = {"reason": "Test order from the shop"}
    return Prepared({"pk": message.pk}, data, message, shows=("Test order",))


A = Role.AGENT
M = Role.MANAGER
AD = Role.ADMIN

CASES: list[Case] = [
    # kernel
    Case("saved_view_save", A, _saved_view_save(shared=False), "for oneself"),
    Case(
        "saved_view_save",
        M,
        _saved_view_save(shared=True),
        "shared",
        refused_with="This needs the manager role.",
    ),
    Case("saved_view_delete", A, _own_saved_view, "own"),
    Case(
        "saved_view_delete",
        AD,
        _colleagues_shared_view,
        "a colleague's shared",
        refused_with="Only its owner, or an admin for a shared view, may delete it.",
    ),
    Case("logout", A, _logout, changes=False),
    # orders: what agents do
    Case("orders:comment_add", A, _comment),
    Case("orders:memo_add", A, _memo),
    Case("orders:task_add", A, _task),
    Case("orders:task_status", A, _task_status),
    Case("orders:ticket_reply", A, _ticket_reply),
    Case("orders:ticket_close", A, _ticket_close),
    Case("orders:notify", A, _notify),
    Case("orders:payment_reminder", A, _payment_reminder),
    Case("orders:invoice_resend", A, _invoice_resend),
    Case("orders:return_create", A, _return_create),
    Case("returns:attribute_set", A, _return_attribute),
    Case("storefront_api:order_messages", A, _storefront_message),
    Case("returns_api:returns", A, _return_api_create),
    Case("billing:account_invoice_email", A, _account_invoice_email),
    Case("customers:customer_edit", A, _customer_edit),
    Case("customers:address_save", A, _address_add, "add"),
    Case("customers:address_save", A, _address_change, "change"),
    Case("customers:address_remove", A, _address_remove),
    # orders: what managers do
    Case("orders:set_status", M, _set_status),
    Case("orders:cancel", M, _cancel),
    Case("orders:suspend", M, _suspend),
    Case("orders:resume", M, _resume),
    Case("orders:copy", M, _copy),
    Case("orders:hold_set", M, _hold_set),
    Case("orders:hold_clear", M, _hold_clear),
    Case("orders:mark_paid", M, _mark_paid),
    Case("orders:mark_not_paid", M, _mark_not_paid),
    Case("orders:invoice_number", M, _invoice_number),
    Case("orders:payment_capture", M, _capture),
    Case("orders:payment_refund", M, _refund),
    Case("orders:payment_void", M, _void),
    Case("orders:payments_sync", M, _payments_sync),
    Case("orders:operation_retry", M, _operation_retry),
    Case("orders:shipment_update", M, _shipment_update),
    Case("orders:mark_sent", M, _mark_sent),
    Case("orders:lines_cancel", M, _lines_cancel),
    Case("orders:line_quantity", M, _line_quantity),
    Case("orders:invoice_create", M, _invoice_create),
    Case("orders:invoice_update", M, _invoice_update),
    Case("orders:credit_note", M, _credit_note),
    Case("orders:bulk_preview", M, _bulk_preview, changes=False),
    Case("orders:bulk_start", M, _bulk_start),
    Case("fulfilments:move", M, _fulfilment_move),
    Case("fulfilments:retry", M, _fulfilment_retry),
    Case("fulfilments:assign", M, _fulfilment_assign),
    Case("fulfilments:cancel_lines", M, _fulfilment_cancel_lines),
    Case("fulfilments:stock", M, _stock_import),
    Case("returns:release_refund", M, _release_refund),
    Case("returns:fulfilment_move", M, _return_parcel_move),
    Case("billing:account_status", M, _account_status),
    Case("billing:debit_memo", M, _debit_memo),
    # configuration: what admins do
    Case("billing:account_attribute", AD, _account_attribute),
    Case("billing_settings:edit", AD, _billing_settings),
    Case("billing_settings:seller", AD, _seller_details),
    Case("order_statuses:list", AD, _status_create, "add"),
    Case("order_statuses:edit", AD, _status_edit),
    Case("order_statuses:dates", AD, _date_window),
    Case("order_statuses:move", AD, _status_move),
    Case("order_statuses:delete", AD, _status_delete),
    Case("hold_rules:list", AD, _hold_rule_create, "add"),
    Case("hold_rules:edit", AD, _hold_rule_edit),
    Case("hold_rules:active", AD, _hold_rule_deactivate),
    Case("return_config:reasons", AD, _config_create("reasons"), "add"),
    Case("return_config:actions", AD, _config_create("actions"), "add"),
    Case("return_config:conditions", AD, _config_create("conditions"), "add"),
    Case("return_config:edit", AD, _config_edit),
    Case("return_config:toggle", AD, _config_toggle),
    Case("fulfilment_settings:locations", AD, _location_create, "add"),
    Case("fulfilment_settings:location_edit", AD, _location_edit),
    Case("fulfilment_settings:location_toggle", AD, _location_toggle),
    Case("fulfilment_settings:carriers", AD, _carrier_create, "add"),
    Case("fulfilment_settings:carrier_edit", AD, _carrier_edit),
    Case("fulfilment_settings:carrier_toggle", AD, _carrier_toggle),
    Case("channel_settings:list", AD, _channel_create, "add"),
    Case("channel_settings:edit", AD, _channel_edit),
    Case("channel_settings:toggle", AD, _channel_toggle),
    Case("channel_settings:rotate", AD, _channel_rotate),
    Case("channel_settings:set_secret", AD, _channel_set_secret),
    Case("webhook_settings:list", AD, _webhook_create, "add"),
    Case("webhook_settings:edit", AD, _webhook_edit),
    Case("webhook_settings:toggle", AD, _webhook_toggle),
    Case("webhook_settings:rotate", AD, _webhook_rotate),
    Case("webhook_settings:delete", AD, _webhook_delete),
    Case("webhook_settings:redeliver", AD, _webhook_redeliver),
    Case("intake:replay", AD, _intake_replay),
    Case("intake:discard", AD, _intake_discard),
]
