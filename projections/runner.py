"""Keeping the views up to date: catch-up in batches, live runners, rebuilds, status, waiting.

On PostgreSQL the live runner wakes on the events table's LISTEN/NOTIFY channel (the one
eventsourcing's recorder notifies). SQLite has no notifications, so the embedded mode polls the
notification log, and a writer in the same process nudges it awake.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from eventsourcing.persistence import IntegrityError, Tracking
from psycopg.sql import SQL, Identifier

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
# How long a live runner lets events gather after a batch smaller than its limit: a few
# milliseconds of lag for batches many times larger under a stream of single gifts.
GATHER_S = 0.005
# How long the listener waits for a notification before it looks whether it should stop.
LISTEN_TIMEOUT_S = 0.25


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
        self._positions: dict[str, int] | None = None  # each view's, as last read or applied
        # The lowest position every view is known to have applied: raised by each batch this
        # process applies (and by the positions it reads), so a write waiting to be seen needs
        # no query when the views are kept by this process.
        self.known_position = 0
        self._applied = threading.Condition()
        self._callbacks: list[tuple[int, int, Callable[[], None]]] = []  # a heap by position
        self._callbacks_made = 0
        # Told each new known position, from the thread that raised it (``announce_positions``).
        self.on_known: list[Callable[[int], None]] = []

    def raise_known(self, position: int) -> None:
        if position <= self.known_position:
            return
        due = []
        with self._applied:
            self.known_position = max(self.known_position, position)
            self._applied.notify_all()
            while self._callbacks and self._callbacks[0][0] <= self.known_position:
                due.append(heapq.heappop(self._callbacks)[2])
        for callback in due:
            callback()
        for hook in self.on_known:
            hook(self.known_position)

    def when_known(self, position: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` once every view is known to have applied ``position``: at once if
        it is, else from the thread that raises ``known_position`` (keep it short)."""
        with self._applied:
            if self.known_position < position:
                self._callbacks_made += 1
                heapq.heappush(self._callbacks, (position, self._callbacks_made, callback))
                return
        callback()

    def wait_known(self, position: int, timeout_s: float) -> bool:
        """Block until this process has seen every view apply ``position``, or the timeout."""
        with self._applied:
            return self._applied.wait_for(lambda: self.known_position >= position, timeout_s)

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
        gather_s: float = 0.0,
    ) -> int:
        """Apply every event not yet in each view, a batch per transaction; returns how many.

        Views at the same position share each batch, read from the log and decoded once. The
        views' positions are read from the store once, then followed in memory: a view another
        runner moved meanwhile refuses the batch (``ViewMoved``), and they are read again.
        After a batch smaller than ``batch_size`` it waits ``gather_s`` for more events, so
        that a live runner under a stream of small commits applies fewer, larger batches.
        """
        limit = max(1, min(batch_size, BATCH_SIZE_MAX))
        with self._lock:
            try:
                return self._catch_up(limit, progress, gather_s)
            except BaseException:
                self._positions = None  # whatever happened, read them again next time
                raise

    def _catch_up(
        self, limit: int, progress: Callable[[str, int], None] | None, gather_s: float
    ) -> int:
        applied = 0
        while True:
            if self._positions is None:
                self._positions = {s.name: self.position(s.name) for s in self.specs}
            positions = self._positions
            after = min(positions.values())
            self.raise_known(after)
            notifications = self.ledger.recorder.select_notifications(start=after + 1, limit=limit)
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
                    self._positions = None
                    if self.position(spec.name) == after:
                        # Nobody else moved the view: the batch itself is refused (a
                        # view's own constraint). Retrying it would spin for ever.
                        raise
                    continue  # another runner applied these first; read its position again
                applied += len(batch)
                positions[spec.name] = tracking.notification_id
                if progress is not None:
                    progress(spec.name, len(batch))
            self.raise_known(min(positions.values()))
            if len(notifications) < limit and gather_s > 0:
                time.sleep(gather_s)

    def rebuild(self, progress: Callable[[str, int], None] | None = None) -> int:
        """Empty the views and apply the whole log again."""
        with self._lock:
            for spec in self.specs:
                self.view(spec.name).truncate()
                self.view(spec.name).drop_indexes()
                self.view(spec.name).rebuilding = True
            self._positions = None
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


