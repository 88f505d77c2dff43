"""What the group-commit tests share: a fund with its treasurer and donors, saves that can be
held back, and how long a test waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from ledger.app import OPERATOR, DonationOrder, FundLedger, Receipt
from ledger.domain import Donation
from ledger.domain.errors import LedgerError
from ledger.service.batching import GroupCommitter

DAY = date(2025, 3, 10)


WAIT_S = 20.0


class Fund:
    """A fund with a treasurer, a donor and a closed project, and a count of insert transactions."""

    def __init__(self, store_url: str) -> None:
        self.ledger = FundLedger(store_url)
        self.ledger.establish_fund(OPERATOR, "测试共富基金", quorum=1)
        _, self.token = self.ledger.add_user(OPERATOR, "出纳", "treasurer")
        self.treasurer = self.ledger.actor_named("出纳")
        donor = self.ledger.register_donor(self.treasurer, "南湖宾馆", "enterprise", "named")
        self.donor = donor.id
        self.ledger.add_user(OPERATOR, "委员", "committee")
        closed = self.ledger.open_project(self.treasurer, "closed", "已结项目").id
        self.ledger.close_project(self.ledger.actor_named("委员"), closed)
        self.closed_project = closed
        self.open_project = self.ledger.open_project(self.treasurer, "open", "在办项目").id
        self.inserts = 0
        insert_events = self.ledger.recorder.insert_events

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.inserts += 1  # one call is one transaction of the events table
            return insert_events(*args, **kwargs)

        self.ledger.recorder.insert_events = counted  # type: ignore[method-assign]

    def order(
        self, receipt: str, *, key: str | None = None, amount_fen: int = 8800, **changes: Any
    ) -> DonationOrder:
        fields: dict[str, Any] = {
            "donor_id": self.donor,
            "amount_fen": amount_fen,
            "received_on": DAY,
            "channel": "wechat_pay",
            "receipt_no": receipt,
        } | changes
        return self.ledger.donation_order(self.treasurer, **fields, idempotency_key=key)

    def stored_receipts(self) -> set[str]:
        return {
            e.receipt_no
            for _, e in self.ledger.iter_events()
            if isinstance(e, Donation.Received)  # type: ignore[attr-defined]
        }


class Held:
    """A committer whose first batch waits for a gate, so that the rest queue up behind it."""

    def __init__(
        self,
        run_batch: Callable[[Sequence[DonationOrder]], Sequence[Receipt | LedgerError]],
    ) -> None:
        self.gate = threading.Event()
        self.held_sizes: list[int] = []

        def held(orders: Sequence[DonationOrder]) -> Sequence[Receipt | LedgerError]:
            if not self.held_sizes:
                self.held_sizes.append(len(orders))
                assert self.gate.wait(WAIT_S), "the gate was never opened"
            return run_batch(orders)

        self.committer = GroupCommitter(held, window_s=0.0, batch_size_max=256)

    def submit_all(self, orders: list[DonationOrder]) -> list[Receipt | BaseException]:
        """Submit every order from its own thread; open the gate once all are in or queued."""

        def submit(order: DonationOrder) -> Receipt | BaseException:
            try:
                return self.committer.submit(order, wait_s=WAIT_S)
            except BaseException as error:
                return error

        with ThreadPoolExecutor(len(orders)) as pool:
            answers = [pool.submit(submit, order) for order in orders]
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline:
                held = sum(self.held_sizes)
                if held and held + self.committer._queue.qsize() == len(orders):
                    break
                time.sleep(0.005)
            self.gate.set()
            return [answer.result(timeout=WAIT_S) for answer in answers]
