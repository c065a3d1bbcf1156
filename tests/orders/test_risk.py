"""Orders at risk of missing their promised date: the rules on crafted orders, and the list,
the home page and the order page agreeing on them."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import SystemState
from tests.factories import (
    CarrierFactory,
    FulfilmentFactory,
    OrderFactory,
    ShipmentFactory,
)

pytestmark = pytest.mark.django_db

LIST = reverse("orders:order_list")


@pytest.fixture
def crafted(retailer, other_retailer):
    """One order per case; the ref says whether it is at risk and why."""
    today = timezone.localdate(timezone=ZoneInfo(retailer.time_zone))
    CarrierFactory(retailer=retailer, name="PostNL", transit_days=1)
    CarrierFactory(retailer=retailer, name="DHL", transit_days=4)

    def order(ref, carrier="PostNL", days=None, **fields):
        promised = today + timedelta(days=days) if days is not None else None
        return OrderFactory(
            retailer=retailer, ref=ref, carrier=carrier, promised_date=promised, **fields
        )

    order("SAFE-postnl-in-3-days", days=3)
    order("RISK-postnl-tomorrow", days=1)  # 1 day to pack + 1 in transit: too late
    order("RISK-dhl-in-4-days", carrier="DHL", days=4)  # 1 + 4 days
    order("SAFE-dhl-in-5-days", carrier="DHL", days=5)
    order("RISK-unknown-carrier-in-2-days", carrier="Mystery", days=2)  # 1 + 2 by default
    order("SAFE-unknown-carrier-in-3-days", carrier="Mystery", days=3)
    order("RISK-promised-yesterday", days=-1)
    shipped = order("SAFE-shipped", days=1)
    ShipmentFactory(order=shipped, shipped_at=timezone.now())
    label_only = order("RISK-label-printed-not-shipped", days=1)
    ShipmentFactory(order=label_only, shipped_at=None)
    order("SAFE-cancelled", days=1, state=SystemState.CANCELLED)
    order("SAFE-completed", days=-3, state=SystemState.COMPLETED)
    FulfilmentFactory(order=order("RISK-escalated-no-promise"))
    FulfilmentFactory(order=order("SAFE-escalated-but-completed", state=SystemState.COMPLETED))
    order("SAFE-no-promise")
    OrderFactory(retailer=other_retailer, ref="THEIRS-tomorrow", promised_date=today)


def refs(response) -> set[str]:
    return {row.record.ref for row in response.context["table"].paginated_rows}


def test_the_rules_pick_exactly_the_orders_at_risk(client_for, agent, crafted):
    response = client_for(agent).get(LIST, {"view": "at_risk"})
    assert refs(response) == {
        "RISK-postnl-tomorrow",
        "RISK-dhl-in-4-days",
        "RISK-unknown-carrier-in-2-days",
        "RISK-promised-yesterday",
        "RISK-label-printed-not-shipped",
        "RISK-escalated-no-promise",
    }


def test_the_at_risk_list_says_its_rules(client_for, agent, crafted):
    html = client_for(agent).get(LIST, {"view": "at_risk"}).content.decode()
    assert "Too little time left for the carrier" in html
    assert "Waiting on an escalation" in html
    assert "1 day to pack plus the carrier&#x27;s transit days" in html


def test_the_list_flags_each_order_at_risk_with_its_reason(client_for, agent, crafted):
    html = client_for(agent).get(LIST, {"per_page": 50}).content.decode()
    flagged = re.findall(r'title="([^"]+)" data-testid="at-risk"', html)
    assert len(flagged) == 5  # the escalated one has no promised date to flag it beside
    assert "Promised" in flagged[0] and "day to pack" in flagged[0]
    row = re.search(r"RISK-dhl-in-4-days.*?</tr>", html, re.S).group(0)
    assert "1 day to pack and 4 days with DHL" in row
    row = re.search(r"SAFE-dhl-in-5-days.*?</tr>", html, re.S).group(0)
    assert "at-risk" not in row


def test_the_order_page_says_why_it_is_at_risk(client_for, agent, crafted, retailer):
    from orders.models import Order

    client = client_for(agent)
    risky = Order.objects.get(retailer=retailer, ref="RISK-escalated-no-promise")
    html = client.get(risky.get_absolute_url()).content.decode()
    assert "At risk: Waiting on an escalated fulfilment" in html
    safe = Order.objects.get(retailer=retailer, ref="SAFE-shipped")
    assert 'data-testid="at-risk"' not in client.get(safe.get_absolute_url()).content.decode()


def test_the_home_page_counts_them_and_links_to_them(client_for, agent, crafted):
    client = client_for(agent)
    html = client.get(reverse("home")).content.decode()
    count = re.search(
        r'href="/orders/\?view=at_risk" data-testid="queue">.*?queue-count">(\d+)<', html, re.S
    ).group(1)
    assert int(count) == len(refs(client.get(LIST, {"view": "at_risk"}))) == 6


def test_a_carrier_with_longer_transit_moves_the_line(client_for, agent, retailer):
    today = timezone.localdate(timezone=ZoneInfo(retailer.time_zone))
    CarrierFactory(retailer=retailer, name="Slowboat", transit_days=9)
    OrderFactory(
        retailer=retailer, ref="SLOW", carrier="Slowboat", promised_date=today + timedelta(days=9)
    )
    OrderFactory(
        retailer=retailer,
        ref="SLOW-OK",
        carrier="Slowboat",
        promised_date=today + timedelta(days=10),
    )
    assert refs(client_for(agent).get(LIST, {"view": "at_risk"})) == {"SLOW"}


def test_an_order_sent_through_the_service_is_no_longer_at_risk(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    """The order keeps its first parcel's time, which the rule reads."""
    from orders.services import order_mark_sent
    from tests.factories import OrderLineFactory

    today = timezone.localdate(timezone=ZoneInfo(retailer.time_zone))
    order = OrderFactory(
        retailer=retailer,
        ref="RISK-then-sent",
        promised_date=today,
        state=SystemState.PROCESSING,
    )
    OrderLineFactory(order=order, quantity=2)
    client = client_for(manager)
    assert "RISK-then-sent" in refs(client.get(LIST, {"view": "at_risk"}))

    with django_capture_on_commit_callbacks(execute=True):
        first = order_mark_sent(order=order, by=manager, tracking_number="3S1")
    order.refresh_from_db()

    assert order.shipped_at == first.shipped_at
    assert "RISK-then-sent" not in refs(client.get(LIST, {"view": "at_risk"}))
