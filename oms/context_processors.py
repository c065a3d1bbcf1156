from django.http import HttpRequest

from oms.models import retailers_of
from oms.roles import Role, has_role_anywhere, roles_of


def navigation(request: HttpRequest) -> dict:
    """What the layout needs about the user: their retailers and roles, and admin rights."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def memberships():
        roles = roles_of(user)
        return [(r, roles[r.pk]) for r in retailers_of(user)]

    return {
        "nav_memberships": memberships,
        "nav_is_admin": has_role_anywhere(user, Role.ADMIN),
        "nav_is_manager": has_role_anywhere(user, Role.MANAGER),
    }
