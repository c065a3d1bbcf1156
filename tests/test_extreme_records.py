"""A page survives a bad record: extreme values stored straight into the database (as an old
import, a channel before validation or a hand-made fix could have left them) never break a page.

One retailer's order and everything hanging off it (lines, payments and their ledger, invoices and
credit notes, fulfilments, shipments, returns, customer, billing account, intake messages,
activity, comments, tasks, tickets) get, bypassing forms and services:

- dates at the ends of the calendar: 0001-01-01 and 9999-12-31 (UTC), shown in a time zone that
  overflows them, or nothing where the column allows it;
- amounts at the column's limit (9,999,999,999.99 and its negative), quantities and counters at
  the integer limit (2,147,483,647);
- one order with 10,000 lines (with its invoice, fulfilment and return of as many);
- texts of 1 MB in text columns and at the length limit in the others, made of markup,
  right-to-left and combining characters and CR/LF.

Then every page of the URL configuration (`tests/urlwalk.py`: lists, details, tabs, fragments,
the home page's queues and figures, the search page and its suggestions, CSV exports, the JSON
APIs), every PDF (invoice, credit note, packing slip, the list's PDF, the bulk PDFs) must answer
without a server error. The work is bounded, not timed: a page shows at most a page of lines
and PDFs a capped number with "and N more", and an order's pages take as many queries with 50
lines as with one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import pytest
from django.db import DatabaseError, models, transaction
from django.db.models import Value
from django.db.models.functions import Cast, Concat, Left
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice, PaymentTransaction
from fulfilments.models import FulfilmentItem, FulfilmentStatus
from oms.models import Activity, Retailer, WebhookDelivery, WebhookEndpoint
from oms.roles import Role
from orders.models import HoldRule, OrderLine, TicketMessage
from orders.views.browse import TABS
from returns.models import ReturnItem, ReturnReason
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
    TaskFactory,
    TicketFactory,
    UserFactory,
)
from tests.querycount import assert_constant_queries
from tests.test_escaping import kwargs_for
from tests.urlwalk import walk

pytestmark = pytest.mark.django_db

FAR_PAST = datetime(1, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
INT_MAX = 2_147_483_647
MANY_LINES = 10_000
MEGABYTE = 1_000_000
MOST_LINES_SHOWN = 250  # a page of lines (100) or a PDF's (200), and a few of other records
# Forms that offer every line of the order (a return's items): bounded in the queries they take
# (the test below), not yet in the lines they list.
EVERY_LINE_FORMS = ("/orders/{pk}/returns/new/",)

# Markup, right-to-left text with an override, combining marks piled on a letter, CR/LF, a tab.
HOSTILE_TEXT = (
    "<b>bold</b> <script>x()</script> \u0645\u0631\u062d\u0628\u0627 \u202eevil\u202c "
    "e\u0301\u0302\u0303\u0304\u0305 Z\u0334\u0321\u0322\u0327 \r\nline\r\n\tend &amp; "
)

# The records of one order and what hangs off it; configuration and staff are left alone.
MODELS = [
    "orders.Order",
    "orders.OrderLine",
    "orders.Shipment",
    "orders.ShipmentEvent",
    "orders.Comment",
    "orders.Memo",
    "orders.Task",
    "orders.Ticket",
    "orders.TicketMessage",
    "orders.IntakeMessage",
    "fulfilments.Fulfilment",
    "fulfilments.FulfilmentItem",
    "fulfilments.Location",
    "fulfilments.Carrier",
    "orders.IntakeChannel",
    "returns.Return",
    "returns.ReturnItem",
    "returns.ReturnFulfilment",
    "customers.Customer",
    "customers.Address",
    "billing.Invoice",
    "billing.BillingAccount",
    "billing.DebitMemo",
    "billing.Payment",
    "billing.PaymentTransaction",
    "oms.Activity",
]
# Identifiers the system writes and reads back, not free text or numbers people enter.
LEFT_ALONE = {
    "oms.Activity.action",
    "oms.Activity.target_type",
    "oms.Activity.target_id",
    "oms.Activity.root_type",
    "oms.Activity.root_id",
    "orders.IntakeMessage.event",
    "billing.PaymentTransaction.idempotency_key",
    "billing.PaymentTransaction.error_code",
    "orders.OrderLine.position",
}


def _label(model, f) -> str:
    return f"{model._meta.label}.{f.name}"


def long_text(size: int) -> str:
    return (HOSTILE_TEXT * (size // len(HOSTILE_TEXT) + 1))[:size]


@dataclass
class Extremes:
    """One way of filling the records: the values each kind of column gets."""

    name: str
    time_zone: str
    moment: Callable[[int], datetime | None]  # by the field's position, nullable or not
    day: Callable[[int], date | None]
    money: Callable[[int], Decimal]

    def value(self, model, f: models.Field, n: int):
        """The extreme value for column f (the n-th of its model), or None to leave it."""
        nullable = f.null
        if isinstance(f, models.DateTimeField):
            moment = self.moment(n)
            return moment if moment is not None or nullable else FAR_PAST
        if isinstance(f, models.DateField):
            day = self.day(n)
            return day if day is not None or nullable else date.min
        if isinstance(f, models.DecimalField):
            most = Decimal(10) ** (f.max_digits - f.decimal_places) - Decimal(1).scaleb(
                -f.decimal_places
            )
            return most * self.money(n)
        if isinstance(f, models.PositiveIntegerField | models.IntegerField) and not f.primary_key:
            return INT_MAX
        if isinstance(f, models.TextField):
            return long_text(MEGABYTE)
        if isinstance(f, models.CharField) and not f.choices and f.max_length >= 16:
            # a unique stamp first (refs are unique per retailer), then text to the limit
            text = models.TextField()
            stamp = Concat(
                Value("#", text), Cast("pk", text), Value(" " + long_text(f.max_length), text)
            )
            return Left(stamp, f.max_length, output_field=text)
        return None


VARIANTS = {
    "far-future": Extremes(
        "far-future", "Pacific/Kiritimati", lambda n: FAR_FUTURE, lambda n: date.max, lambda n: 1
    ),
    "far-past": Extremes(
        "far-past", "Pacific/Honolulu", lambda n: FAR_PAST, lambda n: date.min, lambda n: -1
    ),
    # ends mixed field by field, and nothing where a column allows nothing
    "mixed": Extremes(
        "mixed",
        "America/St_Johns",
        lambda n: (FAR_FUTURE, FAR_PAST, None)[n % 3],
        lambda n: (date.min, date.max, None)[n % 3],
        lambda n: (1, -1)[n % 2],
    ),
}


@dataclass
class Filled:
    """Which columns took their extreme value, and which the database's own checks refused."""

    stored: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)


