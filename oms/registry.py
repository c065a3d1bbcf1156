"""What the apps plug into the kernel (home queues, search groups, health checks, a new
retailer's defaults), so the kernel shows and runs them without importing any app.

Apps register in their `AppConfig.ready()`. Each entry has a name and an explicit position: the
order never depends on the order the apps load in, and registering a name again replaces its
entry, so a `ready()` that runs twice leaves the registry as it was. Entries are held in memory
and read without touching the database.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.core.exceptions import ImproperlyConfigured


class Registry[T]:
    """Named entries kept in the order of their positions."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, tuple[int, T]] = {}
        self._ordered: tuple[tuple[str, T], ...] = ()

    def register(self, name: str, entry: T, *, position: int) -> None:
        """Add `entry` at `position`, or replace the entry registered under `name` before."""
        for other, (taken, _) in self._entries.items():
            if taken == position and other != name:
                raise ImproperlyConfigured(
                    f"The {self.what} {name!r} asks for position {position}, "
                    f"which {other!r} holds already."
                )
        self._entries[name] = (position, entry)
        ranked = sorted(self._entries.items(), key=lambda item: item[1][0])
        self._ordered = tuple((key, value) for key, (_, value) in ranked)

    def items(self) -> tuple[tuple[str, T], ...]:
        """(name, entry) pairs, in order."""
        return self._ordered

    def __iter__(self) -> Iterator[T]:
        return (entry for _, entry in self._ordered)

    def __len__(self) -> int:
        return len(self._ordered)