class _Listening(Protocol):
    """What ``listen`` reports to: whether it listens, why not, and when to stop."""

    views: Views
    subscriptions: int
    listen_error: BaseException | None
    _listening: bool
    _stop: threading.Event


def listen(
    state: _Listening,
    channel: str,
    notified: Callable[[str], None],
    connected: Callable[[], None],
) -> None:
    """LISTEN on ``channel`` and call ``notified`` with each payload until ``state`` is
    stopped; ``connected`` after each (re)connection, since notifications sent while the
    connection was down are lost. When the connection dies (the database went away), wait and
    listen again."""
    datastore = state.views.ledger.factory.datastore  # type: ignore[attr-defined]
    while not state._stop.is_set():
        try:
            with datastore.get_connection() as conn:
                conn.execute(SQL("LISTEN {0}").format(Identifier(channel)))
                conn.commit()
                state.subscriptions += 1
                state._listening = True
                state.listen_error = None
                connected()
                while not state._stop.is_set():
                    for notice in conn.notifies(timeout=LISTEN_TIMEOUT_S, stop_after=1):
                        notified(notice.payload)
        except Exception as error:  # the poller carries on; status shows why it is slower
            if state._stop.is_set():
                return
            state.listen_error = error
        finally:
            state._listening = False
        state._stop.wait(RESUBSCRIBE_PAUSE_S)


def views_channel(ledger: FundLedger) -> str:
    """The channel on which a views worker announces the position its views have reached."""
    return f"{ledger.recorder.channel_name}_views"  # type: ignore[attr-defined]


def announce_positions(views: Views) -> None:
    """Make this process's runner NOTIFY each position its views reach, for API processes
    that keep no views of their own (``ViewsFollower``); PostgreSQL only."""
    channel = views_channel(views.ledger)
    datastore = views.ledger.factory.datastore  # type: ignore[attr-defined]

    def announce(position: int) -> None:
        with datastore.get_connection() as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (channel, str(position)))
            conn.commit()

    views.on_known.append(announce)


class ViewsFollower:
    """For an API process whose views are kept by another process (``serve --workers``):
    learns the views' position from that runner's announcements (``announce_positions``),
    and from the store when it (re)connects. It has the live runner's face for the service
    (``listening``, ``error``, ``nudge``, ``stop``) but applies nothing."""

    def __init__(self, views: Views) -> None:
        self.views = views
        self.error: BaseException | None = None
        self.listen_error: BaseException | None = None
        self.subscriptions = 0
        self._listening = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="views-follower", daemon=True)

    @property
    def listening(self) -> bool:
        return self._listening and self.listen_error is None

    def start(self) -> ViewsFollower:
        self._read_positions()
        self._thread.start()
        return self

    def _follow(self) -> None:
        listen(self, views_channel(self.views.ledger), self._announced, self._read_positions)

    def _announced(self, payload: str) -> None:
        if payload.isdigit():
            self.views.raise_known(int(payload))

    def _read_positions(self) -> None:
        try:
            self.views.raise_known(min(self.views.position(s.name) for s in self.views.specs))
            self.error = None
        except Exception as error:  # the store is down: status says so; the listener retries
            self.error = error

    def nudge(self) -> None:
        """Nothing to wake here: the views are applied elsewhere."""

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


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
        self._listening = False

    @property
    def listening(self) -> bool | None:
        """Whether the subscription is live; None where there is none to have (SQLite)."""
        if not _is_postgres(self.views.env):
            return None
        return self._listening and self.listen_error is None

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
        """Wake the runner at each notification of the events' channel (eventsourcing's
        recorder notifies it at each insert). Only the wake-up is wanted: the runner reads the
        events itself, once, so nothing here selects or decodes them (eventsourcing's own
        subscription would do both for every event)."""
        channel = self.views.ledger.recorder.channel_name  # type: ignore[attr-defined]
        listen(self, channel, lambda _payload: self._wake.set(), self._wake.set)

    def _apply(self) -> None:
        while not self._stop.is_set():
            try:
                if self.views.catch_up(gather_s=GATHER_S) == 0:
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
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> LiveRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
