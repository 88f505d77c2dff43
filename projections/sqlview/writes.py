"""What a view writes, and how a batch of writes goes to the database together.

The SQL of a view is written once with ``%s`` placeholders and ``{t}`` as the table prefix;
the cursors of ``sqlite`` and ``postgres`` adapt it to each database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

Row = dict[str, Any]

_TARGET = re.compile(r"^(?:INSERT INTO|UPDATE|DELETE FROM) (\S+)")
# The table each statement writes, found once per statement: a rebuild sends millions.
_tables: dict[str, str] = {}
TABLES_KNOWN_MAX = 10_000


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


@dataclass(frozen=True)
class Rows:
    """Plain rows of one statement, in order: a run of events a fast path took at once."""

    sql: str
    rows: list[Sequence[Any]]


@dataclass(frozen=True)
class Sums:
    """Additions already summed, by (statement, key): as many ``Add`` writes would be."""

    sums: dict[tuple[str, tuple[Any, ...]], list[int]]


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None: ...
    def fetchall(self) -> list[Row]: ...
    def fetchone(self) -> Row | None: ...


# A write: an SQL statement with its parameters, an additive upsert (summed per batch), a
# statement that reads other tables, or a function of the cursor for writes that must read
# what the same transaction has written (freezing a monthly report).
Write = tuple[str, Sequence[Any]] | Add | Rows | Sums | Reads | Callable[[Cursor], None]


class Sink(Protocol):
    """Where a fast path puts an event's writes: kept as writes, or gathered for a batch."""

    def row(self, sql: str, params: Sequence[Any]) -> None: ...
    def add(self, sql: str, key: tuple[Any, ...], amounts: tuple[int, ...]) -> None: ...
    def tally(self, expand: Expand, key: tuple[Any, ...], amount_fen: int) -> None: ...


# The additions of ``count`` events of one kind and key whose amounts sum to ``amount_fen``:
# (statement, key, amounts) each. Additions commute, so a batch may count and sum such events
# first and add once; one event's are those of a count of 1.
AddTo = tuple[str, tuple[Any, ...], tuple[int, ...]]
Expand = Callable[[tuple[Any, ...], int, int], list[AddTo]]


class Probe:
    """A sink that keeps an event's writes as the slow path writes them, to compare."""

    def __init__(self) -> None:
        self.writes: list[Write] = []

    def row(self, sql: str, params: Sequence[Any]) -> None:
        self.writes.append((sql, params))

    def add(self, sql: str, key: tuple[Any, ...], amounts: tuple[int, ...]) -> None:
        self.writes.append(Add(sql, key, amounts))

    def tally(self, expand: Expand, key: tuple[Any, ...], amount_fen: int) -> None:
        self.writes.extend(Add(*add) for add in expand(key, 1, amount_fen))


class Bulk:
    """A sink that gathers the rows of a run of events by statement and sums their additions,
    to go to ``SQLView.write`` as a few ``Rows`` and one ``Sums``."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Sequence[Any]]] = {}
        self.sums: dict[tuple[str, tuple[Any, ...]], list[int]] = {}
        self.tallies: dict[tuple[Expand, tuple[Any, ...]], list[int]] = {}

    def tally(self, expand: Expand, key: tuple[Any, ...], amount_fen: int) -> None:
        held = self.tallies.get((expand, key))
        if held is None:
            self.tallies[(expand, key)] = [1, amount_fen]
        else:
            held[0] += 1
            held[1] += amount_fen

    def row(self, sql: str, params: Sequence[Any]) -> None:
        rows = self.rows.get(sql)
        if rows is None:
            self.rows[sql] = [params]
        else:
            rows.append(params)

    def add(self, sql: str, key: tuple[Any, ...], amounts: tuple[int, ...]) -> None:
        sql_key = (sql, key)
        held = self.sums.get(sql_key)
        if held is None:
            self.sums[sql_key] = list(amounts)
        elif len(amounts) == 1:
            held[0] += amounts[0]
        else:
            for i, amount in enumerate(amounts):
                held[i] += amount

    def drain(self) -> list[Write]:
        """The writes gathered so far, and the sink emptied."""
        writes: list[Write] = [Rows(sql, rows) for sql, rows in self.rows.items()]
        for (expand, key), (count, amount_fen) in self.tallies.items():
            for sql, add_key, amounts in expand(key, count, amount_fen):
                self.add(sql, add_key, amounts)
        if self.sums:
            writes.append(Sums(self.sums))
        self.rows, self.sums, self.tallies = {}, {}, {}
        return writes


class LastIso:
    """The text of the last value written, by identity: the gifts of an import share their
    moment and day objects (``projections.sqlview.decoding``), and a rebuild asks millions of
    times. Dates and datetimes are immutable, so one object always gives the same text.

    The value and its text are held as one pair, replaced whole: the live runners of several
    funds (``api.district``) share it from their threads, and a value set apart from its
    text could give one event another's day.
    """

    def __init__(self) -> None:
        self.last: tuple[object, str] = (None, "")

    def iso(self, value: date | datetime) -> str:
        last = self.last
        if last[0] is not value:
            last = (value, str(value.isoformat()))
            self.last = last
        return last[1]


_last_day = LastIso()
_last_moment = LastIso()


def day_of(domain_event: Any) -> str:
    """The day an event took effect, as the views store it."""
    return _last_day.iso(domain_event.meta.effective_on)


def moment_of(domain_event: Any) -> str:
    """When the ledger recorded an event, as the views store it."""
    return _last_moment.iso(domain_event.timestamp)


def id_of(domain_event: Any) -> str:
    return str(domain_event.originator_id)


class Pending:
    """Writes held back to go to the database together: plain writes grouped by table (in
    order within a table; tables are independent of each other), additions summed by key."""

    def __init__(self) -> None:
        # Per table, its runs of rows of one statement, in order.
        self.by_table: dict[str, list[tuple[str, list[Sequence[Any]]]]] = {}
        self.sums: dict[tuple[str, tuple[Any, ...]], list[int]] = {}

    def _run(self, sql: str) -> list[Sequence[Any]]:
        table = _tables.get(sql)
        if table is None:
            target = _TARGET.match(sql)
            table = target.group(1) if target else sql
            if len(_tables) < TABLES_KNOWN_MAX:
                _tables[sql] = table
        runs = self.by_table.setdefault(table, [])
        if not runs or runs[-1][0] != sql:
            runs.append((sql, []))
        return runs[-1][1]

    def plain(self, sql: str, params: Sequence[Any]) -> None:
        self._run(sql).append(params)

    def rows(self, write: Rows) -> None:
        self._run(write.sql).extend(write.rows)

    def add_sums(self, write: Sums) -> None:
        for sql_key, amounts in write.sums.items():
            held = self.sums.get(sql_key)
            if held is None:
                self.sums[sql_key] = list(amounts)
            else:
                for i, amount in enumerate(amounts):
                    held[i] += amount

    def add(self, write: Add) -> None:
        held = self.sums.get((write.sql, write.key))
        if held is None:
            self.sums[(write.sql, write.key)] = list(write.amounts)
        else:
            for i, amount in enumerate(write.amounts):
                held[i] += amount

    def flush(self, c: Cursor) -> None:
        for runs in self.by_table.values():
            for sql, rows in runs:
                c.executemany(sql, rows)
        by_sql: dict[str, list[Sequence[Any]]] = {}
        for (sql, key), amounts in self.sums.items():
            by_sql.setdefault(sql, []).append((*key, *amounts))
        for sql, rows in by_sql.items():
            c.executemany(sql, rows)
        self.by_table = {}
        self.sums = {}
