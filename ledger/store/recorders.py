"""eventsourcing's recorders, with a check of what a command read, made where writes serialise.

Optimistic concurrency refuses a save only when an aggregate it writes has moved. A command
that only reads an aggregate (a donation dated in a month reads the Fund's closed months but
writes no Fund event) would not notice that the Fund moved between its decision and its save:
closing a month at that moment would let an entry dated in it be recorded after the close.

So a save may say which aggregates it read, at which versions (``expected_versions``). Under
the lock that serialises writers (PostgreSQL's table lock on the events, SQLite's write
lock), before its events go in, those versions are checked; if one moved, the save fails
with an ``IntegrityError``, which is a ``RecordConflictError``: the command decides again on
fresh state, as after any conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry
from psycopg.copy import QueuedLibpqWriter
from psycopg.sql import SQL, Identifier, Literal

EXPECT_VERSIONS_FUNCTION = "fl_expect_versions"
# From this many events a save goes by COPY: the recorder's INSERT per event in one pipeline
# is slow for big batches and was seen to hang in psycopg's pipeline sync (a batch of 10,000).
COPY_EVENTS_MIN = 200


class _Moved(IntegrityError):
    """An aggregate a command read moved before the command's events were saved."""


def _expected(kwargs: Mapping[str, Any]) -> dict[UUID, int]:
    expected = kwargs.get("expected_versions") or {}
    return {UUID(str(k)): int(v) for k, v in expected.items()}


class CheckedPostgresRecorder(PostgresApplicationRecorder):
    """PostgreSQL: the check runs in the insert's transaction, after its table lock."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(datastore.schema)
        # Processes starting together (a server and a worker) would race to replace the
        # functions made here and by eventsourcing ("tuple concurrently updated"): the
        # transaction that makes the tables takes a lock first.
        self.sql_create_statements.insert(
            0,
            SQL("SELECT pg_advisory_xact_lock(hashtext({key}))").format(
                key=Literal(f"fund-ledger tables {datastore.schema}")
            ),
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}(ids uuid[], versions bigint[])"
                " RETURNS void LANGUAGE plpgsql AS $BODY$"
                " DECLARE i integer;"
                " BEGIN"
                "  FOR i IN 1 .. COALESCE(array_length(ids, 1), 0) LOOP"
                "   IF COALESCE((SELECT MAX(originator_version) FROM {schema}.{table}"
                "                WHERE originator_id = ids[i]), 0) <> versions[i] THEN"
                "    RAISE EXCEPTION 'aggregate % moved past version % since it was read',"
                "     ids[i], versions[i] USING ERRCODE = 'unique_violation';"
                "   END IF;"
                "  END LOOP;"
                " END $BODY$"
            ).format(
                schema=schema,
                function=Identifier(EXPECT_VERSIONS_FUNCTION),
                table=Identifier(self.events_table_name),
            )
        )
        self._expect_statement = SQL("SELECT {schema}.{function}(%s, %s)").format(
            schema=schema, function=Identifier(EXPECT_VERSIONS_FUNCTION)
        )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if len(stored_events) < COPY_EVENTS_MIN or kwargs.get("tracking") is not None:
            inserted: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return inserted
        copied: list[int] = self._copy_all(stored_events, **kwargs)
        return copied

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _copy_all(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        """A big save by COPY, retried on a lost connection as the library's inserts are."""
        count, last = self.copy_events(stored_events, **kwargs)
        return list(range(last - count + 1, last + 1))

    def copy_events(
        self,
        stored_events: Iterable[StoredEvent],
        progress: Callable[[int], None] = lambda done: None,
        **kwargs: Any,
    ) -> tuple[int, int]:
        """Insert events with one COPY in one transaction, as ``insert_events`` would: after
        the table lock and the notification, and the check of what the command read. Returns
        how many and the last position: under the lock, positions come in order without gaps.
        """

        def rows(copy: Any) -> int:
            copy.set_types(["uuid", "int8", "text", "bytea"])
            count = 0
            for stored in stored_events:
                copy.write_row(
                    (stored.originator_id, stored.originator_version, stored.topic, stored.state)
                )
                count += 1
                if count % 10_000 == 0:
                    progress(10_000)
            progress(count % 10_000)
            return count

        return self._copy(rows, kwargs)

    def copy_rows(self, chunks: Iterable[tuple[bytes, int]]) -> tuple[int, int]:
        """``copy_events`` for events already written as the binary COPY's bytes (signature,
        rows, trailer), given in chunks of so many rows each. A thread sends them, so that
        making the next chunks goes on while PostgreSQL takes these (psycopg's queue holds at
        most 1,024 blocks of 128 KiB)."""

        def rows(copy: Any) -> int:
            count = 0
            for chunk, rows_in_chunk in chunks:
                copy.write(chunk)
                count += rows_in_chunk
            return count

        return self._copy(rows, {}, queued=True)

    def _copy(
        self, rows: Callable[[Any], int], kwargs: Mapping[str, Any], *, queued: bool = False
    ) -> tuple[int, int]:
        expected = _expected(kwargs)
        table = SQL("{schema}.{table}").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name)
        )
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            if expected:
                curs.execute(self._expect_statement, (list(expected), list(expected.values())))
            with curs.copy(
                SQL(
                    "COPY {table} (originator_id, originator_version, topic, state)"
                    " FROM STDIN (FORMAT BINARY)"
                ).format(table=table),
                writer=QueuedLibpqWriter(curs) if queued else None,
            ) as copy:
                count = rows(copy)
            curs.execute(
                SQL("SELECT MAX(notification_id) AS last FROM {table}").format(table=table)
            )
            row = curs.fetchone()
        return count, int(row["last"]) if row and row["last"] is not None else 0

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        expected = _expected(kwargs)
        if expected:
            # The lock first (the insert takes it again, which is free): no writer can come
            # between this check and these events. Its own sync point, so that a refusal
            # stops here: statements queued after an error in a pipeline are skipped by the
            # server, and psycopg would take a skipped one as prepared.
            with curs.connection.pipeline():
                self._lock_table(curs)
                curs.execute(
                    self._expect_statement,
                    (list(expected), list(expected.values())),
                    prepare=False,
                )
        super()._insert_events(curs, stored_events, **kwargs)


class CheckedSQLiteRecorder(SQLiteApplicationRecorder):
    """SQLite: the check runs after the transaction has taken the write lock."""

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        expected = _expected(kwargs)
        if expected:
            # A write first, touching no row: it takes the write lock (waiting for it, as an
            # insert would), so the check below reads what no other writer can change before
            # this commits. Reading first would pin a snapshot that SQLite then refuses to
            # write from ("database is locked") when another writer commits in between.
            c.execute(f"DELETE FROM {self.events_table_name} WHERE originator_id IS NULL")  # noqa: S608
        for aggregate_id, version in expected.items():
            c.execute(
                f"SELECT MAX(originator_version) AS version FROM {self.events_table_name}"  # noqa: S608
                " WHERE originator_id = ?",
                (aggregate_id.hex,),
            )
            row = c.fetchone()
            found = (row["version"] if row is not None else None) or 0
            if found != version:
                msg = f"aggregate {aggregate_id} moved past version {version} since it was read"
                raise _Moved(msg)
        return super()._insert_events(c, stored_events, **kwargs)
