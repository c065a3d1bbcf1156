from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from billing.models import Payment, PaymentTransaction
from oms import activity
from oms.roles import Role
from orders.models import OrderType, SystemState
from orders.selectors import LIVE_ITEMS
from orders.views import TABS
from orders.views.browse import LINES_PER_PAGE
from tests.factories import (
    CommentFactory,
    FulfilmentFactory,
    MembershipFactory,
    MemoFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    PaymentTransactionFactory,
    RetailerFactory,
    ReturnFactory,
    ShipmentEventFactory,
    ShipmentFactory,
    TaskFactory,
    TicketFactory,
    UserFactory,
)
from tests.querycount import assert_constant_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client_for, agent):
    return client_for(agent)


@pytest.fixture
def order(retailer):
    order = OrderFactory(
        retailer=retailer,
        ref="ACME-1001",
        state=SystemState.PROCESSING,
        invoice_number="INV-2026-0042",
        hold_documentation=True,
        promised_date=timezone.localdate() + timedelta(days=2),
    )
    OrderLineFactory(order=order, sku="SKU-SHOE", name="Trail shoe", unit_price=Decimal("121.00"))
    OrderLineFactory(
        order=order,
        sku="SKU-BOOK",
        name="Guide book",
        unit_price=Decimal("10.90"),
        tax_rate=Decimal("9.00"),
        tracking_number="3SABC123",
    )
    from tests.factories import recalculate_totals

    return recalculate_totals(order, shipping=Decimal("4.95"))


def page(client, order, tab=None, **headers):
    url = reverse("orders:order_tab", args=[order.pk, tab]) if tab else order.get_absolute_url()
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def test_the_header_answers_the_first_questions(client, order):
    html = page(client, order)
    assert "Order ACME-1001" in html
    assert 'status-orange fs-6" data-testid="order-status">Processing' in html
    assert "Acme Outfitters" in html
    assert "€136.85" in html  # 121.00 + 10.90 + 4.95 shipping
    assert "Held: Missing documentation" in html
    assert "Not paid" in html


def test_sections_show_customer_addresses_delivery_and_invoice(client, order):
    html = page(client, order)
    assert order.customer.full_name in html
    assert order.customer.email in html
    assert order.billing_address.line1 in html
    assert "INV-2026-0042" in html
    assert "Standard delivery" in html and "PostNL" in html


def test_a_click_and_collect_order_shows_where_to_collect(client, retailer):
    order = OrderFactory(
        retailer=retailer, type=OrderType.CLICK_AND_COLLECT, collection_location="Store Utrecht"
    )
    html = page(client, order)
    assert "Collection" in html and "Store Utrecht" in html


def test_financials_itemise_costs_and_break_tax_down_by_rate(client, order):
    PaymentFactory(
        order=order, method=Payment.Method.IDEAL, authorised=order.total, captured=Decimal("50")
    )
    html = page(client, order)
    # 21% on 121.00 is 21.00; 9% on 10.90 is 0.90
    assert '<td>9%</td><td class="text-end">€10.00</td><td class="text-end">€0.90</td>' in html
    assert '<td>21%</td><td class="text-end">€100.00</td><td class="text-end">€21.00</td>' in html
    assert "iDEAL" in html
    assert "€50.00" in html


def test_a_payment_shows_what_is_on_its_way(client, order):
    payment = PaymentFactory(order=order, authorised=order.total, captured=Decimal("50"))
    PaymentTransactionFactory(
        payment=payment,
        kind=PaymentTransaction.Kind.REFUND,
        amount=Decimal("20"),
        status=PaymentTransaction.Status.PENDING,
    )
    html = page(client, order)
    assert 'data-testid="on-its-way">refund €20.00' in html
    assert 'data-testid="refundable">€30.00<' in html


