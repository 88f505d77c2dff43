"""The monthly view's tables: sums per month, and each closed month's report as frozen."""

from __future__ import annotations

from typing import ClassVar

from projections.sqlview.postgres import PostgresView
from projections.sqlview.sqlite import SQLiteView

MONTHLY_DDL = (
    "CREATE TABLE IF NOT EXISTS {t}fl_month_accounts ("
    " month TEXT NOT NULL, account TEXT NOT NULL, amount_fen BIGINT NOT NULL,"
    " PRIMARY KEY (month, account))",
    "CREATE TABLE IF NOT EXISTS {t}fl_month_grants ("
    " month TEXT NOT NULL, project_code TEXT NOT NULL, approved_fen BIGINT NOT NULL,"
    " released_fen BIGINT NOT NULL, commitment_change_fen BIGINT NOT NULL,"
    " PRIMARY KEY (month, project_code))",
    "CREATE TABLE IF NOT EXISTS {t}fl_month_events ("
    " month TEXT PRIMARY KEY, events BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t}fl_month_reports ("
    " month TEXT PRIMARY KEY, frozen_position BIGINT NOT NULL, report_json TEXT NOT NULL)",
)


class MonthlyTables:
    view_name: ClassVar[str] = "monthly"
    ddl: ClassVar[tuple[str, ...]] = MONTHLY_DDL
    # 2: an expense posts no release from restriction; the release is derived from the days.
    rules_version: ClassVar[int] = 2


class MonthlySQLite(MonthlyTables, SQLiteView):
    pass


class MonthlyPostgres(MonthlyTables, PostgresView):
    pass
