"""Admins keep locations (zones, daily capacity) and carriers (zones, transit days) in the
product: per retailer, bounded, recorded, and read by sourcing and the at-risk rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from fulfilments import configuration
from fulfilments.models import Carrier, Location
from fulfilments.services import eligible_locations
from oms.models import Activity
from oms.roles import Role
from orders.models import Order
from orders.risk import risk_conditions
from tests.factories import (
    CarrierFactory,
    LocationFactory,
    MembershipFactory,
    OrderFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _activity(record) -> list[Activity]:
    return list(
        Activity.objects.filter(target_type=record._meta.label_lower, target_id=str(record.pk))
    )


# -- services ----------------------------------------------------------------------------------


def test_an_admin_changes_a_locations_zones_and_capacity_and_it_is_recorded(retailer, admin_user):
    # given a warehouse shipping to the Netherlands, 100 a day
    location = LocationFactory(retailer=retailer, zones=["NL"], daily_capacity=100)

    # when an admin lets it ship to Belgium and Germany too, 40 a day
    configuration.location_update(
        location=location, by=admin_user, zones=["nl", "BE", "Germany"], daily_capacity=40
    )

    # then it holds ISO codes, each once, and the change is recorded with before and after
    location.refresh_from_db()
    assert (location.zones, location.daily_capacity) == (["NL", "BE", "DE"], 40)
    (entry,) = _activity(location)
    assert entry.action == "fulfilments.location.updated" and entry.actor == admin_user
    assert entry.data["before"] == {"zones": ["NL"], "daily_capacity": 100}
    assert entry.data["after"] == {"zones": ["NL", "BE", "DE"], "daily_capacity": 40}
    assert "daily capacity 100 → 40" in entry.data["changes"]


def test_sourcing_reads_the_zones_an_admin_set(retailer, admin_user):
    # given an order to Germany and a warehouse and carrier that only serve the Netherlands
    location = LocationFactory(retailer=retailer, zones=["NL"])
    carrier = CarrierFactory(retailer=retailer, zones=["NL"])
    order = OrderFactory(retailer=retailer, lines=1, billing_address__country="DE")
    assert eligible_locations(order)[0] == []

    # when an admin adds Germany to both
    configuration.carrier_update(carrier=carrier, by=admin_user, zones=["NL", "DE"])
    configuration.location_update(location=location, by=admin_user, zones=["NL", "DE"])

    # then the warehouse may source the order
    assert eligible_locations(order)[0] == [location]


def test_a_carriers_transit_days_move_the_at_risk_flag(retailer, admin_user):
    # given an order promised in four days, carried by a carrier of two transit days
    carrier = CarrierFactory(retailer=retailer, name="PostNL", transit_days=2)
    order = OrderFactory(
        retailer=retailer,
        lines=1,
        carrier="PostNL",
        promised_date=timezone.localdate() + timedelta(days=4),
    )

    def at_risk() -> bool:
        late = risk_conditions([retailer.pk])["late_for_carrier"]
        return Order.objects.filter(late, pk=order.pk).exists()

    assert not at_risk()

    # when an admin says the carrier takes five days
    configuration.carrier_update(carrier=carrier, by=admin_user, transit_days=5)

    # then the order is at risk of missing its promised date
    assert at_risk()


@pytest.mark.parametrize(
    "values, field",
    [
        ({"zones": ["NL", "XX"]}, "zones"),
        ({"zones": ["Atlantis"]}, "zones"),
        ({"daily_capacity": -1}, "daily_capacity"),
        ({"daily_capacity": "٣"}, "daily_capacity"),
        ({"daily_capacity": configuration.MOST_CAPACITY + 1}, "daily_capacity"),
        ({"name": "x" * 201}, "name"),
        ({"name": "  "}, "name"),
        ({"country": "Narnia"}, "country"),
        ({"type": "castle"}, "type"),
    ],
)
def test_a_location_out_of_bounds_is_refused_and_nothing_changes(
    retailer, admin_user, values, field
):
    location = LocationFactory(retailer=retailer, zones=["NL"], daily_capacity=100)

    with pytest.raises(ValidationError) as refused:
        configuration.location_update(location=location, by=admin_user, **values)

    assert field in refused.value.error_dict
    assert Location.objects.filter(pk=location.pk, zones=["NL"], daily_capacity=100).exists()
    assert not _activity(location)


def test_every_unknown_country_is_named(retailer, admin_user):
    with pytest.raises(ValidationError) as refused:
        configuration.carrier_create(
            retailer_id=retailer.pk,
            by=admin_user,
            name="DHL",
            zones=["XX", "NL", "YY"],
            transit_days=1,
        )
    said = " ".join(refused.value.message_dict["zones"])
    assert "'XX'" in said and "'YY'" in said
    assert not Carrier.objects.exists()


def test_transit_days_are_bounded(retailer, admin_user):
    carrier = CarrierFactory(retailer=retailer, transit_days=2)
    with pytest.raises(ValidationError):
        configuration.carrier_update(
            carrier=carrier, by=admin_user, transit_days=configuration.MOST_TRANSIT_DAYS + 1
        )
    carrier.refresh_from_db()
    assert carrier.transit_days == 2


def test_refs_and_carrier_names_are_unique_per_retailer(retailer, other_retailer, admin_user):
    LocationFactory(retailer=retailer, ref="WH-1")
    CarrierFactory(retailer=retailer, name="DHL")
    with pytest.raises(ValidationError):
        configuration.location_create(
            retailer_id=retailer.pk,
            by=admin_user,
            ref="wh-1",
            name="Second",
            zones=["NL"],
            daily_capacity=10,
        )
    with pytest.raises(ValidationError):
        configuration.carrier_create(
            retailer_id=retailer.pk, by=admin_user, name="dhl", zones=[], transit_days=1
        )
    # the same names are free in another retailer
    MembershipFactory(user=admin_user, retailer=other_retailer, role=Role.ADMIN)
    admin_user._oms_roles = None
    configuration.carrier_create(
        retailer_id=other_retailer.pk, by=admin_user, name="DHL", zones=[], transit_days=1
    )


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER])
def test_only_an_admin_changes_the_network(retailer, role):
    user = MembershipFactory(retailer=retailer, role=role).user
    location = LocationFactory(retailer=retailer, daily_capacity=100)
    carrier = CarrierFactory(retailer=retailer, transit_days=2)
    with pytest.raises(PermissionDenied):
        configuration.location_update(location=location, by=user, daily_capacity=5)
    with pytest.raises(PermissionDenied):
        configuration.carrier_update(carrier=carrier, by=user, transit_days=9)
    with pytest.raises(PermissionDenied):
        configuration.location_toggle(location=location, by=user)
    location.refresh_from_db()
    carrier.refresh_from_db()
    assert (location.daily_capacity, location.is_active, carrier.transit_days) == (100, True, 2)


def test_an_admin_of_one_retailer_cannot_change_anothers(retailer, other_retailer):
    # given a user who is admin of Acme and agent of Globex
    user = UserFactory()
    MembershipFactory(user=user, retailer=retailer, role=Role.ADMIN)
    MembershipFactory(user=user, retailer=other_retailer, role=Role.AGENT)
    theirs = LocationFactory(retailer=other_retailer, daily_capacity=100)
    carrier = CarrierFactory(retailer=other_retailer)

    # when they change Globex's location and carrier, through the services and the pages
    with pytest.raises(PermissionDenied):
        configuration.location_update(location=theirs, by=user, daily_capacity=1)
    with pytest.raises(PermissionDenied):
        configuration.carrier_toggle(carrier=carrier, by=user)
    with pytest.raises(PermissionDenied):
        configuration.location_create(
            retailer_id=other_retailer.pk, by=user, ref="X", name="X", zones=[], daily_capacity=1
        )

    # then nothing changed
    theirs.refresh_from_db()
    carrier.refresh_from_db()
    assert theirs.daily_capacity == 100 and carrier.is_available
    assert not Activity.objects.exists()


def test_a_deactivated_location_is_kept_and_no_longer_sources(retailer, admin_user):
    location = LocationFactory(retailer=retailer, zones=["NL"])
    CarrierFactory(retailer=retailer, zones=["NL"])
    order = OrderFactory(retailer=retailer, lines=1, billing_address__country="NL")

    configuration.location_toggle(location=location, by=admin_user)

    assert Location.objects.get(pk=location.pk).is_active is False
    assert eligible_locations(order)[0] == []
    assert [e.action for e in _activity(location)] == ["fulfilments.location.deactivated"]


# -- pages -------------------------------------------------------------------------------------


def test_the_settings_page_links_to_locations_carriers_and_channels(client_for, admin_user):
    page = client_for(admin_user).get(reverse("settings")).content.decode()
    for name in ("fulfilment_settings:locations", "fulfilment_settings:carriers"):
        assert f'href="{reverse(name)}"' in page
    assert f'href="{reverse("channel_settings:list")}"' in page


def test_the_locations_page_lists_only_the_retailers_locations_with_todays_load(
    client_for, admin_user, retailer, other_retailer
):
    LocationFactory(retailer=retailer, name="Utrecht DC", zones=["NL", "BE"], daily_capacity=70)
    LocationFactory(retailer=other_retailer, name="Globex shed")

    response = client_for(admin_user).get(reverse("fulfilment_settings:locations"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Utrecht DC" in page and "NL, BE" in page and ">70<" in page
    assert "Globex shed" not in page


def test_an_admin_adds_a_location_from_the_page(client_for, admin_user, retailer):
    response = client_for(admin_user).post(
        reverse("fulfilment_settings:locations"),
        {
            "retailer": retailer.pk,
            "ref": "AMS",
            "name": "Amsterdam store",
            "type": "store",
            "zones": "NL, Belgium",
            "daily_capacity": "25",
            "country": "nl",
        },
    )
    assert response.status_code == 302
    location = Location.objects.get(retailer=retailer, ref="AMS")
    assert (location.zones, location.daily_capacity, location.country) == (["NL", "BE"], 25, "NL")
    assert _activity(location)[0].actor == admin_user


def test_a_bad_zone_on_the_page_says_which_and_changes_nothing(client_for, admin_user, retailer):
    location = LocationFactory(retailer=retailer, zones=["NL"], daily_capacity=100)
    response = client_for(admin_user).post(
        reverse("fulfilment_settings:location_edit", args=[location.pk]),
        {"name": location.name, "type": "warehouse", "zones": "NL, Mordor", "daily_capacity": "5"},
    )
    assert response.status_code == 400
    assert "&#x27;Mordor&#x27; is not a country" in response.content.decode()
    location.refresh_from_db()
    assert (location.zones, location.daily_capacity) == (["NL"], 100)


def test_an_admin_edits_a_carriers_transit_days_from_the_page(client_for, admin_user, retailer):
    carrier = CarrierFactory(retailer=retailer, name="PostNL", zones=["NL"], transit_days=2)
    client = client_for(admin_user)
    page = client.get(reverse("fulfilment_settings:carrier_edit", args=[carrier.pk]))
    assert 'value="PostNL"' in page.content.decode()

    response = client.post(
        reverse("fulfilment_settings:carrier_edit", args=[carrier.pk]),
        {"name": "PostNL", "zones": "NL", "transit_days": "3"},
    )

    assert response.status_code == 302
    carrier.refresh_from_db()
    assert carrier.transit_days == 3
    history = client.get(reverse("fulfilment_settings:carrier_edit", args=[carrier.pk]))
    assert "transit days 2 → 3" in history.content.decode()


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER])
def test_the_pages_are_refused_below_admin(client_for, retailer, role):
    user = MembershipFactory(retailer=retailer, role=role).user
    location = LocationFactory(retailer=retailer, daily_capacity=100)
    client = client_for(user)
    for url in (
        reverse("fulfilment_settings:locations"),
        reverse("fulfilment_settings:carriers"),
        reverse("fulfilment_settings:location_edit", args=[location.pk]),
    ):
        assert client.get(url).status_code == 403
    response = client.post(
        reverse("fulfilment_settings:location_edit", args=[location.pk]),
        {"name": "X", "type": "warehouse", "zones": "NL", "daily_capacity": "1"},
    )
    assert response.status_code == 403
    location.refresh_from_db()
    assert location.daily_capacity == 100


def test_another_retailers_location_is_not_found(client_for, admin_user, other_retailer):
    theirs = LocationFactory(retailer=other_retailer)
    url = reverse("fulfilment_settings:location_edit", args=[theirs.pk])
    assert client_for(admin_user).get(url).status_code == 404
