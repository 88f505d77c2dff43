"""A view: tables kept beside its tracking row, whichever database holds them.

A view is written in the same transaction as its tracking position, so an event is applied
exactly once: a replayed event fails the tracking insert and rolls its rows back with it.
``sqlite`` and ``postgres`` hold what differs between the two databases.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from eventsourcing.persistence import Tracking, TrackingRecorder

from projections.sqlview.writes import Add, Cursor, Pending, Reads, Row, Rows, Sums


class SQLView(TrackingRecorder):
    """What every view offers, whichever database holds it."""

    view_name: ClassVar[str]
    # DDL with {t} for the table prefix and {date}, {ts}, {bool} for the column types.
    ddl: ClassVar[tuple[str, ...]] = ()
    # Tables a rebuild keeps (created with the view, never truncated).
    kept_ddl: ClassVar[tuple[str, ...]] = ()
    # How events become rows: raised when the writes change while the tables do not, so that
    # stores made by the earlier code get the view made anew (0: never changed).
    rules_version: ClassVar[int] = 0
    dialect: ClassVar[str]
    prefix: str

    def create_table(self) -> None:
        raise NotImplementedError

    def sql(self, statement: str) -> str:
        return statement.replace("{t}", self.prefix)

    @contextmanager
    def cursor(self, *, commit: bool) -> Iterator[Cursor]:
        raise NotImplementedError

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.cursor(commit=False) as c:
            c.execute(statement, params)
            return c.fetchall()

    def write(self, writes: Sequence[Any], tracking: Tracking, *, after: int | None = None) -> None:
        """Run a batch of writes and record the tracking position, in one transaction.

        Plain writes are grouped by table and sent as multi-row statements, additions summed
        by key (see ``Add``); a function of the cursor or a ``Reads`` write sees everything
        before it written. A batch computed from position ``after`` is refused if the view
        has moved since: tracking only refuses positions that do not increase, which alone
        would let two overlapping batches both apply.
        """
        with self.cursor(commit=True) as c:
            if self.rebuilding:
                self._commit_without_waiting(c)
            if after is not None:
                self._lock_for_batch(c)
                c.execute(self.select_position_sql, (tracking.application_name,))
                row = c.fetchone()
                actual = (row or {}).get("position") or 0
                if actual != after:
                    raise ViewMoved(self.view_name, after, actual)
            pending = Pending()
            for write in writes:
                if isinstance(write, Add):
                    pending.add(write)
                elif isinstance(write, Rows):
                    pending.rows(write)
                elif isinstance(write, Sums):
                    pending.add_sums(write)
                elif isinstance(write, Reads):
                    pending.flush(c)
                    c.execute(write.sql, write.params)
                elif callable(write):
                    pending.flush(c)
                    write(c)
                else:
                    pending.plain(write[0], write[1])
            pending.flush(c)
            self._track(c, tracking)

    def _track(self, c: Cursor, tracking: Tracking) -> None:
        raise NotImplementedError

    def _lock_for_batch(self, c: Cursor) -> None:
        """Serialise batch writers of this view (SQLite serialises all writers already)."""

    # Set while the view is rebuilt from scratch: its batches need not wait for the disk.
    rebuilding = False

    def _commit_without_waiting(self, c: Cursor) -> None:
        """Commit this transaction without waiting for its log to reach the disk (PostgreSQL's
        ``synchronous_commit`` off): a crash can lose the last batches of a rebuild, rows and
        tracking position together, and the view carries on from the position it has."""

    @property
    def select_position_sql(self) -> str:
        raise NotImplementedError

    def truncate(self) -> None:
        """Empty the view and forget its position, for a rebuild from scratch."""
        raise NotImplementedError

    def drop_indexes(self) -> None:
        """Drop the view's secondary indexes, for a rebuild: PostgreSQL builds an index over
        a million rows at once faster than it keeps it up row by row. ``make_indexes`` puts them
        back; opening the views does too (their DDL makes any index missing)."""
        with self.cursor(commit=True) as c:
            for name in index_names(self.ddl):
                c.execute(f"DROP INDEX IF EXISTS {self.index_prefix}{name}")

    def make_indexes(self) -> None:
        with self.cursor(commit=True) as c:
            for statement in self.ddl:
                if statement.startswith("CREATE INDEX"):
                    c.execute(statement)

    @property
    def index_prefix(self) -> str:
        """What qualifies an index's name for DROP INDEX: the schema on PostgreSQL."""
        return self.prefix

    def ensure_current(self, application_name: str) -> bool:
        """Make the view's tables those its code defines now; False if they had to be made
        anew (the view then starts again from the first event).

        Each view's DDL (with its ``rules_version``) is fingerprinted in ``fl_view_versions``.
        Tables made by other code (an upgrade added a table or changed a column, or changed
        how events become rows) would otherwise stay as they were,
        silently incomplete; and a view from before the fingerprints, holding rows, is
        treated the same way. Views are derived from the events, so nothing is lost.
        """
        rules = f"\nrules {self.rules_version}" if self.rules_version else ""
        digest = hashlib.sha256(("\n".join(self.ddl) + rules).encode()).hexdigest()
        with self.cursor(commit=True) as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS {t}fl_view_versions"
                " (view_name TEXT PRIMARY KEY, ddl_sha256 TEXT NOT NULL)"
            )
            c.execute(
                "SELECT ddl_sha256 FROM {t}fl_view_versions WHERE view_name = %s",
                (self.view_name,),
            )
            row = c.fetchone()
        if row is not None and row["ddl_sha256"] == digest:
            return True
        # Stale: changed, or from before the fingerprints and holding rows. A view new to
        # this store has just had its tables made by this code.
        stale = row is not None or bool(self.max_tracking_id(application_name))
        if stale:
            self._make_anew()
        with self.cursor(commit=True) as c:
            c.execute("DELETE FROM {t}fl_view_versions WHERE view_name = %s", (self.view_name,))
            c.execute(
                "INSERT INTO {t}fl_view_versions (view_name, ddl_sha256) VALUES (%s, %s)",
                (self.view_name, digest),
            )
        return not stale

    def _make_anew(self) -> None:
        with self.cursor(commit=True) as c:
            for table in table_names(self.ddl):
                c.execute(f"DROP TABLE IF EXISTS {table}")
        self.create_table()
        self.truncate()


