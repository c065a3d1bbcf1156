"""Mass assignment: every POST endpoint and every API write, sent valid data plus fields it does
not offer, stores what the same request without those fields stores, and changes nothing of
another retailer.

The fields tried are enumerated, not listed: every field of the endpoint's model, of every model
the valid request wrote to, and of the orders, payments, users, memberships and activity every
endpoint is near (ids, retailer, status, money totals, times, actors, refs, is_staff, role), in
two rounds: one pointing every reference at the other retailer's records, one giving every other
field a value of its own. A new field, model or endpoint is covered without editing this file;
a new POST endpoint needs its valid data in ENDPOINTS.

Each endpoint runs three times from the same database state (savepoints): valid data alone, then
each round of extras. A stored value equal to an extra the valid request did not also store is a
mass assignment; any change to another retailer's rows is a leak.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.apps import apps
from django.contrib import messages
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models, transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import include, path, reverse
from rest_framework.authtoken.models import Token

from billing.models import BillingAccount, DebitMemo, Invoice, Payment, PaymentTransaction
from customers.models import Customer
from fulfilments.models import Fulfilment, FulfilmentStatus, Location
from oms.models import (
    Activity,
    Membership,
    OutboundEmail,
    Retailer,
    SavedView,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from oms.roles import Role
from oms.views import TenantObjectActionView
from orders import services
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.intake.processing import signature
from orders.models import (
    BulkJob,
    BulkJobItem,
    Comment,
    HoldRule,
    Order,
    SystemState,
    Task,
    Ticket,
    TicketMessage,
)
from returns.api import representation
from returns.models import Return, ReturnItem, ReturnReason, ReturnStatus
from tests.billing.fake_stripe import WEBHOOK_SECRET as STRIPE_SECRET
from tests.billing.fake_stripe import sign as stripe_signature
from tests.factories import (
    DEMO_PASSWORD,
    BillingAccountFactory,
    CarrierFactory,
    CommentFactory,
    CustomerFactory,
    FulfilmentFactory,
    InvoiceFactory,
    LocationFactory,
    MembershipFactory,
    MemoFactory,
    OrderFactory,
    PaymentFactory,
    PaymentTransactionFactory,
    RetailerFactory,
    ReturnFactory,
    ShipmentEventFactory,
    ShipmentFactory,
    StatusFactory,
    StockFactory,
    TaskFactory,
    TicketFactory,
    UserFactory,
    ship,
)
from tests.urlwalk import walk

pytestmark = pytest.mark.django_db

APPS = ("oms", "orders", "fulfilments", "returns", "customers", "billing")
TOKEN = "zqx"  # in every text an extra carries, and in no valid data
LONG_AGO = "2001-02-03"
NEW_ID = 987_654_321

# models every endpoint is offered the fields of, beside its own and those it writes to
ALWAYS = (Order, Payment, User, Membership, Activity)
# names a client might try that are no field's name here: the column they would land in
ALIASES = {"captured_amount": "captured", "refunded_amount": "refunded"}


# ---------------------------------------------------------------------------------------------
# the database, whole, before and after a request


def _tables() -> list[str]:
    return sorted(
        {
            model._meta.db_table
            for model in apps.get_models()
            if model._meta.app_label in APPS and model._meta.managed and not model._meta.proxy
        }
    )


def snapshot() -> dict[tuple[str, int], dict[str, Any]]:
    """Every row of every table of the project, in one query: (table, id) -> columns."""
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(  # table names from the model registry, quoted
        f"SELECT '{table}', row_to_json(t)::text FROM {quote(table)} t"  # noqa: S608
        for table in _tables()
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    snap = {}
    for table, text in rows:
        row = json.loads(text, parse_float=Decimal)
        snap[(table, row["id"])] = row
    return snap


def changed(before: dict, after: dict) -> dict[tuple[str, int], dict]:
    """Rows new or different after (deleted rows are given as None)."""
    found = {key: row for key, row in after.items() if before.get(key) != row}
    found.update({key: None for key in before if key not in after})
    return found


# ---------------------------------------------------------------------------------------------
# what an extra field is: the names it is sent under, the value, and how to spot it stored


@dataclass
class Extra:
    names: tuple[str, ...]
    value: Any
    column: str
    stored: Callable[[Any], bool]

    def form_value(self) -> Any:
        if isinstance(self.value, dict | list):
            return json.dumps(self.value)
        if self.value is True:
            return "on"
        if self.value is False:
            return ""
        return self.value


def _is(expected):
    return lambda stored: stored == expected


def _decimal_is(expected: Decimal):
    def check(stored):
        if isinstance(stored, bool) or not isinstance(stored, int | Decimal | float | str):
            return False
        try:
            return Decimal(str(stored)) == expected
        except ArithmeticError:
            return False

    return check


def _carries_token(stored) -> bool:
    return stored is not None and TOKEN in json.dumps(stored, default=str).lower()


def _long_ago(stored) -> bool:
    return isinstance(stored, str) and stored.startswith(LONG_AGO)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _decimal_for(f: models.DecimalField) -> Decimal:
    whole = "987654321"[: max(1, min(6, f.max_digits - f.decimal_places))]
    return Decimal(f"{whole}.{'32'[: f.decimal_places]}" if f.decimal_places else whole)


@dataclass
class Sides:
    """Records of both retailers an extra may point at."""

    own: Retailer
    other: Retailer
    other_user: User
    own_spare_user: User

    def other_row(self, model):
        if model is Retailer:
            return self.other
        if model is User:
            return self.other_user
        if _is_tenant(model):
            return model.objects.filter(retailer=self.other).order_by("pk").first()
        return None

    def own_row(self, model, *, not_pk):
        if model is User:
            return self.own_spare_user
        if _is_tenant(model):
            return model.objects.filter(retailer=self.own).exclude(pk=not_pk).order_by("pk").first()
        return None


def _is_tenant(model) -> bool:
    return any(f.name == "retailer" for f in model._meta.concrete_fields) and model is not Retailer


def extra_for(f: models.Field, *, flavour: str, target, sides: Sides) -> Extra | None:
    """The extra value for one model field in a round ("foreign" references or "values")."""
    names = (f.name, f.attname) if f.attname != f.name else (f.name,)
    current = (
        getattr(target, f.attname, None)
        if target is not None and hasattr(target, "_meta")
        else None
    )
    if isinstance(f, models.ForeignKey):
        if flavour == "foreign":
            row = sides.other_row(f.related_model)
        else:
            row = sides.own_row(f.related_model, not_pk=current)
        if row is None:
            return None
        return Extra(names, row.pk, f.column, _is(row.pk))
    if flavour == "foreign":
        if f.primary_key and target is not None:
            row = sides.other_row(type(target))
            return Extra((*names, "pk"), row.pk, f.column, _is(row.pk)) if row else None
        return None
    if f.primary_key:
        return Extra((*names, "pk"), NEW_ID, f.column, _is(NEW_ID))
    if isinstance(f, models.GeneratedField | models.BinaryField | models.FileField):
        return None
    if f.choices:
        values = [value for value, _ in f.flatchoices if value not in ("", None)]
        pick = next((v for v in reversed(values) if v != current), None)
        return None if pick is None else Extra(names, pick, f.column, _is(pick))
    if isinstance(f, models.BooleanField):
        wanted = not bool(current)
        return Extra(names, wanted, f.column, _is(wanted))
    if isinstance(f, models.DecimalField):
        value = _decimal_for(f)
        return Extra(names, str(value), f.column, _decimal_is(value))
    if isinstance(f, models.IntegerField):
        return Extra(names, 4242, f.column, _is(4242))
    if isinstance(f, models.DateTimeField):
        return Extra(names, f"{LONG_AGO}T04:05:06+00:00", f.column, _long_ago)
    if isinstance(f, models.DateField):
        return Extra(names, LONG_AGO, f.column, _long_ago)
    if isinstance(f, models.JSONField):
        return Extra(names, {TOKEN: TOKEN}, f.column, _carries_token)
    if isinstance(f, models.EmailField):
        return Extra(names, f"{TOKEN}@evil.example", f.column, _carries_token)
    if isinstance(f, models.CharField | models.TextField):
        return Extra(names, f"{TOKEN}-{f.name}"[: f.max_length or 100], f.column, _carries_token)
    return None


def extras_for(
    candidates: list, *, flavour: str, target, sides: Sides, taken: set[str], camel: bool
) -> list[Extra]:
    """One extra per field name of the models (the first model that has a name decides its
    value), leaving out the names the valid data already sends."""
    found: dict[str, Extra] = {}
    for model in candidates:
        for f in model._meta.concrete_fields:
            if f.name in found or f.name in taken or f.attname in taken:
                continue
            extra = extra_for(
                f,
                flavour=flavour,
                target=target if isinstance(target, model) else None,
                sides=sides,
            )
            if extra is not None:
                found[f.name] = extra
    if flavour == "values":
        for alias, column in ALIASES.items():
            source = found.get(column)
            if source is not None and alias not in taken:
                found[alias] = Extra((alias,), source.value, source.column, source.stored)
    extras = list(found.values())
    for extra in extras:
        extra.names = tuple(n for n in extra.names if n not in taken)
        if camel:
            extra.names += tuple(
                c for c in map(_camel, extra.names) if c not in extra.names and c not in taken
            )
    return [extra for extra in extras if extra.names]


# ---------------------------------------------------------------------------------------------
# comparing a request with extras to the same request without them


def _control_stores(key, extra: Extra, before: dict, control: dict, control_changes: dict) -> bool:
    """Whether the valid request stored the extra's value there too (in the same row, or, for a
    new row, in a new row of the same table)."""
    if key in before:
        same = control.get(key)
        return same is not None and extra.stored(same.get(extra.column))
    return any(
        k[0] == key[0]
        and k not in before
        and row is not None
        and extra.stored(row.get(extra.column))
        for k, row in control_changes.items()
    )


def violations(
    before: dict,
    control: dict,
    attempt: dict,
    extras: list[Extra],
    other_retailer_id: int,
    verbatim: frozenset[tuple[str, str]] = frozenset(),
) -> list[str]:
    """Why the request with extras stored something it was not offered to store."""
    found = []
    control_changes = changed(before, control)
    for key, row in changed(before, attempt).items():
        table, pk = key
        old = before.get(key)
        of_other = any(
            r is not None and r.get("retailer_id") == other_retailer_id for r in (row, old)
        ) or (table == Retailer._meta.db_table and pk == other_retailer_id)
        if of_other:
            found.append(f"{table} #{pk} of the other retailer changed: {old} -> {row}")
            continue
        if row is None:
            if control_changes.get(key, "kept") is not None:
                found.append(f"{table} #{pk} deleted, which the valid request did not")
            continue
        for extra in extras:
            if (table, extra.column) in verbatim:
                continue  # the raw request, kept as it came
            if extra.column not in row or not extra.stored(row[extra.column]):
                continue
            if old is not None and extra.stored(old.get(extra.column)):
                continue  # it held that value before
            if old is None and "pk" in extra.names and extra.value != NEW_ID:
                # a new row's id comes from its sequence and may meet the other retailer's id
                # by chance; taking over that retailer's row is caught above
                continue
            if _control_stores(key, extra, before, control, control_changes):
                continue  # the valid request stores it too
            found.append(
                f"{table} #{pk}.{extra.column} = {row[extra.column]!r}, "
                f"sent as {'/'.join(extra.names)}"
            )
    return found


# ---------------------------------------------------------------------------------------------
# the endpoints: how to reach each with valid data


@dataclass
class World:
    own: Retailer
    other: Retailer
    admin: User
    colleague: User
    other_agent: User
    token: str
    session_cookie: str

    @property
    def sides(self) -> Sides:
        return Sides(self.own, self.other, self.other_agent, self.colleague)


@dataclass
class Endpoint:
    """Builds what one POST needs in the user's retailer: URL kwargs, valid data, and the record
    the URL is about (whose current values the extras differ from)."""

    build: Callable[[World], tuple[dict, dict, Any]]
    changes: bool = True  # the valid request writes something
    client: str = "staff"  # staff, anonymous (login), token (API), signed (intake), stripe
    documented: frozenset[str] = frozenset()  # names the endpoint takes beside the valid data
    verbatim: frozenset[tuple[str, str]] = frozenset()  # (table, column) keeping the raw request
    # extras inside a JSON body (items, customer), and what the API shows back afterwards
    nested: Callable[[dict, list[Extra], str, World], None] | None = None
    shown: Callable[[Any, World], list[str]] | None = None


def _order(world: World, **kwargs) -> Order:
    return OrderFactory(retailer=world.own, **kwargs)


def _paid_order(world: World, *, captured=True) -> tuple[Order, Payment]:
    order = OrderFactory(retailer=world.own, lines=2)
    payment = PaymentFactory(order=order, captured=order.total if captured else Decimal(0))
    PaymentTransactionFactory(payment=payment)
    return order, payment


def _on_order(data: dict, **order_kwargs):
    def build(world: World):
        order = _order(world, **({"lines": 1} | order_kwargs))
        return {"pk": order.pk}, dict(data), order

    return build


def _suspended(world: World) -> Order:
    order = _order(world, lines=1)
    services.order_suspend(order=order, by=world.admin, reason="Address check")
    return Order.objects.get(pk=order.pk)


def _held(world: World) -> Order:
    order = _order(world, lines=1)
    services.order_hold_set(order=order, flag="documentation", by=world.admin, reason="ID")
    return Order.objects.get(pk=order.pk)


def _b_saved_view_save(world):
    data = {
        "list_name": "orders:order_list",
        "name": "Open in the west",
        "query": "view=open",
        "shared": "on",
        "retailer": world.own.pk,
    }
    return {}, data, None


def _b_saved_view_delete(world):
    view = SavedView.objects.create(
        retailer=world.own, owner=world.admin, list_name="orders:order_list", name="Mine"
    )
    return {"pk": view.pk}, {}, view


def _bulk(action: str, **params):
    def build(world):
        order = _order(world, lines=1)
        data = {"ids": [order.pk], "action": action, "reason": "", "notify": "", "status": ""}
        data |= {"message": ""} | params
        return {}, data, order

    return build


def _b_task_status(world):
    task = TaskFactory(order=_order(world))
    return {"pk": task.order_id, "task_pk": task.pk}, {"status": Task.Status.DONE}, task


def _b_set_status(world):
    order = _order(world, lines=1)
    _stock_for(order)
    status = StatusFactory(retailer=world.own, system_state=SystemState.PROCESSING)
    return {"pk": order.pk}, {"status": status.pk, "reason": "Picked"}, order


def _payment_action(data: dict, *, captured=True):
    def build(world):
        order, payment = _paid_order(world, captured=captured)
        return {"pk": order.pk, "payment_pk": payment.pk}, dict(data), payment

    return build


def _b_operation_retry(world):
    order, payment = _paid_order(world, captured=False)
    operation = PaymentTransactionFactory(
        payment=payment,
        kind=PaymentTransaction.Kind.CAPTURE,
        status=PaymentTransaction.Status.FAILED,
        error_code="unavailable",
    )
    return {"pk": order.pk, "transaction_pk": operation.pk}, {"confirm": "on"}, operation


def _b_mark_sent(world):
    """An order whose parcel was sourced at a location: marking it sent ships it."""
    order = _order(world, lines=1, state=SystemState.PROCESSING)
    FulfilmentFactory(
        order=order, status=FulfilmentStatus.ASSIGNED, location=_stock_for(order), escalated_at=None
    )
    return {"pk": order.pk}, {"confirm": "on", "tracking_number": "3S1", "carrier": "PostNL"}, order


def _b_shipment_update(world):
    order = _order(world, lines=1)
    line = order.lines.get()
    data = {
        "lines": [line.pk],
        "shipment_status": "packed",
        "shipping_method": "Express",
        "tracking_number": "3S0000000001",
    }
    return {"pk": order.pk}, data, line


def _invoice_of(world) -> Invoice:
    order = _order(world, lines=1)
    PaymentFactory(order=order, captured=order.total)
    return InvoiceFactory(order=order)


def _b_invoice(data: dict):
    def build(world):
        invoice = _invoice_of(world)
        return {"pk": invoice.order_id, "invoice_pk": invoice.pk}, dict(data), invoice

    return build


def _b_credit_note(world):
    invoice = _invoice_of(world)
    line_id = invoice.lines[0]["line_id"]
    data = {f"qty_{line_id}": "1", "include_shipping": ""}
    return {"pk": invoice.order_id, "invoice_pk": invoice.pk}, data, invoice


def _b_return_create(world):
    order = ship(_order(world, lines=1))
    line = order.lines.get()
    reason = ReturnReason.objects.filter(retailer=world.own).first()
    data = {
        f"qty_{line.pk}": "1",
        f"reason_{line.pk}": reason.code,
        f"condition_{line.pk}": "",
        "action": "",
        "fulfilment_type": "R_RTDC",
        "preferred_location_ref": "STORE-1",
    }
    return {"pk": order.pk}, data, order


def _b_lines_cancel(world):
    order = _order(world, lines=2)
    return {"pk": order.pk}, {"confirm": "on", "lines": [order.lines.first().pk]}, order


def _b_line_quantity(world):
    order = _order(world, lines=1, lines__quantity=3)
    line = order.lines.get()
    return {"pk": order.pk, "line_pk": line.pk}, {"quantity": "2"}, line


def _b_ticket(data: dict):
    def build(world):
        ticket = TicketFactory(order=_order(world))
        ticket.messages.create(
            retailer=world.own, sender=TicketMessage.Sender.CUSTOMER, body="Where is it?"
        )
        return {"pk": ticket.order_id, "ticket_pk": ticket.pk}, dict(data), ticket

    return build


def _b_stock(world):
    location = LocationFactory(retailer=world.own, ref="WH-1")

    def upload():
        return SimpleUploadedFile(
            "stock.csv", b"location_ref,sku,on_hand\nWH-1,SKU-1,7\n", "text/csv"
        )

    return {}, {"retailer": world.own.pk, "file": upload}, location


def _fulfilment(world, status=FulfilmentStatus.ESCALATED) -> Fulfilment:
    order = _order(world, lines=1)
    if status == FulfilmentStatus.ESCALATED:
        return FulfilmentFactory(order=order, status=status)
    location = LocationFactory(retailer=world.own)
    for line in order.lines.all():  # assigned: its stock is reserved at the location
        StockFactory(location=location, sku=line.sku, on_hand=10, reserved=line.quantity)
    return FulfilmentFactory(order=order, status=status, location=location)


def _b_fulfilment(data: dict | Callable[[World], dict], status=FulfilmentStatus.ESCALATED):
    def build(world):
        fulfilment = _fulfilment(world, status)
        values = data(world, fulfilment) if callable(data) else dict(data)
        return {"pk": fulfilment.pk}, values, fulfilment

    return build


def _stock_for(order: Order) -> Location:
    """A location of the order's retailer with its items in stock (sourcing finds them)."""
    location = LocationFactory(retailer=order.retailer)
    for line in order.lines.all():
        StockFactory(location=location, sku=line.sku, on_hand=10)
    return location


