"""Running totals of cash donations received, read forward from the notification log.

Donations are never routed through the Fund aggregate, so a check that needs them reads the log
from where it last stopped. Totals only ever grow, so a tally that is a moment old understates
what is available: the safe side.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic

from ledger.domain import Donation, ReceivedTotals
from ledger.domain.checks import PAGE_SIZE_MAX
from ledger.store import sql


class DonationTally:
    def __init__(self, recorder: Any, mapper: Mapper[Any]) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._topic = get_topic(Donation.Received)  # type: ignore[attr-defined]
        self._lock = threading.Lock()
        self._position = 0
        self._unrestricted_fen = 0
        self._restricted_fen: defaultdict[str, int] = defaultdict(int)

    def current(self) -> ReceivedTotals:
        with self._lock:
            if self._position == 0:
                self._sum_in_sql()
            while True:
                batch = self._recorder.select_notifications(
                    start=self._position + 1, limit=PAGE_SIZE_MAX, topics=[self._topic]
                )
                for notification in batch:
                    received = self._mapper.to_domain_event(notification)
                    self._position = notification.id
                    if not received.in_kind:  # type: ignore[attr-defined]
                        self._add(received.project_id, received.amount_fen)  # type: ignore[attr-defined]
                if len(batch) < PAGE_SIZE_MAX:
                    break
            return ReceivedTotals(self._unrestricted_fen, dict(self._restricted_fen))

    def _add(self, project_id: str | None, amount_fen: int) -> None:
        if project_id is None:
            self._unrestricted_fen += amount_fen
        else:
            self._restricted_fen[project_id] += amount_fen

    def _sum_in_sql(self) -> None:
        """The first reading, summed by the database over the stored JSON: reading a million
        gifts through the mapper took a minute; the database sums them in a second or two.
        The reading forward from the log carries on from the last gift summed here."""
        if self._mapper.cipher or self._mapper.compressor:  # read forward as usual
            return
        for gift_sum in sql.cash_gift_sums(self._recorder, self._topic) or []:
            self._add(gift_sum.project_id, gift_sum.amount_fen)
            self._position = max(self._position, gift_sum.position)
