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

    def process_batch(
        self, batch: Sequence[tuple[int, Any]], tracking: Tracking, *, after: int
    ) -> None:
        """Apply the events after position ``after`` in one transaction (catch-up, rebuild)."""
        writes: list[Write] = []
        for position, domain_event in batch:
            writes.extend(self.writes_for(position, domain_event))
        self.view.write(writes, tracking, after=after)
