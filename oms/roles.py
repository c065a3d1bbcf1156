"""Roles a user holds in a retailer, and the one check every action goes through.

Roles are ranked: an agent reads and works records, a manager also moves orders and money, an
admin also configures the retailer. A higher role has every right of a lower one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import F

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def includes(self, other: Role) -> bool:
        """True when this role has every right of `other`."""
        return self.rank >= Role(other).rank


_RANK = {Role.AGENT: 1, Role.MANAGER: 2, Role.ADMIN: 3}


def roles_of(user: AbstractBaseUser | AnonymousUser) -> dict[int, Role]:
    """The user's role in each of their retailers, keyed by retailer id (read once per request)."""
    return memberships_of(user)[0]


def memberships_of(user: AbstractBaseUser | AnonymousUser) -> tuple[dict[int, Role], list]:
    """The user's roles by retailer id, and their active retailers by name.

    One query, read once per request and kept on the user: every page asks for both (the
    database scope and the role checks for the roles, the layout and the time zone for the
    retailers), so they are read together. Setting `user._oms_roles = None` reads them again.
    """
    if not user.is_authenticated:
        return {}, []
    if getattr(user, "_oms_roles", None) is None:
        # the retailers with the membership's role beside them: cheaper to build than
        # memberships with their retailers (`oms.models` imports this module, hence get_model)
        retailers = list(
            apps.get_model("oms", "Retailer")
            .objects.filter(memberships__user=user, is_active=True)
            .annotate(membership_role=F("memberships__role"))
            .order_by("name", "pk")
        )
        user._oms_retailers = retailers
        user._oms_roles = {retailer.pk: Role(retailer.membership_role) for retailer in retailers}
    return user._oms_roles, user._oms_retailers


def role_in(user: AbstractBaseUser | AnonymousUser, retailer_id: int) -> Role | None:
    """The user's role in one retailer, or None when they are not a member."""
    return roles_of(user).get(retailer_id)


def has_role(user: AbstractBaseUser | AnonymousUser, retailer_id: int, role: Role) -> bool:
    """True when the user holds `role` (or a higher one) in the retailer."""
    held = role_in(user, retailer_id)
    return held is not None and held.includes(role)


def has_role_anywhere(user: AbstractBaseUser | AnonymousUser, role: Role) -> bool:
    """True when the user holds `role` (or a higher one) in at least one retailer.

    Enough to show a link or open a page; never to act on or read a record, whose retailer is
    asked with `has_role` (and a list's rows with `for_user(user, role=...)`)."""
    return any(held.includes(role) for held in roles_of(user).values())


def require_role(user: AbstractBaseUser | AnonymousUser, retailer_id: int, role: Role) -> None:
    """Raise PermissionDenied unless the user holds `role` in the retailer."""
    if not has_role(user, retailer_id, role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role.")
