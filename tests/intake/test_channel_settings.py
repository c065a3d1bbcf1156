"""Admins keep intake channels in the product: name, format, rules as form fields, and a secret
that is rotated, shown once and never recorded."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from oms.models import Activity
from oms.roles import Role
from orders.intake import channels
from orders.intake.models import IntakeChannel, IntakeMessage
from tests.factories import MembershipFactory, UserFactory
from tests.intake.test_intake import WEBSTORE, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(retailer):
    return IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web store", kind="webstore", secret="old-s3cret-value"
    )


def _activity(channel) -> list[Activity]:
    return list(
        Activity.objects.filter(target_type="orders.intakechannel", target_id=str(channel.pk))
    )


def test_a_rotated_secret_refuses_the_old_signature_and_takes_the_new(
    web, admin_user, caplog, django_capture_on_commit_callbacks
):
    # given a channel whose sender signs with its current secret
    old = IntakeChannel.objects.get(pk=web.pk)
    assert send(old, WEBSTORE).status_code == 202

    # when an admin rotates the secret
    with caplog.at_level(logging.DEBUG):
        rotated = channels.channel_rotate_secret(channel=web, by=admin_user)

    # then a message signed with the old secret is refused and nothing is stored
    stored = IntakeMessage.objects.count()
    payload = {**copy.deepcopy(WEBSTORE), "id": "W-2002"}
    assert send(old, payload).status_code == 401
    assert IntakeMessage.objects.count() == stored
    # and one signed with the new secret is taken
    assert rotated.secret != "old-s3cret-value" and len(rotated.secret) >= 32
    assert send(rotated, payload).status_code == 202
    # and the activity says it was replaced, never what either secret is
    (entry,) = _activity(web)
    assert entry.action == "orders.intakechannel.secret_rotated" and entry.actor == admin_user
    recorded = json.dumps(entry.data)
    assert rotated.secret not in recorded and "old-s3cret-value" not in recorded
    assert rotated.secret not in caplog.text


def test_the_page_shows_the_new_secret_once_and_masked_afterwards(client_for, admin_user, web):
    client = client_for(admin_user)

    # when an admin rotates the secret on the channel's page
    response = client.post(reverse("channel_settings:rotate", args=[web.pk]))

    # then the answer shows the new secret
    web.refresh_from_db()
    page = response.content.decode()
    assert response.status_code == 200
    assert web.secret in page and "it is not shown again" in page
    # and the channel's page and the list show it masked from then on
    for url in (reverse("channel_settings:edit", args=[web.pk]), reverse("channel_settings:list")):
        again = client.get(url).content.decode()
        assert web.secret not in again
        assert f"••••••••{web.secret[-4:]}" in again


def test_an_admin_sets_the_rules_processing_reads(
    client_for, admin_user, web, django_capture_on_commit_callbacks
):
    # when an admin asks for a phone number on every order of the channel
    response = client_for(admin_user).post(
        reverse("channel_settings:edit", args=[web.pk]),
        {
            "name": "Web store",
            "kind": "webstore",
            "require_phone": "on",
            "total_tolerance": "0.50",
        },
    )

    # then the rules hold it, and an order without a phone is rejected for it
    assert response.status_code == 302
    web.refresh_from_db()
    assert web.rules == {
        "require_phone": True,
        "require_known_sku": False,
        "total_tolerance": "0.50",
    }
    payload = copy.deepcopy(WEBSTORE)
    payload["customer"] = {**payload["customer"], "phone": ""}
    with django_capture_on_commit_callbacks(execute=True):
        answer = send(web, payload)
    assert IntakeMessage.objects.get(pk=answer.json()["id"]).reasons == [
        "customer.phone: required by this channel"
    ]
    # and the change is recorded in words
    (entry,) = _activity(web)
    assert "require phone no → yes" in entry.data["changes"]
    assert "total tolerance 0.01 → 0.50" in entry.data["changes"]


def test_rules_the_form_does_not_know_are_kept(admin_user, web):
    web.rules = {"require_phone": True, "legacy_switch": "on"}
    web.save()
    channels.channel_update(channel=web, by=admin_user, require_phone=False)
    web.refresh_from_db()
    assert web.rules == {"require_phone": False, "legacy_switch": "on"}


@pytest.mark.parametrize(
    "values, field",
    [
        ({"total_tolerance": "-1"}, "total_tolerance"),
        ({"total_tolerance": "NaN"}, "total_tolerance"),
        ({"total_tolerance": "1000.01"}, "total_tolerance"),
        ({"kind": "fax"}, "kind"),
        ({"name": ""}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"require_phone": "yes"}, "require_phone"),
    ],
)
def test_a_channel_out_of_bounds_is_refused_and_nothing_changes(admin_user, web, values, field):
    with pytest.raises(ValidationError) as refused:
        channels.channel_update(channel=web, by=admin_user, **values)
    assert field in refused.value.error_dict
    fresh = IntakeChannel.objects.get(pk=web.pk)
    assert (fresh.name, fresh.kind, fresh.rules) == ("Web store", "webstore", {})
    assert not _activity(web)


def test_a_new_channel_gets_its_own_secret_shown_once(client_for, admin_user, retailer):
    response = client_for(admin_user).post(
        reverse("channel_settings:list"),
        {
            "retailer": retailer.pk,
            "code": "bol",
            "name": "Bol.com",
            "kind": "marketplace",
            "total_tolerance": "0.01",
        },
    )
    channel = IntakeChannel.objects.get(retailer=retailer, code="bol")
    assert response.status_code == 200
    assert channel.secret in response.content.decode()
    (entry,) = _activity(channel)
    assert entry.action == "orders.intakechannel.created"
    assert channel.secret not in json.dumps(entry.data)


def test_a_channel_code_is_unique_per_retailer_and_a_slug(admin_user, retailer, web):
    for code in ("web", "not a slug", "x" * 51):
        with pytest.raises(ValidationError):
            channels.channel_create(
                retailer_id=retailer.pk, by=admin_user, code=code, name="X", kind="webstore"
            )
    assert IntakeChannel.objects.count() == 1


def test_a_deactivated_channel_takes_no_messages(admin_user, web):
    channels.channel_toggle(channel=web, by=admin_user)
    assert send(web, WEBSTORE).status_code == 404
    channels.channel_toggle(channel=web, by=admin_user)
    assert send(web, WEBSTORE).status_code == 202


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER])
def test_only_an_admin_rotates_or_edits(client_for, retailer, web, role):
    user = MembershipFactory(retailer=retailer, role=role).user
    with pytest.raises(PermissionDenied):
        channels.channel_rotate_secret(channel=web, by=user)
    client = client_for(user)
    assert client.post(reverse("channel_settings:rotate", args=[web.pk])).status_code == 403
    assert client.get(reverse("channel_settings:edit", args=[web.pk])).status_code == 403
    assert client.get(reverse("channel_settings:list")).status_code == 403
    web.refresh_from_db()
    assert web.secret == "old-s3cret-value"


def test_an_admin_of_one_retailer_cannot_rotate_anothers_secret(
    client_for, retailer, other_retailer
):
    user = UserFactory()
    MembershipFactory(user=user, retailer=retailer, role=Role.ADMIN)
    theirs = IntakeChannel.objects.create(
        retailer=other_retailer, code="web", name="Globex web", kind="webstore", secret="g10bex"
    )
    with pytest.raises(PermissionDenied):
        channels.channel_rotate_secret(channel=theirs, by=user)
    response = client_for(user).post(reverse("channel_settings:rotate", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.secret == "g10bex"


def test_the_list_counts_the_last_days_messages(client_for, admin_user, retailer, web):
    for status in ("ACCEPTED", "ACCEPTED", "REJECTED"):
        IntakeMessage.objects.create(retailer=retailer, channel=web, body="{}", status=status)
    page = client_for(admin_user).get(reverse("channel_settings:list")).content.decode()
    assert ">3<" in page and ">1<" in page and "old-s3cret-value" not in page


SHOPIFY_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"


def test_an_admin_sets_the_secret_the_platform_signs_with(client_for, admin_user, web):
    client = client_for(admin_user)

    # when an admin pastes the platform's signing key on the channel's page
    response = client.post(
        reverse("channel_settings:set_secret", args=[web.pk]), {"secret": f"  {SHOPIFY_KEY} "}
    )

    # then the channel signs with it from now on, and the page shows it masked only
    assert response.status_code == 302
    web.refresh_from_db()
    assert web.secret == SHOPIFY_KEY
    page = client.get(reverse("channel_settings:edit", args=[web.pk])).content.decode()
    assert SHOPIFY_KEY not in page and f"••••••••{SHOPIFY_KEY[-4:]}" in page
    old = IntakeChannel(pk=web.pk, retailer=web.retailer, code=web.code, secret="old-s3cret-value")
    assert send(old, WEBSTORE).status_code == 401
    assert send(web, WEBSTORE).status_code == 202
    # and the activity says it was set, never what it is
    (entry,) = _activity(web)
    assert entry.action == "orders.intakechannel.secret_set"
    assert SHOPIFY_KEY not in json.dumps(entry.data)


@pytest.mark.parametrize(
    "secret, said",
    [
        ("short", "16 to 100 characters"),
        ("x" * 101, "100 characters"),
        ("has a space in the middle!", "no spaces"),
        ("tab\there-and-long-enough", "no spaces"),
    ],
)
def test_a_secret_out_of_bounds_is_refused_and_the_old_one_stays(
    client_for, admin_user, web, secret, said
):
    response = client_for(admin_user).post(
        reverse("channel_settings:set_secret", args=[web.pk]), {"secret": secret}
    )
    assert response.status_code == 400 and said in response.content.decode()
    web.refresh_from_db()
    assert web.secret == "old-s3cret-value" and not _activity(web)


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER])
def test_only_an_admin_sets_a_secret(client_for, retailer, web, role):
    user = MembershipFactory(retailer=retailer, role=role).user
    with pytest.raises(PermissionDenied):
        channels.channel_set_secret(channel=web, by=user, secret=SHOPIFY_KEY)
    url = reverse("channel_settings:set_secret", args=[web.pk])
    assert client_for(user).post(url, {"secret": SHOPIFY_KEY}).status_code == 403
    web.refresh_from_db()
    assert web.secret == "old-s3cret-value"


def test_an_admin_of_one_retailer_cannot_set_anothers_secret(client_for, retailer, other_retailer):
    user = UserFactory()
    MembershipFactory(user=user, retailer=retailer, role=Role.ADMIN)
    theirs = IntakeChannel.objects.create(
        retailer=other_retailer, code="web", name="Globex web", kind="webstore", secret="g10bex"
    )
    url = reverse("channel_settings:set_secret", args=[theirs.pk])
    assert client_for(user).post(url, {"secret": SHOPIFY_KEY}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.secret == "g10bex"
