"""The bounds of the form, page, mail, upload and query-parameter edges (oms.bounds): each class of
input that used to break a page, store a wrong value or tell the user "sent" for an email that
could never go is refused here with a reason, and nothing is changed."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.authtoken.models import Token

from billing.models import DebitMemo
from customers.models import Address
from fulfilments.models import StockPosition
from oms import emails
from oms.models import Activity, OutboundEmail, Retailer
from orders import services as order_services
from orders.models import Comment, Order, SystemState, Task, TicketMessage
from returns import services as return_services
from returns.models import Return
from tests.factories import (
    BillingAccountFactory,
    CustomerFactory,
    LocationFactory,
    OrderFactory,
    OrderLineFactory,
    StockFactory,
    ship,
)

pytestmark = pytest.mark.django_db


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


# -- big quantities ------------------------------------------------------------------------------


def test_a_million_units_to_return_are_refused_before_any_item_is_built(
    client_for, agent, retailer, monkeypatch
):
    # given an order line of a million units, none shipped yet
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    line = OrderLineFactory(order=order, sku="BOLT", quantity=1_000_000)
    built = []
    real = return_services.ItemInput
    monkeypatch.setattr(
        return_services, "ItemInput", lambda *a, **k: built.append(1) or real(*a, **k)
    )
    # when the return form asks for all of them
    response = client_for(agent).post(
        reverse("orders:return_create", args=[order.pk]),
        {f"qty_{line.pk}": "1000000", "fulfilment_type": ""},
        follow=True,
    )
    # then it is refused with the line's limit, without a single per-unit item
    assert response.status_code == 400
    assert "BOLT: 1000000 returned but only 0 of 1000000" in response.content.decode()
    assert built == []
    assert not Return.objects.exists()


def test_the_return_page_asks_for_a_bounded_number_not_one_option_per_unit(
    client_for, agent, retailer
):
    # given a shipped line of 3,000 units
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    OrderLineFactory(order=order, sku="NUT", quantity=3000)
    ship(order)
    # when the return page is opened
    page = client_for(agent).get(reverse("orders:return_create", args=[order.pk]))
    # then the count is one number input bounded by what may come back
    html = page.content.decode()
    assert page.status_code == 200
    assert 'type="number"' in html and 'max="3000"' in html
    assert html.count("<option") < 50


@pytest.mark.parametrize("raw", ["²", "-1", "1.5", "abc", "9" * 40])
def test_a_return_count_that_is_not_a_whole_number_is_refused(client_for, agent, retailer, raw):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    line = OrderLineFactory(order=order, sku="CAP", quantity=2)
    ship(order)
    response = client_for(agent).post(
        reverse("orders:return_create", args=[order.pk]), {f"qty_{line.pk}": raw}
    )
    assert response.status_code == 400
    assert "CAP:" in response.content.decode()
    assert not Return.objects.exists()


# -- amounts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["1e15", "NaN", "Infinity", "-5", "12.345", "sNaN"])
def test_a_debit_memo_amount_out_of_bounds_is_refused(client_for, manager, retailer, amount):
    account = BillingAccountFactory(customer=CustomerFactory(retailer=retailer))
    response = client_for(manager).post(
        reverse("billing:debit_memo", args=[account.pk]),
        {"amount": amount, "reason": "Late fee"},
        follow=True,
    )
    assert response.status_code == 200
    assert "amount" in _messages(response).lower()
    assert not DebitMemo.objects.exists()


@pytest.mark.parametrize("shipping", [Decimal("-5.00"), Decimal("NaN"), Decimal("1e15")])
def test_an_order_with_a_shipping_cost_out_of_bounds_is_refused(retailer, manager, shipping):
    customer = CustomerFactory(retailer=retailer)
    data = order_services.OrderInput(
        retailer_id=retailer.pk,
        ref="NEG-1",
        channel="web",
        customer=customer,
        currency=retailer.currency,
        lines=[order_services.LineInput(sku="A", name="A", quantity=1, unit_price=Decimal("10"))],
        shipping=shipping,
    )
    with pytest.raises(ValidationError) as refused:
        order_services.order_place(data=data, by=manager)
    assert "shipping" in refused.value.message_dict
    assert not Order.objects.filter(ref="NEG-1").exists()


# -- countries, email addresses and mail headers -------------------------------------------------


def _order_input(retailer, customer, country):
    return order_services.OrderInput(
        retailer_id=retailer.pk,
        ref=f"CTRY-{country[:6]}",
        channel="web",
        customer=customer,
        currency=retailer.currency,
        lines=[order_services.LineInput(sku="A", name="A", quantity=1, unit_price=Decimal("10"))],
        shipping_address=order_services.AddressInput(
            line1="Main 1", postcode="1000", city="Amsterdam", country=country
        ),
    )


def test_a_country_name_is_stored_as_its_code_and_an_unknown_one_is_refused(retailer, manager):
    customer = CustomerFactory(retailer=retailer)
    order = order_services.order_place(
        data=_order_input(retailer, customer, "Netherlands"), by=manager
    )
    assert order.shipping_address.country == "NL"
    with pytest.raises(ValidationError) as refused:
        order_services.order_place(data=_order_input(retailer, customer, "Atlantis"), by=manager)
    assert "is not a country" in str(refused.value)
    assert not Address.objects.filter(country__in=["AT", "At"]).exists()


@pytest.mark.parametrize(
    ("to", "subject"),
    [("ann@example.com\nBcc: all@example.com", "Hello"), ("ann@example.com", "Hi\r\nBcc: x@y.z")],
)
def test_a_line_break_in_an_address_or_subject_is_refused_and_nothing_is_queued(
    retailer, to, subject
):
    with pytest.raises(ValidationError) as refused:
        emails.email_queue(retailer=retailer, to=to, subject=subject, body="Body")
    assert refused.value.messages
    assert not OutboundEmail.objects.exists()


def test_notifying_a_customer_whose_address_cannot_be_mailed_says_so(client_for, agent, retailer):
    customer = CustomerFactory(retailer=retailer, email="ann@example.com\nBcc: all@example.com")
    order = OrderFactory(retailer=retailer, customer=customer, state=SystemState.PROCESSING)
    response = client_for(agent).post(
        reverse("orders:notify", args=[order.pk]),
        {"confirm": "yes", "message": "Your parcel is late."},
        follow=True,
    )
    text = _messages(response)
    assert "queued" not in text and "one line" in text
    assert not OutboundEmail.objects.exists()


# -- 500s instead of refusals --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/settings/return-unknown/1/edit/",
        "/settings/return-unknown/1/toggle/",
        "/settings/nothing-here/",
        "/settings/billing/?retailer=abc",
        "/settings/billing/?retailer=%C2%B2",
        "/settings/order-statuses/?retailer=%C2%B2",
        "/settings/order-statuses/dates/?retailer=abc",
        "/settings/return-reasons/?retailer=99999999999999999999999",
        "/settings/?retailer=%C2%B2",
    ],
)
def test_an_unknown_settings_address_is_a_404_not_a_500(client_for, admin_user, path):
    client = client_for(admin_user)
    assert client.get(path).status_code in (302, 404)
    assert client.post(path, {"retailer": "²"}).status_code in (302, 400, 404, 405)


@pytest.mark.parametrize(
    "path",
    [
        "/orders/?customer=%C2%B2",
        "/returns/?q=%C2%B2",
        "/search/?q=%C2%B2",
        "/orders/?placed_min=9999-12-31&placed_max=0001-01-01",
        "/returns/?created_min=9999-12-31",
    ],
)
def test_unicode_digits_and_far_dates_in_query_parameters_do_not_break_lists(
    client_for, agent, retailer, path
):
    OrderFactory(retailer=retailer, lines=1)
    assert client_for(agent).get(path).status_code in (200, 302, 400)


def test_a_credit_note_count_in_unicode_digits_is_refused_with_a_reason(
    client_for, manager, retailer
):
    from billing import services as billing

    order = OrderFactory(retailer=retailer, state=SystemState.COMPLETED, lines=1)
    invoice = billing.invoice_create(order=order, by=manager)
    line = order.lines.get()
    response = client_for(manager).post(
        reverse("orders:credit_note", args=[order.pk, invoice.pk]),
        {f"qty_{line.pk}": "²"},
        follow=True,
    )
    assert "enter a whole number" in _messages(response)
    assert not invoice.credit_notes.exists()


def test_an_assign_to_a_location_given_in_unicode_digits_is_refused(client_for, manager, retailer):
    from tests.factories import FulfilmentFactory

    fulfilment = FulfilmentFactory(order=OrderFactory(retailer=retailer, lines=1))
    response = client_for(manager).post(
        reverse("fulfilments:assign", args=[fulfilment.pk]), {"location": "²"}
    )
    assert response.status_code == 404


# -- dates in forms ------------------------------------------------------------------------------


@pytest.mark.parametrize("due_at", ["9999-12-31T10:00", "0001-01-01T00:00", "1999-12-31T10:00"])
def test_a_task_due_outside_the_dates_accepted_is_refused(client_for, agent, retailer, due_at):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    response = client_for(agent).post(
        reverse("orders:task_add", args=[order.pk]),
        {"description": "Call back", "status": "open", "due_at": due_at},
    )
    assert response.status_code == 400
    assert "is outside the dates a task may be due" in response.content.decode()
    assert not Task.objects.exists()


def test_an_admin_sets_the_retailer_date_window_and_it_is_recorded(
    client_for, admin_user, manager, retailer
):
    # given an admin on the order statuses page
    client = client_for(admin_user)
    page = client.get(reverse("order_statuses:list"))
    assert 'data-testid="date-window"' in page.content.decode()
    # when the window is set
    response = client.post(
        reverse("order_statuses:dates"),
        {"retailer": retailer.pk, "dates_from": "2015-03-01", "dates_ahead_days": "90"},
    )
    # then it holds, and the change is in the activity
    assert response.status_code == 302
    retailer.refresh_from_db()
    assert (retailer.dates_from, retailer.dates_ahead_days) == (date(2015, 3, 1), 90)
    assert Activity.objects.filter(action="oms.retailer.date_window_changed").count() == 1
    # and a manager may not change it; nor may an admin set it out of bounds
    assert (
        client_for(manager)
        .post(
            reverse("order_statuses:dates"),
            {"retailer": retailer.pk, "dates_from": "2001-01-01", "dates_ahead_days": "9"},
        )
        .status_code
        == 403
    )
    far = (date.today() + timedelta(days=5)).isoformat()
    for data in (
        {"dates_from": far, "dates_ahead_days": "30"},
        {"dates_from": "2015-03-01", "dates_ahead_days": "999999"},
        {"dates_from": "2015-03-01", "dates_ahead_days": "²"},
    ):
        assert client.post(reverse("order_statuses:dates"), data).status_code == 400
    retailer.refresh_from_db()
    assert (retailer.dates_from, retailer.dates_ahead_days) == (date(2015, 3, 1), 90)


def test_the_date_window_moves_the_first_date_a_task_may_be_due(client_for, agent, retailer):
    Retailer.objects.filter(pk=retailer.pk).update(dates_from=date(2024, 1, 1))
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    response = client_for(agent).post(
        reverse("orders:task_add", args=[order.pk]),
        {"description": "Call back", "status": "open", "due_at": "2023-06-01T10:00"},
    )
    assert "2024-01-01" in response.content.decode()
    assert not Task.objects.exists()


# -- CSV uploads ---------------------------------------------------------------------------------


def _upload(client, retailer, text: str | bytes):
    content = text.encode() if isinstance(text, str) else text
    return client.post(
        reverse("fulfilments:stock"),
        {"retailer": retailer.pk, "file": SimpleUploadedFile("stock.csv", content)},
        follow=True,
    )


def test_a_stock_upload_names_every_bad_row_and_stores_nothing(client_for, manager, retailer):
    LocationFactory(retailer=retailer, ref="DC1")
    text = (
        "location_ref,sku,on_hand\n"
        "DC1,GOOD,5\n"
        "DC1,UNI,²\n"
        "DC1,HUGE,99999999999999999999\n"
        f"DC1,{'L' * 200},1\n"
        "NOPE,X,1\n"
    )
    response = _upload(client_for(manager), retailer, text)
    text = _messages(response)
    assert "Nothing was imported" in text
    for number in (3, 4, 5, 6):
        assert f"Row {number}:" in text
    assert not StockPosition.objects.exists()


def test_a_stock_upload_too_large_or_too_long_is_refused(client_for, manager, retailer):
    LocationFactory(retailer=retailer, ref="DC1")
    client = client_for(manager)
    big = "location_ref,sku,on_hand\n" + "DC1,A,1\n" * 400_000
    assert "too large" in _messages(_upload(client, retailer, big))
    many = "location_ref,sku,on_hand\n" + "".join(f"DC1,S{n},1\n" for n in range(10_001))
    assert "more than 10000 rows" in _messages(_upload(client, retailer, many))
    cell = "location_ref,sku,on_hand\n" + "DC1," + "x" * 200_000 + ",1\n"
    assert "Row" in _messages(_upload(client, retailer, cell))
    assert not StockPosition.objects.exists()


def test_a_good_stock_upload_still_goes_through(client_for, manager, retailer):
    location = LocationFactory(retailer=retailer, ref="DC1")
    StockFactory(location=location, sku="OLD", on_hand=1)
    response = _upload(client_for(manager), retailer, "location_ref,sku,on_hand\nDC1,OLD,7\n")
    assert "Stock updated" in _messages(response)
    assert StockPosition.objects.get(sku="OLD").on_hand == 7


# -- written messages ----------------------------------------------------------------------------


def test_a_message_of_a_megabyte_is_refused_with_its_limit_and_nothing_is_stored(
    client_for, agent, retailer
):
    # given an order, a storefront with a token and an agent on the order page
    order = OrderFactory(retailer=retailer)
    storefront = client_for(agent)
    storefront.defaults["HTTP_AUTHORIZATION"] = f"Bearer {Token.objects.create(user=agent).key}"
    huge = "x" * 1_000_000
    # when the storefront sends a megabyte as a customer message
    response = storefront.post(
        reverse("storefront_api:order_messages", args=[order.pk]),
        {"subject": "Long", "message": huge},
        content_type="application/json",
    )
    # then it is refused, naming the field and the limit
    assert response.status_code == 400
    assert "message" in response.content.decode() and "20,000" in response.content.decode()
    # and a comment of the same size is refused on the page
    page = client_for(agent).post(
        reverse("orders:comment_add", args=[order.pk]), {"body": huge}, follow=True
    )
    assert page.status_code == 400 and "at most" in page.content.decode()
    assert not TicketMessage.objects.exists() and not Comment.objects.exists()
