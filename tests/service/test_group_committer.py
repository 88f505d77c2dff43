"""The group committer itself, without a store: a full queue and a closed committer answer at
once, and an order whose caller gave up before it was taken is never written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from committing import WAIT_S

from ledger.domain.errors import LedgerError
from ledger.service.batching import GroupCommitter

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
