"""A customer with a long history: the page shows the latest, the orders list shows them all."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import CustomerFactory, OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def refs(response) -> list[str]:
    return re.findall(
        r'<a hx-boost="false" href="/orders/\d+/">([^<]+)</a>', response.content.decode()
    )


@pytest.fixture
def loyal(retailer):
    customer = CustomerFactory(retailer=retailer, first_name="Loyal", last_name="Shopper")
    now = timezone.now()
    for n in range(30):
        order = OrderFactory(
            retailer=retailer,
            customer=customer,
            ref=f"L-{n:02d}",
            placed_at=now - timedelta(days=n),
        )
        PaymentFactory(order=order, authorised="10.00", captured="10.00", refunded="2.50")
    OrderFactory(retailer=retailer, ref="SOMEONE-ELSE")
    return customer


def test_the_page_shows_the_latest_orders_and_links_to_all_of_them(client_for, agent, loyal):
    page = client_for(agent).get(loyal.get_absolute_url()).content.decode()

    table = page.split('data-testid="customer-orders"')[1].split("</table>")[0]
    shown = re.findall(r">(L-\d\d)</a>", table)
    assert shown == [f"L-{n:02d}" for n in range(25)]
    assert "All 30 orders in the list" in page
    assert "€225.00 of €300.00 can still be refunded" in page


def test_the_list_narrowed_to_the_customer_says_whose_orders_they_are(client_for, agent, loyal):
    response = client_for(agent).get("/orders/", {"customer": loyal.pk})

    assert sorted(refs(response)) == [f"L-{n:02d}" for n in range(30)]
    assert "Customer: Loyal Shopper" in response.content.decode()


def test_another_retailers_customer_narrows_to_nothing(client_for, agent, other_retailer):
    stranger = CustomerFactory(retailer=other_retailer, first_name="Hidden", last_name="Person")
    OrderFactory(retailer=other_retailer, customer=stranger, ref="G-1")

    response = client_for(agent).get("/orders/", {"customer": stranger.pk})

    assert refs(response) == []
    assert "Hidden" not in response.content.decode()
