"""Where one app's rule is not kept by the next: money, stock and locks across the seams.

Each section is one class of failure, written as what a user should get. The tests drive the
pages and the Returns API as a manager or an integration would, and read the rows back.
"""

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from fulfilments.services import order_source
from orders.models import Order, SystemState
from tests.factories import (
    CarrierFactory,
    FulfilmentFactory,
    InvoiceFactory,
    LocationFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    ReturnFactory,
    StockFactory,
    recalculate_totals,
    ship,
    status_for,
)

pytestmark = pytest.mark.django_db

ZERO = Decimal("0.00")


# --- shared steps ---------------------------------------------------------------------------


def _errors(response) -> list[str]:
    """The error messages an action left for the page it redirects to."""
    return [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


def _order(retailer, *, state=SystemState.PROCESSING, sku="JKT", quantity=2, price="50.00"):
    order = OrderFactory(retailer=retailer, state=state)
    OrderLineFactory(order=order, sku=sku, quantity=quantity, unit_price=Decimal(price))
    return recalculate_totals(order)


def _authorise(order):
    return PaymentFactory(
        order=order, authorised=order.total, provider_reference=f"psp_{order.ref}"
    )


def _capture(client, order, amount, callbacks):
    payment = order.payments.get()
    with callbacks(execute=True):
        return client.post(
            reverse("orders:payment_capture", args=[order.pk, payment.pk]),
            {"amount": str(amount), "confirm": "yes"},
        )


def _paid(client, order, callbacks):
    """Authorise the order's total and capture all of it through the gateway."""
    _authorise(order)
    _capture(client, order, order.total, callbacks)
    return order.payments.get()


def _mark_sent(client, order):
    response = client.post(reverse("orders:mark_sent", args=[order.pk]), {"confirm": "yes"})
    assert _errors(response) == []


def _set_status(client, order, state):
    return client.post(
        reverse("orders:set_status", args=[order.pk]),
        {"status": status_for(order.retailer, state).pk},
    )


def _return_from_page(client, order):
    """One unit of the order's line back in a parcel to the warehouse, refunded on arrival."""
    line = order.lines.get()
    data = {
        f"qty_{line.pk}": "1",
        f"reason_{line.pk}": "DAMAGED",
        f"condition_{line.pk}": "0",
        "fulfilment_type": "R_RTDC",
        "preferred_location_ref": "DC-UTRECHT",
    }
    return client.post(reverse("orders:return_create", args=[order.pk]), data)


def _parcel_arrived(client, ret, callbacks):
    with callbacks(execute=True):
        return client.post(
            reverse("returns:fulfilment_move", args=[ret.pk, ret.fulfilments.get().pk]),
            {"status": "ARRIVED"},
        )


def _refund(client, order, amount, callbacks):
    payment = order.payments.get()
    with callbacks(execute=True):
        return client.post(
            reverse("orders:payment_refund", args=[order.pk, payment.pk]),
            {"amount": str(amount), "confirm": "yes"},
        )


def _open_authorisation(payment) -> Decimal:
    payment.refresh_from_db()
    return payment.authorised - payment.voided - payment.captured


# --- 1. a refund given by hand is counted by later gateway refunds -----------------------------
"""Class 1: a refund given by hand is not counted by a later gateway refund, so the customer is
paid twice."""


@pytest.fixture
def refunded_by_hand(client_for, manager, retailer, settings, django_capture_on_commit_callbacks):
    """100.00 captured through the gateway, shipped, and one jacket (50.00) of a customer
    return refunded by hand after the gateway declined it."""
    client = client_for(manager)
    order = _order(retailer, quantity=2, price="50.00")
    payment = _paid(client, order, django_capture_on_commit_callbacks)
    _mark_sent(client, order)
    _return_from_page(client, order)
    ret = order.returns.get()
    settings.SIMULATED_GATEWAY_FAILURE = "decline"
    _parcel_arrived(client, ret, django_capture_on_commit_callbacks)
    settings.SIMULATED_GATEWAY_FAILURE = ""
    client.post(
        reverse("returns:release_refund", args=[ret.pk]), {"confirm": "yes", "how": "by_hand"}
    )
    ret.refresh_from_db()
    payment.refresh_from_db()
    assert (payment.captured, payment.refunded) == (Decimal("100.00"), ZERO)
    assert ret.refunded_by_hand_amount == Decimal("50.00")
    return order


def test_a_gateway_refund_of_everything_captured_is_refused_after_a_refund_by_hand(
    client_for, manager, refunded_by_hand, django_capture_on_commit_callbacks
):
    # given 100.00 captured, of which 50.00 was given back by hand
    order = refunded_by_hand
    refunds_before = order.transactions.filter(kind="refund").count()

    # when a manager refunds all 100.00 through the gateway
    _refund(client_for(manager), order, "100.00", django_capture_on_commit_callbacks)

    # then it is refused and no money moves
    assert order.payments.get().refunded == ZERO
    assert order.transactions.filter(kind="refund").count() == refunds_before


def test_a_gateway_refund_may_give_back_what_was_not_refunded_by_hand_and_no_cent_more(
    client_for, manager, refunded_by_hand, django_capture_on_commit_callbacks
):
    # given 100.00 captured, of which 50.00 was given back by hand
    order = refunded_by_hand
    client = client_for(manager)

    # when a manager refunds one cent more than the rest, then the rest
    _refund(client, order, "50.01", django_capture_on_commit_callbacks)
    refunded_after_too_much = order.payments.get().refunded
    _refund(client, order, "50.00", django_capture_on_commit_callbacks)

    # then the cent too much is refused, and the rest goes through
    assert refunded_after_too_much == ZERO
    assert order.payments.get().refunded == Decimal("50.00")


def test_cancelling_after_a_refund_by_hand_refunds_only_the_rest(
    client_for, manager, retailer, settings, django_capture_on_commit_callbacks
):
    # given 100.00 captured for two items, one of them cancelled and its 50.00 given back by
    # hand after the gateway declined the refund
    client = client_for(manager)
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    gone = OrderLineFactory(order=order, sku="GONE", unit_price=Decimal("50.00"))
    OrderLineFactory(order=order, sku="KEEP", unit_price=Decimal("50.00"))
    recalculate_totals(order)
    _paid(client, order, django_capture_on_commit_callbacks)
    settings.SIMULATED_GATEWAY_FAILURE = "decline"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("orders:lines_cancel", args=[order.pk]), {"lines": [gone.pk], "confirm": "yes"}
        )
    settings.SIMULATED_GATEWAY_FAILURE = ""
    ret = order.returns.get()
    client.post(
        reverse("returns:release_refund", args=[ret.pk]), {"confirm": "yes", "how": "by_hand"}
    )
    assert order.returns.get().refunded_by_hand_amount == Decimal("50.00")

    # when the order is cancelled
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("orders:cancel", args=[order.pk]), {"confirm": "yes"})

    # then the gateway gives back only the other 50.00
    assert Order.objects.get(pk=order.pk).status.system_state == SystemState.CANCELLED
    assert order.payments.get().refunded == Decimal("50.00")


