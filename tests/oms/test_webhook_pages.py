"""Admins keep webhook endpoints in Settings (add, edit, switch off, rotate the secret, delete)
and follow every delivery to them: its answer, its payload and headers, and a redelivery."""

from __future__ import annotations

import html
import json
import re
import textwrap
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR

from oms.models import Activity, WebhookDelivery, WebhookEndpoint
from oms.roles import Role
from oms.webhooks import schema as webhook_schema
from oms.webhooks import services, signing
from tests.factories import MembershipFactory, OrderFactory, RetailerFactory, UserFactory

pytestmark = pytest.mark.django_db

D = WebhookDelivery.Status
LIST = reverse("webhook_settings:list")
DELIVERIES = reverse("webhook_settings:deliveries")

# Queries per page on a warm process; raising one is a review decision.
BUDGETS = {"endpoints": 5, "deliveries": 7, "endpoint deliveries": 7, "delivery": 6}


def _endpoint(retailer, url="https://erp.example.com/hooks", events=("order.created",), **kw):
    return WebhookEndpoint.objects.create(retailer=retailer, url=url, events=list(events), **kw)


def _delivery(endpoint, *, event="order.created", status=D.DELIVERED, ago=0, **kw):
    at = timezone.now() - timedelta(minutes=ago)
    fields = {
        "retailer_id": endpoint.retailer_id,
        "endpoint": endpoint,
        "event": event,
        "event_id": uuid.uuid4(),
        "payload": {"id": "x", "type": event, "version": 1, "data": {"order": {"ref": "WEB-1"}}},
        "status": status,
        "attempts": 1,
        "created_at": at,
        "last_attempt_at": at,
        "response_code": 200 if status == D.DELIVERED else None,
        "latency_ms": 42,
    }
    return WebhookDelivery.objects.create(**(fields | kw))


def _page(response) -> str:
    return html.unescape(response.content.decode())


def test_an_admin_sees_their_retailers_endpoints_and_how_they_fare(
    client_for, admin_user, retailer, other_retailer
):
    # given an endpoint with a failure in the last day, and another retailer's endpoint
    ours = _endpoint(retailer, description="ERP order feed")
    _delivery(ours, status=D.FAILED, ago=30, error="Connection refused")
    _delivery(ours, status=D.FAILED, ago=60 * 30)  # older than a day
    _delivery(ours, status=D.DELIVERED, ago=5)
    _endpoint(other_retailer, url="https://globex.example.com/secret-hook")

    # when the admin opens the webhooks settings
    response = client_for(admin_user).get(LIST)

    # then their endpoint is listed with its events, last delivery and failures of the day
    page = _page(response)
    assert response.status_code == 200
    assert "https://erp.example.com/hooks" in page and "ERP order feed" in page
    assert "order.created" in page and "Delivered" in page
    (row,) = response.context["endpoints"]
    assert (row.failed_day, row.pending, row.last_status) == (1, 0, D.DELIVERED)
    # the secret only masked, and nothing of the other retailer
    assert ours.secret not in page and services.masked(ours.secret) in page
    assert "globex.example.com" not in page
    # and the settings home links the page
    assert f'href="{LIST}"' in client_for(admin_user).get(reverse("settings")).content.decode()