def _stocked_location(world, fulfilment) -> dict:
    return {"location": _stock_for(fulfilment.order).pk}


def _b_fulfilment_retry(world):
    fulfilment = _fulfilment(world)
    _stock_for(fulfilment.order)
    return {"pk": fulfilment.pk}, {}, fulfilment


def _b_release_refund(world):
    order, _payment = _paid_order(world)
    ret = ReturnFactory(retailer=world.own, order=order, status=ReturnStatus.PENDING_REFUND)
    return {"pk": ret.pk}, {"confirm": "yes", "how": "by_hand"}, ret


def _b_return_fulfilment_move(world):
    ret = ReturnFactory(retailer=world.own)
    parcel = ret.fulfilments.create(retailer=world.own, type="R_RTDC")
    return {"pk": ret.pk, "fid": parcel.pk}, {"status": "ARRIVED"}, parcel


def _account(world) -> BillingAccount:
    return BillingAccountFactory(customer=_order(world).customer)


def _b_account(data: dict):
    def build(world):
        account = _account(world)
        return {"pk": account.pk}, dict(data), account

    return build


def _b_account_invoice_email(world):
    invoice = _invoice_of(world)
    account = BillingAccountFactory(customer=invoice.order.customer)
    return {"pk": account.pk, "invoice_pk": invoice.pk}, {}, account


