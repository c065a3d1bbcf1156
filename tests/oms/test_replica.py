"""Read replicas against a real streaming standby of the test database's server.

The module starts a hot standby (`tests/standby.py`: pg_basebackup after the test database
exists, a second server on a free port) and adds it as the `replica` alias, as
DATABASE_REPLICA_URL does. The tests are transactional: rows must be committed to be streamed.
Which server served a page is told by the queries each connection ran, and by the page itself
while the standby's replay is paused (a committed row is then on the primary only).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core import signing
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from rest_framework.authtoken.models import Token

from oms import replicas, rls
from oms.replicas import REPLICA
from orders.models import Comment
from tests.factories import MembershipFactory, OrderFactory, ReturnFactory, UserFactory
from tests.standby import Standby, wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])

ROOT = Path(__file__).resolve().parents[2]
APP_ROLE = "oms_app_under_test"
STICKY = 60


@pytest.fixture(scope="module")
def standby(django_db_setup, django_db_blocker):
    """The standby, taken once the test database exists, as the `replica` alias."""
    with django_db_blocker.unblock():
        primary = connections["default"].settings_dict
        if primary["ENGINE"] != "django.db.backends.postgresql":
            pytest.skip("read replicas are Postgres streaming standbys")
        server = Standby(primary_port=int(primary["PORT"] or 5432))
        try:
            server.create()
            server.start()
            server.wait_until_caught_up()
            alias = copy.deepcopy(primary)
            alias.update(HOST="127.0.0.1", PORT=str(server.port))
            alias["TEST"]["MIRROR"] = "default"
            settings.DATABASES[REPLICA] = alias
            connections.settings[REPLICA] = alias
            with override_settings(
                DATABASE_ROUTERS=["oms.replicas.ReplicaRouter"],
                REPLICA_STICKY_SECONDS=STICKY,
                REPLICA_CHECK_SECONDS=0,  # every request measures the lag
                REPLICA_MAX_LAG_SECONDS=3600,
            ):
                yield server
        finally:
            if REPLICA in connections.settings:
                connections[REPLICA].close()
                del connections[REPLICA]
                connections.settings.pop(REPLICA, None)
                settings.DATABASES.pop(REPLICA, None)
            server.remove()


@pytest.fixture(autouse=True)
def _fresh_check(standby):
    replicas.health.forget()
    yield
    replicas.health.forget()


@contextmanager
def queries():
    """The SQL each alias ran inside the block: {"default": [...], "replica": [...]}."""
    seen: dict[str, list[str]] = {"default": [], REPLICA: []}

    def recorder(alias):
        def record(execute, sql, params, many, context):
            seen[alias].append(sql)
            return execute(sql, params, many, context)

        return record

    with (
        connections["default"].execute_wrapper(recorder("default")),
        connections[REPLICA].execute_wrapper(recorder(REPLICA)),
    ):
        yield seen


def served_by(seen: dict[str, list[str]], table: str = "orders_order") -> set[str]:
    """The aliases that read `table`."""
    return {alias for alias, sqls in seen.items() if any(f'"{table}"' in sql for sql in sqls)}


@contextmanager
def replay_paused(standby: Standby):
    """The standby keeps receiving WAL but applies none of it: new commits are on the primary
    only."""
    with standby.connect() as c:
        c.execute("SELECT pg_wal_replay_pause()")
        wait_for(
            lambda: c.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] == "paused",
            "the standby's replay to pause",
        )
        try:
            yield
        finally:
            c.execute("SELECT pg_wal_replay_resume()")


def after_the_window():
    """The clock as the signed cookie sees it, past REPLICA_STICKY_SECONDS."""
    return mock.patch.object(signing.time, "time", return_value=time.time() + STICKY + 1)


def test_list_and_detail_pages_read_from_the_standby(standby, client_for, agent, retailer):
    # given
    order = OrderFactory(retailer=retailer, ref="A-REPLICA", lines=2)
    standby.wait_until_caught_up()
    client = client_for(agent)

    # when
    with queries() as seen:
        listing = client.get("/orders/")
    with queries() as detail_seen:
        detail = client.get(f"/orders/{order.pk}/")

    # then: the page's rows came from the standby, a server in recovery
    assert listing.status_code == 200 and "A-REPLICA" in listing.content.decode()
    assert served_by(seen) == {REPLICA}
    assert detail.status_code == 200 and "A-REPLICA" in detail.content.decode()
    assert served_by(detail_seen) == {REPLICA}
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone() == (True,)
    # a CSV export, streamed after the view has returned, reads there too
    with queries() as export_seen:
        export = client.get("/orders/export.csv")
        rows = b"".join(export.streaming_content).decode()
    assert export.status_code == 200 and "A-REPLICA" in rows
    assert served_by(export_seen) == {REPLICA}
    # the session and the user's memberships are read on the primary, as are its writes
    assert served_by(seen, "django_session") == {"default"}
    assert served_by(seen, "oms_membership") == {"default"}


def test_a_users_reads_stay_on_the_primary_after_their_own_post(
    standby, client_for, agent, retailer
):
    # given: two agents of the same retailer, and a standby that stops replaying
    order = OrderFactory(retailer=retailer, ref="A-RYW", lines=1)
    colleague = MembershipFactory(retailer=retailer, user=UserFactory(username="colleague")).user
    standby.wait_until_caught_up()
    mine, theirs = client_for(agent), client_for(colleague)
    tab = f"/orders/{order.pk}/comments/"
    with replay_paused(standby):
        # when: the agent comments
        posted = mine.post(f"/orders/{order.pk}/comments/add/", {"body": "Rang the customer"})
        assert posted.status_code == 302 and posted.url == tab
        assert Comment.objects.filter(order=order, body="Rang the customer").exists()

        # then: the agent's next page shows it, read from the primary
        with queries() as seen:
            page = mine.get(tab).content.decode()
        assert "Rang the customer" in page
        assert served_by(seen, "orders_comment") == {"default"}

        # the colleague is not pinned: their page comes from the standby, without it yet
        with queries() as seen:
            page = theirs.get(tab).content.decode()
        assert "Rang the customer" not in page
        assert served_by(seen, "orders_comment") == {REPLICA}

        # after the window the agent reads the standby again
        with after_the_window(), queries() as seen:
            page = mine.get(tab).content.decode()
        assert "Rang the customer" not in page
        assert served_by(seen, "orders_comment") == {REPLICA}

    # once replayed, the standby shows it to everyone
    standby.wait_until_caught_up()
    assert "Rang the customer" in theirs.get(tab).content.decode()


def test_the_api_and_posts_read_the_primary(standby, client_for, agent, retailer):
    ReturnFactory(retailer=retailer)
    standby.wait_until_caught_up()
    token = Token.objects.create(user=agent)
    with queries() as seen:
        answer = client_for(agent).get(
            f"/api/v4.1/return?retailerId={retailer.pk}", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
    assert answer.status_code == 200 and answer.json()["total"] == 1
    assert served_by(seen, "returns_return") == {"default"}


def test_row_level_security_scopes_the_standby_reads(
    standby, client_for, agent, retailer, other_retailer
):
    # given: orders of two retailers, and the standby's connection as the application's role
    mine = OrderFactory(retailer=retailer, ref="A-MINE", lines=1)
    theirs = OrderFactory(retailer=other_retailer, ref="G-THEIRS", lines=1)
    call_command("db_app_role", APP_ROLE, verbosity=0)
    standby.wait_until_caught_up()
    replica = connections[REPLICA]
    with replica.cursor() as cursor:
        cursor.execute(f'SET ROLE "{APP_ROLE}"')
        cursor.execute("SELECT count(*) FROM orders_order")
        assert cursor.fetchone() == (0,)  # no retailer chosen: the standby shows nothing

    # when
    client = client_for(agent)
    with queries() as seen:
        listing = client.get("/orders/").content.decode()
    mine_page = client.get(f"/orders/{mine.pk}/")
    theirs_page = client.get(f"/orders/{theirs.pk}/")

    # then: the page came from the standby, and the standby's connection works for A only
    assert served_by(seen) == {REPLICA}
    assert "A-MINE" in listing and "G-THEIRS" not in listing
    assert mine_page.status_code == 200 and theirs_page.status_code == 404
    assert rls.current(REPLICA) == (retailer.pk,)
    with replica.cursor() as cursor:
        cursor.execute("SELECT ref FROM orders_order")  # no filter: only the policy
        assert [row[0] for row in cursor.fetchall()] == ["A-MINE"]
        cursor.execute("RESET ROLE")


def test_a_lagging_standby_is_not_read(standby, client_for, agent, retailer, settings):
    # given: the standby stops replaying, and an order is placed after that
    OrderFactory(retailer=retailer, ref="A-BEFORE", lines=1)
    standby.wait_until_caught_up()
    settings.REPLICA_MAX_LAG_SECONDS = 1
    client = client_for(agent)
    with replay_paused(standby):
        OrderFactory(retailer=retailer, ref="A-AFTER", lines=1)

        # when it falls more than a second behind
        def lagging() -> bool:
            replicas.health.forget()
            return not replicas.replica_usable()

        wait_for(lagging, "the standby's lag to pass a second")
        with queries() as seen:
            page = client.get("/orders/").content.decode()

        # then: the page reads the primary and shows the new order
        assert served_by(seen) == {"default"}
        assert "A-AFTER" in page

    standby.wait_until_caught_up()
    replicas.health.forget()
    with queries() as seen:
        page = client.get("/orders/").content.decode()
    assert served_by(seen) == {REPLICA} and "A-AFTER" in page


def test_pages_work_from_the_primary_while_the_standby_is_down(
    standby, client_for, agent, retailer, settings
):
    # given: a page read from the standby, whose lag is not measured again for a while
    OrderFactory(retailer=retailer, ref="A-DOWN", lines=1)
    standby.wait_until_caught_up()
    client = client_for(agent)
    with queries() as seen:
        assert client.get("/orders/").status_code == 200
    assert served_by(seen) == {REPLICA}
    settings.REPLICA_CHECK_SECONDS = 3600

    # when the standby stops
    standby.stop()
    try:
        # the server checks each connection at the start of a request (the test client does not)
        connections[REPLICA].close_if_unusable_or_obsolete()
        with queries() as seen:
            listing = client.get("/orders/")
        with queries() as again_seen:
            again = client.get("/orders/")

        # then: the pages come from the primary
        assert listing.status_code == 200 and "A-DOWN" in listing.content.decode()
        assert served_by(seen) == {"default"}
        assert again.status_code == 200 and served_by(again_seen) == {"default"}
        assert not replicas.health.usable
    finally:
        standby.start()

    # and when it is back, pages read it again at the next check
    settings.REPLICA_CHECK_SECONDS = 0

    def read_from_the_standby() -> bool:
        with queries() as seen:
            assert client.get("/orders/").status_code == 200
        return served_by(seen) == {REPLICA}

    wait_for(read_from_the_standby, "pages to read the restarted standby")


@pytest.mark.django_db(databases=[])
def test_the_replica_is_configured_by_its_url_alone():
    script = (
        "import json; from django.conf import settings as s;"
        "print(json.dumps([sorted(s.DATABASES), s.DATABASE_ROUTERS,"
        " s.DATABASES.get('replica', {}).get('OPTIONS', {}).get('options'),"
        " s.DATABASES.get('replica', {}).get('TEST', {}).get('MIRROR')]))"
    )

    def configured(**env: str) -> list:
        base = {k: v for k, v in os.environ.items() if k != "DATABASE_REPLICA_URL"}
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=ROOT,
            env=base | {"DJANGO_SETTINGS_MODULE": "oms.settings"} | env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    # without the URL: no alias, no router (the middleware removes itself)
    assert configured() == [["default"], [], None, None]
    # with it: the alias, with the primary's connection options, mirrored in tests
    url = "postgres://oms@replica.internal:5432/oms"
    assert configured(DATABASE_REPLICA_URL=url) == [
        ["default", "replica"],
        ["oms.replicas.ReplicaRouter"],
        "-c jit=off",
        "default",
    ]
