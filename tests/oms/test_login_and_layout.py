import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import DEMO_PASSWORD, MembershipFactory, RetailerFactory
from tests.querycount import assert_constant_queries

pytestmark = pytest.mark.django_db

NAVIGATION = ["Orders", "Fulfilments", "Escalated", "Returns", "Customers", "Billing accounts"]


def _login(client, username, password=DEMO_PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_an_agent_logs_in_and_reaches_the_navigation(agent):
    client = Client()
    response = _login(client, "agent")
    assert response.status_code == 302
    assert response["Location"] == reverse("home")

    page = client.get(reverse("home")).content.decode()
    for label in NAVIGATION:
        assert f">{label}</a>" in page
    assert ">Settings</a>" not in page


def test_admins_also_see_settings_and_others_are_refused_it(client_for, admin_user, agent):
    assert ">Settings</a>" in client_for(admin_user).get(reverse("home")).content.decode()
    assert client_for(admin_user).get(reverse("settings")).status_code == 200
    assert client_for(agent).get(reverse("settings")).status_code == 403


def test_a_wrong_password_shows_an_error_and_logs_nobody_in(agent):
    client = Client()
    response = _login(client, "agent", "wrong")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert client.get(reverse("home")).status_code == 302


def test_logging_in_rotates_the_session_key(agent):
    client = Client()
    client.get(reverse("login"))
    client.session.save()
    before = client.session.session_key
    _login(client, "agent")
    assert client.session.session_key != before


def test_repeated_failed_logins_lock_the_account_out(agent, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(3):
        _login(client, "agent", "wrong")

    # even the right password is refused now
    response = _login(client, "agent")
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()
    assert client.get(reverse("home")).status_code == 302


def test_logout_is_a_post_and_ends_the_session(client_for, agent):
    client = client_for(agent)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_the_user_menu_shows_each_retailer_with_the_users_role(
    client_for, retailer, other_retailer
):
    user = MembershipFactory(retailer=retailer, role="manager").user
    MembershipFactory(user=user, retailer=other_retailer, role="agent")
    page = client_for(user).get(reverse("home")).content.decode()
    assert 'Acme Outfitters</span><span class="badge text-bg-secondary">Manager' in page
    assert 'Globex Home</span><span class="badge text-bg-secondary">Agent' in page


def test_pages_carry_a_content_security_policy_of_self_only(client_for, agent):
    response = client_for(agent).get(reverse("home"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy


def test_static_assets_are_served_from_our_own_origin(client_for, agent):
    page = client_for(agent).get(reverse("home")).content.decode()
    assert "/static/vendor/bootstrap/bootstrap.min.css" in page
    assert "/static/django_htmx/htmx" in page
    assert "https://" not in page


@pytest.mark.parametrize(
    "url_name",
    [
        "orders:order_list",
        "fulfilments:fulfilment_list",
        "fulfilments:escalated_list",
        "returns:return_list",
        "customers:customer_list",
        "billing:account_list",
    ],
)
def test_each_section_answers_with_its_page(client_for, agent, url_name):
    response = client_for(agent).get(reverse(url_name))
    assert response.status_code == 200


def test_the_home_page_costs_the_same_queries_for_one_retailer_or_fifty(client_for, agent):
    client = client_for(agent)
    count = iter(range(1000))

    def add_retailers(n):
        for _ in range(n):
            MembershipFactory(user=agent, retailer=RetailerFactory(ref=f"r{next(count)}"))

    assert_constant_queries(lambda: client.get(reverse("home")), add_retailers)
    assert client.get(reverse("home")).content.decode().count('data-testid="retailer-card"') == 51