def _b_customer(data: Callable[[Customer], dict]):
    def build(world):
        customer = _order(world).customer
        return {"pk": customer.pk}, data(customer), customer

    return build


def _customer_details(customer: Customer) -> dict:
    return {
        "first_name": customer.first_name,
        "last_name": "Byron",
        "email": customer.email,
        "mobile": "",
        "segment": "vip",
        "status": "active",
        "language": "",
    }


NEW_ADDRESS = {"name": "Ada", "line1": "Damrak 5", "postcode": "1012", "city": "Amsterdam"}


def _address_in_book(customer: Customer) -> dict:
    return {**NEW_ADDRESS, "country": "NL", "address": customer.addresses.first().pk}


STATUS_DATA = {
    "label": "Packed and waiting",
    "code": "",
    "colour": "teal",
    "system_state": "PROCESSING",
}


def _b_status_list(world):
    return {}, {**STATUS_DATA, "code": "packed-waiting", "retailer": world.own.pk}, None


def _b_date_window(world):
    data = {"retailer": world.own.pk, "dates_from": "2010-03-01", "dates_ahead_days": "365"}
    return {}, data, world.own


def _b_status(data: dict):
    def build(world):
        status = StatusFactory(retailer=world.own)
        return {"pk": status.pk}, dict(data), status

    return build


