from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse

from oms.models import retailers_of
from oms.roles import Role, has_role_anywhere, roles_of

# the layout's links and assets (templates/base.html), by the name it gives them
LINKS = {
    "home": "home",
    "search": "search",
    "logout": "logout",
    "orders": "orders:order_list",
    "my_tasks": "orders:my_tasks",
    "fulfilments": "fulfilments:fulfilment_list",
    "escalated": "fulfilments:escalated_list",
    "returns": "returns:return_list",
    "customers": "customers:customer_list",
    "billing": "billing:account_list",
    "intake": "intake:desk",
    "settings": "settings",
}
ASSETS = {
    "bootstrap_css": "vendor/bootstrap/bootstrap.min.css",
    "oms_css": "css/oms.css",
    "bootstrap_js": "vendor/bootstrap/bootstrap.bundle.min.js",
    "oms_js": "js/oms.js",
    "live_js": "js/live.js",
}


def layout(request: HttpRequest) -> dict:
    """The layout's links and asset URLs (`layout_links.orders`), the same on every page."""
    return {
        "layout_links": _links(
            get_urlconf(),
            get_script_prefix(),
            settings.STATIC_URL,
            settings.STORAGES["staticfiles"]["BACKEND"],
        )
    }


@lru_cache(maxsize=16)
def _links(urlconf, script_prefix: str, static_url: str, storage: str) -> dict[str, str]:
    """Built once for each URL configuration, script prefix and static storage (the arguments,
    which they depend on): a dozen `{% url %}` and `{% static %}` tags took more than half of
    the layout's rendering time on every page."""
    return {
        **{name: reverse(view, urlconf=urlconf) for name, view in LINKS.items()},
        **{name: static(path) for name, path in ASSETS.items()},
    }


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
