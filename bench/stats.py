"""The figures every bench script reports about a set of timings."""

from __future__ import annotations


def percentile(values: list[float], share: float) -> float:
    """The value at `share` (0.95 for p95) of the sorted values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]