def _b_billing_settings(world):
    data = {
        "retailer": world.own.pk,
        "invoice_trigger": "manual",
        "invoice_prefix": "AC-",
        "credit_note_prefix": "ACN-",
        "default_delivery_time": "Two days",
        "return_shipping": "always",
    }
    return {}, data, None


def _b_seller_details(world):
    data = {"retailer": world.own.pk, "street": "Keizersgracht 123", "vat_number": "NL852869327B01"}
    return {}, data, world.own


CONFIG = {
    "reasons": {"label": "Arrived late", "code": "LATE", "default_action": ""},
    "actions": {
        "label": "Store credit",
        "code": "CREDIT",
        "kind": "store_credit",
        "timing": "on_receipt",
    },
    "conditions": {"label": "Scuffed", "code": "SCUFFED", "restockable": "on"},
}


def _b_config_list(kind: str):
    def build(world):
        return {}, {**CONFIG[kind], "retailer": world.own.pk}, None

    return build


def _b_config_edit(world):
    reason = ReturnReason.objects.filter(retailer=world.own).first()
    data = {"label": "Broken on arrival", "code": reason.code, "default_action": ""}
    return {"kind": "reasons", "pk": reason.pk}, data, reason


def _b_config_toggle(world):
    reason = ReturnReason.objects.filter(retailer=world.own).first()
    return {"kind": "reasons", "pk": reason.pk}, {}, reason


HOLD_RULE = {
    "name": "New customer over 1,000",
    "kind": "compliance",
    "condition": "new_customer_over",
    "amount": "1000",
    "countries": "",
}


def _b_hold_rule(data: dict):
    def build(world):
        rule = HoldRule.objects.create(
            retailer=world.own, name="Abroad", condition="ships_outside", countries=["NL"]
        )
        return {"pk": rule.pk}, dict(data), rule

    return build


LOCATION = {
    "name": "Rotterdam DC",
    "type": "dc",
    "zones": "NL, BE",
    "daily_capacity": "30",
    "line1": "Kade 1",
    "postcode": "3011 AA",
    "city": "Rotterdam",
    "country": "NL",
}


def _b_location_list(world):
    return {}, {**LOCATION, "ref": "RTM", "retailer": world.own.pk}, None


def _b_location(data: dict):
    def build(world):
        location = LocationFactory(retailer=world.own)
        return {"pk": location.pk}, dict(data), location

    return build


def _b_carrier_list(world):
    data = {"name": "Courier Zqy", "zones": "NL", "transit_days": "3", "retailer": world.own.pk}
    return {}, data, None


def _b_carrier(data: dict):
    def build(world):
        carrier = CarrierFactory(retailer=world.own)
        return {"pk": carrier.pk}, {"name": carrier.name, **data}, carrier

    return build


CHANNEL = {
    "name": "Bol NL",
    "kind": "marketplace",
    "require_phone": "on",
    "require_known_sku": "",
    "total_tolerance": "0.05",
}


def _b_channel_list(world):
    return {}, {**CHANNEL, "code": "bol", "retailer": world.own.pk}, None


def _b_channel(data: dict):
    def build(world):
        channel = IntakeChannel.objects.create(
            retailer=world.own, code="web2", name="Web", kind="webstore", secret="s3cret"
        )
        return {"pk": channel.pk}, dict(data), channel

    return build


def _b_webhook_list(world):
    data = {
        "retailer": world.own.pk,
        "url": "https://erp.example.com/in",
        "description": "ERP",
        "events": ["order.created"],
    }
    return {}, data, None


def _webhook_endpoint(world) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        retailer=world.own, url="https://erp.example.com/hooks", events=["order.created"]
    )


def _b_webhook(data: dict):
    def build(world):
        endpoint = _webhook_endpoint(world)
        return {"pk": endpoint.pk}, dict(data), endpoint

    return build


def _b_webhook_redeliver(world):
    delivery = WebhookDelivery.objects.create(
        retailer=world.own,
        endpoint=_webhook_endpoint(world),
        event="order.created",
        event_id="0b7d4f0e-4f43-4a57-a0a4-8a2c0f1c2d3e",
        payload={"type": "order.created"},
        status=WebhookDelivery.Status.FAILED,
    )
    return {"pk": delivery.pk}, {}, delivery


def _intake_message(world) -> IntakeMessage:
    channel = IntakeChannel.objects.create(
        retailer=world.own, code="web", name="Web", kind="webstore", secret="s3cret"
    )
    return IntakeMessage.objects.create(
        retailer=world.own, channel=channel, body="{}", status="REJECTED", reasons=["id: missing"]
    )


def _b_intake_replay(world):
    message = _intake_message(world)
    return {"pk": message.pk}, {"body": json.dumps(WEBSTORE)}, message


