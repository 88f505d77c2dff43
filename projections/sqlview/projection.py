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
from projections.sqlview.writes import Bulk, Probe, Sink, Write


class ViewProjection(Projection[SQLView]):
    """Applies each event to one view, with its tracking, in one transaction."""

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        raise NotImplementedError

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.write(self.writes_for(tracking.notification_id, domain_event), tracking)

    def fast_write(self, position: int, domain_event: Any, sink: Sink) -> bool:
        """Put the same writes as ``writes_for`` into ``sink``, faster, for the events a
        view's fast path knows (gifts received); False, having put nothing, for the others."""
        return False

    # Whether the fast path has agreed with the slow one so far, in this process.
    fast_trusted = True

    def batch_writes(self, batch: Sequence[tuple[int, Any]]) -> list[Write]:
        """Every write of a batch, a run of events the fast path takes gathered into a few.
        The first event of each kind in the batch the fast path takes is also given to the
        slow one: if their writes differ, the fast path is dropped for good."""
        writes: list[Write] = []
        bulk = Bulk()
        checked: set[type] = set()
        for position, domain_event in batch:
            if self.fast_trusted:
                if type(domain_event) in checked:
                    if self.fast_write(position, domain_event, bulk):
                        continue
                else:
                    probe = Probe()
                    if self.fast_write(position, domain_event, probe):
                        checked.add(type(domain_event))
                        if probe.writes == self.writes_for(position, domain_event):
                            self.fast_write(position, domain_event, bulk)
                            continue
                        self.fast_trusted = False
            writes.extend(bulk.drain())
            writes.extend(self.writes_for(position, domain_event))
        writes.extend(bulk.drain())
        return writes

    def process_batch(
        self, batch: Sequence[tuple[int, Any]], tracking: Tracking, *, after: int
    ) -> None:
        """Apply the events after position ``after`` in one transaction (catch-up, rebuild)."""
        self.view.write(self.batch_writes(batch), tracking, after=after)
