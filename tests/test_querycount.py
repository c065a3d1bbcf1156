import pytest

from oms.models import Membership, Retailer
from tests.factories import MembershipFactory, RetailerFactory, UserFactory
from tests.querycount import assert_constant_queries

pytestmark = pytest.mark.django_db


def _adder(user):
    refs = iter(range(1000))

    def add(n):
        for _ in range(n):
            MembershipFactory(user=user, retailer=RetailerFactory(ref=f"q{next(refs)}"))

    return add


def test_it_catches_a_query_per_row():
    user = UserFactory()

    def one_query_per_membership():
        return [m.retailer.name for m in Membership.objects.filter(user=user)]

    with pytest.raises(AssertionError, match="2 queries with 1 rows but 51 with 50"):
        assert_constant_queries(one_query_per_membership, _adder(user))


def test_it_passes_a_fetch_that_joins():
    user = UserFactory()

    def joined():
        return [
            m.retailer.name for m in Membership.objects.filter(user=user).select_related("retailer")
        ]

    assert assert_constant_queries(joined, _adder(user)) == 1
    assert Retailer.objects.count() == 50
