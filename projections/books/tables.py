"""The books view's tables: the journal, and sums by day for balances on any date."""

from __future__ import annotations

from typing import ClassVar

from projections.sqlview.postgres import PostgresView
from projections.sqlview.sqlite import SQLiteView

BOOKS_DDL = (
    "CREATE TABLE IF NOT EXISTS {t}fl_entries ("
    " position BIGINT PRIMARY KEY, event_id TEXT NOT NULL, event_type TEXT NOT NULL,"
    " effective_on {date} NOT NULL, recorded_at {ts} NOT NULL, narration TEXT NOT NULL,"
    " project_code TEXT)",
    "CREATE TABLE IF NOT EXISTS {t}fl_journal ("
    " position BIGINT NOT NULL, line INTEGER NOT NULL, effective_on {date} NOT NULL,"
    " recorded_at {ts} NOT NULL, account TEXT NOT NULL, amount_fen BIGINT NOT NULL,"
    " PRIMARY KEY (position, line))",
    "CREATE TABLE IF NOT EXISTS {t}fl_account_days ("
    " account TEXT NOT NULL, effective_on {date} NOT NULL, amount_fen BIGINT NOT NULL,"
    " PRIMARY KEY (account, effective_on))",
    "CREATE TABLE IF NOT EXISTS {t}fl_commitment_days ("
    " effective_on {date} PRIMARY KEY, amount_fen BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t}fl_event_days ("
    " effective_on {date} PRIMARY KEY, events BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS fl_journal_recorded_at ON {t}fl_journal (recorded_at)",
    # One row per event and per commitment change, for "as recorded at" questions.
    "CREATE TABLE IF NOT EXISTS {t}fl_event_log ("
    " position BIGINT PRIMARY KEY, event_type TEXT NOT NULL, effective_on {date} NOT NULL,"
    " recorded_at {ts} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS fl_event_log_recorded_at ON {t}fl_event_log (recorded_at)",
    "CREATE TABLE IF NOT EXISTS {t}fl_commitment_changes ("
    " position BIGINT PRIMARY KEY, effective_on {date} NOT NULL, recorded_at {ts} NOT NULL,"
    " amount_fen BIGINT NOT NULL)",
    # The change in cash and cash equivalents by line of the cash-flow statement and day.
    "CREATE TABLE IF NOT EXISTS {t}fl_cash_days ("
    " line INTEGER NOT NULL, effective_on {date} NOT NULL, amount_fen BIGINT NOT NULL,"
    " PRIMARY KEY (line, effective_on))",
    # The closing entries of each closed year, dated its last day; kept apart from the
    # journal so the release from restriction is always worked out from the flows alone.
    "CREATE TABLE IF NOT EXISTS {t}fl_closings ("
    " year INTEGER NOT NULL, line INTEGER NOT NULL, account TEXT NOT NULL,"
    " amount_fen BIGINT NOT NULL, PRIMARY KEY (year, line))",
    # For the notes (附注): gifts in kind with how their value was set, and service hours.
    "CREATE TABLE IF NOT EXISTS {t}fl_in_kind ("
    " donation_id TEXT PRIMARY KEY, receipt_no TEXT NOT NULL, project_code TEXT,"
    " received_on {date} NOT NULL, amount_fen BIGINT NOT NULL, basis TEXT, evidence TEXT,"
    " fixed_asset {bool} NOT NULL, useful_life_months INTEGER NOT NULL,"
    " used_fen BIGINT NOT NULL, depreciated_fen BIGINT NOT NULL, reversed_on {date})",
    "CREATE TABLE IF NOT EXISTS {t}fl_service_hours ("
    " position BIGINT PRIMARY KEY, provider TEXT NOT NULL, project_code TEXT NOT NULL,"
    " served_on {date} NOT NULL, hours BIGINT NOT NULL, people BIGINT NOT NULL,"
    " description TEXT NOT NULL)",
)


class BooksTables:
    view_name: ClassVar[str] = "books"
    ddl: ClassVar[tuple[str, ...]] = BOOKS_DDL
    # 2: an expense posts no release from restriction; the release is derived from the days.
    # 3: cash flows by line, closing entries of closed years, gifts in kind, service hours.
    rules_version: ClassVar[int] = 3


class BooksSQLite(BooksTables, SQLiteView):
    pass


class BooksPostgres(BooksTables, PostgresView):
    pass
