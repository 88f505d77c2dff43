"""Group commit of single donations, on SQLite and PostgreSQL.

Concurrent donations share one transaction, yet each caller gets its own answer, only after its
events are durable, and one bad order never fails the others in its batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import Settings
from ledger.app import OPERATOR, Actor, DonationOrder, FundLedger, Receipt
from ledger.domain import Donation
from ledger.domain.errors import (
    Duplicate,
    IdempotencyConflict,
    LedgerError,
    NotFound,
    PeriodClosed,
    WrongState,
)
from ledger.service.batching import GroupCommitter

DAY = date(2025, 3, 10)
NOBODY = "00000000-0000-4000-8000-000000000000"
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


@pytest.fixture
def fund(store_url: str) -> Iterator[Fund]:
    made = Fund(store_url)
    yield made
    made.ledger.close()


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


# -- many callers, one transaction --------------------------------------------------------------


def test_concurrent_submissions_share_a_transaction_and_each_gets_its_own_answer(
    fund: Fund,
) -> None:
    orders = [fund.order(f"GC-{n:03d}", key=f"k-{n}", amount_fen=100 + n) for n in range(24)]
    held = Held(fund.ledger.record_donation_orders)
    try:
        answers = held.submit_all(orders)
    finally:
        held.committer.close()
    committer = held.committer

    for order, answer in zip(orders, answers, strict=True):
        assert isinstance(answer, Receipt), answer
        assert answer.id == str(Donation.create_id(order.receipt))
        assert answer.position > 0
        assert not answer.replayed
    # The held batch, then all those queued behind it together: at most two transactions
    # (one, when every order was queued before the writer took the first).
    assert committer.stats.commands == 24
    assert committer.stats.batches <= 2
    assert committer.stats.batch_size_largest >= 12
    assert fund.inserts == committer.stats.batches
    assert fund.stored_receipts() == {o.receipt for o in orders}
    # Each answer's position is where its own donation was logged.
    logged = {str(e.originator_id): position for position, e in fund.ledger.iter_events()}
    assert all(isinstance(a, Receipt) and logged[a.id] <= a.position for a in answers), (
        "an answer named a position before its own event"
    )


def test_one_bad_order_fails_alone_and_the_rest_are_stored_in_one_transaction(
    fund: Fund,
) -> None:
    fund.ledger.record_donation(fund.treasurer, fund.donor, 100, DAY, "cash", "TAKEN")
    fund.inserts = 0
    orders = [
        fund.order("OK-1"),
        fund.order("UNKNOWN-DONOR", donor_id=NOBODY),
        fund.order("TAKEN"),  # recorded before this batch
        fund.order("OK-2", key="same-key"),
        fund.order("OK-1"),  # taken by the first order of this batch
        fund.order("OTHER-BODY", key="same-key"),  # the key again, another command
        fund.order("CLOSED", project_id=fund.closed_project),
        fund.order("OK-3", key="twice"),
        fund.order("OK-3", key="twice"),  # a client's retry arriving in the same batch
        fund.order("OK-4"),
    ]
    outcomes = fund.ledger.record_donation_orders(orders)

    kinds = [type(o) for o in outcomes]
    assert kinds == [
        Receipt,
        NotFound,
        Duplicate,
        Receipt,
        Duplicate,
        IdempotencyConflict,
        WrongState,
        Receipt,
        Receipt,
        Receipt,
    ], outcomes
    first, retry = outcomes[7], outcomes[8]
    assert isinstance(first, Receipt)
    assert isinstance(retry, Receipt)
    assert (retry.id, retry.replayed, first.replayed) == (first.id, True, False)
    assert fund.inserts == 1
    assert fund.stored_receipts() == {"TAKEN", "OK-1", "OK-2", "OK-3", "OK-4"}


def test_nothing_is_acknowledged_when_the_save_fails(fund: Fund) -> None:
    counted = fund.ledger.recorder.insert_events

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("the disk is full")

    fund.ledger.recorder.insert_events = failing  # type: ignore[method-assign]
    orders = [fund.order(f"LOST-{n}", key=f"lost-{n}") for n in range(8)]
    held = Held(fund.ledger.record_donation_orders)
    committer = held.committer
    try:
        answers = held.submit_all(orders)
        assert all(isinstance(a, OperationalError) for a in answers), answers
        assert fund.stored_receipts() == set()

        # The writer carries on: the same orders, retried once the store is back, are stored.
        fund.ledger.recorder.insert_events = counted  # type: ignore[method-assign]
        assert isinstance(committer.submit(orders[0], wait_s=WAIT_S), Receipt)
    finally:
        committer.close()
    assert fund.stored_receipts() == {"LOST-0"}


def test_a_conflict_at_the_save_retries_each_order_alone(fund: Fund) -> None:
    """Another writer takes a receipt between the batch's checks and its save."""
    save = fund.ledger.save
    raced = []

    def racing_save(*aggregates: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(True)
            fund.ledger.record_donation(fund.treasurer, fund.donor, 100, DAY, "cash", "RACED")
        return save(*aggregates, **kwargs)

    fund.ledger.save = racing_save  # type: ignore[method-assign]
    orders = [fund.order("R-1", key="r1"), fund.order("RACED"), fund.order("R-2")]
    outcomes = fund.ledger.record_donation_orders(orders)

    assert [type(o) for o in outcomes] == [Receipt, Duplicate, Receipt], outcomes
    assert fund.stored_receipts() == {"RACED", "R-1", "R-2"}


def test_idempotent_replays_work_across_batches_and_the_single_path(fund: Fund) -> None:
    (first,) = fund.ledger.record_donation_orders([fund.order("IDEM", key="idem")])
    assert isinstance(first, Receipt)

    again, other = fund.ledger.record_donation_orders(
        [fund.order("IDEM", key="idem"), fund.order("IDEM-2", key="idem")]
    )
    assert isinstance(again, Receipt)
    assert (again.id, again.replayed) == (first.id, True)
    assert isinstance(other, IdempotencyConflict)

    # The one-at-a-time path sees the record the group commit stored, and the other way round.
    alone = fund.ledger.record_donation(
        fund.treasurer, fund.donor, 8800, DAY, "wechat_pay", "IDEM", idempotency_key="idem"
    )
    assert (alone.id, alone.replayed) == (first.id, True)
    single = fund.ledger.record_donation(
        fund.treasurer, fund.donor, 8800, DAY, "wechat_pay", "SINGLE", idempotency_key="single"
    )
    (replayed,) = fund.ledger.record_donation_orders([fund.order("SINGLE", key="single")])
    assert isinstance(replayed, Receipt)
    assert (replayed.id, replayed.replayed) == (single.id, True)
    assert fund.stored_receipts() == {"IDEM", "SINGLE"}


def test_state_kept_between_batches_is_dropped_when_it_changes(fund: Fund) -> None:
    """Group commits keep the Fund, donors and projects they read while their version holds."""
    (first,) = fund.ledger.record_donation_orders([fund.order("P-1", project_id=fund.open_project)])
    assert isinstance(first, Receipt)

    fund.ledger.close_project(fund.ledger.actor_named("委员"), fund.open_project)
    fund.ledger.close_period(fund.ledger.actor_named("委员"), "2025-03")
    later, closed = fund.ledger.record_donation_orders(
        [
            fund.order("P-2", project_id=fund.open_project, received_on=date(2025, 4, 1)),
            fund.order("P-3"),  # dated in March, now closed
        ]
    )
    assert isinstance(later, WrongState), later
    assert isinstance(closed, PeriodClosed), closed
    assert fund.stored_receipts() == {"P-1"}


# -- through HTTP --------------------------------------------------------------------------------


def test_concurrent_posts_are_group_committed_and_revocation_is_immediate(
    fund: Fund, store_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=store_url,
        signing_key_file=str(tmp_path / "no-such.key"),
        group_commit_window_s=0.02,
    )
    headers = {"Authorization": f"Bearer {fund.token}"}
    body = {"donor_id": fund.donor, "amount": "88.00", "received_on": DAY.isoformat()}
    body["channel"] = "wechat_pay"
    with TestClient(create_app(settings, fund.ledger), raise_server_exceptions=False) as client:

        def post(n: int) -> Any:
            response = client.post(
                "/v1/donations",
                json=body | {"receipt_no": f"HTTP-{n:03d}"},
                headers=headers | {"Idempotency-Key": f"http-{n}"},
            )
            assert response.status_code == 201, response.text
            return response.json()

        with ThreadPoolExecutor(16) as pool:
            written = list(pool.map(post, range(32)))
        assert [w["id"] for w in written] == [
            str(Donation.create_id(f"HTTP-{n:03d}")) for n in range(32)
        ]
        replay = client.post(
            "/v1/donations",
            json=body | {"receipt_no": "HTTP-000"},
            headers=headers | {"Idempotency-Key": "http-0"},
        )
        assert (replay.status_code, replay.json()["id"]) == (201, written[0]["id"])
        assert replay.json()["replayed"] is True

        metrics = client.get("/metrics").text
        batches = _metric(metrics, "fund_ledger_group_commit_batches_total")
        commands = _metric(metrics, "fund_ledger_group_commit_commands_total")
        assert commands == 33
        assert batches < commands, "no two POSTs shared a transaction"

        # A revocation in this process, then one by another process, each bites at once.
        fund.ledger.revoke_user(OPERATOR, "出纳")
        refused = client.post("/v1/donations", json=body, headers=headers)
        assert refused.status_code == 401, refused.text
        _, token = fund.ledger.add_user(OPERATOR, "新出纳", "treasurer")
        fresh = {"Authorization": f"Bearer {token}"}
        assert client.post("/v1/donations", json=body, headers=fresh).status_code == 201
        other_process = FundLedger(store_url)
        try:
            other_process.revoke_user(OPERATOR, "新出纳")
        finally:
            other_process.close()
        assert client.post("/v1/donations", json=body, headers=fresh).status_code == 401


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in the metrics")


def test_the_treasurer_check_comes_before_the_queue(fund: Fund) -> None:
    member: Actor = fund.ledger.actor_named("委员")
    with pytest.raises(LedgerError) as caught:
        fund.ledger.donation_order(member, fund.donor, 100, DAY, "cash")
    assert caught.value.code == "not-permitted"
    assert UUID(fund.donor)  # the donor exists: only the role refused it


# -- the committer itself, without a store -------------------------------------------------------


def test_a_full_queue_and_a_closed_committer_answer_at_once() -> None:
    gate = threading.Event()

    def slow(orders: Sequence[int]) -> Sequence[int | LedgerError]:
        assert gate.wait(WAIT_S)
        return [order * 2 for order in orders]

    committer: GroupCommitter[int, int] = GroupCommitter(
        slow, window_s=0.0, batch_size_max=1, queue_length_max=1
    )
    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(committer.submit, 1)  # taken by the writer, which waits
        deadline = time.monotonic() + WAIT_S
        while committer._queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.005)
        queued = pool.submit(committer.submit, 2)  # fills the one place in the queue
        while not committer._queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.005)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            committer.submit(3)  # the default wait is long: a full queue must not use it
        assert time.monotonic() - started < 1.0
        gate.set()
        assert (held.result(WAIT_S), queued.result(WAIT_S)) == (2, 4)
    committer.close()
    with pytest.raises(RuntimeError):
        committer.submit(4)


def test_an_order_whose_caller_gave_up_before_it_was_taken_is_never_written() -> None:
    gate = threading.Event()
    written: list[int] = []

    def slow(orders: Sequence[int]) -> Sequence[int | LedgerError]:
        assert gate.wait(WAIT_S)
        written.extend(orders)
        return [order * 2 for order in orders]

    committer: GroupCommitter[int, int] = GroupCommitter(slow, window_s=0.0, batch_size_max=1)
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(committer.submit, 1)  # taken by the writer, which waits
        deadline = time.monotonic() + WAIT_S
        while committer._queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.005)
        with pytest.raises(TimeoutError):
            committer.submit(2, wait_s=0.05)  # told it failed while still queued
        gate.set()
        assert held.result(WAIT_S) == 2
    committer.close()
    assert written == [1]
