"""Group commit: concurrent commands gathered for a moment and saved in one transaction.

eventsourcing's PostgreSQL recorder locks the events table for each insert, so a store takes
one transaction at a time and throughput comes from how many commands share one, not from more
connections. Callers hand their checked command to ``submit`` and block; one writer thread
takes what has queued up (waiting a millisecond or two for more when the queue is short), runs
the batch, and answers every caller only after the batch's transaction has committed: each
with its own result or its own refusal.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ledger.domain.errors import LedgerError

Order = TypeVar("Order")
R = TypeVar("R")

WINDOW_S_MAX = 0.1
BATCH_SIZE_MAX = 1000
QUEUE_LENGTH_MAX = 10_000
# A caller never waits for ever: a writer stuck on the store answers with a timeout (503).
ANSWER_WAIT_S_MAX = 60.0


@dataclass
class GroupStats:
    """How much batching happened: the evidence that commands really share transactions."""

    batches: int = 0
    commands: int = 0
    batch_size_largest: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def counted(self, batch_size: int) -> None:
        with self.lock:
            self.batches += 1
            self.commands += batch_size
            self.batch_size_largest = max(self.batch_size_largest, batch_size)


class GroupCommitter(Generic[Order, R]):
    """One writer thread that runs queued orders in batches; ``submit`` waits for the commit.

    ``run_batch`` gets up to ``batch_size_max`` orders in arrival order and returns one outcome
    per order. It must not acknowledge anything it has not made durable: when it raises (the
    store is down, say), every caller in that batch gets the exception and none a success.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[Order]], Sequence[R | LedgerError]],
        *,
        window_s: float = 0.002,
        batch_size_max: int = 256,
        queue_length_max: int = QUEUE_LENGTH_MAX,
        name: str = "group-commit",
    ) -> None:
        assert 0 <= window_s <= WINDOW_S_MAX, window_s
        assert 1 <= batch_size_max <= BATCH_SIZE_MAX, batch_size_max
        assert 1 <= queue_length_max <= QUEUE_LENGTH_MAX, queue_length_max
        self._run_batch = run_batch
        self.window_s = window_s
        self.batch_size_max = batch_size_max
        self._queue: queue.Queue[tuple[Order, Future[R]] | None] = queue.Queue(queue_length_max)
        self.stats = GroupStats()
        self._closed = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name=name, daemon=True)
        self._writer.start()

    def queued(self, order: Order) -> Future[R]:
        """Queue the order; its future is answered once its batch has committed (or refused).

        For a caller that awaits rather than blocks (an asyncio route): on giving up it must
        ``cancel()`` the future, as ``submit`` does, so that an order not yet taken is dropped.
        """
        if self._closed.is_set():
            raise RuntimeError("the group committer is closed")
        answer: Future[R] = Future()
        try:
            self._queue.put_nowait((order, answer))
        except queue.Full:
            # Answered at once like a store that does not keep up: 503 with Retry-After.
            raise TimeoutError(f"{self._queue.maxsize} writes are already waiting") from None
        return answer

    def submit(self, order: Order, wait_s: float = ANSWER_WAIT_S_MAX) -> R:
        """Queue the order and block until its batch is committed; raise its own refusal."""
        answer = self.queued(order)
        try:
            return answer.result(timeout=min(wait_s, ANSWER_WAIT_S_MAX))
        except TimeoutError:
            # Not yet taken by the writer: withdrawn, so a caller told "failed" is never
            # recorded later. Already being written: its outcome is unknown to this caller,
            # and a retry with the same Idempotency-Key gets the stored answer.
            answer.cancel()
            raise

    def close(self) -> None:
        """Run what is queued, then stop the writer."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._queue.put(None)
        self._writer.join(timeout=ANSWER_WAIT_S_MAX)

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            deadline = time.monotonic() + self.window_s
            while len(batch) < self.batch_size_max:
                try:
                    # Take what is already queued at once; wait for more only within the window.
                    remaining_s = deadline - time.monotonic()
                    item = (
                        self._queue.get(timeout=remaining_s)
                        if remaining_s > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._answer(batch)
        # Orders queued after the stop was asked for get an answer too, never a hang.
        while True:
            try:
                late = self._queue.get_nowait()
            except queue.Empty:
                return
            if late is not None:
                late[1].set_exception(RuntimeError("the group committer is closed"))

    def _answer(self, batch: list[tuple[Order, Future[R]]]) -> None:
        # Orders whose callers gave up before the writer took them are dropped, not written.
        batch = [
            (order, answer) for order, answer in batch if answer.set_running_or_notify_cancel()
        ]
        if not batch:
            return
        answers = [answer for _, answer in batch]
        try:
            outcomes = self._run_batch([order for order, _ in batch])
            assert len(outcomes) == len(batch), (len(outcomes), len(batch))
        except BaseException as error:  # every caller hears of it; the writer carries on
            for answer in answers:
                answer.set_exception(error)
            return
        self.stats.counted(len(batch))
        for answer, outcome in zip(answers, outcomes, strict=True):
            if isinstance(outcome, LedgerError):
                answer.set_exception(outcome)
            else:
                answer.set_result(outcome)
