"""What a user reads on the pages: money in one format with its currency, one duration format,
CSV times in a named zone, escalations coloured by age, and home queues red where money or a
customer is stuck."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import PaymentTransaction
from orders.events import order_cancelled
from orders.intake.models import IntakeChannel
from returns.models import ReturnStatus
from tests.factories import (
    BillingAccountFactory,
    FulfilmentFactory,
    InvoiceFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    PaymentTransactionFactory,
    ReturnFactory,
    TicketFactory,
    recalculate_totals,
)

pytestmark = pytest.mark.django_db

# an amount with two decimals (grouped or not), not part of a date, a version or a percentage
AMOUNT = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)\.\d{2}(?![\d%]|\.\d)")
# what must stand right before it: a currency symbol or code
CURRENCY_BEFORE = re.compile(r"(?:[€£$]|\b[A-Z]{3} )$")


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&nbsp;", " ")


def bare_amounts(html: str) -> list[str]:
    """Amounts shown without their currency right before them."""
    text = visible_text(html)
    return [
        text[max(m.start() - 20, 0) : m.end() + 5]
        for m in AMOUNT.finditer(text)
        if not CURRENCY_BEFORE.search(text[max(m.start() - 4, 0) : m.start()])
    ]


@pytest.fixture
def paid_order(retailer, manager):
    order = OrderFactory(retailer=retailer, ref="ACME-7001")
    OrderLineFactory(order=order, sku="TENT-XL", name="Tent", unit_price=Decimal("1234.50"))
    OrderLineFactory(
        order=order, sku="MAT", name="Mat", unit_price=Decimal("24.95"), discount=Decimal("5")
    )
    recalculate_totals(order, shipping=Decimal("7.9"))
    payment = PaymentFactory(order=order, captured=order.total)
    PaymentTransactionFactory(payment=payment)
    PaymentTransactionFactory(payment=payment, kind=PaymentTransaction.Kind.CAPTURE)
    InvoiceFactory(order=order)
    ReturnFactory(
        retailer=retailer,
        order=order,
        status=ReturnStatus.PENDING_REFUND,
        fulfilment_choice={
            "fulfilmentType": "R_RTDC",
            "fulfilmentPrice": 7.9,
            "fulfilmentTaxPrice": 0.8,
            "currency": "EUR",
        },
    )
    BillingAccountFactory(customer=order.customer)
    order_cancelled(order, by=manager, reason="", notify=False, refund=Decimal("7.9"), release=0)
    return order


def test_money_is_shown_one_way_with_its_currency_on_every_page(client_for, manager, paid_order):
    client = client_for(manager)
    ret = paid_order.returns.get()
    account = paid_order.customer.billing_accounts.get()
    pages = [
        paid_order.get_absolute_url(),
        *(
            reverse("orders:order_tab", args=[paid_order.pk, tab])
            for tab in ("items", "transactions", "returns", "invoices", "activity")
        ),
        reverse("orders:order_list"),
        reverse("returns:return_list"),
        ret.get_absolute_url(),
        reverse("billing:account_list"),
        reverse("billing:account_detail", args=[account.pk]),
    ]
    seen = ""
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert bare_amounts(html) == [], url
        seen += visible_text(html)
    # and the amounts are there, in the one format
    for shown in ("€1,234.50", "€24.95", "€7.90", "€7.90 + €0.80 tax", "refund €7.90"):
        assert shown in seen, shown
    assert "7.9 + 0.8" not in seen
    # a currency code is shown only where the currency itself is named
    assert re.findall(r".{60}(?<!Currency )\bEUR\b.{30}", seen) == []


def test_the_refund_confirmation_names_the_amount_as_money(client_for, manager, paid_order):
    html = client_for(manager).get(paid_order.returns.get().get_absolute_url()).content.decode()
    assert re.search(r'data-confirm="Refund €\d[\d,]*\.\d\d through the payment gateway\?"', html)


def test_a_wait_reads_the_same_on_the_queue_and_the_fulfilment(client_for, manager, retailer):
    fulfilment = FulfilmentFactory(
        order=OrderFactory(retailer=retailer, lines=1),
        escalated_at=timezone.now() - timedelta(days=51, hours=2, minutes=3),
    )
    client = client_for(manager)
    queue = visible_text(client.get(reverse("fulfilments:escalated_list")).content.decode())
    page = visible_text(client.get(fulfilment.get_absolute_url()).content.decode())
    home = visible_text(client.get(reverse("home")).content.decode())
    assert "51 d 2 h" in queue
    assert "waiting 51 d 2 h" in page
    assert "oldest waiting 51 d 2 h" in home
    for text in (queue, page, home):
        assert "month" not in text and "week" not in text


@pytest.mark.parametrize(
    ("waited", "step", "meaning"),
    [
        (timedelta(hours=5), "esc-age-1", "Escalated less than a day ago"),
        (timedelta(days=2), "esc-age-2", "Waiting 1 to 3 days"),
        (timedelta(days=4), "esc-age-3", "Waiting more than 3 days: act now"),
    ],
)
def test_escalation_age_steps_through_colours(client_for, manager, retailer, waited, step, meaning):
    order = OrderFactory(retailer=retailer, lines=1)
    fulfilment = FulfilmentFactory(order=order, escalated_at=timezone.now() - waited)
    client = client_for(manager)
    badge = re.compile(rf'class="badge {step}" title="{re.escape(meaning)}"')
    queue = client.get(reverse("fulfilments:escalated_list")).content.decode()
    assert badge.search(queue)
    assert 'data-testid="escalation-legend"' in queue  # the steps are explained
    assert badge.search(client.get(fulfilment.get_absolute_url()).content.decode())
    assert badge.search(client.get(reverse("orders:live", args=[order.pk])).content.decode())


def test_escalations_of_different_ages_do_not_share_a_colour(client_for, manager, retailer):
    for waited in (timedelta(hours=1), timedelta(days=2), timedelta(days=10)):
        FulfilmentFactory(
            order=OrderFactory(retailer=retailer, lines=1), escalated_at=timezone.now() - waited
        )
    html = client_for(manager).get(reverse("fulfilments:escalated_list")).content.decode()
    badges = re.findall(r'class="badge (esc-age-\d)"[^>]*data-testid="escalation-age"', html)
    assert sorted(badges) == ["esc-age-1", "esc-age-2", "esc-age-3"]


def _urgent(html: str) -> set[str]:
    """The labels of the home queues shown in red."""
    return set(
        re.findall(r"<a data-urgent [^>]*border-danger[^>]*>.*?queue-label\">([^<]+)<", html, re.S)
    )


def test_home_queues_where_money_or_a_customer_is_stuck_turn_red(client_for, manager, retailer):
    client = client_for(manager)
    assert _urgent(client.get(reverse("home")).content.decode()) == set()  # nothing waits
    # a customer waits for a refund and another for an answer; an order waits for payment
    ReturnFactory(retailer=retailer, status=ReturnStatus.PENDING_REFUND)
    TicketFactory(order=OrderFactory(retailer=retailer))
    OrderFactory(retailer=retailer, payment_status="not_paid")
    red = _urgent(client.get(reverse("home")).content.decode())
    assert {"Returns pending refund", "Unanswered tickets"} <= red
    assert "Awaiting payment" not in red


def test_csv_exports_write_times_in_the_retailers_zone_and_name_it(client_for, agent, retailer):
    placed = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # already 2 July in Amsterdam
    OrderFactory(retailer=retailer, ref="ACME-CSV", placed_at=placed)
    ReturnFactory(retailer=retailer, order=OrderFactory(retailer=retailer, lines=1))
    client = client_for(agent)

    def rows(url):
        response = client.get(url)
        body = b"".join(response.streaming_content).decode().lstrip("\ufeff")
        return list(csv.DictReader(io.StringIO(body)))

    orders = rows(reverse("orders:order_export_csv"))
    mine = next(row for row in orders if row["Order ref"] == "ACME-CSV")
    assert mine["Placed (Europe/Amsterdam)"] == "2026-07-02 00:30"
    assert mine["Currency"] == "EUR" and re.fullmatch(r"\d+\.\d{2}", mine["Total"])
    returns = rows(reverse("returns:return_export_csv"))
    assert "Created (Europe/Amsterdam)" in returns[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", returns[0]["Created (Europe/Amsterdam)"])


def test_disabled_actions_say_why(client_for, agent, retailer):
    order = OrderFactory(retailer=retailer, lines=1)
    html = client_for(agent).get(order.get_absolute_url()).content.decode()
    cancel = re.search(r"<button[^>]*data-bs-target=\"#m-cancel\"[^>]*>", html).group(0)
    assert "disabled" in cancel and 'title="Needs the manager role"' in cancel
    assert 'data-testid="actions-why"' in html


def test_a_date_a_record_does_not_have_reads_as_missing_never_as_now(client_for, manager, retailer):
    # given an order with no promised date and a channel that never took an order
    order = OrderFactory(retailer=retailer, promised_date=None)
    IntakeChannel.objects.create(retailer=retailer, code="web", name="Web", kind="webstore")
    client = client_for(manager)

    # then the order page says so with a dash, and the desk says "never"
    page = visible_text(
        client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    )
    assert re.search(r"Promised\s+—", page), page[:2000]
    desk = visible_text(client.get(reverse("intake:desk")).content.decode())
    assert re.search(r"Web\b.*?never", desk, flags=re.S)
