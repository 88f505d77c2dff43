"""The canteen view's tables: counts only, never who (the settlements' lines stay in the events)."""

from __future__ import annotations

from typing import ClassVar

from projections.sqlview.postgres import PostgresView
from projections.sqlview.sqlite import SQLiteView

CANTEEN_DDL = (
    "CREATE TABLE IF NOT EXISTS {t}fl_canteen_months ("
    " project_code TEXT NOT NULL, month TEXT NOT NULL, meals BIGINT NOT NULL,"
    " people BIGINT NOT NULL, subsidy_fen BIGINT NOT NULL, meals_price_fen BIGINT NOT NULL,"
    " expense_id TEXT NOT NULL, PRIMARY KEY (project_code, month))",
    "CREATE TABLE IF NOT EXISTS {t}fl_canteen_bands ("
    " project_code TEXT NOT NULL, month TEXT NOT NULL, band TEXT NOT NULL,"
    " meals BIGINT NOT NULL, people BIGINT NOT NULL, subsidy_fen BIGINT NOT NULL,"
    " PRIMARY KEY (project_code, month, band))",
    "CREATE TABLE IF NOT EXISTS {t}fl_attendance ("
    " project_code TEXT NOT NULL, served_on TEXT NOT NULL, occasion TEXT NOT NULL,"
    " month TEXT NOT NULL, people BIGINT NOT NULL, visits BIGINT NOT NULL,"
    " PRIMARY KEY (project_code, served_on, occasion))",
)


class CanteenTables:
    view_name: ClassVar[str] = "canteen"
    ddl: ClassVar[tuple[str, ...]] = CANTEEN_DDL
    rules_version: ClassVar[int] = 1


class CanteenSQLite(CanteenTables, SQLiteView):
    pass


class CanteenPostgres(CanteenTables, PostgresView):
    pass