def _b_intake_discard(world):
    message = _intake_message(world)
    return {"pk": message.pk}, {"reason": "A test message"}, message


WEBSTORE = {
    "id": "W-1001",
    "created_at": "2026-11-20T10:15:00Z",
    "currency": "EUR",
    "customer": {"email": "jan@example.nl", "first_name": "Jan", "last_name": "Smit"},
    "shipping_address": {
        "street": "Oudegracht 12",
        "zip": "3511 AB",
        "city": "Utrecht",
        "country": "nl",
    },
    "lines": [{"sku": "TENT-2", "title": "Two-person tent", "qty": 1, "price": "329.00"}],
    "shipping_cost": "4.95",
    "total": "333.95",
    "payment": {"method": "ideal"},
}


def _b_intake_receive(world):
    channel = IntakeChannel.objects.create(
        retailer=world.own, code="web", name="Web", kind="webstore", secret="s3cret"
    )
    return {"retailer": world.own.ref, "channel": "web"}, dict(WEBSTORE), channel


def _b_stripe_webhook(world):
    """Stripe tells that a refund it had pending succeeded."""
    order = _order(world, lines=1)
    payment = PaymentFactory(
        order=order, provider="stripe", provider_reference="pi_sweep", captured=order.total
    )
    operation = PaymentTransactionFactory(
        payment=payment,
        kind=PaymentTransaction.Kind.REFUND,
        amount=Decimal("1.00"),
        status=PaymentTransaction.Status.PENDING,
        reference="re_sweep",
        idempotency_key="refund-sweep",
    )
    refund = {
        "id": "re_sweep",
        "object": "refund",
        "amount": 100,
        "status": "succeeded",
        "payment_intent": "pi_sweep",
        "metadata": {"oms_operation": "refund-sweep"},
    }
    event = {"id": "evt_sweep", "object": "event", "type": "refund.updated"}
    return {}, event | {"data": {"object": refund}}, operation


def _b_login(world):
    return {}, {"username": world.admin.username, "password": DEMO_PASSWORD}, world.admin


def _b_returns_api(world):
    order = ship(_order(world, lines=1))
    body = {
        "retailerId": str(world.own.pk),
        "orderId": str(order.pk),
        "type": "CUSTOMER_RETURN",
        "customer": {"email": "jan@example.nl", "firstName": "Jan", "lastName": "Smit"},
        "items": [{"skuRef": order.lines.get().sku, "returnQty": 1, "returnReason": "Damaged"}],
        "fulfilmentChoice": {"fulfilmentType": "R_RTDC", "preferredLocationRef": "STORE-1"},
    }
    return {}, body, order


def _b_returns_api_without_order(world):
    """A return of no order: the customer is found by customerId, within the retailer only."""
    customer = CustomerFactory(retailer=world.own)
    body = {
        "retailerId": str(world.own.pk),
        "type": "CUSTOMER_RETURN",
        "customer": {"email": customer.email, "customerId": str(customer.pk)},
        "items": [{"skuRef": "SKU-LOOSE", "returnQty": 1, "skuPrice": 20, "skuTaxPrice": 4}],
    }
    return {}, body, None


# what a returnRequest takes: the API's documentation, field for field
RETURN_REQUEST = frozenset(
    {"retailerId", "orderId", "orderRef", "returnRef", "type", "status", "customer", "items"}
    | {"fulfilmentChoice", "fulfilments", "customAttributes"}
)
RETURN_ITEM = frozenset(
    {"skuId", "skuRef", "skuPrice", "skuTaxPrice", "taxType", "currency", "returnQty"}
    | {"returnReason", "returnCondition"}
)
RETURN_CUSTOMER = frozenset(
    {"email", "firstName", "lastName", "mobile", "customerRef", "customerId"}
)


def _shown_only(sample: Return) -> dict[str, Any]:
    """What the API shows of a return but does not take, each with a value to try."""
    shown = {
        **representation.return_object(sample),
        **representation.order_return(sample),
        **representation.search_result(sample),
    }
    values = {}
    for key, value in shown.items():
        if key in RETURN_REQUEST or isinstance(value, dict | list):
            continue
        if isinstance(value, float | int):
            values[key] = 987654.32
        elif key.endswith("On"):
            values[key] = f"{LONG_AGO}T04:05:06.000+0000"
        else:
            values[key] = f"{TOKEN}-{key}"
    return values


def _returns_api_nested(body: dict, extras: list[Extra], flavour: str, world: World) -> int:
    """The item and the customer are offered their models' fields too, and the return the
    fields the API shows but does not take; the customer points at the other retailer's
    customer in the references round."""
    added = 0
    item = body["items"][0]
    customer = body["customer"]
    for extra in extras:
        for name in extra.names:
            if extra.column in ITEM_COLUMNS and name not in RETURN_ITEM:
                item[name] = extra.value
                added += 1
            if extra.column in CUSTOMER_COLUMNS and name not in RETURN_CUSTOMER:
                customer[name] = extra.value
                added += 1
    if flavour == "foreign":
        other = Customer.objects.filter(retailer=world.other).first()
        customer["customerId"] = str(other.pk)
        added += 1
    else:
        sample = Return.objects.filter(retailer=world.other).first()
        for key, value in _shown_only(sample).items():
            body.setdefault(key, value)
            added += 1
    return added


def _returns_api_shown(response, world: World) -> list[str]:
    """The return as the API shows it afterwards carries none of the values tried."""
    client = Client()
    shown = client.get(
        reverse("returns_api:return", kwargs={"return_id": response.json()["id"]}),
        headers={"Authorization": f"Bearer {world.token}"},
    ).json()
    text = json.dumps(shown)
    other_customer = Customer.objects.filter(retailer=world.other).first()
    found = [word for word in (TOKEN, LONG_AGO, "987654") if word in text]
    if shown["customer"]["customerId"] == str(other_customer.pk):
        found.append("the other retailer's customer")
    return [f"the API shows {what}: {text[:300]}" for what in found]


ITEM_COLUMNS = {f.column for f in ReturnItem._meta.concrete_fields}
CUSTOMER_COLUMNS = {f.column for f in Customer._meta.concrete_fields}


def _b_storefront(world):
    order = _order(world)
    return {"order_id": order.pk}, {"message": "Where is my parcel?", "subject": "Parcel"}, order