def test_an_order_that_shipped_is_not_cancelled_but_comes_back_on_a_return(
    client_for, manager, refunded_by_hand, django_capture_on_commit_callbacks
):
    # given a shipped order, part of which a customer sent back and was refunded by hand
    order = refunded_by_hand

    # when a manager tries to cancel it
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(manager).post(
            reverse("orders:cancel", args=[order.pk]), {"confirm": "yes"}
        )

    # then it is refused with the way out, and no money moves
    assert any("create a return instead" in error for error in _errors(response))
    assert Order.objects.get(pk=order.pk).status.system_state == SystemState.PROCESSING
    assert order.payments.get().refunded == ZERO


# --- 2. a return is never worth more than the goods and shipping it covers ---------------------
"""Class 2: a return's total comes from a price the caller supplied, so it is worth more than
the goods and shipping it covers, and the refund follows it."""


@pytest.fixture
def api(agent):
    token = Token.objects.create(user=agent)
    return Client(headers={"Authorization": f"Bearer {token.key}"})


@pytest.fixture
def shipped_paid_order(client_for, manager, retailer, django_capture_on_commit_callbacks):
    """Two jackets at 100.00 and 4.95 shipping (204.95), captured and shipped."""
    client = client_for(manager)
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    OrderLineFactory(order=order, sku="JKT", quantity=2, unit_price=Decimal("100.00"))
    recalculate_totals(order, shipping=Decimal("4.95"))
    _paid(client, order, django_capture_on_commit_callbacks)
    _mark_sent(client, order)
    return order


