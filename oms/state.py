"""State machines, checked in one place. Models declare TRANSITIONS; services call `check`."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any


class InvalidTransition(Exception):
    """A move the state machine does not allow. Its message is fit to show to the user."""


def check(
    transitions: Mapping[Hashable, frozenset],
    current: Any,
    target: Any,
    *,
    labels: Mapping[Any, str] | None = None,
    what: str = "It",
) -> None:
    """Raise InvalidTransition unless `transitions` allows `current` -> `target`."""
    if target in transitions.get(current, frozenset()):
        return
    name = (labels or {}).get
    allowed = sorted(str(name(state, state)) for state in transitions.get(current, frozenset()))
    if not allowed:
        raise InvalidTransition(f"{what} is {name(current, current)}: it cannot change any more.")
    raise InvalidTransition(
        f"{what} cannot go from {name(current, current)} to {name(target, target)}; "
        f"it can go to {', '.join(allowed)}."
    )
