"""Applying events to a view: one eventsourcing ``Projection`` per view.

Translating an event into writes is a pure function of the event and its position, so a
rebuild and the incremental runner write exactly the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from projections.sqlview.base import SQLView
from projections.sqlview.writes import Write


class ViewProjection(Projection[SQLView]):
    """Applies each event to one view, with its tracking, in one transaction."""

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        raise NotImplementedError

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.write(self.writes_for(tracking.notification_id, domain_event), tracking)

    def fast_writes_for(self, position: int, domain_event: Any) -> list[Write] | None:
        """The same writes as ``writes_for``, made faster for the events a view's fast path
        knows (gifts received); None for any other event."""
        return None

    # Whether the fast path has agreed with the slow one so far, in this process.
    fast_trusted = True

    def batch_writes(self, batch: Sequence[tuple[int, Any]]) -> list[Write]:
        """Every write of a batch. The first event of the batch the fast path takes is also
        given to the slow one: if they differ, the fast path is dropped for good."""
        writes: list[Write] = []
        checked = False
        for position, domain_event in batch:
            fast = self.fast_writes_for(position, domain_event) if self.fast_trusted else None
            if fast is not None and not checked:
                checked = True
                if fast != self.writes_for(position, domain_event):
                    self.fast_trusted = False
                    fast = None
            writes.extend(fast if fast is not None else self.writes_for(position, domain_event))
        return writes

    def process_batch(
        self, batch: Sequence[tuple[int, Any]], tracking: Tracking, *, after: int
    ) -> None:
        """Apply the events after position ``after`` in one transaction (catch-up, rebuild)."""
        self.view.write(self.batch_writes(batch), tracking, after=after)
