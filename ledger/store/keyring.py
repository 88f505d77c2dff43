"""The per-person keys that seal personal data: made on first use, destroyed on forgetting.

They live in one table beside the events (``fl_person_keys``), never in an event, a view or a
leaf; ``ledger.domain.sealing`` seals and opens values with them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.domain.sealing import KEY_BYTES, is_sealed, person_of, unseal

LOOKUP_CHUNK_MAX = 500

KEYS_DDL = (
    "CREATE TABLE IF NOT EXISTS {t}fl_person_keys ("
    " person_id TEXT PRIMARY KEY, key_hex TEXT, created_at TEXT NOT NULL, forgotten_at TEXT)"
)


@dataclass(frozen=True)
class StoredKey:
    """A row of the key table: ``key_hex`` is None once the person has been forgotten."""

    person_id: str
    key_hex: str | None
    created_at: str
    forgotten_at: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Keyring:
    """The per-person keys: made on first use, looked up in batches, destroyed on forgetting."""

    def key_for(self, person_id: str) -> bytes | None:
        """The person's key, made now if they have none; None once they were forgotten."""
        rows = self._rows([person_id])
        if not rows:
            # Two writers may make one at once: the first stored wins, and both read it back.
            self._insert(StoredKey(person_id, os.urandom(KEY_BYTES).hex(), _now(), None))
            rows = self._rows([person_id])
        [row] = rows
        return bytes.fromhex(row.key_hex) if row.key_hex else None

    def is_forgotten(self, person_id: str) -> bool:
        return any(k.forgotten_at for k in self._rows([person_id]))

    def keys(self, person_ids: Iterable[str]) -> dict[str, bytes | None]:
        """Keys by person id: None for the forgotten and for ids with no key."""
        wanted = sorted(set(person_ids))
        found: dict[str, bytes | None] = dict.fromkeys(wanted)
        for start in range(0, len(wanted), LOOKUP_CHUNK_MAX):
            for row in self._rows(wanted[start : start + LOOKUP_CHUNK_MAX]):
                found[row.person_id] = bytes.fromhex(row.key_hex) if row.key_hex else None
        return found

    def reveal(self, values: list[Any]) -> list[Any]:
        """Each value with sealed strings opened (ERASED for the forgotten); one lookup in all."""
        keys = self.keys(person_of(v) for v in values if is_sealed(v))
        return [unseal(keys[person_of(v)], v) if is_sealed(v) else v for v in values]

    def destroy(self, person_id: str) -> None:
        """Forget the key for good; the row stays, so a restore cannot bring the key back."""
        raise NotImplementedError

    def all(self) -> list[StoredKey]:
        raise NotImplementedError

    def load(self, rows: Iterable[StoredKey]) -> None:
        for row in rows:
            self._insert(row)

    def _rows(self, person_ids: list[str]) -> list[StoredKey]:
        raise NotImplementedError

    def _insert(self, row: StoredKey) -> None:
        raise NotImplementedError


class MemoryKeyring(Keyring):
    """For the in-memory store of unit tests."""

    def __init__(self) -> None:
        self._table: dict[str, StoredKey] = {}
        self._lock = threading.Lock()

    def _rows(self, person_ids: list[str]) -> list[StoredKey]:
        return [self._table[p] for p in person_ids if p in self._table]

    def _insert(self, row: StoredKey) -> None:
        with self._lock:
            self._table.setdefault(row.person_id, row)

    def destroy(self, person_id: str) -> None:
        with self._lock:
            row = self._table.get(person_id)
            created_at = row.created_at if row else _now()
            forgotten_at = (row.forgotten_at if row else None) or _now()
            self._table[person_id] = StoredKey(person_id, None, created_at, forgotten_at)

    def all(self) -> list[StoredKey]:
        return sorted(self._table.values(), key=lambda k: k.person_id)


class SQLKeyring(Keyring):
    """The key table in the events' own database (SQLite file or PostgreSQL schema)."""

    def __init__(self, datastore: Any, *, create: bool) -> None:
        self.datastore = datastore
        schema = getattr(datastore, "schema", None)
        self.postgres = hasattr(datastore, "schema")
        self.table = f'"{schema}".fl_person_keys' if schema else "fl_person_keys"
        if create:
            self._execute(KEYS_DDL.replace("{t}", f'"{schema}".' if schema else ""), ())

    def _sql(self, statement: str) -> str:
        statement = statement.replace("{table}", self.table)
        return statement if self.postgres else statement.replace("%s", "?")

    def _execute(self, statement: str, params: tuple[Any, ...]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._sql(statement), params)

    def _query(self, statement: str, params: tuple[Any, ...]) -> list[StoredKey]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), params)
            return [StoredKey(**dict(row)) for row in cursor.fetchall()]

    def _rows(self, person_ids: list[str]) -> list[StoredKey]:
        if not person_ids:
            return []
        marks = ", ".join(["%s"] * len(person_ids))
        return self._query(
            "SELECT person_id, key_hex, created_at, forgotten_at FROM {table}"  # noqa: S608
            f" WHERE person_id IN ({marks})",
            tuple(person_ids),
        )

    def _insert(self, row: StoredKey) -> None:
        self._execute(
            "INSERT INTO {table} (person_id, key_hex, created_at, forgotten_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (person_id) DO NOTHING",
            (row.person_id, row.key_hex, row.created_at, row.forgotten_at),
        )

    def destroy(self, person_id: str) -> None:
        now = _now()
        self._execute(
            "INSERT INTO {table} (person_id, key_hex, created_at, forgotten_at)"
            " VALUES (%s, NULL, %s, %s) ON CONFLICT (person_id) DO UPDATE SET key_hex = NULL,"
            " forgotten_at = COALESCE(fl_person_keys.forgotten_at, excluded.forgotten_at)",
            (person_id, now, now),
        )

    def all(self) -> list[StoredKey]:
        return self._query(
            "SELECT person_id, key_hex, created_at, forgotten_at FROM {table} ORDER BY person_id",
            (),
        )


def keyring_for(datastore: Any | None, *, create: bool) -> Keyring:
    """The keyring beside a store's events: in its database, or in memory for the memory store."""
    return MemoryKeyring() if datastore is None else SQLKeyring(datastore, create=create)
