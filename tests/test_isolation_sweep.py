"""The tenant isolation sweep: every page, list, search, filter and export, as every kind of user,
over a retailer whose data is full of markers. No marker of a retailer the user does not belong
to may appear anywhere: no field, no count, no total.

(`test_url_safety_net.py` checks that each record's own URLs are a 404 to other retailers'
users; this checks everything that lists or summarises records.)
"""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from fulfilments.models import FulfilmentStatus
from oms.roles import Role
from tests.factories import (
    BillingAccountFactory,
    CommentFactory,
    CustomerFactory,
    FulfilmentFactory,
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    RetailerFactory,
    ReturnFactory,
    ShipmentFactory,
    TaskFactory,
    TicketFactory,
    UserFactory,
)
from tests.urlwalk import walk

pytestmark = pytest.mark.django_db

# Each retailer's data carries its marker in every text a page could show.
MARKERS = {"acme": "Zanzibarian", "globex": "Quetzalcoatl"}
TOTALS = {"acme": Decimal("4321.09"), "globex": Decimal("9876.54")}

# What an agent types into search boxes and filters, aimed at the other retailer's data.
PROBES = [
    "",
    "?q={marker}",
    "?q={marker_lower}@example.org",
    "?q=TRACK-{marker}",
    "?q={ref}",
    "?retailer={retailer_id}",
    "?customer={customer_id}",
    "?view=open&q={marker}",
    "?status=new&state=NEW&segment=vip&channel=web",
]


def _fill(retailer, staff):
    """An order with everything around it, every text marked with the retailer's marker."""
    marker = MARKERS[retailer.ref]
    customer = CustomerFactory(
        retailer=retailer,
        first_name=marker,
        last_name=f"{marker}son",
        email=f"{marker.lower()}@example.org",
        ref=f"CUST-{marker}",
    )
    order = OrderFactory(retailer=retailer, ref=f"ORD-{marker}", customer=customer)
    OrderLineFactory(
        order=order, sku=f"SKU-{marker}", name=f"{marker} boots", tracking_number=f"TRACK-{marker}"
    )
    order.total = TOTALS[retailer.ref]
    order.save(update_fields=["total"])
    PaymentFactory(order=order, authorised=order.total, captured=order.total)
    ShipmentFactory(order=order, tracking_number=f"SHIP-{marker}")
    CommentFactory(order=order, body=f"Comment about {marker}")
    TaskFactory(order=order, description=f"Call {marker}", assignee=staff)
    TicketFactory(order=order, subject=f"Where is {marker}?")
    ReturnFactory(
        retailer=retailer,
        order=order,
        customer=customer,
        customer_first_name=marker,
        return_ref=f"RET-{marker}",
    )
    FulfilmentFactory(
        order=order,
        ref=f"FUL-{marker}",
        status=FulfilmentStatus.ESCALATED,
        escalation_reason=f"No stock of {marker}",
    )
    BillingAccountFactory(retailer=retailer, name=f"{marker} Holdings", customer=customer)
    return order, customer


@pytest.fixture
def world():
    acme = RetailerFactory(ref="acme", name="Acme Outfitters")
    globex = RetailerFactory(ref="globex", name="Globex Home")
    users = {}
    for role in (Role.AGENT, Role.MANAGER, Role.ADMIN):
        users[f"{role} of acme"] = MembershipFactory(
            user=UserFactory(username=f"acme-{role}"), retailer=acme, role=role
        ).user
    users["agent of globex"] = MembershipFactory(
        user=UserFactory(username="globex-agent"), retailer=globex, role=Role.AGENT
    ).user
    both = UserFactory(username="both")
    MembershipFactory(user=both, retailer=acme, role=Role.MANAGER)
    MembershipFactory(user=both, retailer=globex, role=Role.AGENT)
    filled = {
        "acme": _fill(acme, users[f"{Role.AGENT} of acme"]),
        "globex": _fill(globex, users["agent of globex"]),
    }
    return {"retailers": {"acme": acme, "globex": globex}, "users": users, "both": both, **filled}


