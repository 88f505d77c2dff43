"""Tracking recorders that hold a view's tables beside its tracking row, on SQLite and PostgreSQL.

A view is written in the same transaction as its tracking position, so an event is applied
exactly once: a replayed event fails the tracking insert and rolls its rows back with it.
The SQL of a view is written once with ``%s`` placeholders and ``{t}`` as the table prefix;
these classes adapt it to each database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg.sql import SQL

Row = dict[str, Any]


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
        self._inner.executemany(sql.replace("{t}", self._prefix), [tuple(p) for p in params])

    def fetchall(self) -> list[Row]:
        return [dict(row) for row in self._inner.fetchall()]

    def fetchone(self) -> Row | None:
        row = self._inner.fetchone()
        return dict(row) if row is not None else None


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

        A write is ``(statement, params)`` or a function of the cursor. Consecutive runs of the
        same statement go to the database as one executemany. A batch computed from position
        ``after`` is refused if the view has moved since: tracking only refuses positions that
        do not increase, which alone would let two overlapping batches both apply.
        """
        with self.cursor(commit=True) as c:
            if after is not None:
                self._lock_for_batch(c)
                c.execute(self.select_position_sql, (tracking.application_name,))
                row = c.fetchone()
                actual = (row or {}).get("position") or 0
                if actual != after:
                    raise ViewMoved(self.view_name, after, actual)
            run: list[Sequence[Any]] = []
            current: str | None = None
            for write in writes:
                statement = None if callable(write) else write[0]
                if current is not None and statement != current:
                    c.executemany(current, run)
                    run = []
                    current = None
                if callable(write):
                    write(c)
                    continue
                current = statement
                run.append(write[1])
            if current is not None:
                c.executemany(current, run)
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
        with self.datastore.transaction(commit=commit) as c:
            if not commit:
                yield _PostgresCursor(c, self.prefix)
                return
            # Pipeline mode sends a batch's statements without waiting for each answer: the
            # round trips, not the work, were most of the time of applying events.
            with c.connection.pipeline():
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
