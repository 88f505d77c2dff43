"""What the service runs on: the ledger, its views, the live runner and the metrics."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from api.clients import Network
from api.metrics import Metrics
from ledger.app import DonationOrder, FundLedger, Receipt
from ledger.log.notes import Signer
from ledger.service.batching import ANSWER_WAIT_S_MAX, GroupCommitter
from projections.log.queries import Log
from projections.reader import Reader
from projections.runner import LiveRunner, Views, ViewsFollower, ViewStatus
from projections.statements.ratios import Thresholds

# Probes in a row that must fail with an error before the store is called down.
PROBE_ERRORS_MAX = 2
# Gifts answered before their views whose lag is being timed, at most: past it (the views
# stopped), more gifts are answered and waited for by reads, but their lag is not timed.
LAG_WATCHES_MAX = 100_000


class AuthThrottle:
    """Failed authentications per client address, in a moving window (the ``limits`` library).

    Only failures are counted, and only failures are held up: a presented token is checked
    first, and a valid one always gets in, so bad guesses from an address (a shared NAT, a
    proxy, an attacker) never lock its valid users out. Past ``failures_max`` in the window a
    failure is answered 429 with the wait instead of 401. The storage forgets an address when
    its window has passed.
    """

    def __init__(self, failures_max: int = 10, window_s: int = 60) -> None:
        self.limit = RateLimitItemPerSecond(failures_max, window_s)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def failed(self, client: str) -> int:
        """Count a failure; the seconds the client should wait when over the limit, else 0."""
        if self.limiter.hit(self.limit, "auth-failures", client):
            return 0
        stats = self.limiter.get_window_stats(self.limit, "auth-failures", client)
        return max(1, math.ceil(stats.reset_time - time.time()))


class ViewWatch:
    """Where the slowest view stands, read by one thread at a time for every waiting write.

    Each write waits until the views show it. Left to itself every waiting request would
    query each view's tracking position every few milliseconds; with dozens of writes in
    flight those queries crowd the pool the writes and the views need. Here one waiter reads
    the positions and the others take its answer while it is fresh.
    """

    FRESH_S = 0.004
    POLL_S_MAX = 0.02
    # A coroutine is woken by the runner of this process (the service always runs one); the
    # store is read only this often, in case another process's runner applied the events first.
    ASYNC_POLL_S = 0.25

    def __init__(self, views: Views) -> None:
        self._views = views
        self._lock = threading.Lock()
        self._known = 0
        self._read_at = float("-inf")
        # (loop, position) -> its future, made and dropped on that loop only.
        self._known_futures: dict[tuple[int, int], asyncio.Future[None]] = {}

    def wait(self, position: int, timeout_s: float) -> bool:
        """Block until every view has applied ``position``; False when the wait timed out.

        The views kept by this process's runner raise ``known_position`` as they commit, and
        the wait is woken then, with no query. Views kept by another process (``projections
        run``) are read from the store, by one waiter for all, every ``POLL_S_MAX`` at most.
        """
        deadline = time.monotonic() + min(timeout_s, 10.0)
        while self._views.known_position < position:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                return False
            if self._views.wait_known(position, min(remaining_s, self.POLL_S_MAX)):
                return True
            self._current()
        return True

    async def wait_async(self, position: int, timeout_s: float) -> bool:
        """``wait`` for a coroutine: woken by the runner's callback, holding no thread.

        Coroutines waiting for the same position share one future and one callback, made
        once: while the views stand still (their worker restarting), every request waits, and
        a callback per request and poll would pile up until the views moved again."""
        deadline = time.monotonic() + min(timeout_s, 10.0)
        loop = asyncio.get_running_loop()
        while self._views.known_position < position:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                return False
            try:
                await asyncio.wait_for(
                    asyncio.shield(self._known_future(loop, position)),
                    min(remaining_s, self.ASYNC_POLL_S),
                )
            except TimeoutError:
                # Views kept by another process: read from the store, off the event loop, and
                # no longer than the wait has left (a store going away holds the read).
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0:
                    return False
                try:
                    await asyncio.wait_for(asyncio.to_thread(self._current), remaining_s)
                except TimeoutError:
                    return False
        return True

    def _known_future(self, loop: asyncio.AbstractEventLoop, position: int) -> asyncio.Future[None]:
        """The future settled once the views are known to show ``position``, on this loop."""
        key = (id(loop), position)
        known = self._known_futures.get(key)
        if known is None:
            known = loop.create_future()
            self._known_futures[key] = known

            def settle() -> None:  # on the loop
                self._known_futures.pop(key, None)
                _settle(known)

            def wake() -> None:  # on the thread that learns the views moved
                loop.call_soon_threadsafe(settle)

            self._views.when_known(position, wake)
        return known

    def _current(self) -> int:
        with self._lock:
            if time.monotonic() - self._read_at >= self.FRESH_S:
                self._known = min(self._views.position(s.name) for s in self._views.specs)
                self._views.raise_known(self._known)
                self._read_at = time.monotonic()
            return self._known


def _settle(known: asyncio.Future[None]) -> None:
    if not known.done():
        known.set_result(None)


@dataclass
class Services:
    ledger: FundLedger
    views: Views
    reader: Reader
    runner: LiveRunner | ViewsFollower
    wait_s: float
    log: Log
    signer: Signer | None = None
    # Single donations, gathered into shared transactions (None: each runs alone).
    donations: GroupCommitter[DonationOrder, Receipt] | None = None
    checkpoint_interval_s: float = 2.0
    metrics: Metrics = field(default_factory=Metrics)
    # The spending-ratio rules the statements are checked against (Settings).
    thresholds: Thresholds = field(default_factory=Thresholds)
    auth_throttle: AuthThrottle = field(default_factory=AuthThrottle)
    # Reverse proxies whose X-Forwarded-For is believed (api.clients).
    trusted_proxies: tuple[Network, ...] = ()
    started_at: float = field(default_factory=time.monotonic)
    checkpoint_error: BaseException | None = None
    store_probe_timeout_s: float = 3.0
    store_probe_interval_s: float = 1.0
    # False once a probe of the store failed, until one succeeds: requests then get 503 at once.
    store_up: bool = True
    store_error: str | None = None
    _probe_now: threading.Event = field(default_factory=threading.Event)
    _monitor: threading.Thread | None = None
    _probes: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-probe")
    )
    _probe: Future[list[ViewStatus]] | None = None
    store_answered_at: float = 0.0
    _probe_lock: threading.RLock = field(default_factory=threading.RLock)
    _probe_errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _checkpointer: threading.Thread | None = None
    _view_watch: ViewWatch = field(init=False)
    # Gifts are answered before the views show them only where every read of the store goes
    # through this process (``Settings.answer_gifts_before_views``); else each gift waits.
    answer_before_views: bool = False
    # The last position of a gift answered before the views showed it (``views_show_answered``);
    # from the start, the log's head then (gifts another run of this process answered).
    answered_position: int = 0
    # Lag watches of gifts answered before their views: made (event loop), and fired.
    _lag_watches: int = 0
    _lag_watched: int = 0

    def __post_init__(self) -> None:
        self._view_watch = ViewWatch(self.views)

    def start_checkpoints(self) -> None:
        """Sign a checkpoint whenever the log has grown, at most every interval."""
        if self.signer is None:
            return
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="checkpointer", daemon=True
        )
        self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        assert self.signer is not None
        while not self._stop.is_set():
            try:
                self.log.sign(self.signer)
                self.checkpoint_error = None
            except Exception as error:  # reported by /healthz; an inconsistent log stays unsigned
                self.checkpoint_error = error
            self._stop.wait(self.checkpoint_interval_s)

    def store_status(self) -> list[ViewStatus]:
        """The views' status, read within the probe timeout, or the error that stopped it.

        A store that does not answer raises TimeoutError. One probe runs at a time, and callers
        who come while it runs share its answer, so a hung store holds one thread, not one per
        health check. The answer also decides ``store_up``.
        """
        probe = self._current_probe()
        try:
            return probe.result(timeout=self.store_probe_timeout_s)
        except TimeoutError as error:  # the probe's own errors are judged by _probed
            self._probe_failed(error)
            raise

    async def store_status_async(self) -> list[ViewStatus]:
        """``store_status`` without holding a worker thread while it waits: /healthz must
        answer even when every worker is stuck on the store."""
        probe = self._current_probe()
        try:
            return await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(probe)), self.store_probe_timeout_s
            )
        except TimeoutError as error:  # the probe's own errors are judged by _probed
            self._probe_failed(error)
            raise

    def _current_probe(self) -> Future[list[ViewStatus]]:
        with self._probe_lock:
            if self._probe is None or self._probe.done():
                self._probe = self._probes.submit(self.views.status)
                # The store is up again the moment a probe that waited on it succeeds.
                self._probe.add_done_callback(self._probed)
            return self._probe

    def _probed(self, probe: Future[list[ViewStatus]]) -> None:
        error = None if probe.cancelled() else probe.exception()
        if error is None:
            self._probe_errors = 0
            self._store_is(up=True, error=None)
            return
        # One error may be the moment of a restart, already over: ask again before saying so.
        self._probe_errors += 1
        if self._probe_errors < PROBE_ERRORS_MAX and not self._stop.is_set():
            self._current_probe()
            return
        self._probe_failed(error)

    def _probe_failed(self, error: BaseException) -> None:
        # A probe that is only slow, while requests are answered from the store, means a
        # busy store, not a lost one: closing the gate then would turn load into refusals.
        slow = isinstance(error, TimeoutError)
        if slow and self.store_answered_at > time.monotonic() - self.store_probe_timeout_s:
            return
        self._store_is(up=False, error=error)

    def store_answered(self) -> None:
        """A request was answered from the store: it is there, however slow the probe."""
        self.store_answered_at = time.monotonic()

    def _store_is(self, *, up: bool, error: BaseException | None) -> None:
        """Open or close the gate that answers 503 at once (api.app)."""
        self.store_up = up
        self.store_error = None if error is None else type(error).__name__

    def start_store_monitor(self) -> None:
        """Probe the store in the background, so that an outage is known before requests wait
        on it, and its end is noticed without a request having to try."""
        self._monitor = threading.Thread(
            target=self._monitor_loop, name="store-monitor", daemon=True
        )
        self._monitor.start()

    def _monitor_loop(self) -> None:
        while not self._stop.is_set():
            # store_up and store_error keep the answer; the error itself is not needed here.
            with contextlib.suppress(Exception):
                self.store_status()
            if self._probe is not None and not self._probe.done():
                continue  # still waiting on the store: look again after another timeout
            interval_s = self.store_probe_interval_s * (1.0 if self.store_up else 0.5)
            self._probe_now.wait(interval_s)
            self._probe_now.clear()

    def store_failed(self) -> None:
        """A request met a store error: probe now rather than at the next interval."""
        self._probe_now.set()

    async def record_donation_async(self, order: DonationOrder) -> Receipt:
        """Record one donation, sharing a transaction with concurrent ones when it can.

        The order waits for its batch's commit without holding a worker thread. Giving up
        (the wait's bound, a cancelled request) withdraws an order the writer has not taken
        yet, as ``GroupCommitter.submit`` does."""
        if self.donations is None:
            return await asyncio.to_thread(self.ledger.record_donation_order, order)
        answer = self.donations.queued(order)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(answer), ANSWER_WAIT_S_MAX)
        finally:
            answer.cancel()  # a no-op once answered

    async def read_your_write_async(self, position: int) -> None:
        """``read_your_write`` for a coroutine."""
        if position <= 0:
            position = await asyncio.to_thread(self.ledger.position)
        started = time.perf_counter()
        self.runner.nudge()
        await self._view_watch.wait_async(position, self.wait_s)
        self.metrics.observe_view_wait(time.perf_counter() - started)

    async def gift_answered(self, position: int) -> None:
        """A single gift durable: its answer goes at once where reads wait for it
        (``answer_before_views``), else once the views show it."""
        if self.answer_before_views:
            if position <= 0:  # a replay of a gift stored before: the log's head covers it
                position = await asyncio.to_thread(self.ledger.position)
            self.answered_before_views(position)
        else:
            await self.read_your_write_async(position)

    def answered_before_views(self, position: int) -> None:
        """A gift answered once durable, before the views show it: every later request to
        this process waits for it (``views_show_answered``), and the time until the views
        show it is observed as the projection lag, as a waiting write's is."""
        self.answered_position = max(self.answered_position, position)
        self.runner.nudge()
        if self._lag_watches - self._lag_watched >= LAG_WATCHES_MAX:
            return  # the views have stopped: the lag is not timed for every gift meanwhile
        self._lag_watches += 1  # on the event loop only
        started = time.perf_counter()

        def observe() -> None:  # on the thread that learns the views moved
            self._lag_watched += 1
            self.metrics.observe_view_wait(time.perf_counter() - started)

        self.views.when_known(position, observe)

    async def views_show_answered(self) -> None:
        """Wait, within the bound a write's wait has, until the views show every gift this
        process answered before they did: read-your-writes, moved from the write to the read.
        A wait that ends at the bound is counted (the answer then goes as the views stand)."""
        position = self.answered_position
        if self.views.known_position < position and not await self._view_watch.wait_async(
            position, self.wait_s
        ):
            self.metrics.view_wait_timeouts.inc()

    def read_your_write(self, position: int) -> None:
        """Hold a write's answer until the views show it, within a bounded wait.

        How long it waited is the projection lag that write saw: a metric of its own.
        """
        if position <= 0:
            position = self.ledger.position()
        started = time.perf_counter()
        self.runner.nudge()
        self._view_watch.wait(position, self.wait_s)
        self.metrics.observe_view_wait(time.perf_counter() - started)

    def close(self) -> None:
        self._stop.set()
        self._probe_now.set()
        if self.donations is not None:
            self.donations.close()
        for thread in (self._checkpointer, self._monitor):
            if thread is not None:
                thread.join(timeout=5)
        self.runner.stop()
        self._probes.shutdown(wait=False, cancel_futures=True)
        self.views.close()
        self.ledger.close()
