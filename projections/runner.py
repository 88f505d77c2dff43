"""Keeping the views up to date: catch-up in batches, live runners, rebuilds, status, waiting.

On PostgreSQL the live runner is eventsourcing's ``ProjectionRunner`` on the library's
LISTEN/NOTIFY subscription. SQLite has no subscription, so the embedded mode polls the
notification log, and a writer in the same process nudges it awake.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.projection import ApplicationSubscription

from ledger.app import FundLedger
from projections.books.tables import BooksPostgres, BooksSQLite
from projections.books.writes import BooksProjection
from projections.canteen.tables import CanteenPostgres, CanteenSQLite
from projections.canteen.writes import CanteenProjection
from projections.log.tables import LogPostgres, LogSQLite
from projections.log.writes import LogProjection
from projections.monthly.tables import MonthlyPostgres, MonthlySQLite
from projections.monthly.writes import MonthlyProjection
from projections.registers.tables import RegistersPostgres, RegistersSQLite
from projections.registers.writes import RegistersProjection
from projections.sqlview.base import SQLView, ViewMoved
from projections.sqlview.decoding import EventDecoder
from projections.sqlview.projection import ViewProjection

BATCH_SIZE_MAX = 5000
# Events per transaction when keeping up; a rebuild takes the largest batches.
BATCH_SIZE_LIVE = 1000
POLL_INTERVAL_S = 0.25
WAIT_TIMEOUT_S_MAX = 10.0
# How long a live runner waits before subscribing again after its subscription died.
RESUBSCRIBE_PAUSE_S = 1.0


@dataclass(frozen=True)
class ViewSpec:
    """One view: its projection and its tracking recorder on each database."""

    name: str
    projection: type[ViewProjection]
    sqlite: type[SQLView]
    postgres: type[SQLView]


VIEWS: dict[str, ViewSpec] = {
    spec.name: spec
    for spec in (
        ViewSpec("books", BooksProjection, BooksSQLite, BooksPostgres),
        ViewSpec("registers", RegistersProjection, RegistersSQLite, RegistersPostgres),
        ViewSpec("monthly", MonthlyProjection, MonthlySQLite, MonthlyPostgres),
        ViewSpec("log", LogProjection, LogSQLite, LogPostgres),
        ViewSpec("canteen", CanteenProjection, CanteenSQLite, CanteenPostgres),
    )
}


@dataclass(frozen=True)
class ViewStatus:
    name: str
    position: int
    log_position: int

    @property
    def lag(self) -> int:
        return self.log_position - self.position


def _is_postgres(env: dict[str, str]) -> bool:
    return env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres"


class Views:
    """The views of one store, opened beside the ledger's events in the same database."""

    def __init__(self, ledger: FundLedger, names: Iterable[str] | None = None) -> None:
        env = dict(ledger.persistence_env)
        if env.get("PERSISTENCE_MODULE") not in {"eventsourcing.sqlite", "eventsourcing.postgres"}:
            msg = "views need SQLite or PostgreSQL; the memory store is for unit tests only"
            raise ValueError(msg)
        self.ledger = ledger
        self.env = env
        self.specs = [VIEWS[name] for name in (names or VIEWS)]
        self.projections: dict[str, ViewProjection] = {}
        # The views share the ledger's connection pool: one pool per process, not one per view.
        datastore = ledger.factory.datastore  # type: ignore[attr-defined]
        for spec in self.specs:
            view: SQLView
            if _is_postgres(env):
                view = spec.postgres(datastore, tracking_table_name=f"{spec.name}_tracking")  # type: ignore[call-arg]
            else:
                view = spec.sqlite(datastore)  # type: ignore[call-arg]
            view.create_table()
            view.ensure_current(ledger.name)
            self.projections[spec.name] = spec.projection(view=view)
        self.decoder = EventDecoder(ledger.mapper)
        self._lock = threading.Lock()

    def view(self, name: str) -> SQLView:
        return self.projections[name].view

    @property
    def app_name(self) -> str:
        return self.ledger.name

    def position(self, name: str) -> int:
        return self.view(name).max_tracking_id(self.app_name) or 0

    def status(self) -> list[ViewStatus]:
        log_position = self.ledger.position()
        return [ViewStatus(s.name, self.position(s.name), log_position) for s in self.specs]

    def catch_up(
        self,
        batch_size: int = BATCH_SIZE_LIVE,
        progress: Callable[[str, int], None] | None = None,
    ) -> int:
        """Apply every event not yet in each view, a batch per transaction; returns how many.

        Views at the same position share each batch, read from the log and decoded once.
        """
        applied = 0
        limit = max(1, min(batch_size, BATCH_SIZE_MAX))
        with self._lock:
            while True:
                positions = {spec.name: self.position(spec.name) for spec in self.specs}
                after = min(positions.values())
                notifications = self.ledger.recorder.select_notifications(
                    start=after + 1, limit=limit
                )
                if not notifications:
                    return applied
                batch = self.decoder.decode(notifications)
                tracking = Tracking(self.app_name, notifications[-1].id)
                for spec in self.specs:
                    if positions[spec.name] != after:
                        continue  # ahead of the others: it waits for them to catch up
                    try:
                        self.projections[spec.name].process_batch(batch, tracking, after=after)
                    except (ViewMoved, IntegrityError):
                        if self.position(spec.name) == after:
                            # Nobody else moved the view: the batch itself is refused (a
                            # view's own constraint). Retrying it would spin for ever.
                            raise
                        continue  # another runner applied these first; read its position again
                    applied += len(batch)
                    if progress is not None:
                        progress(spec.name, len(batch))

    def rebuild(self, progress: Callable[[str, int], None] | None = None) -> int:
        """Empty the views and apply the whole log again."""
        with self._lock:
            for spec in self.specs:
                self.view(spec.name).truncate()
                self.view(spec.name).drop_indexes()
                self.view(spec.name).rebuilding = True
        try:
            return self.catch_up(BATCH_SIZE_MAX, progress=progress)
        finally:
            with self._lock:
                for spec in self.specs:
                    self.view(spec.name).rebuilding = False
                    self.view(spec.name).make_indexes()

    def wait(self, position: int, timeout_s: float = 2.0) -> bool:
        """Block until every view has applied ``position``; False when the wait timed out."""
        deadline = time.monotonic() + min(timeout_s, WAIT_TIMEOUT_S_MAX)
        sleep_s = 0.002
        while True:
            if all(self.position(spec.name) >= position for spec in self.specs):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(sleep_s)
            sleep_s = min(sleep_s * 2, 0.05)

    def close(self) -> None:
        """The views use the ledger's pool: closing the ledger closes them."""


