"""The transparency log's tables: leaves and complete subtrees, and what a rebuild keeps."""

from __future__ import annotations

from typing import ClassVar

from projections.sqlview.postgres import PostgresView
from projections.sqlview.sqlite import SQLiteView

LOG_DDL = (
    "CREATE TABLE IF NOT EXISTS {t}fl_log_leaves ("
    " leaf_index BIGINT PRIMARY KEY, position BIGINT NOT NULL UNIQUE,"
    " leaf_hash TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t}fl_log_nodes ("
    " level INTEGER NOT NULL, idx BIGINT NOT NULL, hash TEXT NOT NULL,"
    " PRIMARY KEY (level, idx))",
)
# Kept across rebuilds: salts make the leaves reproducible, and signed checkpoints are history.
LOG_KEPT_DDL = (
    "CREATE TABLE IF NOT EXISTS {t}fl_log_salts (subject TEXT PRIMARY KEY, salt TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t}fl_log_checkpoints ("
    " tree_size BIGINT PRIMARY KEY, root TEXT NOT NULL, note TEXT NOT NULL,"
    " signed_at {ts} NOT NULL)",
)


class LogTables:
    view_name: ClassVar[str] = "log"
    ddl: ClassVar[tuple[str, ...]] = LOG_DDL
    kept_ddl: ClassVar[tuple[str, ...]] = LOG_KEPT_DDL


class LogSQLite(LogTables, SQLiteView):
    pass


class LogPostgres(LogTables, PostgresView):
    pass