ENDPOINTS: dict[str, Endpoint | list[Endpoint]] = {
    "login": Endpoint(_b_login, client="anonymous"),
    "logout": Endpoint(lambda w: ({}, {}, None), changes=False),
    "saved_view_save": Endpoint(_b_saved_view_save),
    "saved_view_delete": Endpoint(_b_saved_view_delete),
    "orders:bulk_preview": Endpoint(_bulk("suspend", reason="Stock check"), changes=False),
    "orders:bulk_start": Endpoint(_bulk("suspend", reason="Stock check")),
    "orders:comment_add": Endpoint(_on_order({"body": "Customer called"})),
    "orders:memo_add": Endpoint(_on_order({"body": "Refund approved", "recipient": ""})),
    "orders:task_add": Endpoint(
        _on_order(
            {
                "description": "Call back",
                "assignee": "",
                "due_at": "2030-01-15T10:30",
                "status": "open",
            },
        )
    ),
    "orders:task_status": Endpoint(_b_task_status),
    "orders:set_status": Endpoint(_b_set_status),
    "orders:cancel": Endpoint(_on_order({"confirm": "on", "notify": "", "reason": "Asked"})),
    "orders:suspend": Endpoint(_on_order({"reason": "Address check"})),
    "orders:resume": Endpoint(lambda w: ({"pk": (o := _suspended(w)).pk}, {}, o)),
    "orders:copy": Endpoint(_on_order({"confirm": "on"})),
    "orders:hold_set": Endpoint(_on_order({"flag": "documentation", "reason": "ID"})),
    "orders:hold_clear": Endpoint(
        lambda w: ({"pk": (o := _held(w)).pk}, {"flag": "documentation", "reason": "Seen"}, o)
    ),
    "orders:mark_paid": Endpoint(_on_order({})),
    "orders:mark_not_paid": Endpoint(_on_order({}, payment_status="paid")),
    "orders:invoice_number": Endpoint(_on_order({"invoice_number": "INV-77"})),
    "orders:payment_capture": Endpoint(
        _payment_action({"confirm": "on", "amount": "10.00"}, captured=False)
    ),
    "orders:payment_refund": Endpoint(_payment_action({"confirm": "on", "amount": "10.00"})),
    "orders:payment_void": Endpoint(_payment_action({"confirm": "on"}, captured=False)),
    "orders:payments_sync": Endpoint(lambda w: ({"pk": (p := _paid_order(w)[1]).order_id}, {}, p)),
    "orders:operation_retry": Endpoint(_b_operation_retry),
    "orders:shipment_update": Endpoint(_b_shipment_update),
    "orders:mark_sent": Endpoint(_b_mark_sent),
    "orders:notify": Endpoint(_on_order({"confirm": "on", "message": "Your parcel left"})),
    "orders:payment_reminder": Endpoint(_on_order({"confirm": "on"})),
    "orders:invoice_create": Endpoint(_on_order({"language": ""})),
    "orders:invoice_update": Endpoint(_b_invoice({"status": "paid", "delivery_time": "Two days"})),
    "orders:invoice_resend": Endpoint(_b_invoice({"confirm": "on"})),
    "orders:credit_note": Endpoint(_b_credit_note),
    "orders:return_create": Endpoint(_b_return_create),
    "orders:lines_cancel": Endpoint(_b_lines_cancel),
    "orders:line_quantity": Endpoint(_b_line_quantity),
    "orders:ticket_reply": Endpoint(_b_ticket({"body": "It left today"})),
    "orders:ticket_close": Endpoint(_b_ticket({})),
    "fulfilments:stock": Endpoint(_b_stock),
    "fulfilments:move": Endpoint(
        _b_fulfilment({"status": FulfilmentStatus.PICKED}, FulfilmentStatus.ASSIGNED)
    ),
    "fulfilments:retry": Endpoint(_b_fulfilment_retry),
    "fulfilments:assign": Endpoint(_b_fulfilment(_stocked_location)),
    "fulfilments:cancel_lines": Endpoint(_b_fulfilment({})),
    "returns:release_refund": Endpoint(_b_release_refund),
    "returns:fulfilment_move": Endpoint(_b_return_fulfilment_move),
    "returns:attribute_set": Endpoint(
        lambda w: (
            {"pk": (r := ReturnFactory(retailer=w.own)).pk},
            {"name": "gift", "type": "BOOLEAN", "value": "true", "remove": ""},
            r,
        )
    ),
    "billing:account_status": Endpoint(_b_account({"status": "SUSPENDED"})),
    "billing:account_attribute": Endpoint(
        _b_account({"key": "tier", "value": "gold", "remove": ""})
    ),
    "billing:debit_memo": Endpoint(_b_account({"amount": "12.50", "reason": "Late fee"})),
    "billing:account_invoice_email": Endpoint(_b_account_invoice_email),
    "customers:customer_edit": Endpoint(_b_customer(_customer_details)),
    "customers:address_save": [
        Endpoint(_b_customer(lambda c: {**NEW_ADDRESS, "country": "Netherlands"})),
        Endpoint(_b_customer(_address_in_book)),
    ],
    "customers:address_remove": Endpoint(
        _b_customer(lambda c: {"address": c.addresses.first().pk})
    ),
    "order_statuses:list": Endpoint(_b_status_list),
    "order_statuses:edit": Endpoint(_b_status(STATUS_DATA)),
    "order_statuses:dates": Endpoint(_b_date_window),
    "billing_settings:seller": Endpoint(_b_seller_details),
    "order_statuses:move": Endpoint(_b_status({"direction": "up"})),
    "order_statuses:delete": Endpoint(_b_status({})),
    "billing_settings:edit": Endpoint(_b_billing_settings),
    "return_config:reasons": Endpoint(_b_config_list("reasons")),
    "return_config:actions": Endpoint(_b_config_list("actions")),
    "return_config:conditions": Endpoint(_b_config_list("conditions")),
    "return_config:edit": Endpoint(_b_config_edit),
    "return_config:toggle": Endpoint(_b_config_toggle),
    "hold_rules:list": Endpoint(lambda w: ({}, {**HOLD_RULE, "retailer": w.own.pk}, None)),
    "hold_rules:edit": Endpoint(_b_hold_rule(HOLD_RULE)),
    "hold_rules:active": Endpoint(_b_hold_rule({"active": "0"})),
    "fulfilment_settings:locations": Endpoint(_b_location_list),
    "fulfilment_settings:location_edit": Endpoint(_b_location(LOCATION)),
    "fulfilment_settings:location_toggle": Endpoint(_b_location({})),
    "fulfilment_settings:carriers": Endpoint(_b_carrier_list),
    "fulfilment_settings:carrier_edit": Endpoint(_b_carrier({"zones": "DE", "transit_days": "4"})),
    "fulfilment_settings:carrier_toggle": Endpoint(_b_carrier({})),
    "channel_settings:list": Endpoint(_b_channel_list),
    "channel_settings:edit": Endpoint(_b_channel(CHANNEL)),
    "channel_settings:toggle": Endpoint(_b_channel({})),
    "channel_settings:rotate": Endpoint(_b_channel({})),
    "channel_settings:set_secret": Endpoint(
        _b_channel({"secret": "shpss_0123456789abcdef0123456789abcdef"})
    ),
    "webhook_settings:list": Endpoint(_b_webhook_list),
    "webhook_settings:edit": Endpoint(
        _b_webhook(
            {"url": "https://erp.example.com/v2", "description": "ERP", "events": ["order.shipped"]}
        )
    ),
    "webhook_settings:toggle": Endpoint(_b_webhook({})),
    "webhook_settings:rotate": Endpoint(_b_webhook({})),
    "webhook_settings:delete": Endpoint(_b_webhook({})),
    "webhook_settings:redeliver": Endpoint(_b_webhook_redeliver),
    "intake:replay": Endpoint(
        _b_intake_replay, verbatim=frozenset({(IntakeMessage._meta.db_table, "body")})
    ),
    "intake:discard": Endpoint(_b_intake_discard),
    "intake:receive": Endpoint(
        _b_intake_receive,
        client="signed",
        verbatim=frozenset({(IntakeMessage._meta.db_table, "body")}),
    ),
    # an event it cannot act on is acknowledged and changes nothing, as Stripe expects: the
    # sweep's variants of the event may rightly change nothing
    "billing:stripe_webhook": Endpoint(_b_stripe_webhook, client="stripe", changes=False),
    "returns_api:returns": [
        Endpoint(
            build,
            client="token",
            documented=RETURN_REQUEST,
            nested=_returns_api_nested,
            shown=_returns_api_shown,
        )
        for build in (_b_returns_api, _b_returns_api_without_order)
    ],
    "storefront_api:order_messages": Endpoint(
        _b_storefront, client="token", documented=frozenset({"message", "subject", "ticketId"})
    ),
}


