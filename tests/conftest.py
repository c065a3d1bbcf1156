import os

import pytest
from django.db import connection
from django.test import Client

from oms.celery import app as celery_app
from oms.roles import Role
from tests.factories import MembershipFactory, RetailerFactory, UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _locks_in_order(request, settings):
    """A row lock taken out of the fixed order fails the test that took it. A test runs in one
    transaction; each service call it makes is ordered on its own, as it would be in a request."""
    settings.LOCK_ORDER_CHECK = "raise"
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db"}:
        yield
        return
    transactional = (
        (marker is not None and marker.kwargs.get("transaction"))
        or "transactional_db" in names
        or "live_server" in names
    )
    if transactional:  # real transactions: each is its own unit, as in production
        request.getfixturevalue("transactional_db")
        yield
        return
    request.getfixturevalue("db")
    connection._oms_lock_units_at = len(connection.savepoint_ids)
    yield
    connection._oms_lock_units_at = None


@pytest.fixture(autouse=True)
def _forget_the_retailer_scope():
    """A test's transaction is rolled back, and with it the connection's retailer scope."""
    yield
    from oms import rls

    rls._state.scope = None


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Tests render templates without running collectstatic first."""
    settings.STORAGES = settings.STORAGES | {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    }


TEST_BROKER_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def celery_broker():
    """Send tasks to a real broker instead of running them in-process; yields a setter."""
    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "broker_url")}

    def use(url: str = TEST_BROKER_URL) -> str:
        celery_app.conf.update(task_always_eager=False, broker_url=url)
        _forget_broker_connections()
        return url

    yield use
    celery_app.conf.update(saved)
    _forget_broker_connections()


def _forget_broker_connections():
    """Celery keeps its first connection pool for good; drop it so a new broker URL is used."""
    from kombu import pools

    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def retailer(db):
    return RetailerFactory(ref="acme", name="Acme Outfitters")


@pytest.fixture
def other_retailer(db):
    return RetailerFactory(ref="globex", name="Globex Home")


def _member(retailer, role, username):
    return MembershipFactory(user=UserFactory(username=username), retailer=retailer, role=role).user


@pytest.fixture
def agent(retailer):
    return _member(retailer, Role.AGENT, "agent")


@pytest.fixture
def manager(retailer):
    return _member(retailer, Role.MANAGER, "manager")


@pytest.fixture
def admin_user(retailer):
    return _member(retailer, Role.ADMIN, "admin")


@pytest.fixture
def other_agent(other_retailer):
    return _member(other_retailer, Role.AGENT, "globex.agent")


@pytest.fixture
def client_for(db):
    """A test client logged in as the given user."""

    def make(user, **client_kwargs) -> Client:
        client = Client(**client_kwargs)
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make
