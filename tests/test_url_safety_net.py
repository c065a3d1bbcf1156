"""The safety net every page inherits: these walk the URL configuration, so a new page is covered
without editing them."""

from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.object_urls import OBJECT_URLS
from tests.urlwalk import walk

ROUTES = walk()


def test_the_walker_finds_the_pages():
    names = {route.name for route in ROUTES}
    assert {"home", "orders:order_list", "logout", "login"} <= names


@pytest.mark.parametrize("route", [r for r in ROUTES if r.is_api and not r.is_public], ids=str)
def test_apis_answer_anonymous_callers_with_a_401(client, route):
    url = reverse(route.name, kwargs=route.placeholder_kwargs())
    response = client.get(url)
    assert response.status_code == 401
    assert response.json()["error"][0]["code"] == "401"


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.is_public and not r.is_api], ids=str)
def test_anonymous_users_are_sent_to_login(client, route):
    # given a URL that is not public
    url = reverse(route.name, kwargs=route.placeholder_kwargs())

    # when an anonymous user opens it (or posts to it)
    response = client.post(url) if route.is_state_changing else client.get(url)

    # then they are sent to the login page, to come back afterwards
    assert response.status_code == 302, f"{url} answered {response.status_code}"
    target = urlparse(response["Location"])
    assert target.path == reverse(settings.LOGIN_URL)
    assert f"next={url}" in response["Location"].replace("%2F", "/")


def test_every_url_with_an_object_id_has_a_factory():
    missing = sorted(
        r.name for r in ROUTES if r.kwarg_names and not r.is_public and r.name not in OBJECT_URLS
    )
    assert not missing, (
        "These URLs take an object id but tests/object_urls.py has no factory for them, so "
        f"nobody checks that another retailer gets a 404: {missing}"
    )


def test_the_object_map_has_no_stale_entries():
    names = {r.name for r in ROUTES}
    assert not set(OBJECT_URLS) - names


@pytest.mark.django_db
def test_every_object_url_is_a_404_to_another_retailer(client_for, admin_user, other_retailer):
    # given a record of another retailer behind every URL that takes an id
    client = client_for(admin_user)
    failures = []
    for route in (r for r in ROUTES if r.kwarg_names and not r.is_public):
        url = reverse(route.name, kwargs=OBJECT_URLS[route.name](other_retailer))

        # when an admin of a different retailer opens it or acts on it
        response = client.post(url) if route.is_state_changing else client.get(url)

        # then it does not exist for them
        if response.status_code != 404:
            failures.append(f"{route.name} {url} -> {response.status_code}")
    assert not failures, failures


@pytest.mark.django_db
def test_every_object_url_answers_in_the_users_own_retailer(client_for, admin_user, retailer):
    client = client_for(admin_user)
    failures = []
    for route in (
        r for r in ROUTES if r.kwarg_names and not r.is_state_changing and not r.is_public
    ):
        url = reverse(route.name, kwargs=OBJECT_URLS[route.name](retailer))
        response = client.get(url)
        if response.status_code != 200:
            failures.append(f"{route.name} {url} -> {response.status_code}")
    assert not failures, failures


STATE_CHANGING = [r for r in ROUTES if r.is_state_changing and not r.is_public]


def test_there_are_state_changing_urls_to_check():
    assert "logout" in {r.name for r in STATE_CHANGING}


@pytest.mark.parametrize("route", STATE_CHANGING, ids=str)
@pytest.mark.django_db
def test_state_changing_urls_refuse_get(client_for, admin_user, retailer, route):
    kwargs = OBJECT_URLS[route.name](retailer) if route.kwarg_names else {}
    response = client_for(admin_user).get(reverse(route.name, kwargs=kwargs))
    assert response.status_code == 405


@pytest.mark.parametrize("route", STATE_CHANGING, ids=str)
@pytest.mark.django_db
def test_state_changing_urls_refuse_a_post_without_csrf_token(
    client_for, admin_user, retailer, route
):
    # given a logged-in admin whose browser sends no CSRF token
    kwargs = OBJECT_URLS[route.name](retailer) if route.kwarg_names else {}
    client = client_for(admin_user, enforce_csrf_checks=True)

    # when they post to a state-changing URL
    response = client.post(reverse(route.name, kwargs=kwargs))

    # then it is refused and they are still logged in
    assert response.status_code == 403
    assert client.get(reverse("home")).status_code == 200


def test_public_urls_need_no_login(db):
    client = Client()
    for name in ("login", "healthz"):
        assert client.get(reverse(name)).status_code == 200
