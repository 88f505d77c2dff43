"""Gifts received into each money account, per day, read forward from the notification log.

The rule that cash never goes below zero needs every gift in cash; gifts are never routed
through the Treasury (they are group-committed), so they are read from the log, from where the
last reading stopped. Gifts only add to an account, so a tally a moment old understates what a
cash box holds: the safe side.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import date
from typing import Any

from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic

from ledger.domain import Donation
from ledger.domain.checks import PAGE_SIZE_MAX


class GiftsByAccount:
    def __init__(self, recorder: Any, mapper: Mapper[Any]) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._topic = get_topic(Donation.Received)  # type: ignore[attr-defined]
        self._lock = threading.Lock()
        self._position = 0
        self._by_day: defaultdict[str, defaultdict[date, int]] = defaultdict(
            lambda: defaultdict(int)
        )

    def by_day(self, account: str) -> dict[date, int]:
        """Gifts into ``account`` per day, as far as the log has them now."""
        with self._lock:
            while True:
                batch = self._recorder.select_notifications(
                    start=self._position + 1, limit=PAGE_SIZE_MAX, topics=[self._topic]
                )
                for notification in batch:
                    received: Any = self._mapper.to_domain_event(notification)
                    self._position = notification.id
                    into = getattr(received, "account", None)
                    if into is not None:
                        self._by_day[into][received.meta.effective_on] += received.amount_fen
                if len(batch) < PAGE_SIZE_MAX:
                    break
            return dict(self._by_day[account])