def _post_routes():
    return [r for r in walk() if r.view_class is not None and hasattr(r.view_class, "post")]


def test_every_post_endpoint_is_tried():
    names = {route.name for route in _post_routes()}
    missing = sorted(names - set(ENDPOINTS))
    assert not missing, f"Give these POST endpoints valid data in ENDPOINTS: {missing}"
    assert not set(ENDPOINTS) - names, "ENDPOINTS names an endpoint that is gone"


# ---------------------------------------------------------------------------------------------
# the sweep


@pytest.fixture
def world():
    own = RetailerFactory(ref="acme", name="Acme Outfitters")
    other = RetailerFactory(ref="globex", name="Globex Home")
    admin = MembershipFactory(
        user=UserFactory(username="admin"), retailer=own, role=Role.ADMIN
    ).user
    colleague = MembershipFactory(
        user=UserFactory(username="colleague"), retailer=own, role=Role.AGENT
    ).user
    other_agent = MembershipFactory(
        user=UserFactory(username="globex.agent"), retailer=other, role=Role.ADMIN
    ).user
    _fill(other, other_agent)
    _fill(own, colleague)  # records of its own for references that stay in the retailer
    token = Token.objects.create(user=admin).key
    signed_in = Client()
    signed_in.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    cookie = signed_in.cookies.output(header="", sep=";")
    return World(own, other, admin, colleague, other_agent, token, cookie)


def _fill(retailer: Retailer, staff: User) -> None:
    """One of everything, so each reference has a record of this retailer to point at."""
    order = OrderFactory(retailer=retailer, lines=2)
    payment = PaymentFactory(order=order, captured=order.total)
    PaymentTransactionFactory(payment=payment)
    ShipmentEventFactory(shipment=ShipmentFactory(order=order))
    CommentFactory(order=order, author=staff)
    MemoFactory(order=order, author=staff)
    TaskFactory(order=order, assignee=staff, created_by=staff)
    ticket = TicketFactory(order=order)
    ticket.messages.create(retailer=retailer, sender=TicketMessage.Sender.CUSTOMER, body="Hi")
    ret = ReturnFactory(retailer=retailer, order=order)
    ret.fulfilments.create(retailer=retailer, type="R_RTDC")
    location = LocationFactory(retailer=retailer)
    StockFactory(location=location)
    CarrierFactory(retailer=retailer)
    FulfilmentFactory(order=order, location=location, status=FulfilmentStatus.ASSIGNED)
    InvoiceFactory(order=order)
    account = BillingAccountFactory(customer=order.customer)
    DebitMemo.objects.create(
        retailer=retailer, account=account, number=f"DM-{retailer.ref}", amount=1, currency="EUR"
    )
    SavedView.objects.create(
        retailer=retailer, owner=staff, list_name="orders:order_list", name="A"
    )
    channel = IntakeChannel.objects.create(
        retailer=retailer, code="shop", name="Shop", kind="webstore", secret="x"
    )
    IntakeMessage.objects.create(retailer=retailer, channel=channel, body="{}", status="REJECTED")
    job = BulkJob.objects.create(retailer=retailer, action="export", created_by=staff)
    BulkJobItem.objects.create(retailer=retailer, job=job, order=order)
    OutboundEmail.objects.create(retailer=retailer, to="a@example.com", subject="Hi", body="Hi")
    services.comment_add(order=order, by=staff, body="Seen")  # an activity row
    StatusFactory(retailer=retailer)


def _client(world: World, kind: str) -> Client:
    """A fresh client; staff ones carry the admin's session, signed in once for the sweep (so
    no request is preceded by a login of its own)."""
    client = Client(raise_request_exception=False)
    if kind == "staff":
        client.cookies = SimpleCookie(world.session_cookie)
    return client


def _send(client: Client, endpoint: Endpoint, url: str, data: dict, world: World):
    if endpoint.client == "token":
        return client.post(
            url,
            json.dumps(data),
            content_type="application/json",
            headers={"Authorization": f"Bearer {world.token}"},
        )
    if endpoint.client == "stripe":
        body = json.dumps(data).encode()
        with override_settings(STRIPE_WEBHOOK_SECRET=STRIPE_SECRET):
            return client.post(
                url,
                body,
                content_type="application/json",
                headers={"Stripe-Signature": stripe_signature(body, STRIPE_SECRET)},
            )
    if endpoint.client == "signed":
        body = json.dumps(data).encode()
        return client.post(
            url,
            body,
            content_type="application/json",
            headers={"X-Signature": signature("s3cret", body)},
        )
    return client.post(url, {k: v() if callable(v) else v for k, v in data.items()})


