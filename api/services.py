"""What the service runs on: the ledger, its views, the live runner and the metrics."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from ledger.app import DonationOrder, FundLedger, Receipt
from ledger.batching import GroupCommitter
from ledger.notes import Signer
from projections.log import Log
from projections.queries import Reader
from projections.runner import LiveRunner, Views

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Metrics:
    """Counters for Prometheus' text format; small enough not to need a library."""

    requests: defaultdict[tuple[str, str, int], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    latency_buckets: defaultdict[tuple[str, float], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    latency_sum_s: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    latency_count: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    view_wait_buckets: defaultdict[float, int] = field(default_factory=lambda: defaultdict(int))
    view_wait_count: int = 0
    view_wait_sum_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe_view_wait(self, seconds: float) -> None:
        with self.lock:
            self.view_wait_count += 1
            self.view_wait_sum_s += seconds
            for bucket in LATENCY_BUCKETS_S:
                if seconds <= bucket:
                    self.view_wait_buckets[bucket] += 1

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(method, route, status)] += 1
            self.latency_sum_s[route] += seconds
            self.latency_count[route] += 1
            for bucket in LATENCY_BUCKETS_S:
                if seconds <= bucket:
                    self.latency_buckets[(route, bucket)] += 1


@dataclass
class AuthThrottle:
    """Failed authentications per client: after too many in a window, the client waits.

    Guessing tokens is hopeless (256 bits), but a flood of guesses still costs the server;
    limits keep the table itself small.
    """

    failures_max: int = 10
    window_s: float = 60.0
    clients_max: int = 10_000
    failures: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after_s(self, client: str) -> int:
        """Seconds the client must wait before trying again; 0 when it may try now."""
        now = time.monotonic()
        with self.lock:
            recent = [t for t in self.failures.get(client, []) if now - t < self.window_s]
            if len(recent) < self.failures_max:
                return 0
            return int(self.window_s - (now - recent[0])) + 1

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self.lock:
            if client not in self.failures and len(self.failures) >= self.clients_max:
                oldest = min(self.failures, key=lambda c: self.failures[c][-1])
                del self.failures[oldest]
            recent = [t for t in self.failures.get(client, []) if now - t < self.window_s]
            self.failures[client] = [*recent, now][-self.failures_max :]


class ViewWatch:
    """Where the slowest view stands, read by one thread at a time for every waiting write.

    Each write waits until the views show it. Left to itself every waiting request would
    query each view's tracking position every few milliseconds; with dozens of writes in
    flight those queries crowd the pool the writes and the views need. Here one waiter reads
    the positions and the others take its answer while it is fresh.
    """

    FRESH_S = 0.004
    POLL_S_MAX = 0.02

    def __init__(self, views: Views) -> None:
        self._views = views
        self._lock = threading.Lock()
        self._known = 0
        self._read_at = float("-inf")

    def wait(self, position: int, timeout_s: float) -> bool:
        """Block until every view has applied ``position``; False when the wait timed out."""
        deadline = time.monotonic() + min(timeout_s, 10.0)
        sleep_s = 0.001
        while self._current() < position:
            if time.monotonic() >= deadline:
                return False
            time.sleep(sleep_s)
            sleep_s = min(sleep_s * 2, self.POLL_S_MAX)
        return True

    def _current(self) -> int:
        with self._lock:
            if time.monotonic() - self._read_at >= self.FRESH_S:
                self._known = min(self._views.position(s.name) for s in self._views.specs)
                self._read_at = time.monotonic()
            return self._known


@dataclass
class Services:
    ledger: FundLedger
    views: Views
    reader: Reader
    runner: LiveRunner
    wait_s: float
    log: Log
    signer: Signer | None = None
    # Single donations, gathered into shared transactions (None: each runs alone).
    donations: GroupCommitter[DonationOrder, Receipt] | None = None
    checkpoint_interval_s: float = 2.0
    metrics: Metrics = field(default_factory=Metrics)
    auth_throttle: AuthThrottle = field(default_factory=AuthThrottle)
    started_at: float = field(default_factory=time.monotonic)
    checkpoint_error: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _checkpointer: threading.Thread | None = None
    _view_watch: ViewWatch = field(init=False)

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

    def record_donation(self, order: DonationOrder) -> Receipt:
        """Record one donation, sharing a transaction with concurrent ones when it can."""
        if self.donations is None:
            return self.ledger.record_donation_order(order)
        return self.donations.submit(order)

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
        if self.donations is not None:
            self.donations.close()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        self.runner.stop()
        self.views.close()
        self.ledger.close()