def test_the_lines_are_paged_and_counted_on_the_page_and_the_items_tab(client, order):
    for _ in range(LINES_PER_PAGE + 3 - order.lines.count()):
        OrderLineFactory(order=order)
    swapped = page(client, order, "items", HX_Request="true", HX_Target="order-tab")
    first = page(client, order)
    for html in (first, swapped):
        assert f"Lines 1–{LINES_PER_PAGE} of {LINES_PER_PAGE + 3}" in html
    last = client.get(order.get_absolute_url(), {"lines": 2}).content.decode()
    assert f"Lines {LINES_PER_PAGE + 1}–{LINES_PER_PAGE + 3} of {LINES_PER_PAGE + 3}" in last


@pytest.mark.parametrize("most", [LIVE_ITEMS, LIVE_ITEMS + 2])
def test_the_live_section_names_each_fulfilments_first_items(client, order, most):
    """Every item when none holds more than LIVE_ITEMS; else the first ones and how many more."""
    for _ in range(most - order.lines.count()):
        OrderLineFactory(order=order)
    big = FulfilmentFactory(order=order)  # an item per line
    small = FulfilmentFactory(order=order)
    small.items.all().delete()
    small.items.create(retailer=order.retailer, order_line=order.lines.first(), requested=1)

    fulfilments = client.get(order.get_absolute_url()).context["fulfilments"]
    first = {f.pk: [item.order_line.sku for item in f.first_items] for f in fulfilments}
    skus = list(order.lines.values_list("sku", flat=True))  # the big one's items in this order
    assert first == {big.pk: skus[:LIVE_ITEMS], small.pk: skus[:1]}
    assert {f.pk: f.more_items for f in fulfilments} == {big.pk: most - LIVE_ITEMS, small.pk: 0}


def test_the_risk_is_judged_on_the_day_of_the_orders_retailer(client_for):
    """A user's pages run in the zone of their first retailer; the order page in its own."""
    home = RetailerFactory(ref="home", time_zone="UTC")
    ahead = RetailerFactory(ref="ahead", time_zone="Pacific/Kiritimati")  # UTC+14
    user = UserFactory(username="two.zones")
    for retailer in (home, ahead):
        MembershipFactory(user=user, retailer=retailer, role=Role.AGENT)
    # 20:00 on 7 December in UTC is already 10:00 on 8 December at the retailer
    with time_machine.travel(datetime(2026, 12, 7, 20, 0, tzinfo=UTC), tick=False):
        order = OrderFactory(
            retailer=ahead,
            state=SystemState.PROCESSING,
            carrier="Mystery",  # 1 day to pack and 2 in transit: from 8 December, too late
            promised_date=date(2026, 12, 10),
        )
        html = client_for(user).get(order.get_absolute_url()).content.decode()
    assert 'data-testid="at-risk"' in html


def test_memos_are_pinned_on_top(client, order, manager):
    MemoFactory(order=order, author=manager, body="Customer is a journalist: be careful")
    html = page(client, order, "activity")
    assert html.index("Customer is a journalist") < html.index('data-testid="order-tabs"')


@pytest.mark.parametrize("tab", [tab for tab, _ in TABS])
def test_each_tab_is_a_full_page_and_an_htmx_partial(client, order, tab):
    full = page(client, order, tab)
    assert "<html" in full and "Order ACME-1001" in full
    assert f'data-testid="tab-{tab}"' in full

    partial = page(client, order, tab, HX_Request="true", HX_Target="order-tab")
    assert partial.lstrip().startswith('<section id="order-tab"')
    assert f'data-testid="tab-{tab}"' in partial
    assert "<html" not in partial


def test_an_unknown_tab_is_a_404(client, order):
    response = client.get(reverse("orders:order_tab", args=[order.pk, "secrets"]))
    assert response.status_code == 404


def test_items_tab_shows_shipment_details_per_line(client, order):
    html = page(client, order, "items")
    assert "SKU-BOOK" in html and "3SABC123" in html and "Pending" in html