def _pages():
    """Every page without an object id that shows records: lists, queues, exports, settings."""
    return [
        route
        for route in walk()
        if not route.kwarg_names
        and not route.is_public
        and not route.is_state_changing
        and not route.is_api
        and route.name not in ("logout", "returns_api:docs")
    ]


def _probes(world, other: str) -> list[str]:
    order, customer = world[other]
    values = {
        "marker": MARKERS[other],
        "marker_lower": MARKERS[other].lower(),
        "ref": order.ref,
        "retailer_id": world["retailers"][other].pk,
        "customer_id": customer.pk,
    }
    return [probe.format(**values) for probe in PROBES]


def _leaks(text: str, other: str) -> list[str]:
    """The other retailer's data found in a page: texts only its records hold (never what the
    probes typed, which a page may rightly show back in its search box)."""
    marker = MARKERS[other]
    tokens = [
        f"{marker}son",
        f"CUST-{marker}",
        f"SKU-{marker}",
        f"{marker} boots",
        f"SHIP-{marker}",
        f"Comment about {marker}",
        f"Call {marker}",
        f"Where is {marker}",
        f"RET-{marker}",
        f"FUL-{marker}",
        f"No stock of {marker}",
        f"{marker} Holdings",
    ]
    lowered = text.lower()
    found = [token for token in tokens if token.lower() in lowered]
    total = TOTALS[other]
    found += [str(total)] if re.search(rf"\b{re.escape(f'{total:,}')}\b|\b{total}\b", text) else []
    return found


def test_no_page_search_filter_or_export_shows_another_retailers_data(world, client_for):
    tried, leaks = 0, []
    for name, user in world["users"].items():
        other = "globex" if name.endswith("acme") else "acme"
        client = client_for(user)
        for route in _pages():
            for probe in _probes(world, other):
                response = client.get(reverse(route.name) + probe)
                tried += 1
                assert response.status_code < 500, (route.name, probe, name)
                body = (
                    b"".join(response.streaming_content)
                    if response.streaming
                    else (response.content)
                )
                if response.get("Content-Type", "").startswith("application/pdf"):
                    continue  # compressed; the same rows as the CSV export checked here
                text = body.decode("utf-8", "replace")
                leaks += [(name, route.name, probe, leak) for leak in _leaks(text, other)]
    assert leaks == []
    assert tried >= 4 * 15 * len(PROBES)  # users x pages x probes: 684 today


def test_a_member_of_both_retailers_sees_both(world, client_for):
    client = client_for(world["both"])
    orders = client.get(reverse("orders:order_list")).content.decode()
    assert MARKERS["acme"] in orders and MARKERS["globex"] in orders
    # the leak detector finds a retailer's data where it is meant to be
    assert _leaks(orders, "acme") and _leaks(orders, "globex")
    csv = b"".join(client.get(reverse("orders:order_export_csv")).streaming_content).decode()
    assert f"ORD-{MARKERS['acme']}" in csv and f"ORD-{MARKERS['globex']}" in csv
    narrowed = client.get(
        reverse("orders:order_list"), {"retailer": world["retailers"]["globex"].pk}
    ).content.decode()
    assert MARKERS["globex"] in narrowed and f"ORD-{MARKERS['acme']}" not in narrowed


def test_the_api_never_answers_for_another_retailer(world, client):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=world["users"][f"{Role.AGENT} of acme"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    globex = world["retailers"]["globex"]
    acme = world["retailers"]["acme"]
    order, _ = world["globex"]

    assert client.get(f"/api/v4.1/return?retailerId={globex.pk}", **auth).status_code == 403
    found = client.get(
        f"/api/v4.1/return?retailerId={acme.pk}&query={MARKERS['globex']}", **auth
    ).json()
    assert found["total"] == 0 and found["results"] == []
    assert client.get(f"/api/v4.1/order/{order.pk}/return", **auth).status_code == 404
    ret = order.returns.get()
    assert client.get(f"/api/v4.1/return/{ret.pk}", **auth).status_code == 404
