"""Turns ``FUND_LEDGER_DATABASE_URL`` into the eventsourcing persistence environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ledger.domain.errors import InvalidInput

DEFAULT_DATABASE_URL = "sqlite:///./fund-ledger.sqlite3"

# libpq options for each new PostgreSQL connection. A connection attempt gives up after
# connect_timeout; keepalives and tcp_user_timeout end a connection whose network went silent
# (sent data unacknowledged for 15 s), which would otherwise wait for ever.
POSTGRES_CONNECTION_OPTIONS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
}
# psycopg's pool retries a failed connection with a doubling delay for five minutes, so after
# an outage of a minute it could take another minute to notice the database is back. Giving
# up after a few seconds ends that attempt; the next request that needs a connection starts
# a fresh one, which tries at once.
POSTGRES_RECONNECT_TIMEOUT_S = 2.0


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
        private_sqlite_file(Path(path).expanduser())
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(Path(path).expanduser()),
            "SQLITE_LOCK_TIMEOUT": "10",
            "APPLICATION_RECORDER_TOPIC": "ledger.store.recorders:CheckedSQLiteRecorder",
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
            "APPLICATION_RECORDER_TOPIC": "ledger.store.recorders:CheckedPostgresRecorder",
            # A pooled connection is checked before use: after the database was restarted,
            # the idle ones are dead, and each would otherwise fail one request.
            "POSTGRES_PRE_PING": "y",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise InvalidInput(
        "FUND_LEDGER_DATABASE_URL",
        database_url,
        "must start with sqlite:///, postgresql:// or memory://",
    )


def private_sqlite_file(path: Path) -> None:
    """The store's file made (or, made by older code, changed to) 0600 before SQLite opens it,
    in a folder made 0700 when made here; SQLite gives its ``-wal`` and ``-shm`` files the
    main file's mode, and any there already are changed too. A symlink is refused."""
    path.resolve().parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_symlink():
        raise InvalidInput("FUND_LEDGER_DATABASE_URL", str(path), "names a symlink")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(descriptor)
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists() and not file.is_symlink() and file.stat().st_mode & 0o077:
            file.chmod(0o600)


def tune_postgres_pool(datastore: Any) -> None:
    """Apply the options above to the psycopg pool eventsourcing made (it has no settings
    for them); a datastore without a pool (SQLite, memory) is left alone."""
    pool = getattr(datastore, "pool", None)
    if pool is None or not hasattr(pool, "reconnect_timeout"):
        return
    pool.kwargs.update(POSTGRES_CONNECTION_OPTIONS)
    pool.reconnect_timeout = POSTGRES_RECONNECT_TIMEOUT_S