def _overpriced_return(order) -> dict:
    return {
        "orderId": str(order.pk),
        "orderRef": order.ref,
        "retailerId": order.retailer_id,
        "type": "CUSTOMER_RETURN",
        "customer": {"email": order.customer.email},
        "items": [
            {
                "skuRef": "JKT",
                "skuPrice": 99999.00,
                "returnQty": 1,
                "returnReason": "Damaged",
                "returnCondition": "0",
            }
        ],
        "fulfilmentChoice": {
            "fulfilmentType": "R_RTDC",
            "preferredLocationRef": "DC-UTRECHT",
            "fulfilmentPrice": "500.00",
            "fulfilmentTaxPrice": "100.00",
        },
    }


def _worth_at_most(order, units: int) -> Decimal:
    """What the customer paid for `units` of the order's line, plus the order's shipping."""
    line = order.lines.get()
    return line.total / line.quantity * units + order.shipping


def test_a_returns_total_is_at_most_what_was_paid_for_its_units_and_the_shipping(
    api, shipped_paid_order
):
    # given a shipped order, paid 100.00 a jacket and 4.95 shipping
    order = shipped_paid_order

    # when an integration returns one jacket at a price of its own and a 600.00 parcel
    response = api.post("/api/v4.1/return", _overpriced_return(order), "application/json")

    # then the return is worth no more than that jacket and the shipping
    assert response.status_code in (200, 400), response.content
    for ret in order.returns.all():
        assert ret.total_return_price <= _worth_at_most(order, 1)


def test_the_refund_of_an_overpriced_return_is_at_most_what_its_units_and_shipping_cost(
    api, client_for, manager, shipped_paid_order, django_capture_on_commit_callbacks
):
    # given a return of one jacket sent in through the API at a price of its own
    order = shipped_paid_order
    api.post("/api/v4.1/return", _overpriced_return(order), "application/json")

    # when its parcel arrives, which refunds it
    for ret in order.returns.all():
        _parcel_arrived(client_for(manager), ret, django_capture_on_commit_callbacks)

    # then the customer gets back no more than the jacket and the shipping
    assert order.payments.get().refunded <= _worth_at_most(order, 1)


# --- 3. a timed-out capture on a cancelled order ----------------------------------------------
"""Class 3: a capture times out and the order is then cancelled; part of the authorisation is
stuck on a cancelled order with no way out; the cancel dialog promised more than it released."""


@pytest.fixture
def timed_out_capture(client_for, manager, retailer, settings, django_capture_on_commit_callbacks):
    """99.90 authorised; a capture of 40.00 timed out at the gateway."""
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)
    _authorise(order)
    settings.SIMULATED_GATEWAY_FAILURE = "timeout"
    _capture(client_for(manager), order, "40.00", django_capture_on_commit_callbacks)
    settings.SIMULATED_GATEWAY_FAILURE = ""
    capture = order.transactions.get(kind="capture")
    assert (capture.status, capture.error_code) == ("failed", "unavailable")
    return order


def _cancel(client, order, callbacks):
    with callbacks(execute=True):
        response = client.post(reverse("orders:cancel", args=[order.pk]), {"confirm": "yes"})
    assert _errors(response) == []


