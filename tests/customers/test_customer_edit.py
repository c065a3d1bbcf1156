"""Agents edit a customer's details and address book: through one service per change, checked
against the bounds, with activity saying old and new; and the order page's Customer tab."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from customers import selectors, services
from customers.models import Address, Customer
from oms import activity
from oms.models import Activity
from orders.models import SystemState, Ticket
from returns.models import ReturnStatus
from tests.factories import (
    AddressFactory,
    CustomerFactory,
    OrderFactory,
    ReturnFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(retailer):
    return CustomerFactory(
        retailer=retailer,
        ref="C-000042",
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        mobile="+31 6 1234 5678",
    )


def _details(customer, **changes):
    values = {name: getattr(customer, name) for name in services.DETAILS}
    return {**values, **changes}


def _address(**changes):
    values = {
        "name": "Ada Lovelace",
        "company": "",
        "line1": "Keizersgracht 1",
        "line2": "",
        "postcode": "1015 AA",
        "city": "Amsterdam",
        "region": "",
        "country": "NL",
        "phone": "",
    }
    return {**values, **changes}


def _row(model, pk):
    return model._base_manager.filter(pk=pk).values().first()


# -- details -----------------------------------------------------------------------------------


def test_an_agent_changes_details_and_the_activity_says_old_and_new(customer, agent):
    services.customer_update(
        customer=customer,
        by=agent,
        **_details(customer, email="ada@lovelace.org", segment="vip", language="nl", mobile=""),
    )

    customer.refresh_from_db()
    assert (customer.email, customer.segment, customer.language, customer.mobile) == (
        "ada@lovelace.org",
        "vip",
        "nl",
        "",
    )
    entry = Activity.objects.get(action="customers.customer.updated")
    assert entry.actor == agent
    assert (entry.root_type, entry.root_id) == ("customers.customer", str(customer.pk))
    text = activity.describe(entry)
    assert text.startswith("Customer C-000042 changed:")
    assert "Email: ada@example.com → ada@lovelace.org" in text
    assert "Segment: Consumer → VIP" in text
    assert "Language: — → Dutch" in text
    assert "Mobile: +31 6 1234 5678 → —" in text
    assert entry.data["before"]["segment"] == "consumer"
    assert entry.data["after"]["segment"] == "vip"


def test_saving_unchanged_details_records_nothing(customer, agent):
    services.customer_update(customer=customer, by=agent, **_details(customer))
    assert not Activity.objects.exists()


def test_a_member_of_another_retailer_may_not_edit(customer, other_agent):
    before = _row(Customer, customer.pk)
    with pytest.raises(PermissionDenied):
        services.customer_update(
            customer=customer, by=other_agent, **_details(customer, last_name="Byron")
        )
    with pytest.raises(PermissionDenied):
        services.address_save(customer=customer, by=other_agent, **_address())
    assert _row(Customer, customer.pk) == before
    assert not Address.objects.filter(customer=customer).exists()
    assert not Activity.objects.exists()


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"email": "not an address"}, "email"),
        ({"email": "a@b.nl\nBcc: x@y.nl"}, "email"),
        ({"mobile": "call me"}, "mobile"),
        ({"first_name": "A" * 101}, "first_name"),
        ({"last_name": "Love\nlace"}, "last_name"),
        ({"first_name": "", "last_name": ""}, "last_name"),
        ({"segment": "royalty"}, "segment"),
        ({"status": "deleted"}, "status"),
        ({"language": "fr"}, "language"),
        ({"first_name": "Ada\x00"}, "first_name"),
    ],
)
def test_bad_details_change_nothing_and_say_which_field(customer, agent, changes, field):
    before = _row(Customer, customer.pk)
    with pytest.raises(ValidationError) as refused:
        services.customer_update(customer=customer, by=agent, **_details(customer, **changes))
    assert field in refused.value.message_dict
    assert _row(Customer, customer.pk) == before
    assert not Activity.objects.exists()


def test_one_customer_per_email_address_in_a_retailer(customer, agent, retailer, other_retailer):
    other = CustomerFactory(retailer=retailer, email="grace@example.com", ref="C-000043")
    CustomerFactory(retailer=other_retailer, email="ada@lovelace.org")
    with pytest.raises(ValidationError) as refused:
        services.customer_update(
            customer=customer, by=agent, **_details(customer, email="GRACE@example.com")
        )
    assert "C-000043" in refused.value.message_dict["email"][0]
    assert Customer.objects.get(pk=customer.pk).email == "ada@example.com"
    # another retailer's customer with the address is no obstacle; nor is a change of case
    services.customer_update(
        customer=customer, by=agent, **_details(customer, email="ada@lovelace.org")
    )
    services.customer_update(customer=other, by=agent, **_details(other, email="Grace@Example.com"))
    assert Customer.objects.get(pk=other.pk).email == "Grace@Example.com"


# -- addresses ---------------------------------------------------------------------------------


def test_an_agent_adds_an_address_with_its_country_as_a_code(customer, agent):
    address = services.address_save(
        customer=customer, by=agent, **_address(country="Germany", line2="2nd floor")
    )
    assert address.customer == customer and address.country == "DE"
    entry = Activity.objects.get(action="customers.address.added")
    assert (entry.root_type, entry.root_id) == ("customers.customer", str(customer.pk))
    assert "Keizersgracht 1, 2nd floor, 1015 AA Amsterdam, DE" in activity.describe(entry)


def test_an_address_no_order_holds_is_changed_in_place(customer, agent):
    address = AddressFactory(retailer=customer.retailer, customer=customer, line1="Old street 1")
    saved = services.address_save(
        customer=customer, by=agent, address_id=str(address.pk), **_address(line1="Damrak 5")
    )
    assert saved.pk == address.pk
    assert Address.objects.get(pk=address.pk).line1 == "Damrak 5"
    entry = Activity.objects.get(action="customers.address.updated")
    assert "Street: Old street 1 → Damrak 5" in activity.describe(entry)


def test_an_order_keeps_the_address_it_was_placed_with(customer, agent):
    order = OrderFactory(retailer=customer.retailer, customer=customer)
    old = order.shipping_address
    old_street = old.line1
    saved = services.address_save(
        customer=customer, by=agent, address_id=old.pk, **_address(line1="Damrak 5")
    )

    order.refresh_from_db()
    assert order.shipping_address_id == old.pk
    assert order.shipping_address.line1 == old_street
    assert saved.pk != old.pk and saved.line1 == "Damrak 5"
    assert list(Address.objects.filter(customer=customer)) == [saved]
    assert Activity.objects.get(action="customers.address.updated").data["kept_on_orders"]


def test_removing_an_address_deletes_it_unless_an_order_holds_it(customer, agent):
    loose = AddressFactory(retailer=customer.retailer, customer=customer)
    order = OrderFactory(retailer=customer.retailer, customer=customer)
    held = order.billing_address

    services.address_remove(customer=customer, by=agent, address_id=loose.pk)
    services.address_remove(customer=customer, by=agent, address_id=held.pk)

    assert not Address.objects.filter(pk=loose.pk).exists()
    held.refresh_from_db()
    assert held.customer_id is None
    order.refresh_from_db()
    assert order.billing_address_id == held.pk
    assert not Address.objects.filter(customer=customer).exists()
    assert Activity.objects.filter(action="customers.address.removed").count() == 2


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"country": "Atlantis"}, "country"),
        ({"phone": "ring ring"}, "phone"),
        ({"line1": ""}, "line1"),
        ({"postcode": "1" * 21}, "postcode"),
        ({"city": "A" * 101}, "city"),
        ({"name": "Ada\x00"}, "name"),
    ],
)
def test_a_bad_address_changes_nothing(customer, agent, changes, field):
    address = AddressFactory(retailer=customer.retailer, customer=customer)
    before = _row(Address, address.pk)
    for address_id in (None, address.pk):
        with pytest.raises(ValidationError) as refused:
            services.address_save(
                customer=customer, by=agent, address_id=address_id, **_address(**changes)
            )
        assert field in refused.value.message_dict
    assert _row(Address, address.pk) == before
    assert Address.objects.count() == 1
    assert not Activity.objects.exists()


def test_an_address_of_another_customer_is_not_in_the_address_book(customer, agent, retailer):
    stranger = AddressFactory(retailer=retailer, customer=CustomerFactory(retailer=retailer))
    before = _row(Address, stranger.pk)
    for address_id in (stranger.pk, "x", "-1"):
        with pytest.raises(ValidationError):
            services.address_save(customer=customer, by=agent, address_id=address_id, **_address())
        with pytest.raises(ValidationError):
            services.address_remove(customer=customer, by=agent, address_id=address_id)
    assert _row(Address, stranger.pk) == before
    assert not Activity.objects.exists()


# -- pages -------------------------------------------------------------------------------------


def test_the_edit_page_saves_details_and_returns_to_where_the_agent_came_from(
    client_for, agent, customer
):
    client = client_for(agent)
    url = reverse("customers:customer_edit", args=[customer.pk])
    page = client.get(url).content.decode()
    assert 'value="ada@example.com"' in page and "Address book" in page

    back = reverse("orders:order_list")
    data = {**_details(customer, email="ada@lovelace.org"), "next": back}
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"] == back
    assert Customer.objects.get(pk=customer.pk).email == "ada@lovelace.org"

    detail = client.get(customer.get_absolute_url()).content.decode()
    assert "Email: ada@example.com → ada@lovelace.org" in detail
    assert 'data-testid="edit-customer"' in detail


def test_the_edit_page_shows_what_is_wrong_and_saves_nothing(client_for, agent, customer):
    client = client_for(agent)
    url = reverse("customers:customer_edit", args=[customer.pk])
    response = client.post(url, _details(customer, email="nope", mobile="12"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved" in page and "is not an email address" in page
    assert "is not a phone number" in page and "is-invalid" in page
    assert Customer.objects.get(pk=customer.pk).email == "ada@example.com"

    response = client.post(
        reverse("customers:address_save", args=[customer.pk]), _address(country="Atlantis")
    )
    assert response.status_code == 400
    assert "is not a country" in response.content.decode()
    assert not Address.objects.exists()


def test_addresses_are_added_and_removed_from_the_edit_page(client_for, agent, customer):
    client = client_for(agent)
    save = reverse("customers:address_save", args=[customer.pk])
    assert client.post(save, _address()).status_code == 302
    address = Address.objects.get(customer=customer)
    page = client.get(reverse("customers:customer_edit", args=[customer.pk])).content.decode()
    assert "Keizersgracht 1" in page
    remove = reverse("customers:address_remove", args=[customer.pk])
    assert client.post(remove, {"address": address.pk}).status_code == 302
    assert not Address.objects.filter(pk=address.pk).exists()


def test_another_retailers_customer_cannot_be_edited(client_for, other_agent, customer):
    client = client_for(other_agent)
    before = _row(Customer, customer.pk)
    assert client.get(reverse("customers:customer_edit", args=[customer.pk])).status_code == 404
    for name in ("customers:customer_edit", "customers:address_save"):  # the latter takes POSTs
        url = reverse(name, args=[customer.pk])
        assert client.post(url, _details(customer, last_name="Byron")).status_code == 404
    assert _row(Customer, customer.pk) == before


# -- the order's Customer tab ------------------------------------------------------------------


def _tab(client, order):
    response = client.get(reverse("orders:order_tab", args=[order.pk, "customer"]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_customer_tab_shows_the_customer_at_a_glance(client_for, agent, customer):
    order = OrderFactory(retailer=customer.retailer, customer=customer, ref="A-2", lines=1)
    earlier = OrderFactory(retailer=customer.retailer, customer=customer, ref="A-1", lines=2)
    OrderFactory(
        retailer=customer.retailer, customer=customer, ref="A-0", state=SystemState.CANCELLED
    )
    ReturnFactory(retailer=customer.retailer, order=earlier, return_ref="R-OPEN")
    ReturnFactory(
        retailer=customer.retailer, order=earlier, return_ref="R-DONE", status=ReturnStatus.COMPLETE
    )
    TicketFactory(order=earlier, subject="Wrong colour")
    TicketFactory(order=earlier, subject="Old question", status=Ticket.Status.CLOSED)
    order.shipping_address.line1 = "Prinsengracht 263"
    order.shipping_address.save()

    html = _tab(client_for(agent), order)

    for shown in ("Ada Lovelace", "C-000042", "ada@example.com", "+31 6 1234 5678", "Consumer"):
        assert shown in html
    assert 'data-testid="customer-order-count">3<' in html
    spent = order.total + earlier.total
    assert f"€{spent:,.2f}" in html or f"{spent}" in html
    assert "Prinsengracht 263" in html and "Shipping on this order" in html
    assert f'href="{earlier.get_absolute_url()}"' in html and "(this order)" in html
    assert "R-OPEN" in html and "R-DONE" not in html
    assert "Wrong colour" in html and "Old question" not in html
    edit = reverse("customers:customer_edit", args=[customer.pk])
    assert f'href="{edit}?next=' in html


def test_a_guest_order_says_it_has_no_customer(client_for, agent, retailer):
    order = OrderFactory(
        retailer=retailer, customer=None, billing_address=None, shipping_address=None
    )
    assert "no customer account" in _tab(client_for(agent), order)


def test_the_orders_activity_shows_changes_to_its_customer(client_for, agent, customer):
    order = OrderFactory(retailer=customer.retailer, customer=customer)
    services.customer_update(customer=customer, by=agent, **_details(customer, segment="vip"))
    client = client_for(agent)
    url = reverse("orders:order_tab", args=[order.pk, "activity"])
    assert "Segment: Consumer → VIP" in client.get(url).content.decode()
    assert "Segment: Consumer → VIP" in client.get(url, {"kind": "customer"}).content.decode()
    assert "Segment: Consumer → VIP" not in client.get(url, {"kind": "notes"}).content.decode()


def test_the_customer_page_totals_only_orders_not_cancelled(client_for, agent, customer):
    OrderFactory(retailer=customer.retailer, customer=customer, lines=1)
    OrderFactory(
        retailer=customer.retailer, customer=customer, state=SystemState.CANCELLED, lines=1
    )
    spent = Decimal(sum(o.total for o in customer.orders.exclude(status__system_state="CANCELLED")))
    html = client_for(agent).get(customer.get_absolute_url()).content.decode()
    assert "<dt>Orders</dt><dd>2</dd>" in html
    assert f"{spent:,.2f}" in html


def test_identical_addresses_of_several_orders_are_one_address_of_the_book(customer, agent):
    retailer = customer.retailer
    same = {"retailer": retailer, "customer": customer, "line1": "Damrak 5", "city": "Amsterdam"}
    first = OrderFactory(
        retailer=retailer, customer=customer, billing_address=AddressFactory(**same, postcode="1")
    )
    second = OrderFactory(
        retailer=retailer, customer=customer, billing_address=AddressFactory(**same, postcode="1")
    )
    book = selectors.address_book(customer)
    assert len(book.rows) == 1 and book.rows[0].copies == 2

    services.address_save(
        customer=customer,
        by=agent,
        address_id=book.rows[0].pk,
        **_address(name=first.billing_address.name, line1="Rokin 9", postcode="1"),
    )

    book = selectors.address_book(customer)
    assert [(a.line1, a.copies) for a in book.rows] == [("Rokin 9", 1)]
    for order in (first, second):
        order.refresh_from_db()
        assert order.billing_address.line1 == "Damrak 5"
