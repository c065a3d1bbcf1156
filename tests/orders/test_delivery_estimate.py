"""The track & trace email promises a day in the future, from the carrier's transit days, or
none."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from orders.models import Shipment, SystemState
from orders.services.mail import render_order_email
from orders.services.shipments import delivery_estimate
from tests.factories import CarrierFactory, OrderFactory

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("shipped", "days", "expected"),
    [
        (datetime(2026, 12, 7, 10, 0), 2, date(2026, 12, 9)),  # Monday + 2: Wednesday
        (datetime(2026, 12, 10, 16, 0), 2, date(2026, 12, 14)),  # Thursday + 2: Monday
        (datetime(2026, 12, 11, 16, 0), 1, date(2026, 12, 14)),  # Friday + 1: Monday
        (datetime(2026, 12, 12, 9, 0), 1, date(2026, 12, 14)),  # Saturday + 1: Monday
        (datetime(2026, 12, 12, 9, 0), 0, date(2026, 12, 14)),  # no delivery on a Sunday
        (datetime(2026, 12, 7, 23, 30), 1, date(2026, 12, 8)),  # the ship date in the zone
    ],
)
def test_the_estimate_counts_working_days_from_the_ship_date(retailer, shipped, days, expected):
    CarrierFactory(retailer=retailer, name="DHL", transit_days=days)
    with time_machine.travel(datetime(2026, 12, 7, 8, 0, tzinfo=AMSTERDAM), tick=False):
        estimate = delivery_estimate(
            retailer=retailer, carrier="DHL", shipped_at=shipped.replace(tzinfo=AMSTERDAM)
        )
    assert estimate == expected


def test_no_estimate_for_a_carrier_not_set_up_or_a_day_already_past(retailer):
    CarrierFactory(retailer=retailer, name="DHL", transit_days=2)
    shipped = datetime(2026, 12, 1, 10, 0, tzinfo=AMSTERDAM)  # a Tuesday: due Thursday the 3rd
    with time_machine.travel(datetime(2026, 12, 3, 20, 0, tzinfo=AMSTERDAM), tick=False):
        assert delivery_estimate(retailer=retailer, carrier="DHL", shipped_at=shipped) == date(
            2026, 12, 3
        )  # today still counts
    with time_machine.travel(datetime(2026, 12, 4, 9, 0, tzinfo=AMSTERDAM), tick=False):
        assert delivery_estimate(retailer=retailer, carrier="DHL", shipped_at=shipped) is None
        assert delivery_estimate(retailer=retailer, carrier="UPS", shipped_at=shipped) is None


@time_machine.travel(datetime(2026, 12, 7, 10, 0, tzinfo=AMSTERDAM), tick=False)
def test_the_track_and_trace_email_gives_the_carriers_day_not_a_promised_date_past(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    # given an order promised for a day already past, sent with a carrier of 2 transit days
    CarrierFactory(retailer=retailer, name="PostNL", transit_days=2)
    order = OrderFactory(
        retailer=retailer,
        state=SystemState.PROCESSING,
        lines=1,
        carrier="PostNL",
        promised_date=date(2026, 11, 20),
    )
    with django_capture_on_commit_callbacks(execute=True):
        client_for(manager).post(
            reverse("orders:mark_sent", args=[order.pk]),
            {"confirm": "yes", "tracking_number": "3SXYZ42", "carrier": "PostNL"},
        )

    # then the email names Wednesday the 9th, and the shipment holds it
    (email,) = mail.outbox
    assert "We expect it to arrive by Wednesday 9 December." in email.body
    assert "20 November" not in email.body
    assert Shipment.objects.get(order=order).estimated_delivery == date(2026, 12, 9)


@time_machine.travel(datetime(2026, 12, 7, 10, 0, tzinfo=AMSTERDAM), tick=False)
def test_without_a_known_carrier_the_email_names_no_day(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    order = OrderFactory(
        retailer=retailer,
        state=SystemState.PROCESSING,
        lines=1,
        carrier="Courier Bob",
        promised_date=date(2026, 11, 20),
    )
    with django_capture_on_commit_callbacks(execute=True):
        client_for(manager).post(
            reverse("orders:mark_sent", args=[order.pk]),
            {"confirm": "yes", "tracking_number": "CB-1", "carrier": "Courier Bob"},
        )
    (email,) = mail.outbox
    assert "Your track and trace code is CB-1" in email.body
    assert "We expect" not in email.body
    assert Shipment.objects.get(order=order).estimated_delivery is None


def test_an_estimate_past_by_the_time_the_email_is_written_is_left_out(retailer):
    order = OrderFactory(retailer=retailer, lines=1)
    shipment = Shipment(order=order, retailer=retailer, carrier="DHL", tracking_number="X1")
    _, body = render_order_email(order, "sent_tracking", {"shipment": shipment, "estimate": None})
    assert "We expect" not in body
    _, body = render_order_email(
        order, "sent_tracking", {"shipment": shipment, "estimate": date(2030, 1, 4)}
    )
    assert "We expect it to arrive by Friday 4 January." in body