def test_a_capture_that_timed_out_before_the_cancel_can_be_retried_and_nothing_stays_held(
    client_for, manager, timed_out_capture, django_capture_on_commit_callbacks
):
    # given a cancelled order whose capture of 40.00 had timed out
    order = timed_out_capture
    client = client_for(manager)
    _cancel(client, order, django_capture_on_commit_callbacks)
    capture = order.transactions.get(kind="capture")

    # when a manager retries that capture on the Transactions tab
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("orders:operation_retry", args=[order.pk, capture.pk]), {"confirm": "yes"}
        )

    # then it is accepted, and the customer's bank holds nothing and keeps nothing of it
    assert _errors(response) == []
    payment = order.payments.get()
    assert _open_authorisation(payment) == ZERO
    assert payment.captured == payment.refunded


def test_a_capture_that_timed_out_before_the_cancel_is_settled_by_sync_and_nothing_stays_held(
    client_for, manager, timed_out_capture, django_capture_on_commit_callbacks
):
    # given a cancelled order whose capture of 40.00 had timed out
    order = timed_out_capture
    client = client_for(manager)
    _cancel(client, order, django_capture_on_commit_callbacks)

    # when a manager syncs the payments with the gateway
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("orders:payments_sync", args=[order.pk]))

    # then it is accepted, and the customer's bank holds nothing and keeps nothing of it
    assert _errors(response) == []
    payment = order.payments.get()
    assert _open_authorisation(payment) == ZERO
    assert payment.captured == payment.refunded


AMOUNT = re.compile(r"\d{1,3}(?:,\d{3})*\.\d{2}")


def _cancel_dialog_amounts(html: str, order, part: str = "cancel-plan") -> list[Decimal]:
    """The amounts the order page's cancel dialog (the form posting to cancel) states will move
    now (`cancel-plan`), or once operations on their way settle (`cancel-waiting`)."""
    start = html.index(f'action="{reverse("orders:cancel", args=[order.pk])}"')
    dialog = html[start : html.index("</form>", start)]
    found = re.search(rf'data-testid="{part}">(.*?)</p>', dialog, re.S)
    text = re.sub(r"<[^>]+>", " ", found.group(1)) if found else ""
    return sorted(Decimal(amount.replace(",", "")) for amount in AMOUNT.findall(text))


def test_the_cancel_dialog_states_the_amounts_the_cancel_then_refunds_and_releases(
    client_for, manager, timed_out_capture, django_capture_on_commit_callbacks
):
    # given an order whose capture of 40.00 timed out, and what its cancel dialog says
    order = timed_out_capture
    client = client_for(manager)
    page = client.get(order.get_absolute_url()).content.decode()
    stated = _cancel_dialog_amounts(page, order)
    before = set(order.transactions.values_list("pk", flat=True))

    # when the manager cancels the order
    _cancel(client, order, django_capture_on_commit_callbacks)

    # then the cancel refunded and released exactly the amounts the dialog stated
    queued = order.transactions.filter(kind__in=["refund", "void"]).exclude(pk__in=before)
    assert stated == sorted(queued.values_list("amount", flat=True))
    # and it said the timed-out capture is settled once the gateway answers
    assert _cancel_dialog_amounts(page, order, "cancel-waiting") == [Decimal("40.00")]


# --- 4. credit notes never credit more than was invoiced -------------------------------------
"""Class 4: a credit note credits one cent more than was invoiced."""


def test_six_credit_notes_of_one_unit_add_up_to_the_invoiced_line_total(
    client_for, manager, retailer
):
    # given an invoice of six units at 2.00 with 2.00 off: 10.00
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    line = OrderLineFactory(
        order=order, quantity=6, unit_price=Decimal("2.00"), discount=Decimal("2.00")
    )
    recalculate_totals(order)
    invoice = InvoiceFactory(order=order)
    assert invoice.total == Decimal("10.00")
    client = client_for(manager)

    # when each unit is credited on its own credit note
    for _ in range(6):
        client.post(
            reverse("orders:credit_note", args=[order.pk, invoice.pk]), {f"qty_{line.pk}": "1"}
        )

    # then the six credit notes credit exactly what was invoiced
    notes = order.invoices.filter(credits=invoice)
    assert notes.count() == 6
    assert sum(note.total for note in notes) == Decimal("10.00")


