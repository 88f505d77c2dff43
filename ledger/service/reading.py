"""Reading the event log straight from the store (the projections answer most questions faster)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from ledger.domain.books import Position, fold
from ledger.domain.checks import PAGE_SIZE_MAX
from ledger.service.kernel import Kernel


class Reading(Kernel):
    def read_events(self, after: int = 0, limit: int = PAGE_SIZE_MAX) -> list[tuple[int, Any]]:
        """Up to ``limit`` stored events after a log position, with their positions."""
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        notifications = self.recorder.select_notifications(start=after + 1, limit=limit)
        return [(n.id, self.mapper.to_domain_event(n)) for n in notifications]

    def iter_events(self, after: int = 0) -> Iterator[tuple[int, Any]]:
        while batch := self.read_events(after):
            yield from batch
            after = batch[-1][0]

    def position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def summary(self, as_of: date | None = None) -> Position:
        """The fund's position, folded from the whole log (the projections do this faster)."""
        return fold((e for _, e in self.iter_events()), as_of).position()
