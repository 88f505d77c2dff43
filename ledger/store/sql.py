"""The SQL the write side runs beside eventsourcing's own, each statement written once.

Two questions are asked of the stored events directly: the newest version of many aggregates
at once (which receipts and keys are taken, what a decision read), and the sum of the cash
gifts received (the tally's first reading). PostgreSQL and SQLite differ in how a table is
named, how parameters are marked, how an id is passed, which column orders the log and how a
field of the stored JSON is read: ``Dialect`` holds exactly those differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

# Ids per statement: far below either database's limit on parameters.
IDS_PER_QUERY_MAX = 1000


@dataclass(frozen=True)
class Dialect:
    table: str  # the events table, qualified by its schema where there is one
    mark: str  # a parameter's placeholder
    position: str  # the column that orders the notification log
    state: str  # the stored event's JSON as text the database can read fields of
    postgres: bool

    def newest_versions(self, ids: Sequence[UUID]) -> tuple[str, list[object]]:
        """The statement and parameters reading the newest version of each id that exists:
        one array on PostgreSQL, read down the primary key; a list on SQLite."""
        if self.postgres:
            return postgres_versions_statement(self.table), [list(ids)]
        return (
            "SELECT originator_id, max(originator_version) AS version"  # noqa: S608
            f" FROM {self.table} WHERE originator_id IN ({', '.join('?' * len(ids))})"
            " GROUP BY originator_id",
            [i.hex for i in ids],
        )

    def text(self, field: str) -> str:
        if self.postgres:
            return f"({self.state}::jsonb ->> '{field}')"
        return f"json_extract({self.state}, '$.{field}')"

    def bigint(self, field: str) -> str:
        return f"({self.text(field)})::bigint" if self.postgres else self.text(field)

    def boolean(self, field: str) -> str:
        return f"({self.text(field)})::boolean" if self.postgres else self.text(field)


def dialect_of(recorder: Any) -> Dialect | None:
    """The dialect of a recorder's database; None for the in-memory store of unit tests."""
    table = getattr(recorder, "events_table_name", None)
    if table is None:
        return None
    schema = getattr(recorder.datastore, "schema", None)
    if schema is not None:
        return Dialect(
            f'"{schema}"."{table}"',
            "%s",
            "notification_id",
            "convert_from(state, 'UTF8')",
            postgres=True,
        )
    return Dialect(table, "?", "rowid", "CAST(state AS TEXT)", postgres=False)


def postgres_versions_statement(table: str) -> str:
    """The newest version of each id in an array: one backward step down the primary key per
    id, whatever the planner's statistics say. ``originator_id = ANY(...) GROUP BY`` was
    planned as a parallel scan of the whole table while the table had not been analysed yet
    (a store growing under a stream of gifts), each group commit then costing more as the
    log grew."""
    return (
        "SELECT i.id AS originator_id, e.version"  # noqa: S608
        " FROM unnest(%s::uuid[]) AS i(id) CROSS JOIN LATERAL"
        " (SELECT originator_version AS version"
        f" FROM {table} WHERE originator_id = i.id"
        " ORDER BY originator_version DESC LIMIT 1) AS e"
    )


def versions(recorder: Any, aggregate_ids: Sequence[UUID]) -> dict[UUID, int]:
    """The stored version of each of these aggregates that exists, a query per thousand ids."""
    dialect = dialect_of(recorder)
    found: dict[UUID, int] = {}
    if dialect is None:
        for aggregate_id in aggregate_ids:
            last = recorder.select_events(aggregate_id, desc=True, limit=1)
            if last:
                found[aggregate_id] = last[0].originator_version
        return found
    for start in range(0, len(aggregate_ids), IDS_PER_QUERY_MAX):
        chunk = aggregate_ids[start : start + IDS_PER_QUERY_MAX]
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(*dialect.newest_versions(chunk))
            found.update(
                (UUID(str(row["originator_id"])), int(row["version"])) for row in cursor.fetchall()
            )
    return found


@dataclass(frozen=True)
class GiftSum:
    """Cash received for one project (None: unrestricted), up to a log position."""

    project_id: str | None
    amount_fen: int
    position: int


def cash_gift_sums(recorder: Any, topic: str) -> list[GiftSum] | None:
    """Cash gifts summed per project by the database over the stored JSON, up to the last gift
    at the moment of reading; None where the JSON cannot be read so (the memory store).

    The newest gift is read first, in the same statement: on PostgreSQL a gift committed
    meanwhile is either counted and below that position, or left for the reading forward.
    """
    dialect = dialect_of(recorder)
    if dialect is None:
        return None
    m = dialect.mark
    sql = (
        f"WITH upto AS (SELECT MAX({dialect.position}) AS last FROM {dialect.table}"  # noqa: S608
        f" WHERE topic = {m})"
        f" SELECT (SELECT last FROM upto) AS last, {dialect.text('project_id')} AS project,"
        f" SUM({dialect.bigint('amount_fen')}) AS amount_fen FROM {dialect.table}"
        f" WHERE topic = {m} AND {dialect.position} <= (SELECT last FROM upto)"
        f" AND NOT {dialect.boolean('in_kind')} GROUP BY 2"
    )
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(sql, (topic, topic))
        rows = cursor.fetchall()
    return [
        GiftSum(
            None if row["project"] is None else str(row["project"]),
            int(row["amount_fen"]),
            int(row["last"]),
        )
        for row in rows
    ]