# --- 5. an order is Completed only when everything has shipped --------------------------------
"""Class 5: an order can be Completed while its items are unshipped or its fulfilments
escalated, and the escalation stays in the queue."""


def test_an_order_with_unshipped_items_cannot_be_completed(client_for, manager, retailer):
    # given a Processing order whose items have not shipped
    order = _order(retailer)

    # when a manager sets it to Completed
    _set_status(client_for(manager), order, SystemState.COMPLETED)

    # then it is refused and nothing changes
    assert Order.objects.get(pk=order.pk).status.system_state == SystemState.PROCESSING
    assert set(order.lines.values_list("shipment_status", flat=True)) == {"pending"}


def test_an_order_with_an_escalated_fulfilment_cannot_be_completed(client_for, manager, retailer):
    # given a Processing order whose items shipped while one of its fulfilments waits in the queue
    order = _order(retailer)
    escalated = FulfilmentFactory(order=order)
    order.lines.update(shipment_status="shipped")

    # when a manager sets it to Completed
    _set_status(client_for(manager), order, SystemState.COMPLETED)

    # then it is refused, and the escalation still waits for a manager
    assert Order.objects.get(pk=order.pk).status.system_state == SystemState.PROCESSING
    escalated.refresh_from_db()
    assert escalated.status == "ESCALATED"


# --- 6. marking an order sent ships its fulfilment and takes its stock ------------------------
"""Class 6: mark sent leaves the fulfilment Assigned and the stock reserved, so a shipped order
can be sourced a second time."""


@pytest.fixture
def sourced(client_for, manager, retailer):
    """An order of two units of A, confirmed and sourced to a warehouse holding five."""
    client = client_for(manager)
    location = LocationFactory(retailer=retailer, zones=["NL"])
    CarrierFactory(retailer=retailer, zones=["NL"])
    StockFactory(location=location, sku="A", on_hand=5)
    order = _order(retailer, state=SystemState.NEW, sku="A", quantity=2)
    _set_status(client, order, SystemState.PROCESSING)
    fulfilment = order.fulfilments.get()
    assert fulfilment.status == "ASSIGNED" and location.stock.get(sku="A").reserved == 2
    return order, location


def test_mark_sent_ships_the_assigned_fulfilment(client_for, manager, sourced):
    # given an order sourced to a warehouse
    order, _ = sourced

    # when a manager marks it sent
    _mark_sent(client_for(manager), order)

    # then its fulfilment has shipped
    assert list(order.fulfilments.values_list("status", flat=True)) == ["SHIPPED"]


def test_mark_sent_takes_the_units_off_the_shelf_and_out_of_the_reservation(
    client_for, manager, sourced
):
    # given an order of two units sourced to a warehouse holding five
    order, location = sourced

    # when a manager marks it sent
    _mark_sent(client_for(manager), order)

    # then two units left the shelf and nothing is reserved for them any more
    position = location.stock.get(sku="A")
    assert (position.on_hand, position.reserved) == (3, 0)


def test_a_shipped_order_is_not_sourced_again_when_its_parcel_is_cancelled(
    client_for, manager, sourced
):
    # given an order marked sent, whose parcel the warehouse then cancels as it shows open
    order, location = sourced
    client = client_for(manager)
    _mark_sent(client, order)
    client.post(
        reverse("fulfilments:move", args=[order.fulfilments.get().pk]), {"status": "CANCELLED"}
    )
    fulfilments_before = order.fulfilments.count()

    # when the order is sourced again
    order_source(order=Order.objects.get(pk=order.pk), by=manager)

    # then nothing new is made or reserved for goods that left already
    assert order.fulfilments.count() == fulfilments_before
    assert not order.fulfilments.filter(status="ASSIGNED").exists()
    assert location.stock.get(sku="A").reserved == 0


