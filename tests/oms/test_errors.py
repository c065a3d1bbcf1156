"""A request that fails tells the user what happened: a 503 with Retry-After when the database
is away (nothing was changed), a plain 500 page otherwise; the API answers in its error shape."""

import pytest
from django.db import InterfaceError, OperationalError

from oms import rls
from orders.views import OrderListView
from returns.api import views as returns_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_without_raising(client_for, agent):
    client = client_for(agent)
    client.raise_request_exception = False
    return client


def _raise(error):
    def view(*args, **kwargs):
        raise error

    return view


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("connection to server at 127.0.0.1 failed: Connection refused"),
        InterfaceError("the connection is lost"),
    ],
    ids=["refused", "lost"],
)
def test_a_page_whose_database_is_away_says_so_with_a_503(
    client_without_raising, monkeypatch, error
):
    # given the database drops while the order list is read
    monkeypatch.setattr(OrderListView, "get", _raise(error))

    # when the agent opens the list
    response = client_without_raising.get("/orders/")

    # then they are told the database is away, that nothing changed, and when to retry
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "The database is unavailable for a moment. Nothing was changed" in page
    assert "Server Error" not in page


def test_a_failure_in_a_middleware_gets_the_same_answer(client_without_raising, monkeypatch):
    # given the database refuses the statement that chooses the request's retailers
    monkeypatch.setattr(rls, "use_retailers", _raise(OperationalError("terminating connection")))

    # when the agent opens any page
    response = client_without_raising.get("/orders/")

    # then it is the same 503
    assert response.status_code == 503
    assert "Nothing was changed" in response.content.decode()


def test_any_other_failure_is_a_500_page_without_details(client_without_raising, monkeypatch):
    monkeypatch.setattr(OrderListView, "get", _raise(ZeroDivisionError("secret detail")))
    response = client_without_raising.get("/orders/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    assert "secret detail" not in response.content.decode()
    assert "Retry-After" not in response


def test_the_api_answers_a_database_outage_in_its_error_shape(client_without_raising, monkeypatch):
    # given the database is starting up when an API caller lists returns
    starting = OperationalError("the database system is starting up")
    monkeypatch.setattr(returns_api.ReturnCollectionView, "get", _raise(starting))

    # when they call
    response = client_without_raising.get("/api/v4.1/return")

    # then the answer is the API's error shape with a 503 to retry

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    message = response.json()["error"][0]
    assert message["code"] == "503"
    assert message["message"].startswith("Service Unavailable: The database is unavailable")


@pytest.mark.django_db
def test_an_api_address_nothing_answers_is_a_404_in_the_apis_shape(client):
    response = client.get("/api/v4.1/nothing-here")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"][0]["code"] == "404"


@pytest.mark.django_db
def test_a_page_address_nothing_answers_is_the_plain_404_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
