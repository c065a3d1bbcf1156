"""A user's access ends with their account or their membership, at their next request."""

import pytest

from orders.models import Order
from tests.factories import MembershipFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_a_deactivated_user_is_signed_out_at_the_next_request(client_for, agent, retailer):
    order = OrderFactory(retailer=retailer)
    client = client_for(agent)
    assert client.get(f"/orders/{order.pk}/").status_code == 200

    agent.is_active = False
    agent.save(update_fields=["is_active"])

    response = client.get(f"/orders/{order.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_user_removed_from_a_retailer_loses_its_data_at_the_next_request(
    client_for, agent, retailer, other_retailer
):
    MembershipFactory(user=agent, retailer=other_retailer)
    order = OrderFactory(retailer=retailer, ref="A-KEEP-OUT")
    client = client_for(agent)
    assert "A-KEEP-OUT" in client.get("/orders/").content.decode()

    agent.memberships.filter(retailer=retailer).delete()

    assert client.get(f"/orders/{order.pk}/").status_code == 404
    assert "A-KEEP-OUT" not in client.get("/orders/").content.decode()

    agent.memberships.all().delete()  # a member of no retailer any more: no page at all
    assert client.get("/orders/").status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()
