"""Where a command's store is, whether it is there, and why it cannot be opened: in one line.

A command that only reads (summary, report, export, backup ...) must find a store and never
make one: opening an SQLite URL creates its file, and opening a PostgreSQL one creates the
tables. So the file, or the events table, is looked for first. A PostgreSQL server is asked
once, directly, before the pool is made: the pool would wait its whole timeout and then say
only that it got no connection, never that the database does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

# eventsourcing names the events table after the application (FundLedger).
EVENTS_TABLE = "fundledger_events"
PROBE_TIMEOUT_S = 5


class StoreUnavailable(Exception):
    """The store cannot be opened: what is wrong and what to do, in one line."""


@dataclass(frozen=True)
class StoreAddress:
    """A store URL as a command shows it: never its password."""

    url: str
    scheme: str
    where: str  # the SQLite file, or host:port/database[?schema]
    sqlite_file: Path | None = None


def address(url: str) -> StoreAddress:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        file = Path(path).expanduser() if path else None
        return StoreAddress(url, "sqlite", str(file.absolute() if file else url), file)
    if parts.scheme in {"postgresql", "postgres"}:
        schema = parse_qs(parts.query).get("schema", [""])[0]
        where = f"PostgreSQL {parts.hostname or '127.0.0.1'}:{parts.port or 5432}/{_database(url)}"
        return StoreAddress(url, "postgresql", where + (f" (schema {schema})" if schema else ""))
    return StoreAddress(url, parts.scheme, parts.scheme + "://")


def _database(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/")) or "postgres"


def probe(store: StoreAddress) -> bool:
    """Whether the store holds a ledger's tables; a PostgreSQL server that cannot be reached,
    or a database that does not exist, raises StoreUnavailable saying so."""
    if store.scheme == "sqlite":
        return store.sqlite_file is not None and store.sqlite_file.exists()
    if store.scheme != "postgresql":
        return True  # memory://: nothing to find, nothing left behind
    return _postgres_has_events(store)


def _postgres_has_events(store: StoreAddress) -> bool:
    import psycopg

    parts = urlsplit(store.url)
    schema = parse_qs(parts.query).get("schema", [None])[0]
    try:
        with psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            dbname=_database(store.url),
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            connect_timeout=PROBE_TIMEOUT_S,
        ) as conn:
            if (
                schema is not None
                and not conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
                ).fetchone()
            ):
                msg = (
                    f'{store.where}: schema "{schema}" does not exist; '
                    f'create it (CREATE SCHEMA "{schema}") or fix the URL\'s ?schema='
                )
                raise StoreUnavailable(msg)
            table = f'"{schema}".{EVENTS_TABLE}' if schema else EVENTS_TABLE
            found = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    except psycopg.Error as error:
        raise StoreUnavailable(_postgres_problem(store, error)) from None
    return found is not None and found[0] is not None


def _postgres_problem(store: StoreAddress, error: Exception) -> str:
    reason = " ".join(str(error).split())  # libpq's message spans lines
    reason = reason.split("FATAL: ")[-1]
    database = _database(store.url)
    if f'database "{database}" does not exist' in reason:
        return (
            f'{store.where}: database "{database}" does not exist; '
            f"create it (createdb {database}) or fix the URL"
        )
    if "password authentication failed" in reason or ("role" in reason and "not exist" in reason):
        return f"{store.where}: {reason}; fix the user or password in the URL"
    if "Connection refused" in reason or "timeout expired" in reason:
        return (
            f"cannot reach {store.where}: the connection was refused or timed out; "
            "is PostgreSQL running there, and are the URL's host and port right?"
        )
    return f"cannot open {store.where}: {reason}"