def fill_extremes(retailer: Retailer, extremes: Extremes) -> Filled:
    """Every column of the order's records at its extreme, column by column, so a column the
    database's CHECK constraints refuse (refunded above captured) keeps its value alone."""
    from django.apps import apps

    filled = Filled()
    for label in MODELS:
        model = apps.get_model(label)
        rows = model.objects.filter(retailer=retailer)
        columns = [
            f
            for f in model._meta.concrete_fields
            if not f.is_relation
            and not f.primary_key
            and not isinstance(f, models.GeneratedField)
            and _label(model, f) not in LEFT_ALONE
        ]
        values = {}
        for n, f in enumerate(columns):
            value = extremes.value(model, f, n)
            if value is not None or (f.null and isinstance(f, models.DateField)):
                values[f] = value
        try:  # all at once; column by column when the database's checks refuse some
            with transaction.atomic():
                rows.update(**{f.name: value for f, value in values.items()})
            filled.stored |= {_label(model, f) for f in values}
            continue
        except DatabaseError:
            pass
        for f, value in values.items():
            # a negative amount the database refuses (captured >= 0) is tried at the top instead
            candidates = [value, -value] if isinstance(value, Decimal) and value < 0 else [value]
            for candidate in candidates:
                try:
                    with transaction.atomic():
                        rows.update(**{f.name: candidate})
                except DatabaseError:
                    continue
                filled.stored.add(_label(model, f))
                break
            else:
                filled.refused.add(_label(model, f))
    return filled


# ---------------------------------------------------------------------------------------------
# the world


@dataclass
class World:
    retailer: Retailer
    admin: Any
    order: Any
    objects: dict[str, Any]
    filled: Filled

    @cached_property
    def line_pks(self) -> set[int]:
        return set(self.order.lines.values_list("pk", flat=True))


