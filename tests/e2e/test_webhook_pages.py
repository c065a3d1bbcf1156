"""An admin adds a webhook endpoint in Settings, copies its secret, and redelivers a failed
delivery from the deliveries page: the receiver gets the same event, signed with that secret."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from oms.models import WebhookDelivery, WebhookEndpoint
from oms.webhooks import signing
from tests.e2e.test_orders import _login
from tests.factories import OrderFactory
from tests.oms import webhook_receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the receiver listens on 127.0.0.1
    found = webhook_receiver.start()
    yield found
    webhook_receiver.stop(found)


def test_an_admin_adds_an_endpoint_and_redelivers_a_failed_delivery(
    page: Page, live_server, admin_user, retailer, receiver
):
    page.on("dialog", lambda dialog: dialog.accept())
    _login(page, live_server, "admin")

    # when the admin goes from Settings to Webhooks and adds an endpoint for two events
    page.get_by_role("link", name="Settings", exact=True).first.click()
    page.get_by_role("link", name=re.compile(r"^Webhooks")).click()
    expect(page.get_by_test_id("endpoints")).to_contain_text("No endpoints yet.")
    form = page.get_by_test_id("add-endpoint")
    form.get_by_label("URL").fill(receiver.url)
    form.get_by_label("Description").fill("Warehouse system")
    form.get_by_label("order.created").check()
    form.get_by_label("order.cancelled").check()
    form.get_by_role("button", name="Add endpoint").click()

    # then its secret is shown this once
    shown = page.get_by_test_id("secret-value").inner_text().strip()
    endpoint = WebhookEndpoint.objects.get()
    assert shown == endpoint.secret and shown.startswith("whsec_")
    assert endpoint.events == ["order.created", "order.cancelled"]
    # and the list shows it, its secret masked
    page.get_by_role("link", name="Webhooks").first.click()
    table = page.get_by_test_id("endpoints")
    expect(table).to_contain_text("Warehouse system")
    expect(table).to_contain_text(shown[-4:])
    expect(page.locator("body")).not_to_contain_text(shown)

    # given a delivery to it that failed after its last attempt
    order = OrderFactory(retailer=retailer, ref="WEB-1001")
    event_id = uuid.uuid4()
    payload = {
        "id": str(event_id),
        "type": "order.created",
        "version": 1,
        "created_at": "2026-12-05T10:00:00.000000Z",
        "retailer": retailer.ref,
        "sequence": 1,
        "data": {"order": {"id": order.pk, "ref": "WEB-1001"}},
    }
    failed = WebhookDelivery.objects.create(
        retailer=retailer,
        endpoint=endpoint,
        event="order.created",
        event_id=event_id,
        payload=payload,
        status=WebhookDelivery.Status.FAILED,
        attempts=7,
        response_code=503,
        error="HTTP 503",
        record_label="orders.order",
        record_id=str(order.pk),
        record_ref="WEB-1001",
    )

    # when the admin opens its deliveries and presses Redeliver
    page.get_by_role("link", name=f"Deliveries to {receiver.url}").click()
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Failed")
    expect(rows.first.get_by_role("link", name="WEB-1001")).to_have_attribute(
        "href", f"/orders/{order.pk}/"
    )
    rows.first.get_by_role("button", name="Redeliver").click()

    # then the page says so and lists the new delivery, which the receiver got, signed
    expect(page.get_by_role("alert").first).to_contain_text("queued for redelivery")
    again = WebhookDelivery.objects.exclude(pk=failed.pk).get()
    assert again.redelivery_of_id == failed.pk
    assert receiver.wait_for(1)
    (got,) = receiver.requests
    assert got.json == payload
    assert got.headers["OMS-Webhook-Id"] == str(event_id)
    assert signing.verify(shown, got.headers, got.body)
    page.reload()
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Delivered")
    again.refresh_from_db()
    assert again.status == WebhookDelivery.Status.DELIVERED and again.response_code == 200

    # and the delivery's page shows what was sent
    rows.first.get_by_role("link").first.click()
    expect(page.get_by_test_id("delivery-payload")).to_contain_text('"ref": "WEB-1001"')
    expect(page.get_by_test_id("delivery-headers")).to_contain_text(str(event_id))
    expect(page.locator("body")).not_to_contain_text(shown)
