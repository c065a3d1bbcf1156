"""Settings in the product: an admin keeps locations, carriers and intake channels without Django
admin; an agent is not offered them and is refused."""

import json
import re

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from fulfilments.models import Carrier, Location
from oms.models import Activity
from orders.intake.models import IntakeChannel
from orders.intake.processing import signature
from tests.e2e.test_orders import _login
from tests.factories import CarrierFactory, LocationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_post(channel_url: str, secret: str) -> int:
    body = json.dumps({"id": "W-9"}).encode()
    return (
        Client()
        .post(
            channel_url,
            body,
            content_type="application/json",
            headers={"X-Signature": signature(secret, body)},
        )
        .status_code
    )


def test_an_admin_edits_a_location_a_carrier_and_rotates_a_channels_secret(
    page: Page, live_server, admin_user, retailer
):
    # given a warehouse, a carrier and a web store channel of the admin's retailer
    location = LocationFactory(
        retailer=retailer, ref="UTR", name="Utrecht DC", zones=["NL"], daily_capacity=100
    )
    carrier = CarrierFactory(retailer=retailer, name="PostNL", zones=["NL"], transit_days=2)
    channel = IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web store", kind="webstore", secret="0ld-secret-123"
    )
    page.on("dialog", lambda dialog: dialog.accept())
    _login(page, live_server, "admin")

    # when the admin goes from Settings to Locations and edits the warehouse
    page.get_by_role("link", name="Settings", exact=True).first.click()
    page.get_by_role("link", name=re.compile(r"^Locations")).click()
    expect(page.get_by_test_id("locations")).to_contain_text("Utrecht DC")
    page.get_by_role("link", name="Edit Utrecht DC").click()
    page.get_by_label("Ships to").fill("NL, BE, Germany")
    page.get_by_label("Daily capacity").fill("60")
    page.get_by_role("button", name="Save").click()

    # then the list shows the new zones and capacity, and the change is recorded
    expect(page.get_by_role("alert")).to_contain_text("Utrecht DC")
    row = page.get_by_test_id("locations").get_by_role("row", name="Utrecht DC")
    expect(row).to_contain_text("NL, BE, DE")
    expect(row).to_contain_text("60")
    location.refresh_from_db()
    assert (location.zones, location.daily_capacity) == (["NL", "BE", "DE"], 60)

    # and a country that does not exist is refused, naming it, and changes nothing
    page.get_by_role("link", name="Edit Utrecht DC").click()
    page.get_by_label("Ships to").fill("NL, Atlantis")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("edit-entry")).to_contain_text("'Atlantis' is not a country")
    expect(page.get_by_text("daily capacity 100 → 60")).to_be_visible()
    assert Location.objects.get(pk=location.pk).zones == ["NL", "BE", "DE"]

    # when the admin gives the carrier four transit days
    page.goto(f"{live_server.url}/settings/carriers/")
    page.get_by_role("link", name="Edit PostNL").click()
    page.get_by_label("Transit days").fill("4")
    page.get_by_role("button", name="Save").click()

    # then the carriers list says so
    row = page.get_by_test_id("carriers").get_by_role("row", name="PostNL")
    expect(row).to_contain_text("4")
    assert Carrier.objects.get(pk=carrier.pk).transit_days == 4

    # when the admin rotates the web store's secret
    page.goto(f"{live_server.url}/settings/intake-channels/")
    expect(page.get_by_test_id("channels")).to_contain_text("••••••••-123")
    page.get_by_role("link", name="Edit Web store").click()
    page.get_by_role("button", name="Rotate secret").click()

    # then the new secret is shown this once
    shown = page.get_by_test_id("secret-value").inner_text().strip()
    channel.refresh_from_db()
    assert shown == channel.secret and shown != "0ld-secret-123"
    # and on the next visit only its last characters are
    page.goto(f"{live_server.url}/settings/intake-channels/")
    expect(page.get_by_test_id("channels")).to_contain_text(f"••••••••{shown[-4:]}")
    expect(page.locator("body")).not_to_contain_text(shown)
    # and the old secret no longer works while the new one does
    url = f"/intake/{retailer.ref}/web/"
    assert _signed_post(url, "0ld-secret-123") == 401
    assert _signed_post(url, shown) == 202
    # and the rotation is recorded without the secret
    entry = Activity.objects.get(action="orders.intakechannel.secret_rotated")
    assert entry.actor == admin_user and shown not in json.dumps(entry.data)


def test_an_agent_is_not_offered_the_settings_and_is_refused(page: Page, live_server, agent):
    # given an agent logged in
    _login(page, live_server, "agent")

    # then the navigation offers no settings
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)

    # and each settings page refuses them, naming the role it needs
    for path in ("/settings/locations/", "/settings/carriers/", "/settings/intake-channels/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403
        expect(page.locator("body")).to_contain_text("Admin role")
