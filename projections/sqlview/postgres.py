"""A view in the PostgreSQL schema of the events: rows by COPY, upserts many rows a statement."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL

from projections.sqlview.base import DictRows, SQLView, table_names, with_types
from projections.sqlview.writes import Cursor

# Rows per multi-row upsert on PostgreSQL (it takes at most 65,535 parameters a statement).
ROWS_PER_STATEMENT_MAX = 1000
_INSERT = re.compile(
    r"^INSERT INTO (?P<table>\S+) \((?P<columns>[^)]*)\) VALUES \((?P<marks>(?:%s, )*%s)\)"
    r"(?P<tail>(?: ON CONFLICT .*)?)$",
    re.DOTALL,
)


class _PostgresCursor(DictRows):
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


class PostgresView(PostgresTrackingRecorder, SQLView):
    dialect = "postgres"

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.prefix = f'"{datastore.schema}".'
        types = {"{date}": "DATE", "{ts}": "TIMESTAMPTZ", "{bool}": "BOOLEAN", "{t}": self.prefix}
        for statement in (*self.ddl, *self.kept_ddl):
            self.sql_create_statements.append(SQL(with_types(statement, types)))  # type: ignore[arg-type]

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

    def _commit_without_waiting(self, c: Cursor) -> None:
        c.execute("SET LOCAL synchronous_commit TO OFF")

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
