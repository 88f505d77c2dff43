"""A view in the SQLite file beside the events: its own tracking table, ``?`` placeholders."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from projections.sqlview.base import DictRows, SQLView, table_names, with_types
from projections.sqlview.writes import Cursor


class _SQLiteCursor(DictRows):
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
        statements.extend(with_types(s, types) for s in (*self.ddl, *self.kept_ddl))
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