def _with_extras(
    endpoint: Endpoint, data: dict, extras: list[Extra], flavour: str, world: World
) -> tuple[dict, int]:
    """The valid data with the extras added, and how many names were added."""
    as_json = endpoint.client in ("token", "signed", "stripe")
    sent = json.loads(json.dumps(data)) if as_json else dict(data)
    count = 0
    for extra in extras:
        for name in extra.names:
            sent[name] = extra.value if as_json else extra.form_value()
            count += 1
    if endpoint.nested is not None:
        count += endpoint.nested(sent, extras, flavour, world)
    return sent, count


def _run(client, endpoint, url, data, world, capture) -> tuple[Any, dict]:
    with capture(execute=True):
        response = _send(client, endpoint, url, data, world)
    return response, snapshot()


def _messages(response) -> list:
    request = getattr(response, "wsgi_request", None)
    return list(get_messages(request)) if request is not None else []


@dataclass
class Tally:
    pairs: int = 0
    rejected: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _touched_models(before: dict, after: dict) -> list:
    by_table = {m._meta.db_table: m for m in apps.get_models() if m._meta.app_label in APPS}
    tables = sorted({table for table, _ in changed(before, after)})
    return [by_table[t] for t in tables if t in by_table]


def try_endpoint(name: str, endpoint: Endpoint, world: World, capture, tally: Tally) -> None:
    outer = transaction.savepoint_create()
    try:
        kwargs, data, target = endpoint.build(world)
        url = reverse(name, kwargs=kwargs)
        before = snapshot()
        inner = transaction.savepoint_create()

        # the valid request alone
        response, control = _run(
            _client(world, endpoint.client), endpoint, url, data, world, capture
        )
        transaction.savepoint_rollback(inner)
        refused = [m for m in _messages(response) if m.level >= messages.ERROR]
        if (
            response.status_code >= 400
            or refused
            or (endpoint.changes and not changed(before, control))
        ):
            tally.problems.append(
                f"{name}: the valid request did nothing ({response.status_code} "
                f"{_messages(response) or response.content[:300]!r})"
            )
            return
        leaks = violations(before, control, control, [], world.other.pk)
        tally.problems += [f"{name} (valid data): {leak}" for leak in leaks]

        view_model = getattr(endpoint_view(name), "model", None)
        offered = [m for m in [view_model, type(target) if hasattr(target, "_meta") else None] if m]
        offered += _touched_models(before, control) + list(ALWAYS)
        offered = list(dict.fromkeys(offered))
        camel = endpoint.client in ("token", "signed", "stripe")
        for flavour in ("foreign", "values"):
            extras = extras_for(
                offered,
                flavour=flavour,
                target=target,
                sides=world.sides,
                taken=set(data) | endpoint.documented,
                camel=camel,
            )
            sent, count = _with_extras(endpoint, data, extras, flavour, world)
            tally.pairs += count
            client = _client(world, endpoint.client)
            response, attempt = _run(client, endpoint, url, sent, world, capture)
            if endpoint.shown is not None and response.status_code < 400:
                tally.problems += [
                    f"{name} ({flavour}): {v}" for v in endpoint.shown(response, world)
                ]
            transaction.savepoint_rollback(inner)
            if response.status_code >= 500:
                tally.problems.append(f"{name} ({flavour}): answered {response.status_code}")
                continue
            if not changed(before, attempt) and endpoint.changes:
                tally.rejected.append(
                    f"{name} ({flavour}): {response.status_code} "
                    f"{_messages(response) or response.content[:300]!r}"
                )
            found = violations(before, control, attempt, extras, world.other.pk, endpoint.verbatim)
            tally.problems += [f"{name} ({flavour}): {v}" for v in found]
    finally:
        transaction.savepoint_rollback(outer)


def _each_endpoint():
    for name, each in ENDPOINTS.items():
        for endpoint in each if isinstance(each, list) else [each]:
            yield name, endpoint


def endpoint_view(name: str):
    return next(route.view_class for route in walk() if route.name == name)


def test_no_endpoint_stores_a_field_it_does_not_offer(world, django_capture_on_commit_callbacks):
    # given every POST endpoint and API write, each with valid data for a record of its own
    tally = Tally()
    tried = list(_each_endpoint())

    # when each is sent its valid data, then the valid data plus every field it does not offer
    for name, endpoint in tried:
        try_endpoint(name, endpoint, world, django_capture_on_commit_callbacks, tally)

    # then what each stores with the extras is what it stores without them, and nothing of the
    # other retailer changed
    print(f"\n{len(tried)} endpoints, {tally.pairs} endpoint x field pairs")
    print("refused with extras:", *tally.rejected, sep="\n  ")
    assert tally.problems == [], "\n".join(tally.problems)
    assert tally.pairs >= 6000


class CarelessCommentView(TenantObjectActionView):
    """Adds a comment the careless way: stores every field of a comment the request names."""

    model = Order

    def post(self, request, *args, **kwargs):
        order = self.get_object()
        values = {"retailer_id": order.retailer_id, "order_id": order.pk, "author": request.user}
        columns = {f.attname for f in Comment._meta.concrete_fields}
        values |= {name: value for name, value in request.POST.items() if name in columns}
        Comment.objects.create(**values)
        return HttpResponse(status=204)


urlpatterns = [
    path("careless/<int:pk>/", CarelessCommentView.as_view(), name="careless_comment"),
    path("", include("oms.urls")),
]


@pytest.mark.urls("tests.test_mass_assignment")
def test_the_sweep_finds_an_endpoint_that_stores_what_it_is_sent(
    world, django_capture_on_commit_callbacks
):
    # given an endpoint that stores any comment field it is sent
    endpoint = Endpoint(_on_order({"body": "Customer called"}))
    tally = Tally()

    # when the sweep tries it
    try_endpoint("careless_comment", endpoint, world, django_capture_on_commit_callbacks, tally)

    # then it reports the comment filed under the other retailer, and the values it took
    problems = "\n".join(tally.problems)
    assert "orders_comment" in problems and "of the other retailer changed" in problems
    assert f"orders_comment #{NEW_ID}.created_at = '{LONG_AGO}" in problems
    assert ".author_id = " in problems


def test_a_storefront_message_never_lands_on_another_retailers_ticket(world, client):
    # given a ticket of the other retailer
    ticket = Ticket.objects.filter(retailer=world.other).first()
    order = Order.objects.filter(retailer=world.own).first()
    before = snapshot()

    # when the storefront writes to it through an order of the user's retailer
    response = client.post(
        reverse("storefront_api:order_messages", kwargs={"order_id": order.pk}),
        {"message": "Hello", "ticketId": str(ticket.pk)},
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.token}"},
    )

    # then it is refused with the reason, and nothing changed
    assert response.status_code == 400
    assert "No such ticket on this order" in response.json()["error"][0]["message"]
    assert changed(before, snapshot()) == {}