def test_sourcing_a_shipped_order_again_makes_nothing(client_for, manager, sourced):
    """A regression test: today's sourcing already counts the fulfilment left Assigned."""
    # given an order sourced to a warehouse and marked sent
    order, location = sourced
    _mark_sent(client_for(manager), order)
    reserved_before = location.stock.get(sku="A").reserved

    # when the order is sourced again
    order_source(order=Order.objects.get(pk=order.pk), by=manager)

    # then no fulfilment is made and nothing more is reserved
    assert order.fulfilments.count() == 1
    assert location.stock.get(sku="A").reserved == reserved_before


# --- 7. a quantity is never corrected below what was cancelled or returned ---------------------
"""Class 7: a line's quantity can be corrected below what was already cancelled or returned."""


def _correct_quantity(client, order, line, quantity):
    return client.post(
        reverse("orders:line_quantity", args=[order.pk, line.pk]), {"quantity": str(quantity)}
    )


def test_a_cancelled_line_cannot_be_corrected_below_its_cancelled_units(
    client_for, manager, retailer
):
    # given a Processing order whose line of 3 units was cancelled
    client = client_for(manager)
    order = _order(retailer, quantity=3)
    OrderLineFactory(order=order, sku="KEEP")
    recalculate_totals(order)
    line = order.lines.get(sku="JKT")
    client.post(
        reverse("orders:lines_cancel", args=[order.pk]), {"lines": [line.pk], "confirm": "yes"}
    )
    total_before = Order.objects.get(pk=order.pk).total

    # when a manager corrects its quantity to 1
    _correct_quantity(client, order, line, 1)

    # then it is refused and nothing changes
    line.refresh_from_db()
    assert (line.quantity, line.shipment_status) == (3, "cancelled")
    assert Order.objects.get(pk=order.pk).total == total_before


def test_a_shipped_line_cannot_be_corrected_below_what_shipped_or_is_on_a_return(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    # given a paid line of 2 units that shipped, one of which is on a customer return
    client = client_for(manager)
    order = _order(retailer, quantity=2)
    _paid(client, order, django_capture_on_commit_callbacks)
    _mark_sent(client, order)
    _return_from_page(client, order)
    line = order.lines.get()
    assert order.returns.get().items.count() == 1
    total_before = Order.objects.get(pk=order.pk).total

    # when a manager corrects its quantity to 1
    _correct_quantity(client, order, line, 1)

    # then it is refused and nothing changes
    line.refresh_from_db()
    assert line.quantity == 2
    assert Order.objects.get(pk=order.pk).total == total_before


# --- 8. customer returns only of goods that shipped and were paid -----------------------------
"""Class 8: a customer return can be created on goods never shipped or paid, and then completed
by hand."""


def test_the_api_refuses_a_customer_return_of_items_that_never_shipped(api, retailer):
    # given a New order: nothing has shipped
    order = _order(retailer, state=SystemState.NEW, quantity=1)

    # when an integration sends a customer return of its item
    body = _overpriced_return(order)
    body["items"][0].pop("skuPrice")
    body.pop("fulfilmentChoice")
    response = api.post("/api/v4.1/return", body, "application/json")

    # then it is refused and no return is made
    assert response.status_code == 400
    assert not order.returns.exists()


def test_the_order_page_refuses_a_customer_return_of_items_that_never_shipped(
    client_for, agent, retailer
):
    # given a New order: nothing has shipped
    order = _order(retailer, state=SystemState.NEW, quantity=1)

    # when an agent makes a customer return of its item on the order page
    response = _return_from_page(client_for(agent), order)

    # then the form is shown again with the error and no return is made
    assert response.status_code == 400
    assert not order.returns.exists()


def test_a_return_of_an_order_never_paid_is_not_refunded_by_hand(client_for, manager, retailer):
    """A regression test: today nothing can be refunded of an order without payments."""
    # given a shipped order that was never paid, with a customer return waiting for its refund
    order = _order(retailer, quantity=1)
    _mark_sent(client_for(manager), order)
    ret = ReturnFactory(retailer=retailer, order=order, status="PENDING_REFUND")

    # when a manager releases its refund by hand
    client_for(manager).post(
        reverse("returns:release_refund", args=[ret.pk]), {"confirm": "yes", "how": "by_hand"}
    )

    # then no money is recorded as given back
    ret.refresh_from_db()
    assert not ret.refunded_by_hand_amount


# --- 9. every action locks the order first ----------------------------------------------------
"""Class 9: two manager actions lock an order and its fulfilments in opposite orders, so they
can deadlock."""

FOR_UPDATE = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?UPDATE\b(?P<rest>[^)]*)$")
SAVEPOINT = re.compile(r"^\s*SAVEPOINT\b", re.I)
SAVEPOINT_END = re.compile(r"^\s*(?:RELEASE|ROLLBACK\s+TO)\s+SAVEPOINT\b", re.I)