def test_another_retailers_endpoint_and_deliveries_are_404s(client_for, admin_user, other_retailer):
    theirs = _endpoint(other_retailer)
    delivery = _delivery(theirs)
    client = client_for(admin_user)

    for url in (
        reverse("webhook_settings:edit", args=[theirs.pk]),
        reverse("webhook_settings:endpoint_deliveries", args=[theirs.pk]),
        reverse("webhook_settings:delivery", args=[delivery.pk]),
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        reverse("webhook_settings:toggle", args=[theirs.pk]),
        reverse("webhook_settings:rotate", args=[theirs.pk]),
        reverse("webhook_settings:delete", args=[theirs.pk]),
        reverse("webhook_settings:redeliver", args=[delivery.pk]),
    ):
        assert client.post(url).status_code == 404, url
    # nothing of theirs changed, and their deliveries are not listed
    theirs.refresh_from_db()
    assert theirs.is_active and WebhookDelivery.objects.count() == 1
    assert client.get(DELIVERIES).context["table"].page.paginator.count == 0


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER])
def test_agents_and_managers_are_refused_as_in_the_other_settings(client_for, retailer, role):
    # given a member of the retailer below the admin role
    user = MembershipFactory(user=UserFactory(), retailer=retailer, role=role).user
    endpoint = _endpoint(retailer)
    delivery = _delivery(endpoint)
    client = client_for(user)

    # then every page and action is refused, naming the role, and nothing changes
    for url in (
        LIST,
        DELIVERIES,
        reverse("webhook_settings:edit", args=[endpoint.pk]),
        reverse("webhook_settings:endpoint_deliveries", args=[endpoint.pk]),
        reverse("webhook_settings:delivery", args=[delivery.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Admin" in response.content.decode()
    for url in (
        LIST,
        reverse("webhook_settings:toggle", args=[endpoint.pk]),
        reverse("webhook_settings:rotate", args=[endpoint.pk]),
        reverse("webhook_settings:delete", args=[endpoint.pk]),
        reverse("webhook_settings:redeliver", args=[delivery.pk]),
    ):
        data = {"url": "https://x.example.com/", "events": ["order.created"]}
        assert client.post(url, data).status_code == 403, url
    endpoint.refresh_from_db()
    assert endpoint.is_active and WebhookEndpoint.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1 and not Activity.objects.exists()
    # and the settings home does not offer the page
    assert client.get(reverse("settings")).status_code == 403


def test_a_bad_url_is_shown_by_the_field_and_nothing_is_added(client_for, admin_user, retailer):
    response = client_for(admin_user).post(
        LIST,
        {
            "retailer": retailer.pk,
            "url": "ftp://erp.example.com/hooks",
            "description": "ERP",
            "events": ["order.created", "return.created"],
        },
    )

    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["url"] == ["Give an http:// or https:// URL with a host."]
    page = _page(response)
    assert "Give an http:// or https:// URL with a host." in page
    # what was typed and ticked is still there
    assert 'value="ftp://erp.example.com/hooks"' in page
    ticked = re.findall(r'value="([a-z._]+)" id="event-\d+" checked', page)
    assert ticked == ["order.created", "return.created"]
    assert not WebhookEndpoint.objects.exists() and not Activity.objects.exists()


def test_no_event_ticked_is_refused_by_the_field(client_for, admin_user, retailer):
    response = client_for(admin_user).post(
        LIST, {"retailer": retailer.pk, "url": "https://erp.example.com/hooks"}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["events"] == ["Choose at least one event to send."]
    assert "Choose at least one event to send." in _page(response)
    assert not WebhookEndpoint.objects.exists()


def test_the_secret_is_shown_once_when_added_and_when_rotated(client_for, admin_user, retailer):
    client = client_for(admin_user)

    # when an admin adds an endpoint
    response = client.post(
        LIST,
        {
            "retailer": retailer.pk,
            "url": "https://erp.example.com/hooks",
            "events": ["order.cancelled", "order.created"],
        },
    )

    # then the answer shows its secret, this once
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 200
    assert endpoint.secret in _page(response) and "it is not shown again" in _page(response)
    assert endpoint.events == ["order.created", "order.cancelled"]
    # and the list and the endpoint's page show it masked from then on
    for url in (LIST, reverse("webhook_settings:edit", args=[endpoint.pk])):
        again = _page(client.get(url))
        assert endpoint.secret not in again and services.masked(endpoint.secret) in again

    # when the admin rotates it, the new one is shown once, the old one is gone
    old = endpoint.secret
    rotated = client.post(reverse("webhook_settings:rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in _page(rotated)
    assert endpoint.secret not in _page(client.get(LIST))


def test_an_admin_edits_switches_off_and_deletes_an_endpoint(client_for, admin_user, retailer):
    endpoint = _endpoint(retailer)
    _delivery(endpoint)
    client = client_for(admin_user)
    edit = reverse("webhook_settings:edit", args=[endpoint.pk])

    # a change refused by the service is shown by the field, and nothing changes
    refused = client.post(edit, {"url": "https://user:pw@erp.example.com/", "events": ["x"]})
    assert refused.status_code == 400 and "Select a valid choice" in _page(refused)
    refused = client.post(
        edit, {"url": "https://user:pw@erp.example.com/", "events": ["order.shipped"]}
    )
    assert refused.status_code == 400
    assert "Leave the user name and password out of the URL." in _page(refused)
    endpoint.refresh_from_db()
    assert endpoint.url == "https://erp.example.com/hooks"

    # a valid change is saved
    saved = client.post(
        edit,
        {"url": "https://erp.example.com/v2", "description": "v2", "events": ["order.shipped"]},
    )
    assert saved.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description, endpoint.events) == (
        "https://erp.example.com/v2",
        "v2",
        ["order.shipped"],
    )

    # switched off and on again
    client.post(reverse("webhook_settings:toggle", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "Deactivated" in _page(client.get(LIST))
    client.post(reverse("webhook_settings:toggle", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.is_active

    # deleted, with its deliveries, and recorded
    response = client.post(reverse("webhook_settings:delete", args=[endpoint.pk]), follow=True)
    assert "Endpoint https://erp.example.com/v2 deleted." in _page(response)
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert Activity.objects.filter(action="oms.webhookendpoint.deleted").count() == 1


def test_an_admin_of_two_retailers_adds_to_the_one_chosen(client_for, admin_user, other_retailer):
    MembershipFactory(user=admin_user, retailer=other_retailer, role=Role.ADMIN)
    client = client_for(admin_user)

    page = _page(client.get(LIST))
    assert 'name="retailer"' in page and "Globex Home" in page
    response = client.post(
        LIST,
        {
            "retailer": other_retailer.pk,
            "url": "https://g.example.com/",
            "events": ["order.created"],
        },
    )

    assert response.status_code == 200
    assert WebhookEndpoint.objects.get().retailer_id == other_retailer.pk
    # the list shows the chosen retailer's endpoints only
    assert "g.example.com" in _page(client.get(LIST, {"retailer": other_retailer.pk}))
    assert "g.example.com" not in _page(client.get(LIST))


def test_redeliver_sends_the_same_payload_as_a_new_delivery(client_for, admin_user, retailer):
    # given a failed delivery on the deliveries page
    endpoint = _endpoint(retailer)
    failed = _delivery(endpoint, status=D.FAILED, attempts=7, error="HTTP 500")
    client = client_for(admin_user)
    listing = reverse("webhook_settings:endpoint_deliveries", args=[endpoint.pk])
    assert "Redeliver" in _page(client.get(listing))

    # when the admin presses Redeliver
    response = client.post(
        reverse("webhook_settings:redeliver", args=[failed.pk]), {"next": listing}
    )

    # then a new pending delivery carries the same event and payload, and the page says so
    assert response.status_code == 302 and response.url == listing
    again = WebhookDelivery.objects.exclude(pk=failed.pk).get()
    assert (again.status, again.attempts, again.redelivery_of_id) == (D.PENDING, 0, failed.pk)
    assert (again.event_id, again.payload) == (failed.event_id, failed.payload)
    failed.refresh_from_db()
    assert failed.status == D.FAILED
    page = _page(client.get(listing))
    assert f"queued for redelivery as delivery {again.pk}" in page
    assert Activity.objects.filter(action="oms.webhookdelivery.redelivered").count() == 1


def test_redeliver_to_a_switched_off_endpoint_is_refused_with_the_reason(
    client_for, admin_user, retailer
):
    endpoint = _endpoint(retailer, is_active=False)
    delivery = _delivery(endpoint)

    response = client_for(admin_user).post(
        reverse("webhook_settings:redeliver", args=[delivery.pk]), follow=True
    )

    assert "switched off" in _page(response)
    assert WebhookDelivery.objects.count() == 1


def test_an_offsite_next_is_not_followed(client_for, admin_user, retailer):
    delivery = _delivery(_endpoint(retailer))
    response = client_for(admin_user).post(
        reverse("webhook_settings:redeliver", args=[delivery.pk]),
        {"next": "https://evil.example.com/"},
    )
    assert response.url == reverse(
        "webhook_settings:endpoint_deliveries", args=[delivery.endpoint_id]
    )


def test_the_deliveries_list_filters_and_links_each_record(client_for, admin_user, retailer):
    # given deliveries of two endpoints, of several events and statuses
    erp = _endpoint(retailer, events=["order.created", "order.cancelled"])
    shop = _endpoint(retailer, url="https://shop.example.com/in")
    order = OrderFactory(retailer=retailer, ref="WEB-1001")
    created = _delivery(
        erp,
        ago=10,
        record_label="orders.order",
        record_id=str(order.pk),
        record_ref="WEB-1001",
    )
    cancelled = _delivery(erp, event="order.cancelled", status=D.FAILED, ago=5)
    pending = _delivery(
        shop,
        status=D.PENDING,
        ago=1,
        next_attempt_at=timezone.now() + timedelta(minutes=5),
        record_label="returns.return",
        record_id="not-a-number",
        record_ref="R-9",
    )
    client = client_for(admin_user)

    def shown(url, query=None) -> list[int]:
        table = client.get(url, query or {}).context["table"]
        return [row.record.pk for row in table.page.object_list]

    # newest first, all endpoints
    assert shown(DELIVERIES) == [pending.pk, cancelled.pk, created.pk]
    # by status, event and endpoint
    assert shown(DELIVERIES, {"status": [D.FAILED, D.PENDING]}) == [pending.pk, cancelled.pk]
    assert shown(DELIVERIES, {"event": "order.created"}) == [pending.pk, created.pk]
    assert shown(DELIVERIES, {"endpoint": erp.pk}) == [cancelled.pk, created.pk]
    # one endpoint's page
    endpoint_page = reverse("webhook_settings:endpoint_deliveries", args=[shop.pk])
    assert shown(endpoint_page) == [pending.pk]

    # the record links to its page when it is one we show; a ref alone otherwise
    page = _page(client.get(DELIVERIES))
    assert f'<a href="{order.get_absolute_url()}" class="text-break">WEB-1001</a>' in page
    assert "R-9" in page and "not-a-number" not in page
    # status badges, answer, latency
    assert '<span class="badge text-bg-danger">Failed</span>' in page
    assert '<span class="badge text-bg-warning">Pending</span>' in page
    assert '<td class="text-end">42</td>' in page
    # the htmx swap gets the results only
    swapped = client.get(DELIVERIES, {"status": D.FAILED}, headers={"HX-Request": "true"})
    assert "<html" not in swapped.content.decode() and 'id="results"' in swapped.content.decode()


def test_a_delivery_page_shows_what_was_sent_and_what_came_back(client_for, admin_user, retailer):
    endpoint = _endpoint(retailer, url="https://erp.example.com/" + "a" * 450)
    payload = {
        "id": "evt",
        "type": "order.cancelled",
        "version": 1,
        "data": {"order": {"ref": "WEB-<1001>", "note": "ünïcödé " * 500, "lines": [[], {}, None]}},
    }
    delivery = _delivery(
        endpoint,
        event="order.cancelled",
        status=D.FAILED,
        payload=payload,
        response_code=503,
        error="HTTP 503 from the endpoint",
        response_body="<html>Service Unavailable</html>",
    )

    response = client_for(admin_user).get(reverse("webhook_settings:delivery", args=[delivery.pk]))

    page = _page(response)
    assert response.status_code == 200
    assert '"ref": "WEB-<1001>"' in page  # pretty JSON, escaped in the page
    assert "WEB-<1001>" not in response.content.decode()
    assert str(delivery.event_id) in page and "OMS-Webhook-Signature" in page
    assert "HTTP 503 from the endpoint" in page and "<html>Service Unavailable</html>" in page
    # never delivered: no time is made up for it
    assert '<dt class="col-5">Delivered</dt><dd class="col-7">—</dd>' in page
    assert endpoint.secret not in page


def test_an_odd_stored_payload_still_renders(client_for, admin_user, retailer):
    endpoint = _endpoint(retailer)
    odd = [
        _delivery(endpoint, payload=value) for value in ("text", 12, [1, 2], "", {"a": "b" * 30000})
    ]
    client = client_for(admin_user)

    for delivery in odd:
        response = client.get(reverse("webhook_settings:delivery", args=[delivery.pk]))
        assert response.status_code == 200
    assert "more characters not shown" in _page(response)
    assert client.get(DELIVERIES).status_code == 200


def _warm_count(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_pages_take_their_budget_of_queries_whatever_their_rows(
    client_for, admin_user, retailer
):
    # given an admin of two retailers (so the retailer filter shows)
    MembershipFactory(user=admin_user, retailer=RetailerFactory(), role=Role.ADMIN)
    client = client_for(admin_user)
    endpoint = _endpoint(retailer)
    order = OrderFactory(retailer=retailer)
    first = _delivery(
        endpoint, record_label="orders.order", record_id=str(order.pk), record_ref=order.ref
    )
    pages = {
        "endpoints": LIST,
        "deliveries": DELIVERIES,
        "endpoint deliveries": reverse("webhook_settings:endpoint_deliveries", args=[endpoint.pk]),
        "delivery": reverse("webhook_settings:delivery", args=[first.pk]),
    }

    def add_rows(n: int) -> None:
        for i in range(n):
            extra = _endpoint(retailer, url=f"https://e{i}-{uuid.uuid4().hex[:6]}.example.com/")
            _delivery(extra, status=D.FAILED)
            _delivery(
                endpoint, status=D.PENDING, record_label="orders.order", record_id=str(order.pk)
            )
            _delivery(endpoint, redelivery_of=first)

    # when each page is opened with one row, and with many more
    few = {name: _warm_count(client, url) for name, url in pages.items()}
    add_rows(20)
    many = {name: _warm_count(client, url) for name, url in pages.items()}

    # then each takes the same number of queries, its budget
    assert many == few
    assert few == BUDGETS


def test_the_openapi_document_describes_each_webhook_post(client):
    document = client.get("/api/schema/").json()

    # still an OpenAPI 3.0 document, valid also were each webhook a path of its own
    assert document["openapi"] == "3.0.3"
    assert not list(OPENAPI_30_VALIDATOR.iter_errors(document))
    as_paths = {**document["paths"], **{f"/{k}": v for k, v in document["x-webhooks"].items()}}
    assert not list(OPENAPI_30_VALIDATOR.iter_errors(document | {"paths": as_paths}))

    # one POST per event, with the signing headers and the event's body from the components
    assert list(document["x-webhooks"]) == [name for name, _ in services.EVENTS]
    schemas = document["components"]["schemas"]
    for event, item in document["x-webhooks"].items():
        post = item["post"]
        headers = {p["name"]: p for p in post["parameters"] if p["in"] == "header"}
        assert {
            "OMS-Webhook-Id",
            "OMS-Webhook-Event",
            "OMS-Webhook-Timestamp",
            "OMS-Webhook-Signature",
        } <= set(headers)
        assert headers["OMS-Webhook-Event"]["schema"]["enum"] == [event]
        body = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        name = body.rpartition("/")[2]
        assert schemas[name] == webhook_schema.SCHEMAS[name]
        assert schemas[name]["allOf"][1]["properties"]["type"]["enum"] == [event]
    assert schemas["WebhookEvent"]["properties"]["version"]["enum"] == [1]
    # every reference points at a schema the document has
    refs = set(re.findall(r'"#/components/schemas/([A-Za-z]+)"', json.dumps(document)))
    assert refs <= set(schemas)


def test_the_api_docs_page_lists_the_webhook_events(client):
    page = _page(client.get("/api/docs/"))

    assert "Returns API v4.1" in page
    for name, description in services.EVENTS:
        assert f'<span class="font-monospace fw-semibold">{name}</span> — {description}' in page
    assert "OMS-Webhook-Signature" in page and "WebhookOrderCreatedEvent" in page


def _readme_verifier():
    """The signature check the README's "Webhooks out" section gives receivers, as code."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Webhooks out", 1)[1].split("\n### ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    namespace: dict = {}
    exec(textwrap.dedent(code), namespace)  # noqa: S102 - the README's own example
    return namespace["verified"]


def test_the_readmes_signature_check_accepts_what_is_sent_and_refuses_the_rest():
    verified = _readme_verifier()
    secret, body = "whsec_0123456789abcdef", b'{"id": "e1", "type": "order.created"}'
    sent = signing.headers(secret=secret, event_id="e1", event="order.created", body=body)

    assert verified(secret, sent, body)
    assert not verified(secret, sent, body + b" ")
    assert not verified("whsec_other", sent, body)
    old = signing.headers(
        secret=secret, event_id="e1", event="order.created", body=body, now=time.time() - 600
    )
    assert not verified(secret, old, body)
