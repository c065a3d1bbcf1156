"""State machines, written once. A model declares its `Machine`; every change of state goes
through `transition`, which locks the row, checks the move, saves it and records it."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import timezone

from oms import locking


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


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Machine:
    """How a model's records move from state to state, and how a move is recorded.

    `transitions(obj)` gives the moves allowed for that record (a suspended order may also go
    back where it was). `state_of` maps the field's value onto a state (a retailer's order status
    onto its system state); with `within_state`, another value of the same state is a move too
    while the state is not final ("Picking" to "Packing"). `guard(obj, to)` adds a rule of the
    record's own (a held order cannot be processed). `record(obj, before=..., by=..., **data)`
    writes the activity: each app's typed event constructor.
    """

    transitions: Callable[[Any], Mapping[Hashable, frozenset]]
    record: Callable[..., Any]
    name: Callable[[Any], str]
    labels: Mapping[Any, str]
    field: str = "status"
    state_of: Callable[[Any], Any] = _same
    within_state: bool = False
    guard: Callable[[Any, Any], None] | None = None
    touch: tuple[str, ...] = ()

    def check(self, obj: models.Model, to: Any) -> None:
        """Raise InvalidTransition unless `obj` may move to `to` now."""
        transitions = self.transitions(obj)
        current, target = self.state_of(getattr(obj, self.field)), self.state_of(to)
        if not (self.within_state and current == target and transitions.get(current)):
            check(transitions, current, target, labels=self.labels, what=self.name(obj))
        if self.guard is not None:
            self.guard(obj, to)


def transition(
    machine: Machine,
    obj: models.Model,
    to: Any,
    *,
    by: Any,
    also: Mapping[str, Any] | None = None,
    **data: Any,
) -> Any:
    """Move `obj` to `to` as `machine` allows: lock its row (its order's first), check the move
    against what the row holds now, save the new state (and the fields in `also`) and record
    the activity with `data`. Returns the state it had. Call inside the service's transaction."""
    field = obj._meta.get_field(machine.field)
    (current,) = locking.ensure_locked(obj, field.attname)
    if current != getattr(obj, field.attname):  # it moved since it was read: check the move
        obj.refresh_from_db(fields=[machine.field])  # against where it is now
    machine.check(obj, to)
    before = getattr(obj, machine.field)
    setattr(obj, machine.field, to)
    changed = [machine.field]
    now = timezone.now()
    for name in machine.touch:
        setattr(obj, name, now)
        changed.append(name)
    for name, value in (also or {}).items():
        setattr(obj, name, value)
        changed.append(name)
    obj.save(update_fields=changed)
    machine.record(obj, before=before, by=by, **data)
    return before