class LiveRunner:
    """Keeps the views current in the background until stopped.

    A thread applies whatever the views lack, in batches. On PostgreSQL a second thread follows
    eventsourcing's subscription (LISTEN/NOTIFY) on the ledger and wakes the first as soon as
    events are recorded; SQLite has no subscription, so the thread also polls, and a writer in
    the same process wakes it with ``nudge()``. One subscription serves every view, so a process
    holds one pool and one listening connection, not a pair per view.
    """

    def __init__(self, views: Views, poll_interval_s: float = POLL_INTERVAL_S) -> None:
        self.views = views
        self.poll_interval_s = poll_interval_s
        self.error: BaseException | None = None
        self.listen_error: BaseException | None = None
        self.subscriptions = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._subscription: ApplicationSubscription[Any] | None = None
        self._subscription_lock = threading.Lock()

    @property
    def listening(self) -> bool | None:
        """Whether the subscription is live; None where there is none to have (SQLite)."""
        if not _is_postgres(self.views.env):
            return None
        return self._subscription is not None and self.listen_error is None

    def start(self) -> LiveRunner:
        self.views.catch_up()
        if _is_postgres(self.views.env):
            self._threads.append(
                threading.Thread(target=self._listen, name="views-listener", daemon=True)
            )
        self._threads.append(threading.Thread(target=self._apply, name="views-runner", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def _listen(self) -> None:
        """Follow the subscription; when its connection dies (the database went away), wait
        and subscribe again from the log's current position, until stopped."""
        while not self._stop.is_set():
            try:
                subscription = ApplicationSubscription(
                    app=self.views.ledger, gt=self.views.ledger.position()
                )
                with self._subscription_lock:
                    if self._stop.is_set():
                        subscription.stop()
                        return
                    self._subscription = subscription
                self.subscriptions += 1
                self.listen_error = None
                self._wake.set()  # events recorded while it was down have no notification
                for _event, _tracking in subscription:
                    self._wake.set()
            except Exception as error:  # the poller carries on; status shows why it is slower
                if self._stop.is_set():
                    return
                self.listen_error = error
            with self._subscription_lock:
                if self._subscription is not None:
                    self._subscription.stop()
                self._subscription = None
            self._stop.wait(RESUBSCRIBE_PAUSE_S)

    def _apply(self) -> None:
        while not self._stop.is_set():
            try:
                if self.views.catch_up() == 0:
                    self._wake.wait(self.poll_interval_s)
                    self._wake.clear()
            except Exception as error:  # kept for status, and retried after a pause
                self.error = error
                self._stop.wait(1.0)
            else:
                self.error = None

    def nudge(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._subscription_lock:
            if self._subscription is not None:
                self._subscription.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> LiveRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
