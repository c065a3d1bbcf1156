"""The intake desk lists every reason a message was rejected, on the desk and on its page."""

from __future__ import annotations

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from orders import services
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.intake.processing import intake_process, intake_receive

pytestmark = pytest.mark.django_db

# three faults at once: an email that is none, a quantity of nothing, a country of nowhere
FAULTY = {
    "id": "W-9",
    "currency": "EUR",
    "customer": {"email": "not-an-email", "first_name": "Jan", "last_name": "Smit"},
    "shipping_address": {
        "street": "Oudegracht 12",
        "zip": "3511",
        "city": "Utrecht",
        "country": "Narnia",
    },
    "lines": [{"sku": "TENT", "title": "Tent", "qty": 0, "price": "10.00"}],
    "total": "10.00",
    "payment": {"method": "ideal"},
}


@pytest.fixture
def web(retailer):
    return IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web store", kind="webstore", secret="s3cret"
    )


def _items(html: str, testid: str) -> list[list[str]]:
    """The list items of each list marked with `testid`."""
    lists = re.findall(rf'data-testid="{testid}">(.*?)</ul>', html, re.S)
    return [re.findall(r"<li>(.*?)</li>", found, re.S) for found in lists]


def test_the_desk_and_the_message_page_list_every_reason(web, manager, client_for):
    message = intake_receive(channel=web, body=json.dumps(FAULTY))
    intake_process(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == "REJECTED" and len(message.reasons) >= 3, message.reasons
    client = client_for(manager)

    desk = client.get(reverse("intake:desk")).content.decode()
    page = client.get(reverse("intake:message", args=[message.pk])).content.decode()

    (on_desk,) = _items(desk, "reasons")
    (on_page,) = _items(page, "reasons")
    assert len(on_desk) == len(on_page) == len(message.reasons)
    for field in ("customer.email", "lines[0].qty", "shipping_address.country"):
        assert any(reason.startswith(f"{field}: ") for reason in on_desk), on_desk
    assert f"{len(message.reasons)} reasons:" in page


def test_a_refusal_of_the_order_services_rejects_the_message_with_each_fault(web, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError({"address.line1": "At most 200 characters.", "lines": "Too many."})

    monkeypatch.setattr(services, "order_place", refuse)
    valid = {**FAULTY, "customer": {**FAULTY["customer"], "email": "jan@example.nl"}}
    valid["shipping_address"] = {**FAULTY["shipping_address"], "country": "NL"}
    valid["lines"] = [{"sku": "TENT", "title": "Tent", "qty": 1, "price": "10.00"}]
    message = intake_receive(channel=web, body=json.dumps(valid))

    status = intake_process(message_id=message.pk)

    message.refresh_from_db()
    assert status == "REJECTED"
    assert message.reasons == ["address.line1: At most 200 characters.", "lines: Too many."]
    assert not IntakeMessage.objects.filter(status="DEAD").exists()
