"""Tracking recorders that hold a view's tables beside its tracking row, on SQLite and PostgreSQL.

A view is written in the same transaction as its tracking position, so an event is applied
exactly once: a replayed event fails the tracking insert and rolls its rows back with it.
The SQL of a view is written once with ``%s`` placeholders and ``{t}`` as the table prefix;
these classes adapt it to each database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg.sql import SQL

Row = dict[str, Any]

# Rows per multi-row upsert on PostgreSQL (it takes at most 65,535 parameters a statement).
ROWS_PER_STATEMENT_MAX = 1000
_INSERT = re.compile(
    r"^INSERT INTO (?P<table>\S+) \((?P<columns>[^)]*)\) VALUES \((?P<marks>(?:%s, )*%s)\)"
    r"(?P<tail>(?: ON CONFLICT .*)?)$",
    re.DOTALL,
)
_TARGET = re.compile(r"^(?:INSERT INTO|UPDATE|DELETE FROM) (\S+)")


@dataclass(frozen=True)
class Add:
    """An additive upsert: ``amounts`` added to the row with ``key`` (inserted if missing).

    ``sql`` takes the key's columns then the amounts as parameters. Additions commute, so a
    batch sums those with the same statement and key first and writes each row once: a
    rebuild touches a day's balance once per batch, not once per event.
    """

    sql: str
    key: tuple[Any, ...]
    amounts: tuple[int, ...]


@dataclass(frozen=True)
class Reads:
    """A write that reads other tables the same batch writes: everything before it is
    written first (plain writes are otherwise grouped by table)."""

    sql: str
    params: Sequence[Any]


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None: ...
    def fetchall(self) -> list[Row]: ...
    def fetchone(self) -> Row | None: ...


class _SQLiteCursor:
    def __init__(self, outer: Any) -> None:
        self.outer = outer
        self._inner = outer.sqlite_cursor

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("{t}", "").replace("%s", "?")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._inner.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        self._inner.executemany(self._sql(sql), [tuple(p) for p in params])

    def fetchall(self) -> list[Row]:
        return [dict(row) for row in self._inner.fetchall()]

    def fetchone(self) -> Row | None:
        row = self._inner.fetchone()
        return dict(row) if row is not None else None


class _PostgresCursor:
    def __init__(self, inner: Any, prefix: str) -> None:
        self._inner = inner
        self._prefix = prefix

    def fresh(self) -> Any:
        """A new cursor on the same connection: in pipeline mode each statement whose rows
        are read needs its own, or a fetch finds the answer of an earlier statement."""
        self._inner = self._inner.connection.cursor(row_factory=self._inner.row_factory)
        return self._inner

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.fresh().execute(sql.replace("{t}", self._prefix), tuple(params), prepare=False)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        sql = sql.replace("{t}", self._prefix)
        insert = _INSERT.match(sql) if len(params) > 1 else None
        if insert is None:
            self._inner.executemany(sql, [tuple(p) for p in params])
        elif not insert["tail"]:
            # Plain rows: COPY, the way PostgreSQL loads rows fastest.
            with self.fresh().copy(
                f"COPY {insert['table']} ({insert['columns']}) FROM STDIN"
            ) as copy:
                for row in params:
                    copy.write_row(row)
        else:
            # An upsert: many rows per statement (callers give it distinct keys; Add sums).
            marks = f"({insert['marks']})"
            head = f"INSERT INTO {insert['table']} ({insert['columns']}) VALUES "
            step = min(ROWS_PER_STATEMENT_MAX, 65_535 // max(1, marks.count("%s")))
            for start in range(0, len(params), step):
                chunk = params[start : start + step]
                values = ", ".join([marks] * len(chunk))
                flat = [value for row in chunk for value in row]
                self.fresh().execute(head + values + insert["tail"], flat, prepare=False)

    def fetchall(self) -> list[Row]:
        return [dict(row) for row in self._inner.fetchall()]

    def fetchone(self) -> Row | None:
        row = self._inner.fetchone()
        return dict(row) if row is not None else None


class _Pending:
    """Writes held back to go to the database together: plain writes grouped by table (in
    order within a table; tables are independent of each other), additions summed by key."""

    def __init__(self) -> None:
        self.by_table: dict[str, list[tuple[str, Sequence[Any]]]] = {}
        self.sums: dict[tuple[str, tuple[Any, ...]], list[int]] = {}

    def plain(self, sql: str, params: Sequence[Any]) -> None:
        target = _TARGET.match(sql)
        table = target.group(1) if target else sql
        self.by_table.setdefault(table, []).append((sql, params))

    def add(self, write: Add) -> None:
        held = self.sums.get((write.sql, write.key))
        if held is None:
            self.sums[(write.sql, write.key)] = list(write.amounts)
        else:
            for i, amount in enumerate(write.amounts):
                held[i] += amount

    def flush(self, c: Cursor) -> None:
        for runs in self.by_table.values():
            current: str | None = None
            rows: list[Sequence[Any]] = []
            for sql, params in runs:
                if sql != current and current is not None:
                    c.executemany(current, rows)
                    rows = []
                current = sql
                rows.append(params)
            if current is not None:
                c.executemany(current, rows)
        by_sql: dict[str, list[Sequence[Any]]] = {}
        for (sql, key), amounts in self.sums.items():
            by_sql.setdefault(sql, []).append((*key, *amounts))
        for sql, rows in by_sql.items():
            c.executemany(sql, rows)
        self.by_table = {}
        self.sums = {}


class SQLView(TrackingRecorder):
    """What every view offers, whichever database holds it."""

    view_name: ClassVar[str]
    # DDL with {t} for the table prefix and {date}, {ts}, {bool} for the column types.
    ddl: ClassVar[tuple[str, ...]] = ()
    # Tables a rebuild keeps (created with the view, never truncated).
    kept_ddl: ClassVar[tuple[str, ...]] = ()
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
            if after is not None:
                self._lock_for_batch(c)
                c.execute(self.select_position_sql, (tracking.application_name,))
                row = c.fetchone()
                actual = (row or {}).get("position") or 0
                if actual != after:
                    raise ViewMoved(self.view_name, after, actual)
            pending = _Pending()
            for write in writes:
                if isinstance(write, Add):
                    pending.add(write)
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

    @property
    def select_position_sql(self) -> str:
        raise NotImplementedError

    def truncate(self) -> None:
        """Empty the view and forget its position, for a rebuild from scratch."""
        raise NotImplementedError

    def ensure_current(self, application_name: str) -> bool:
        """Make the view's tables those its code defines now; False if they had to be made
        anew (the view then starts again from the first event).

        Each view's DDL is fingerprinted in ``fl_view_versions``. Tables made by other code
        (an upgrade added a table or changed a column) would otherwise stay as they were,
        silently incomplete; and a view from before the fingerprints, holding rows, is
        treated the same way. Views are derived from the events, so nothing is lost.
        """
        digest = hashlib.sha256("\n".join(self.ddl).encode()).hexdigest()
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


def _with_types(statement: str, types: dict[str, str]) -> str:
    for placeholder, replacement in types.items():
        statement = statement.replace(placeholder, replacement)
    return statement


def table_names(ddl: Sequence[str]) -> list[str]:
    names = []
    for statement in ddl:
        words = statement.split()
        if words[:2] == ["CREATE", "TABLE"]:
            name = words[5] if words[2:5] == ["IF", "NOT", "EXISTS"] else words[2]
            names.append(name.split("(")[0])
    return names


class SQLiteView(SQLiteTrackingRecorder, SQLView):
    dialect = "sqlite"

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        self.prefix = ""
        self.tracking_table = f"{self.view_name}_tracking"
        super().__init__(datastore, **kwargs)
        # eventsourcing's SQLite recorder names its tracking table "tracking"; every view in
        # the one file needs its own row per application, so each gets its own table.
        self.insert_tracking_statement = self.insert_tracking_statement.replace(
            "INTO tracking", f"INTO {self.tracking_table}"
        ).replace("WHERE tracking.", f"WHERE {self.tracking_table}.")
        self.select_max_tracking_id_statement = self.select_max_tracking_id_statement.replace(
            "FROM tracking", f"FROM {self.tracking_table}"
        )

    def construct_create_table_statements(self) -> list[str]:
        statements = [
            s.replace("EXISTS tracking (", f"EXISTS {self.tracking_table} (")
            for s in super().construct_create_table_statements()
        ]
        types = {"{date}": "TEXT", "{ts}": "TEXT", "{bool}": "INTEGER", "{t}": ""}
        statements.extend(_with_types(s, types) for s in (*self.ddl, *self.kept_ddl))
        return statements

    @contextmanager
    def cursor(self, *, commit: bool) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=commit) as c:
            yield _SQLiteCursor(c)

    def _track(self, c: Cursor, tracking: Tracking) -> None:
        # Raises IntegrityError when the position was already recorded: a replayed event.
        self._insert_tracking(c.outer, tracking)  # type: ignore[attr-defined]

    @property
    def select_position_sql(self) -> str:
        return (
            f"SELECT notification_id AS position FROM {self.tracking_table}"
            " WHERE application_name = %s"
        )

    def truncate(self) -> None:
        with self.cursor(commit=True) as c:
            for table in table_names(self.ddl):
                c.execute(f"DELETE FROM {table.replace('{t}', '')}")
            c.execute(
                f"DELETE FROM {self.tracking_table} WHERE application_name <> %s",
                (self.table_migration_identifier,),
            )


class PostgresView(PostgresTrackingRecorder, SQLView):
    dialect = "postgres"

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.prefix = f'"{datastore.schema}".'
        types = {"{date}": "DATE", "{ts}": "TIMESTAMPTZ", "{bool}": "BOOLEAN", "{t}": self.prefix}
        for statement in (*self.ddl, *self.kept_ddl):
            self.sql_create_statements.append(SQL(_with_types(statement, types)))  # type: ignore[arg-type]

    @contextmanager
    def cursor(self, *, commit: bool) -> Iterator[Cursor]:
        # No pipeline here: rows go by COPY (which a pipeline cannot carry), and psycopg
        # pipelines each executemany by itself.
        with self.datastore.transaction(commit=commit) as c:
            yield _PostgresCursor(c, self.prefix)

    def _track(self, c: Cursor, tracking: Tracking) -> None:
        self._insert_tracking(c.fresh(), tracking)  # type: ignore[attr-defined]

    @property
    def select_position_sql(self) -> str:
        return (
            "SELECT MAX(notification_id) AS position"
            f' FROM {self.prefix}"{self.tracking_table_name}" WHERE application_name = %s'
        )

    def _lock_for_batch(self, c: Cursor) -> None:
        c.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.prefix + self.view_name,))

    def truncate(self) -> None:
        with self.cursor(commit=True) as c:
            tables = [self.sql(name) for name in table_names(self.ddl)]
            c.execute(f"TRUNCATE {', '.join(tables)}")
            c.execute(
                f'DELETE FROM {self.prefix}"{self.tracking_table_name}" '
                "WHERE application_name <> %s",
                (self.table_migration_identifier,),
            )
