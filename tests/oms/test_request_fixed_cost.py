"""What every request pays before its page's own work: the user's memberships in one query, the
database scope set only when the connection does not hold it already, the layout's links built
once."""

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import set_script_prefix
from rest_framework.authtoken.models import Token

from oms import rls
from oms.context_processors import LINKS
from oms.models import retailers_of
from oms.roles import Role, roles_of
from tests.factories import MembershipFactory, RetailerFactory, ReturnFactory, UserFactory


def _setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [rls.IDS])
        return cursor.fetchone()[0] or ""


def _set_configs(client: Client, url: str = "/healthz") -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return sum("set_config" in query["sql"] for query in queries.captured_queries)


@pytest.mark.django_db
def test_roles_and_retailers_are_read_in_one_query(django_assert_num_queries):
    user = UserFactory()
    zeta = RetailerFactory(name="Zeta")
    alpha = RetailerFactory(name="Alpha")
    closed = RetailerFactory(name="Closed", is_active=False)
    MembershipFactory(user=user, retailer=zeta, role=Role.ADMIN)
    MembershipFactory(user=user, retailer=alpha, role=Role.AGENT)
    MembershipFactory(user=user, retailer=closed, role=Role.ADMIN)
    with django_assert_num_queries(1):
        assert retailers_of(user) == [alpha, zeta]  # by name, the inactive one left out
        assert roles_of(user) == {alpha.pk: Role.AGENT, zeta.pk: Role.ADMIN}
    user._oms_roles = None  # read again
    MembershipFactory(user=user, retailer=RetailerFactory(name="Beta"))
    assert [r.name for r in retailers_of(user)] == ["Alpha", "Beta", "Zeta"]


@pytest.mark.django_db(transaction=True)
def test_the_scope_is_set_again_only_when_the_connection_may_not_hold_it():
    retailer, other = RetailerFactory(), RetailerFactory()
    user = MembershipFactory(retailer=retailer).user
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    try:
        rls.clear()
        assert _set_configs(client) == 1
        assert _set_configs(client) == 0  # the connection holds it: no round trip
        assert _setting() == str(retailer.pk)

        # a scope changed in a transaction that rolls back is undone with it
        with pytest.raises(RuntimeError), transaction.atomic():
            rls.use_retailers([other.pk])
            raise RuntimeError("rolled back")
        assert _set_configs(client) == 1
        assert _setting() == str(retailer.pk)

        # so is a cleared one: an anonymous request must not inherit the scope it held before
        with pytest.raises(RuntimeError), transaction.atomic():
            rls.clear()
            raise RuntimeError("rolled back")
        assert _set_configs(Client()) == 1
        assert _setting() == ""
    finally:
        rls.clear()


@pytest.mark.django_db
def test_the_layout_links_follow_the_script_prefix(client_for, agent):
    client = client_for(agent)
    try:
        for prefix in ("/", "/backoffice/", "/"):  # each prefix has links of its own
            set_script_prefix(prefix)
            html = client.get("/orders/my-tasks/").content.decode()
            assert f'href="{prefix}orders/"' in html
            assert f'action="{prefix}accounts/logout/"' in html
            assert 'href="/static/css/oms.css"' in html
    finally:
        set_script_prefix("/")
    assert set(LINKS) >= {"home", "orders", "returns", "settings"}


@pytest.mark.django_db
def test_a_browser_sending_its_token_too_has_its_retailers_read_once(
    client_for, agent, other_agent, retailer, other_retailer
):
    ReturnFactory(retailer=retailer)
    ReturnFactory(retailer=other_retailer)
    url = f"/api/v4.1/return?retailerId={retailer.pk}"
    bearer = f"Bearer {Token.objects.create(user=agent)}"
    with CaptureQueriesContext(connection) as queries:
        mine = client_for(agent).get(url, HTTP_AUTHORIZATION=bearer)
    assert mine.status_code == 200 and mine.json()["total"] == 1
    read = [q["sql"] for q in queries.captured_queries if 'JOIN "oms_membership"' in q["sql"]]
    assert len(read) == 1

    # a session of someone else does not lend the token their retailers
    theirs = client_for(other_agent).get(url, HTTP_AUTHORIZATION=bearer)
    assert theirs.status_code == 200 and theirs.json()["total"] == 1
    other = f"/api/v4.1/return?retailerId={other_retailer.pk}"
    assert client_for(other_agent).get(other, HTTP_AUTHORIZATION=bearer).status_code == 403
