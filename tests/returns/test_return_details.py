"""What a return page and the Returns API show beside the items: the addresses with their
streets, location refs with the location's name, custom attributes (seen and set), and reasons
and conditions as codes whatever made the return."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from oms.models import Activity
from orders import services as order_services
from orders.models import SystemState
from returns.models import ATTRIBUTES_MAX, Return, ReturnType
from tests.factories import (
    AddressFactory,
    LocationFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    recalculate_totals,
    ship,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(retailer):
    order = OrderFactory(retailer=retailer, ref="ACME-7001", state=SystemState.COMPLETED)
    order.shipping_address = AddressFactory(
        retailer=retailer,
        name="Jan Smit",
        line1="Oudegracht 12",
        postcode="3511 AB",
        city="Utrecht",
    )
    order.save(update_fields=["shipping_address"])
    OrderLineFactory(order=order, sku="JKT", name="Jacket", quantity=2, unit_price=Decimal("121"))
    recalculate_totals(order)
    ship(order)
    PaymentFactory(order=order, authorised=order.total, captured=order.total)
    return order


@pytest.fixture
def dc(retailer):
    return LocationFactory(
        retailer=retailer,
        ref="DC-UTR",
        name="Utrecht returns centre",
        line1="Returnweg 5",
        postcode="3542 AB",
        city="Utrecht",
    )


@pytest.fixture
def api(agent):
    return Client(headers={"Authorization": f"Bearer {Token.objects.create(user=agent).key}"})


def _from_page(client, order, reason="Damaged", condition="Used"):
    line = order.lines.get()
    response = client.post(
        reverse("orders:return_create", args=[order.pk]),
        {
            f"qty_{line.pk}": "1",
            f"reason_{line.pk}": reason,
            f"condition_{line.pk}": condition,
            "fulfilment_type": "R_RTDC",
            "preferred_location_ref": "DC-UTR",
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return Return.objects.latest("pk")


def _through_api(api, order, **more):
    body = {
        "retailerId": str(order.retailer_id),
        "orderId": str(order.pk),
        "type": "CUSTOMER_RETURN",
        "customer": {"email": "jan@example.nl"},
        "items": [
            {"skuRef": "JKT", "returnQty": 1, "returnReason": "Damaged", "returnCondition": "Used"}
        ],
        "fulfilmentChoice": {"fulfilmentType": "R_RTDC", "preferredLocationRef": "DC-UTR"},
        **more,
    }
    return api.post("/api/v4.1/return", body, "application/json")


def test_the_return_page_shows_both_addresses_with_street_and_the_location_ref_with_its_name(
    client_for, agent, order, dc
):
    # given a return made on the order page, to the retailer's returns centre
    ret = _from_page(client_for(agent), order)

    # when an agent opens it
    page = client_for(agent).get(ret.get_absolute_url()).content.decode()

    # then the parcel comes from the customer's street and goes to the centre's, by ref and name
    sender = page.split('data-testid="sender-address"')[1].split("</address>")[0]
    destination = page.split('data-testid="return-address"')[1].split("</address>")[0]
    assert "Oudegracht 12" in sender and "3511 AB Utrecht" in sender
    assert "DC-UTR" in destination and "Returnweg 5" in destination
    assert "Utrecht returns centre" in destination
    route = page.split('data-testid="parcel-route"')[1].split("</span></span>")[0]
    assert "DC-UTR" in route and "Utrecht returns centre" in route
    drop_off = page.split('data-testid="drop-off"')[1].split("</dd>")[0]
    assert "DC-UTR" in drop_off and "Utrecht returns centre" in drop_off


def test_the_api_gives_the_return_locations_address_whatever_made_the_return(
    client_for, agent, api, order, dc
):
    made_in_app = _from_page(client_for(agent), order)
    by_api = _through_api(api, order).json()["id"]

    for return_id in (made_in_app.pk, by_api):
        address = api.get(f"/api/v4.1/return/{return_id}").json()["fulfilmentChoice"]["address"]
        assert (address["locationRef"], address["street"], address["companyName"]) == (
            "DC-UTR",
            "Returnweg 5",
            "Utrecht returns centre",
        )


def test_reasons_and_conditions_are_codes_in_the_api_whatever_made_the_return(
    client_for, agent, manager, api, order, dc
):
    # given returns made on the page (by code), through the API (by label) and by a cancellation
    from_page = _from_page(client_for(agent), order, reason="DAMAGED", condition="1")
    by_api = _through_api(api, order).json()["id"]
    unpaid = OrderFactory(retailer=order.retailer, lines=1, state=SystemState.NEW)
    PaymentFactory(order=unpaid, authorised=unpaid.total, captured=unpaid.total)
    order_services.order_cancel(order=unpaid, by=manager, notify=False)
    cancellation = Return.objects.get(order=unpaid, type=ReturnType.CANCELLATION)

    # then each item reads back with the codes
    codes = [
        (item["returnReason"], item["returnCondition"])
        for return_id in (from_page.pk, by_api, cancellation.pk)
        for item in api.get(f"/api/v4.1/return/{return_id}").json()["items"]
    ]
    assert codes[:2] == [("DAMAGED", "1"), ("DAMAGED", "1")]
    assert set(codes[2:]) == {("CANCELLATION", "CANCELLATION")}


def test_custom_attributes_are_set_through_the_api_and_read_back(api, order):
    attributes = [
        {"name": "gift", "type": "BOOLEAN", "value": "TRUE"},
        {"name": "boxes", "type": "INTEGER", "value": "2"},
        {"name": "note", "value": "Left with the neighbour"},
    ]

    response = _through_api(api, order, customAttributes=attributes)

    body = api.get(f"/api/v4.1/return/{response.json()['id']}").json()
    assert body["customAttributes"] == [
        {"name": "gift", "type": "BOOLEAN", "value": "true"},
        {"name": "boxes", "type": "INTEGER", "value": "2"},
        {"name": "note", "type": "STRING", "value": "Left with the neighbour"},
    ]


@pytest.mark.parametrize(
    ("attributes", "named"),
    [
        ([{"name": "x" * 65, "value": "1"}], "customAttributes[0].name"),
        ([{"name": "boxes", "type": "INTEGER", "value": "two"}], "customAttributes[0].value"),
        ([{"name": "gift", "type": "BOOLEAN", "value": "maybe"}], "customAttributes[0].value"),
        ([{"name": "note", "value": "x" * 501}], "customAttributes[0].value"),
        ([{"name": "note", "type": "DATE", "value": "x"}], "customAttributes[0].type"),
        ([{"value": "x"}], "customAttributes[0].name"),
        ([{"name": "a", "value": "1"}, {"name": "A", "value": "2"}], "customAttributes"),
        ([{"name": f"n{i}", "value": "1"} for i in range(ATTRIBUTES_MAX + 1)], "customAttributes"),
    ],
)
def test_custom_attributes_out_of_bounds_are_refused_by_name_and_nothing_is_made(
    api, order, attributes, named
):
    response = _through_api(api, order, customAttributes=attributes)

    assert response.status_code == 400
    assert named in response.json()["error"][0]["message"]
    assert not Return.objects.exists()


def test_the_schema_declares_the_custom_attributes_and_their_bounds(client):
    schema = client.get("/api/schema/").json()
    request = schema["components"]["schemas"]["returnRequest"]["properties"]["customAttributes"]
    fields = request["items"]["properties"]

    assert request["maxItems"] == ATTRIBUTES_MAX
    assert (fields["name"]["maxLength"], fields["value"]["maxLength"]) == (64, 500)
    assert set(fields["type"]["enum"]) >= {"STRING", "INTEGER", "FLOAT", "BOOLEAN"}


def test_an_agent_sets_and_removes_a_custom_attribute_on_the_return_page(
    client_for, agent, order, dc
):
    client = client_for(agent)
    ret = _from_page(client, order)
    url = reverse("returns:attribute_set", args=[ret.pk])

    client.post(url, {"name": "Carrier claim", "type": "STRING", "value": "CL-2291"})
    client.post(url, {"name": "Boxes", "type": "INTEGER", "value": "3"})
    refused = client.post(url, {"name": "Boxes", "type": "INTEGER", "value": "three"}, follow=True)
    client.post(url, {"name": "Carrier claim", "remove": "1"})
    page = client.get(ret.get_absolute_url()).content.decode()

    ret.refresh_from_db()
    assert ret.attributes == [{"name": "Boxes", "type": "INTEGER", "value": "3"}]
    assert "must be a whole number" in refused.content.decode()
    table = page.split('data-testid="attributes"')[1].split("</table>")[0]
    assert "Boxes" in table and "CL-2291" not in table
    assert list(
        Activity.objects.filter(target_type="returns.return", target_id=str(ret.pk))
        .filter(action__startswith="returns.return.attribute")
        .order_by("pk")
        .values_list("action", "data__name")
    ) == [
        ("returns.return.attribute_set", "Carrier claim"),
        ("returns.return.attribute_set", "Boxes"),
        ("returns.return.attribute_removed", "Carrier claim"),
    ]


def test_another_retailers_return_takes_no_attribute(client_for, other_agent, order, dc):
    ret = Return.objects.create(
        retailer=order.retailer, order=order, type="CUSTOMER_RETURN", customer_email="a@b.nl"
    )

    response = client_for(other_agent).post(
        reverse("returns:attribute_set", args=[ret.pk]), {"name": "x", "value": "y"}
    )

    ret.refresh_from_db()
    assert response.status_code == 404 and ret.attributes == []
