"""Search keys (`oms.search`): the database keeps an upper-cased copy of refs, emails and
tracking numbers, and searches compare it exactly or by prefix."""

import pytest

from customers.models import Customer
from oms.search import prefix_bound, search_key
from orders.models import Order, OrderLine
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "prefix,bound",
    [
        ("B01-00", "B01-01"),
        ("A", "B"),
        ("Z9", "Z:"),
        ("\ud7ff", "\ue000"),  # the next code point, not a surrogate
        ("A\U0010ffff", "B"),
        ("\U0010ffff", None),
        ("", None),
    ],
)
def test_the_prefix_range_ends_above_every_string_with_the_prefix(prefix, bound):
    assert prefix_bound(prefix) == bound


def test_a_typed_value_becomes_its_key():
    assert search_key("  b01-000123 ") == "B01-000123"


def test_the_database_keeps_the_keys_on_every_kind_of_write(retailer):
    # given rows written by save(), by bulk_create and by an UPDATE
    order = OrderFactory(retailer=retailer, ref="web-1")
    customer = CustomerFactory(retailer=retailer, email="Ann.Smith@Example.org")
    line = OrderLineFactory(order=order, tracking_number="1z999aa1")
    Order.objects.filter(pk=order.pk).update(ref="web-2")
    OrderLine.objects.filter(pk=line.pk).update(tracking_number="jjd0001")
    bulk = Customer.objects.bulk_create(
        [Customer(retailer=retailer, ref="c-bulk", first_name="B", last_name="C", email="b@c.de")]
    )

    # then each key is the upper-cased value as it is now
    assert Order.objects.get(pk=order.pk).ref_key == "WEB-2"
    assert OrderLine.objects.get(pk=line.pk).tracking_key == "JJD0001"
    assert Customer.objects.get(pk=customer.pk).email_key == "ANN.SMITH@EXAMPLE.ORG"
    assert Customer.objects.get(pk=bulk[0].pk).ref_key == "C-BULK"


@pytest.mark.parametrize(
    "typed,found",
    [
        ("B01-0", ["B01-00", "B01-01", "b01-09x"]),
        ("b01-00", ["B01-00"]),
        ("B01-1", ["B01-1"]),
        ("B01-", ["B01-00", "B01-01", "B01-1", "b01-09x"]),
        ("B02", []),
        ("B01%", []),  # a pattern character is a character, not a wildcard
        ("B01_", []),
    ],
)
def test_a_prefix_finds_exactly_the_refs_that_start_with_it(retailer, typed, found):
    for ref in ["B01-00", "B01-01", "B01-1", "b01-09x", "B1-00", "C01-00"]:
        OrderFactory(retailer=retailer, ref=ref)
    matched = Order.objects.filter(ref_key__key_prefix=search_key(typed))
    assert sorted(o.ref for o in matched) == sorted(found)
