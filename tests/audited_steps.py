"""What every state machine test checks of each step: a refused step leaves no trace, a real
change leaves its activity under whoever made it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from oms.models import Activity
from oms.state import InvalidTransition

REFUSED = (InvalidTransition, ValidationError, PermissionDenied)


class AuditedSteps:
    """For a RuleBasedStateMachine with `retailer_id` and a `_snapshot()` of what it watches."""

    retailer_id: int

    def _snapshot(self) -> tuple:
        raise NotImplementedError

    def _recorded(self, new, by) -> None:
        """More checks of the activity a change by `by` left (`new`), where a machine has some."""

    def _try(self, change, *, by=None) -> bool:
        """Make a change; a refused one leaves no trace, a real one leaves its activity, under
        the name of whoever made it."""
        history = Activity.objects.filter(retailer_id=self.retailer_id)
        before, last = self._snapshot(), history.order_by("-pk").values_list("pk", flat=True)[:1]
        last = last[0] if last else 0
        try:
            change()
        except REFUSED:
            assert self._snapshot() == before, "a refused step changed something"
            assert not history.filter(pk__gt=last).exists(), "a refused step wrote history"
            return False
        if self._snapshot() != before:
            new = history.filter(pk__gt=last)
            assert new.exists(), "a change without its activity record"
            if by is not None:
                assert new.filter(actor=by).exists(), "a change not recorded under its actor"
                self._recorded(new, by)
        return True

    def _refused(self, change) -> None:
        """A step by someone without the role: refused, and nothing written."""
        history = Activity.objects.filter(retailer_id=self.retailer_id)
        before, recorded = self._snapshot(), history.count()
        with pytest.raises(PermissionDenied):
            change()
        assert self._snapshot() == before, "a step without the role changed something"
        assert history.count() == recorded, "a step without the role wrote history"