def add_lines(order, count: int) -> None:
    """`count` more lines on the order, with a fulfilment item, a return item and an invoice
    line each, written in bulk."""
    first = order.lines.count()
    OrderLine.objects.bulk_create(
        OrderLine(
            retailer_id=order.retailer_id,
            order=order,
            position=first + n,
            sku=f"BULK-{first + n}",
            name=f"Bulk product {first + n}",
            quantity=1,
            unit_price=Decimal("1.00"),
            total=Decimal("1.00"),
            tax=Decimal("0.17"),
            tax_rate=Decimal("21.00"),
        )
        for n in range(count)
    )
    new = list(order.lines.filter(position__gte=first))
    fulfilment = order.fulfilments.first()
    if fulfilment is not None:
        FulfilmentItem.objects.bulk_create(
            FulfilmentItem(
                retailer_id=order.retailer_id, fulfilment=fulfilment, order_line=line, requested=1
            )
            for line in new
        )
    ret = order.returns.first()
    if ret is not None:
        ReturnItem.objects.bulk_create(
            ReturnItem(
                retailer_id=order.retailer_id,
                return_request=ret,
                order_line=line,
                sku_id=str(line.pk),
                sku_ref=line.sku,
                sku_price=line.unit_price - line.tax,
                sku_tax_price=line.tax,
                tax_type="VAT",
                currency=order.currency,
                quantity=1,
                reason_text="Damaged",
                condition_text="0",
            )
            for line in new
        )
    for invoice in order.invoices.all():
        template = invoice.lines[0] if invoice.lines else {}
        invoice.lines = [*invoice.lines, *({**template, "sku": line.sku} for line in new)]
        Invoice.objects.filter(pk=invoice.pk).update(lines=invoice.lines)


def build_world(extremes: Extremes | None, lines: int = MANY_LINES) -> World:
    zone = extremes.time_zone if extremes else "Europe/Amsterdam"
    retailer = RetailerFactory(ref="acme", name="Acme Outfitters", time_zone=zone)
    admin = MembershipFactory(
        user=UserFactory(username="admin"), retailer=retailer, role=Role.ADMIN
    ).user
    order = OrderFactory(retailer=retailer, lines=2, promised_date=date.today())
    hold_rule = HoldRule.objects.create(
        retailer=retailer, name="Big order", condition="total_over", amount=Decimal("1.00")
    )
    order.hold_compliance, order.hold_compliance_rule = True, hold_rule
    order.hold_compliance_why = "Total above €1.00."
    order.save(update_fields=["hold_compliance", "hold_compliance_rule", "hold_compliance_why"])
    payment = PaymentFactory(order=order, captured=order.total)
    PaymentTransactionFactory(payment=payment)
    failed = PaymentTransactionFactory(
        payment=payment,
        kind=PaymentTransaction.Kind.CAPTURE,
        status=PaymentTransaction.Status.FAILED,
        error_code="declined",
        message="Declined",
    )
    ShipmentEventFactory(shipment=ShipmentFactory(order=order, shipped_at=timezone.now()))
    CommentFactory(order=order, author=admin)
    MemoFactory(order=order, author=admin, recipient=admin)
    task = TaskFactory(order=order, assignee=admin, created_by=admin, due_at=timezone.now())
    ticket = TicketFactory(order=order)
    ticket.messages.create(retailer=retailer, sender=TicketMessage.Sender.CUSTOMER, body="Hi")
    ret = ReturnFactory(retailer=retailer, order=order, items=1)
    parcel = ret.fulfilments.create(retailer=retailer, type="R_RTDC", from_location="Home")
    fulfilment = FulfilmentFactory(
        order=order, location=LocationFactory(retailer=retailer), status=FulfilmentStatus.ESCALATED
    )
    invoice = InvoiceFactory(order=order, billing_address=["Jane Doe", "Main street 1"])
    credit = InvoiceFactory(order=order, kind=Invoice.Kind.CREDIT_NOTE, credits=invoice)
    account = BillingAccountFactory(customer=order.customer, custom_attributes={"tier": "gold"})
    account.debit_memos.create(
        retailer=retailer, number="DM-1", amount=Decimal("5.00"), currency="EUR", reason="Fee"
    )
    from orders.intake.models import IntakeChannel, IntakeMessage

    channel = IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web", kind="webstore", secret="s"
    )
    message = IntakeMessage.objects.create(
        retailer=retailer, channel=channel, body="{}", external_id="W-1", status="REJECTED"
    )
    Activity.objects.create(
        retailer=retailer,
        actor=admin,
        action="orders.comment.added",
        target_type="orders.order",
        target_id=str(order.pk),
        root_type="orders.order",
        root_id=str(order.pk),
        data={"body": long_text(10_000)},
    )
    from orders.models import BulkJob

    job = BulkJob.objects.create(
        retailer=retailer, action="export", status=BulkJob.Status.DONE, created_by=admin
    )
    endpoint = WebhookEndpoint.objects.create(
        retailer=retailer, url="https://erp.example.com/hooks", events=["order.created"]
    )
    delivery = WebhookDelivery.objects.create(
        retailer=retailer,
        endpoint=endpoint,
        event="order.created",
        event_id="5d0c1f52-9a0e-4d0b-8f6e-0d6c2b1a9e11",
        payload={"type": "order.created", "data": {"note": long_text(10_000)}},
        status=WebhookDelivery.Status.PENDING,
        record_label="orders.order",
        record_id=str(order.pk),
    )
    add_lines(order, lines - order.lines.count())
    filled = fill_extremes(retailer, extremes) if extremes else Filled()
    objects = {
        "order": order,
        "task": task,
        "payment": payment,
        "transaction": failed,
        "invoice": invoice,
        "credit": credit,
        "line": order.lines.order_by("pk").first(),
        "ticket": ticket,
        "return": ret,
        "parcel": parcel,
        "fulfilment": fulfilment,
        "customer": order.customer,
        "account": account,
        "status": StatusFactory(retailer=retailer),
        "saved_view": _saved_view(retailer, admin),
        "message": message,
        "job": job,
        "reason": ReturnReason.objects.filter(retailer=retailer).first(),
        "location": fulfilment.location,
        "carrier": CarrierFactory(retailer=retailer),
        "channel": channel,
        "hold_rule": hold_rule,
        "webhook_endpoint": endpoint,
        "webhook_delivery": delivery,
    }
    return World(retailer, admin, order, objects, filled)


