"""Turns ``FUND_LEDGER_DATABASE_URL`` into the eventsourcing persistence environment."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ledger.errors import InvalidInput

DEFAULT_DATABASE_URL = "sqlite:///./fund-ledger.sqlite3"


def persistence_env(database_url: str) -> dict[str, str]:
    """The eventsourcing environment for a database URL.

    ``sqlite:///relative/path`` and ``sqlite:////absolute/path`` are the embedded default;
    ``postgresql://user:password@host:port/db?schema=name&pool_size=5&max_overflow=10`` is for
    production; ``memory://``
    keeps everything in this process and is for unit tests only.
    """
    parts = urlsplit(database_url)
    if parts.scheme == "memory":
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise InvalidInput("FUND_LEDGER_DATABASE_URL", database_url, "names no SQLite file")
        Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(Path(path).expanduser()),
            "SQLITE_LOCK_TIMEOUT": "10",
            "APPLICATION_RECORDER_TOPIC": "ledger.recorders:CheckedSQLiteRecorder",
        }
    if parts.scheme in {"postgresql", "postgres"}:
        query = parse_qs(parts.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": query.get("pool_size", ["5"])[0],
            "POSTGRES_MAX_OVERFLOW": query.get("max_overflow", ["10"])[0],
            "POSTGRES_LOCK_TIMEOUT": "5",
            "APPLICATION_RECORDER_TOPIC": "ledger.recorders:CheckedPostgresRecorder",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise InvalidInput(
        "FUND_LEDGER_DATABASE_URL",
        database_url,
        "must start with sqlite:///, postgresql:// or memory://",
    )
