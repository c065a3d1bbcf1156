import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured

from oms import activity
from oms.models import Activity
from oms.roles import Role
from oms.tenancy import least_role, retailer_ids_for
from oms.views import TenantScopedMixin
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

# the CSRF token and the CSP nonce differ on every response; the rest of a page must not
PER_RESPONSE = re.compile(r'(X-CSRFToken": |nonce=|csrfmiddlewaretoken" value=)"[^"]+"')


def _activity_in(retailer):
    return activity.record(action="oms.retailer.viewed", target=retailer, by=None)


def test_for_user_returns_only_the_users_retailers(agent, retailer, other_retailer):
    # given activity in two retailers
    mine = _activity_in(retailer)
    _activity_in(other_retailer)

    # when the agent of one of them reads
    rows = list(Activity.objects.for_user(agent))

    # then they see their retailer's only
    assert rows == [mine]


def test_a_user_of_several_retailers_sees_all_of_them(retailer, other_retailer):
    user = UserFactory()
    MembershipFactory(user=user, retailer=retailer)
    MembershipFactory(user=user, retailer=other_retailer)
    a, b = _activity_in(retailer), _activity_in(other_retailer)

    assert set(Activity.objects.for_user(user)) == {a, b}


def test_users_without_membership_or_login_see_nothing(retailer):
    _activity_in(retailer)
    assert not Activity.objects.for_user(UserFactory()).exists()
    assert not Activity.objects.for_user(AnonymousUser()).exists()


def test_an_inactive_retailer_is_hidden_from_its_members(agent, retailer):
    _activity_in(retailer)
    retailer.is_active = False
    retailer.save(update_fields=["is_active"])
    agent.refresh_from_db()  # a new request: roles are read again

    assert not Activity.objects.for_user(agent).exists()


def test_for_retailers_filters_by_id(retailer, other_retailer):
    _activity_in(retailer)
    theirs = _activity_in(other_retailer)
    assert list(Activity.objects.for_retailers([other_retailer.pk])) == [theirs]


def test_a_view_cannot_override_get_queryset_and_skip_the_scoping():
    with pytest.raises(ImproperlyConfigured, match="scope_queryset"):

        class Leaky(TenantScopedMixin):
            def get_queryset(self):
                return Activity.objects.all()


@pytest.mark.urls("tests.oms.views_under_test")
def test_a_detail_of_another_retailer_is_a_404_and_of_ones_own_a_200(
    client_for, agent, retailer, other_retailer
):
    mine, theirs = _activity_in(retailer), _activity_in(other_retailer)
    client = client_for(agent)

    assert client.get(f"/activity/{mine.pk}/").status_code == 200
    assert client.get(f"/activity/{theirs.pk}/").status_code == 404
    assert client.get("/activity/999999/").status_code == 404


@pytest.mark.urls("tests.oms.views_under_test")
def test_another_retailers_record_looks_exactly_like_a_missing_one(
    client_for, agent, other_retailer
):
    theirs = _activity_in(other_retailer)
    client = client_for(agent)

    def page(url):
        return PER_RESPONSE.sub("", client.get(url).content.decode())

    assert page(f"/activity/{theirs.pk}/") == page("/activity/999999/")


# -- roles per retailer ----------------------------------------------------------------------


def _manager_and_agent(retailer, other_retailer):
    user = UserFactory()
    MembershipFactory(user=user, retailer=retailer, role=Role.MANAGER)
    MembershipFactory(user=user, retailer=other_retailer, role=Role.AGENT)
    return user


def test_for_user_with_a_role_keeps_the_retailers_where_the_user_holds_it(retailer, other_retailer):
    # given a manager of one retailer and agent of another, with activity in both
    user = _manager_and_agent(retailer, other_retailer)
    managed, other = _activity_in(retailer), _activity_in(other_retailer)

    # then asking for a role keeps the retailers where it (or a higher one) is held
    assert set(Activity.objects.for_user(user)) == {managed, other}
    assert set(Activity.objects.for_user(user, role=Role.AGENT)) == {managed, other}
    assert list(Activity.objects.for_user(user, role=Role.MANAGER)) == [managed]
    assert not Activity.objects.for_user(user, role=Role.ADMIN).exists()
    assert retailer_ids_for(user, Role.MANAGER) == [retailer.pk]
    assert retailer_ids_for(user) == sorted([retailer.pk, other_retailer.pk])


def test_within_least_role_every_read_asks_for_that_role(retailer, other_retailer):
    user = _manager_and_agent(retailer, other_retailer)
    managed = _activity_in(retailer)
    _activity_in(other_retailer)

    with least_role(Role.MANAGER):
        assert list(Activity.objects.for_user(user)) == [managed]
        assert retailer_ids_for(user) == [retailer.pk]
    # and the block leaves nothing behind
    assert len(retailer_ids_for(user)) == 2