def _table(model) -> str:
    return model._meta.db_table


def _child(model, name):
    return model._meta.get_field(name).related_model


ORDER_TABLE = _table(Order)
_FULFILMENT = _child(Order, "fulfilments")
_RETURN = _child(Order, "returns")
# the rows that hang off an order, found from the order so they move with their models
ORDER_CHILD_TABLES = {
    _table(_child(Order, "lines")),
    _table(_child(Order, "payments")),
    _table(_child(Order, "transactions")),
    _table(_child(Order, "invoices")),
    _table(_FULFILMENT),
    _table(_child(_FULFILMENT, "items")),
    _table(_child(_child(_FULFILMENT, "location"), "stock")),
    _table(_RETURN),
    _table(_child(_RETURN, "items")),
    _table(_child(_RETURN, "fulfilments")),
}


def _locked_tables(sql: str) -> list[str]:
    match = FOR_UPDATE.search(sql)
    if match is None:
        return []
    rest = match.group("rest").strip()
    if rest.startswith("OF "):
        return re.findall(r'"([^"]+)"', rest)
    return re.findall(r'\b(?:FROM|INNER JOIN)\s+"([^"]+)"', sql)


class LockLog:
    """The tables of every SELECT ... FOR UPDATE, grouped by the transaction that ran it.

    Tests run inside one transaction, so a service's own transaction is its outermost
    savepoint: its locks are held until it ends, and a deadlock needs two of them at once.
    """

    def __init__(self):
        self.transactions: list[list[str]] = []
        self._depth = 0

    def __call__(self, execute, sql, params, many, context):
        if SAVEPOINT.match(sql):
            if self._depth == 0:
                self.transactions.append([])
            self._depth += 1
        elif SAVEPOINT_END.match(sql):
            self._depth -= 1
        else:
            tables = _locked_tables(sql)
            if tables and self._depth == 0:
                self.transactions.append(tables)
            elif tables:
                self.transactions[-1].extend(tables)
        return execute(sql, params, many, context)


def _lock_order_problems(transactions: list[list[str]]) -> list[str]:
    """How an action breaks the rule: it works on an order's rows without ever taking the
    order's lock (so it meets other actions in whatever order it takes those rows), or one of
    its transactions locks a row of the order before the order (locking the order again once
    it holds it is harmless)."""
    problems = []
    if not any(ORDER_TABLE in tables for tables in transactions):
        problems.append("never locks the order")
    for tables in transactions:
        children = [index for index, table in enumerate(tables) if table in ORDER_CHILD_TABLES]
        if children and ORDER_TABLE in tables and tables.index(ORDER_TABLE) > children[0]:
            problems.append(f"locks {ORDER_TABLE} after {tables[children[0]]}")
    return problems