def _saved_view(retailer, owner):
    from oms.models import SavedView

    return SavedView.objects.create(
        retailer=retailer, owner=owner, list_name="orders:order_list", name="Mine", shared=True
    )


# ---------------------------------------------------------------------------------------------
# the sweep


class PdfSpy:
    """Stands in for WeasyPrint in the sweep: keeps the HTML each PDF would be drawn from."""

    drawn: list[str] = []

    def __init__(self, string: str = "", **kwargs):
        PdfSpy.drawn.append(string)

    def write_pdf(self, *args, **kwargs) -> bytes:
        return b"%PDF-1.7\n"

    def render(self):
        return self

    pages: list = []

    def copy(self, pages):
        return self


PDF_MODULES = [
    "billing.documents",
    "orders.documents",
    "orders.views.browse",
]


@pytest.fixture
def pdf_spy(monkeypatch):
    import importlib

    for name in PDF_MODULES:
        monkeypatch.setattr(importlib.import_module(name), "HTML", PdfSpy)
    PdfSpy.drawn = []
    return PdfSpy


# a line shown: its stamp ("#<pk> " starts its SKU and name) or its SKU in an invoice
LINE_MARK = re.compile(r"#(\d+) |BULK-(\d+)")


def lines_shown(text: str, line_pks: set[int], first_position: int) -> int:
    """How many of the order's lines a page or PDF lists."""
    pks, positions = set(), set()
    for match in LINE_MARK.finditer(text):
        if match.group(1):
            pks.add(int(match.group(1)))
        else:
            positions.add(int(match.group(2)))
    return len(pks & line_pks) + len({p for p in positions if p >= first_position})


@dataclass
class Sweep:
    world: World
    tried: int = 0
    errors: list[str] = field(default_factory=list)
    most_lines: dict[str, int] = field(default_factory=dict)

    def count_lines(self, where: str, text: str) -> None:
        shown = lines_shown(text, self.world.line_pks, 2)
        if shown:
            self.most_lines[where] = shown

    def check(self, where: str, response) -> None:
        self.tried += 1
        if response.status_code >= 500:
            self.errors.append(f"{where}: {response.status_code}")
            return
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if response.get("Content-Type", "").startswith("text/html"):
            self.count_lines(where, body.decode("utf-8", "replace"))


