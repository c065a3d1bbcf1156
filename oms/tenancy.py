"""Tenancy in one place: every tenant-owned row carries its retailer, and reads are scoped here.

Lists, details, exports and API views never build a tenant queryset themselves: they go through
`TenantQuerySet.for_user`, applied by the base view mixin in `oms.views`.

Roles are held per retailer, so a read behind a role asks for the retailers where the user holds
it: `for_user(user, role=Role.MANAGER)`. Code that reads on behalf of a role-gated screen it does
not own (a home queue shown to managers) runs inside `least_role(role)`, which makes every
`for_user` and `retailer_ids_for` within it ask for at least that role.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Self

from django.db import models

from oms.roles import Role, roles_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


_LEAST_ROLE: ContextVar[Role] = ContextVar("oms_least_role", default=Role.AGENT)


@contextmanager
def least_role(role: Role) -> Iterator[None]:
    """Within the block, `for_user` and `retailer_ids_for` ask for at least `role` when they are
    not given one."""
    token = _LEAST_ROLE.set(Role(role))
    try:
        yield
    finally:
        _LEAST_ROLE.reset(token)


def retailer_ids_for(user: AbstractBaseUser | AnonymousUser, role: Role | None = None) -> list[int]:
    """The ids of the active retailers where the user holds `role` (or a higher one); without a
    role, every retailer they are a member of (or the least role of the enclosing block)."""
    wanted = Role(role) if role is not None else _LEAST_ROLE.get()
    return sorted(rid for rid, held in roles_of(user).items() if held.includes(wanted))


class TenantQuerySet(models.QuerySet):
    def for_retailers(self, retailer_ids: Iterable[int]) -> Self:
        """Rows of these retailers only."""
        return self.filter(retailer_id__in=list(retailer_ids))

    def for_user(self, user: AbstractBaseUser | AnonymousUser, role: Role | None = None) -> Self:
        """Rows of the retailers where the user holds `role` (any membership without one);
        nothing for anyone else."""
        ids = retailer_ids_for(user, role)
        return self.for_retailers(ids) if ids else self.none()


class TenantOwned(models.Model):
    """Base of every tenant-owned model: a non-null, indexed retailer on every row, child rows too.

    Unique constraints of subclasses include `retailer`, and indexes lead with it.
    """

    retailer = models.ForeignKey(
        "oms.Retailer", on_delete=models.PROTECT, related_name="+", db_index=True
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