def _network(retailer, sku):
    location = LocationFactory(retailer=retailer, zones=["NL"])
    CarrierFactory(retailer=retailer, zones=["NL"])
    StockFactory(location=location, sku=sku, on_hand=10)
    return location


def _post(client, name, args, data=None):
    def perform():
        response = client.post(reverse(name, args=args), data or {})
        assert _errors(response) == [], (name, _errors(response))

    return perform


def _cancel_escalated_lines(client, retailer, callbacks):
    order = _order(retailer, quantity=1)
    _paid(client, order, callbacks)
    fulfilment = FulfilmentFactory(order=order)
    return _post(client, "fulfilments:cancel_lines", [fulfilment.pk])


def _move_fulfilment(client, retailer, callbacks):
    _network(retailer, "MOVE")
    order = _order(retailer, state=SystemState.NEW, sku="MOVE", quantity=1)
    _set_status(client, order, SystemState.PROCESSING)
    return _post(client, "fulfilments:move", [order.fulfilments.get().pk], {"status": "PICKED"})


def _assign_escalated(client, retailer, callbacks):
    order = _order(retailer, sku="ASSIGN", quantity=1)
    location = _network(retailer, "ASSIGN")
    fulfilment = FulfilmentFactory(order=order)
    return _post(client, "fulfilments:assign", [fulfilment.pk], {"location": location.pk})


def _cancel_order(client, retailer, callbacks):
    _network(retailer, "CANCEL")
    order = _order(retailer, state=SystemState.NEW, sku="CANCEL", quantity=1)
    _paid(client, order, callbacks)
    _set_status(client, order, SystemState.PROCESSING)
    return _post(client, "orders:cancel", [order.pk], {"confirm": "yes"})


def _release_refund(client, retailer, callbacks):
    order = _order(retailer, quantity=1)
    _paid(client, order, callbacks)
    ship(order)
    ret = ReturnFactory(retailer=retailer, order=order, status="PENDING_REFUND")
    return _post(client, "returns:release_refund", [ret.pk], {"confirm": "yes", "how": "gateway"})


def _return_parcel_arrived(client, retailer, callbacks):
    order = _order(retailer, quantity=1)
    _paid(client, order, callbacks)
    ship(order)
    _return_from_page(client, order)
    ret = order.returns.get()
    return _post(
        client,
        "returns:fulfilment_move",
        [ret.pk, ret.fulfilments.get().pk],
        {"status": "ARRIVED"},
    )


def _worker_records_a_capture(client, retailer, callbacks):
    order = _order(retailer, quantity=1)
    _authorise(order)
    with callbacks() as queued:  # the capture's task is not run yet
        client.post(
            reverse("orders:payment_capture", args=[order.pk, order.payments.get().pk]),
            {"amount": str(order.total), "confirm": "yes"},
        )

    def perform():
        for task in queued:
            task()
        assert order.payments.get().captured == order.total

    return perform


LOCKING_ACTIONS = {
    "cancel an escalated fulfilment's lines": _cancel_escalated_lines,
    "move a fulfilment": _move_fulfilment,
    "assign an escalated fulfilment": _assign_escalated,
    "cancel the order": _cancel_order,
    "release a return's refund": _release_refund,
    "mark a return parcel arrived": _return_parcel_arrived,
    "a worker records a payment operation": _worker_records_a_capture,
}


def test_every_action_locks_the_order_before_anything_that_hangs_off_it(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    # given each action ready to run on an order of its own
    client = client_for(manager)
    ready = {
        name: setup(client, retailer, django_capture_on_commit_callbacks)
        for name, setup in LOCKING_ACTIONS.items()
    }

    # when each runs, with every row lock it takes written down
    problems = {}
    for name, perform in ready.items():
        log = LockLog()
        with connection.execute_wrapper(log):
            perform()
        if found := _lock_order_problems(log.transactions):
            problems[name] = found

    # then each takes the order's lock first, and never after a row of the order
    assert not problems, "\n".join(
        f"{name}: {'; '.join(found)}" for name, found in problems.items()
    )
