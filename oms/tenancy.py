"""Tenancy in one place: every tenant-owned row carries its retailer, and reads are scoped here.

Lists, details, exports and API views never build a tenant queryset themselves: they go through
`TenantQuerySet.for_user`, applied by the base view mixin in `oms.views`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Self

from django.db import models

from oms.roles import roles_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def retailer_ids_for(user: AbstractBaseUser | AnonymousUser) -> list[int]:
    """The ids of the active retailers the user is a member of."""
    return sorted(roles_of(user))


class TenantQuerySet(models.QuerySet):
    def for_retailers(self, retailer_ids: Iterable[int]) -> Self:
        """Rows of these retailers only."""
        return self.filter(retailer_id__in=list(retailer_ids))

    def for_user(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        """Rows of the retailers the user is a member of; nothing for anyone else."""
        ids = retailer_ids_for(user)
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