def test_transactions_tab_lists_every_operation_with_its_state(client, order):
    payment = PaymentFactory(order=order)
    PaymentTransactionFactory(payment=payment, kind="authorise", reference="auth_1")
    PaymentTransactionFactory(
        payment=payment,
        kind="capture",
        status=PaymentTransaction.Status.FAILED,
        message="Card expired",
        amount=Decimal("10.00"),
    )
    html = page(client, order, "transactions")
    assert "auth_1" in html
    assert "Card expired" in html
    assert "tx-failed" in html


def test_shipments_tab_shows_the_carrier_log_and_estimated_delivery(client, order):
    shipment = ShipmentFactory(
        order=order,
        carrier="DHL",
        tracking_number="JJD0042",
        estimated_delivery=timezone.localdate() + timedelta(days=1),
    )
    now = timezone.now()
    ShipmentEventFactory(
        shipment=shipment, description="Picked up", occurred_at=now - timedelta(hours=5)
    )
    ShipmentEventFactory(shipment=shipment, description="At the depot", occurred_at=now)
    html = page(client, order, "shipments")
    assert "JJD0042" in html and "Estimated delivery" in html
    assert html.index("At the depot") < html.index("Picked up")  # newest first


def test_activity_is_newest_first_and_filterable_by_kind(client, order, agent):
    now = timezone.now()
    activity.record(
        action="orders.order.placed",
        target=order,
        by=None,
        at=now - timedelta(days=1),
        data={"channel": "Web shop", "total": "1", "currency": "EUR"},
    )
    comment = CommentFactory(order=order, body="Called the customer")
    activity.record(
        action="orders.comment.added",
        target=comment,
        root=order,
        by=agent,
        at=now,
        data={"body": comment.body},
    )

    html = page(client, order, "activity")
    assert html.index("Called the customer") < html.index("Order placed via Web shop")
    assert "Ada" in html or agent.get_full_name() in html

    notes_only = client.get(
        reverse("orders:order_tab", args=[order.pk, "activity"]), {"kind": "notes"}
    )
    assert "Called the customer" in notes_only.content.decode()
    assert "Order placed via" not in notes_only.content.decode()


def test_activity_of_another_order_is_not_shown(client, order, retailer):
    other = OrderFactory(retailer=retailer)
    activity.record(
        action="orders.order.placed",
        target=other,
        by=None,
        data={"channel": "Secret channel", "total": "1", "currency": "EUR"},
    )
    assert "Secret channel" not in page(client, order, "activity")


def _grow(order, kind):
    def add(n):
        for _ in range(n):
            if kind == "lines":
                OrderLineFactory(order=order)
                payment = PaymentFactory(order=order)
                PaymentTransactionFactory(payment=payment)
                MemoFactory(order=order)
            elif kind == "shipments":
                ShipmentEventFactory(shipment=ShipmentFactory(order=order))
            elif kind == "comments":
                CommentFactory(order=order)
            elif kind == "tasks":
                TaskFactory(order=order)
            elif kind == "activity":
                activity.record(action="orders.order.viewed", target=order, by=None)
            elif kind == "customer":
                earlier = OrderFactory(retailer=order.retailer, customer=order.customer, lines=1)
                ReturnFactory(retailer=order.retailer, order=earlier)
                TicketFactory(order=earlier)

    return add


@pytest.mark.parametrize(
    "tab,kind",
    [
        (None, "lines"),
        ("items", "lines"),
        ("transactions", "lines"),
        ("shipments", "shipments"),
        ("comments", "comments"),
        ("tasks", "tasks"),
        ("activity", "activity"),
        ("returns", "lines"),
        ("invoices", "lines"),
        ("customer", "customer"),
    ],
)
def test_the_page_and_each_tab_cost_the_same_queries_for_one_row_or_fifty(client, order, tab, kind):
    assert_constant_queries(lambda: page(client, order, tab), _grow(order, kind))
