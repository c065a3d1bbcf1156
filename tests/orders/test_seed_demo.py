import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from oms.models import Membership, Retailer
from oms.roles import Role, roles_of

pytestmark = pytest.mark.django_db

User = get_user_model()


def _snapshot():
    return {
        "retailers": list(Retailer.objects.order_by("ref").values()),
        "users": list(User.objects.order_by("username").values()),
        "memberships": list(Membership.objects.order_by("pk").values()),
    }


def test_seed_demo_creates_the_demo_retailers_and_logins(rf):
    call_command("seed_demo", "--orders", "3")

    assert set(Retailer.objects.values_list("ref", flat=True)) == {"acme", "globex"}
    acme, globex = Retailer.objects.get(ref="acme"), Retailer.objects.get(ref="globex")
    expected = {
        "agent": {acme.pk: Role.AGENT},
        "manager": {acme.pk: Role.MANAGER},
        "admin": {acme.pk: Role.ADMIN},
        "globex.agent": {globex.pk: Role.AGENT},
        "multi.agent": {acme.pk: Role.AGENT, globex.pk: Role.AGENT},
    }
    for username, roles in expected.items():
        user = authenticate(
            rf.post("/accounts/login/"), username=username, password="demo-password"
        )
        assert user is not None, f"{username} cannot log in with the demo password"
        assert roles_of(user) == roles


def test_running_seed_demo_twice_changes_nothing_the_second_time():
    call_command("seed_demo", "--orders", "3")
    first = _snapshot()
    call_command("seed_demo", "--orders", "3")
    assert _snapshot() == first
