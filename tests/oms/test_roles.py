import pytest
from django.core.exceptions import PermissionDenied

from oms.roles import Role, has_role, has_role_anywhere, require_role, role_in

pytestmark = pytest.mark.django_db


def test_roles_are_ranked_agent_manager_admin():
    assert Role.ADMIN.includes(Role.MANAGER)
    assert Role.ADMIN.includes(Role.AGENT)
    assert Role.MANAGER.includes(Role.AGENT)
    assert not Role.AGENT.includes(Role.MANAGER)
    assert not Role.MANAGER.includes(Role.ADMIN)


def test_a_manager_may_do_what_an_agent_may_but_not_what_an_admin_may(manager, retailer):
    assert role_in(manager, retailer.pk) == Role.MANAGER
    assert has_role(manager, retailer.pk, Role.AGENT)
    assert has_role(manager, retailer.pk, Role.MANAGER)
    assert not has_role(manager, retailer.pk, Role.ADMIN)


def test_a_role_in_one_retailer_gives_no_right_in_another(admin_user, other_retailer):
    assert role_in(admin_user, other_retailer.pk) is None
    with pytest.raises(PermissionDenied):
        require_role(admin_user, other_retailer.pk, Role.AGENT)


def test_require_role_names_the_missing_role(agent, retailer):
    with pytest.raises(PermissionDenied, match="manager"):
        require_role(agent, retailer.pk, Role.MANAGER)
    require_role(agent, retailer.pk, Role.AGENT)


def test_has_role_anywhere(agent, admin_user):
    assert has_role_anywhere(admin_user, Role.ADMIN)
    assert not has_role_anywhere(agent, Role.ADMIN)
