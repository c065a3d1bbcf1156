"""What a new retailer is given before anyone works in it (order statuses, return reasons and
actions, ...): each app registers how it sets up its part (`register_defaults`) in its
`AppConfig.ready()`, and the kernel runs them all when a retailer is saved in the admin.

A setup gives what is missing and leaves what exists alone, so running it again changes nothing.
"""

from __future__ import annotations

from typing import Protocol

from oms.models import Retailer
from oms.registry import Registry


class EnsureDefaults(Protocol):
    def __call__(self, *, retailer: Retailer) -> object: ...


_SETUPS: Registry[EnsureDefaults] = Registry("retailer setup")


def register_defaults(name: str, ensure: EnsureDefaults, *, position: int) -> None:
    """Give every retailer saved in the admin what `ensure` sets up, at `position` (lower first)."""
    _SETUPS.register(name, ensure, position=position)


def retailer_ensure_defaults(*, retailer: Retailer) -> None:
    """Give the retailer the defaults of every app that is missing; existing ones stay."""
    for ensure in _SETUPS:
        ensure(retailer=retailer)
