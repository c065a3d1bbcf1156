import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_login():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_database_and_an_in_process_broker():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": "ok",
        "broker": "in-process",
        "intake": "ok (0 waiting)",
        "outbox": "ok (nothing waiting)",
    }


def test_readyz_checks_the_real_broker(celery_broker):
    celery_broker()
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "ok"


def test_readyz_is_unavailable_when_the_broker_is_down(celery_broker):
    celery_broker("redis://127.0.0.1:1/0")
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error")