class ViewMoved(Exception):
    """Another writer advanced the view since this batch was computed; compute it again."""

    def __init__(self, view: str, expected: int, actual: int) -> None:
        super().__init__(f"view {view} moved from {expected} to {actual}")
        self.actual = actual


class DictRows:
    """A cursor's answers as dicts of column to value, on either database."""

    _inner: Any

    def fetchall(self) -> list[Row]:
        return [dict(row) for row in self._inner.fetchall()]

    def fetchone(self) -> Row | None:
        row = self._inner.fetchone()
        return dict(row) if row is not None else None


def with_types(statement: str, types: dict[str, str]) -> str:
    for placeholder, replacement in types.items():
        statement = statement.replace(placeholder, replacement)
    return statement


def index_names(ddl: Sequence[str]) -> list[str]:
    """The names of the indexes a view's DDL makes (``CREATE INDEX IF NOT EXISTS name ON``)."""
    names = []
    for statement in ddl:
        words = statement.split()
        if words[:2] == ["CREATE", "INDEX"]:
            names.append(words[5] if words[2:5] == ["IF", "NOT", "EXISTS"] else words[2])
    return names


def table_names(ddl: Sequence[str]) -> list[str]:
    names = []
    for statement in ddl:
        words = statement.split()
        if words[:2] == ["CREATE", "TABLE"]:
            name = words[5] if words[2:5] == ["IF", "NOT", "EXISTS"] else words[2]
            names.append(name.split("(")[0])
    return names