def _client(world: World) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(world.admin, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _pages(world: World) -> list[str]:
    """Every page the walker finds that a GET reads, with the world's records in it."""
    urls = []
    for route in walk():
        if route.is_state_changing or route.is_public or route.name == "logout":
            continue
        if route.name == "orders:order_tab":
            urls += [
                reverse(route.name, kwargs={"pk": world.order.pk, "tab": tab}) for tab, _ in TABS
            ]
            continue
        url = reverse(route.name, kwargs=kwargs_for(route, world))
        if route.name == "returns_api:returns":
            url += f"?retailerId={world.retailer.pk}"
        urls.append(url)
    return urls


def sweep(world: World) -> Sweep:
    client = _client(world)
    result = Sweep(world)
    htmx = {"HX-Request": "true"}
    order = world.order
    for url in _pages(world):
        result.check(url, client.get(url))
        result.check(f"{url} (htmx)", client.get(url, headers=htmx | {"HX-Target": "order-tab"}))
    searches = [order.ref, order.customer.last_name, "2", "#"]
    for query in searches:
        for name in (
            "search",
            "orders:order_list",
            "returns:return_list",
            "customers:customer_list",
        ):
            url = f"{reverse(name)}?q={query[:50]}"
            result.check(url, client.get(url))
            result.check(f"{url} (suggestions)", client.get(url, headers=htmx))
    documents = [
        reverse(
            "orders:invoice_pdf", kwargs={"pk": order.pk, "invoice_pk": world.objects["credit"].pk}
        ),
        reverse("orders:invoices_pdf", kwargs={"pk": order.pk}) + "?language=nl",
        reverse("orders:order_export_pdf") + f"?q={order.ref}",
    ]
    for url in documents:
        result.check(url, client.get(url))
    from orders.services import bulk

    for action in ("print_invoices", "print_packing_slips", "export"):
        result.tried += 1
        try:
            job = bulk.start(by=world.admin, orders=[order], action_name=action, data={})
            job.refresh_from_db()
            url = reverse("orders:bulk_job", kwargs={"pk": job.pk})
            result.check(url, client.get(url))
            if job.output_name:
                url = reverse("orders:bulk_download", kwargs={"pk": job.pk})
                result.check(url, client.get(url))
        except Exception as error:  # a failure is what the sweep counts
            result.errors.append(f"bulk {action}: {error!r}")
    return result


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_page_survives_extreme_records(variant, pdf_spy, settings):
    # given one order and everything hanging off it at the ends of what the columns hold
    lines = MANY_LINES if variant == "far-future" else 3
    world = build_world(VARIANTS[variant], lines=lines)
    assert world.order.lines.count() == lines
    assert "orders.Order.placed_at" in world.filled.stored

    # when every page, tab, fragment, list, search, export, PDF and bulk PDF is opened
    result = sweep(world)

    # then each answers, without a server error
    print(
        f"\n{variant}: {result.tried} pages, exports and PDFs tried; "
        f"{len(world.filled.stored)} columns at their extreme "
        f"({len(world.filled.refused)} refused by the database: {sorted(world.filled.refused)})"
    )
    assert result.errors == [], "\n".join(result.errors)
    # and no page, tab or PDF lists more than a few hundred of the order's lines
    for index, html in enumerate(pdf_spy.drawn):
        result.count_lines(f"PDF {index}", html)
    too_many = {
        where: n
        for where, n in result.most_lines.items()
        if n > MOST_LINES_SHOWN
        and not where.startswith(tuple(f.format(pk=world.order.pk) for f in EVERY_LINE_FORMS))
    }
    assert too_many == {}, too_many


def test_an_orders_pages_take_as_many_queries_with_50_lines_as_with_one(pdf_spy):
    # given an order with its fulfilment, return and invoice, and a page for each of them
    world = build_world(None, lines=2)
    client = _client(world)
    routes = [
        route
        for route in walk()
        if route.kwarg_names
        and not route.is_state_changing
        and not route.is_public
        and not route.is_api
        and route.name.split(":")[0] in ("orders", "fulfilments", "returns")
        and route.name not in ("orders:bulk_job", "orders:bulk_download")
    ]
    urls = [reverse(route.name, kwargs=kwargs_for(route, world)) for route in routes]
    urls += [
        reverse("orders:order_tab", kwargs={"pk": world.order.pk, "tab": tab}) for tab, _ in TABS
    ]
    assert len(urls) > 10

    failures = []
    for url in urls:
        client.get(url)  # what a first visit caches

        # when the order gains lines (each with a fulfilment item, a return item and an
        # invoice line) between two visits
        try:
            assert_constant_queries(
                lambda url=url: client.get(url), lambda n: add_lines(world.order, n)
            )
        except AssertionError as error:
            failures.append(f"{url}: {str(error)[:400]}")

    # then no page takes more queries for more lines
    assert failures == [], "\n".join(failures)


def test_real_pdfs_of_an_extreme_order_are_drawn():
    # given an order whose every value is at its far-future extreme (the cap of lines is
    # checked on the HTML above: drawing 200 lines of such text takes WeasyPrint seconds)
    world = build_world(VARIANTS["far-future"], lines=3)
    client = _client(world)
    order = world.order
    urls = [
        reverse("orders:packing_slip", kwargs={"pk": order.pk}),
        reverse("orders:invoices_pdf", kwargs={"pk": order.pk}),
    ]
    for url in urls:
        # when WeasyPrint draws it
        response = client.get(url)

        # then it is a PDF, its name fit for a header
        assert response.status_code == 200, url
        assert response.content.startswith(b"%PDF"), url
        assert "\n" not in response["Content-Disposition"]
