"""The kernel's registries: filled by the apps in a fixed order, unchanged when an app's ready()
runs again, and refusing two entries that claim one place."""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from oms import global_search, health, inbox, metrics, retailer_defaults
from oms.models import Retailer
from oms.registry import Registry
from orders.models import OrderStatus
from returns.models import ReturnAction, ReturnCondition, ReturnReason


def registered() -> dict[str, list]:
    return {
        "queues": list(inbox._QUEUES.items()),
        "figures": list(inbox._FIGURES),
        "search": list(global_search._SEARCHES.items()),
        "checks": list(health._CHECKS.items()),
        "defaults": list(retailer_defaults._SETUPS.items()),
        "outboxes": list(metrics._OUTBOXES.items()),
        "collectors": list(metrics._COLLECTORS.items()),
    }


def names(entries: list) -> list[str]:
    return [name for name, _ in entries]


def test_the_apps_fill_the_registries_in_their_fixed_order():
    found = registered()
    assert names(found["queues"]) == [
        "fulfilments.escalated",
        "orders.payment_failed",
        "orders.at_risk",
        "returns.pending_refund",
        "orders.unanswered",
        "orders.on_hold",
        "orders.awaiting_payment",
        "orders.intake_failed",
        "orders.my_tasks",
    ]
    assert len(found["figures"]) == 1
    assert names(found["search"]) == ["orders", "returns", "customers", "fulfilments"]
    assert names(found["checks"]) == ["database", "broker", "intake", "outbox"]
    assert names(found["defaults"]) == ["orders.statuses", "returns.config"]
    assert names(found["outboxes"]) == [
        "emails",
        "payment_operations",
        "intake_messages",
        "bulk_jobs",
    ]
    assert names(found["collectors"]) == ["payment_operations", "intake"]


def test_running_every_ready_again_changes_no_registry():
    before = registered()
    for name in ("oms", "orders", "fulfilments", "returns", "customers", "billing"):
        apps.get_app_config(name).ready()
    assert registered() == before


def test_entries_follow_their_positions_whatever_the_order_they_come_in():
    registry: Registry[str] = Registry("thing")
    registry.register("c", "third", position=30)
    registry.register("a", "first", position=10)
    registry.register("b", "second", position=20)
    assert list(registry) == ["first", "second", "third"]
    assert names(list(registry.items())) == ["a", "b", "c"]


def test_registering_a_name_again_replaces_its_entry():
    registry: Registry[str] = Registry("thing")
    registry.register("a", "old", position=10)
    registry.register("b", "other", position=20)
    registry.register("a", "new", position=30)
    assert list(registry.items()) == [("b", "other"), ("a", "new")]
    assert len(registry) == 2


def test_two_names_cannot_share_a_position():
    registry: Registry[str] = Registry("thing")
    registry.register("a", "first", position=10)
    with pytest.raises(ImproperlyConfigured, match="'b' asks for position 10, which 'a' holds"):
        registry.register("b", "second", position=10)
    assert list(registry) == ["first"]


def test_the_lead_figures_come_from_one_app_only():
    def other_figures(user):
        raise AssertionError("never drawn")

    given = inbox._FIGURES[0]
    inbox.register_figures(given)
    with pytest.raises(
        ImproperlyConfigured, match=re.escape("come from orders.figures.lead_figures")
    ):
        inbox.register_figures(other_figures)
    assert len(inbox._FIGURES) == 1 and inbox._FIGURES[0] is given


@pytest.mark.django_db
def test_a_retailer_added_in_the_admin_gets_every_apps_defaults(client_for, django_user_model):
    # given a platform superuser
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x")

    # when they add a retailer in the Django admin
    response = client_for(root).post(
        "/django-admin/oms/retailer/add/",
        {
            "ref": "newco",
            "name": "New Co",
            "currency": "EUR",
            "time_zone": "Europe/Amsterdam",
            "languages": '["en"]',
            "is_active": "on",
            "created_at_0": "2025-01-01",
            "created_at_1": "10:00:00",
            "dates_from": "2000-01-01",
            "dates_ahead_days": "730",
        },
    )

    # then it has the default order statuses and return configuration
    assert response.status_code == 302
    retailer = Retailer.objects.get(ref="newco")
    assert OrderStatus.objects.filter(retailer=retailer).count() == 6
    assert ReturnReason.objects.filter(retailer=retailer).count() == 4
    assert ReturnAction.objects.filter(retailer=retailer).count() == 4
    assert ReturnCondition.objects.filter(retailer=retailer).count() == 3
