"""The per-person keys that seal personal data: made on first use, destroyed on forgetting.

They live in one table beside the events (``fl_person_keys``), never in an event, a view or a
leaf, and only wrapped under the key-encryption key (``ledger.store.kek``), which is not in the
database: a copy of the database or of a backup alone opens no sealed value. Stores made
before keys were wrapped held them plain in ``key_hex``; they are wrapped the first time such
a store is opened with a KEK, and the plain bytes overwritten (``scrub``).
``ledger.domain.sealing`` seals and opens values with the keys.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.domain.errors import KeyEncryptionKeyMissing, WrongKeyEncryptionKey
from ledger.domain.sealing import KEY_BYTES, is_sealed, person_of, unseal
from ledger.store.kek import KeyEncryptionKey, wrapped_under
from ledger.store.scrubbing import deleting, scrub_deleted

LOOKUP_CHUNK_MAX = 500

KEYS_DDL = (
    "CREATE TABLE IF NOT EXISTS {t}fl_person_keys ("
    " person_id TEXT PRIMARY KEY, key_hex TEXT, created_at TEXT NOT NULL, forgotten_at TEXT,"
    " key_wrapped TEXT)"
)


@dataclass(frozen=True)
class StoredKey:
    """A row of the key table: ``key_wrapped`` is None once the person has been forgotten."""

    person_id: str
    key_wrapped: str | None
    created_at: str
    forgotten_at: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Keyring:
    """The per-person keys: made on first use, looked up in batches, destroyed on forgetting.

    ``kek`` wraps them; ``kek_source`` says where it was looked for, for the message when it is
    missing. A store's keys are all wrapped under one KEK: a key of another is refused.
    """

    def __init__(self, kek: KeyEncryptionKey | None, kek_source: str) -> None:
        self.kek = kek
        self.kek_source = kek_source
        self._kek_checked = False

    def _kek(self) -> KeyEncryptionKey:
        if self.kek is None:
            raise KeyEncryptionKeyMissing(self.kek_source)
        if not self._kek_checked:
            wrapped = self._any_wrapped()
            if wrapped is not None and wrapped_under(wrapped) != self.kek.id:
                raise WrongKeyEncryptionKey(wrapped_under(wrapped), self.kek.id)
            self._kek_checked = True
        return self.kek

    def check_kek(self, wrapped: str | None) -> None:
        """That there is a KEK, the one the store's keys and ``wrapped`` are wrapped under."""
        kek = self._kek()
        if wrapped is not None and wrapped_under(wrapped) != kek.id:
            raise WrongKeyEncryptionKey(wrapped_under(wrapped), kek.id)

    def _opened(self, row: StoredKey) -> bytes | None:
        if row.key_wrapped is None:
            return None
        return self._kek().unwrap(row.person_id, row.key_wrapped)

    def key_for(self, person_id: str) -> bytes | None:
        """The person's key, made now if they have none; None once they were forgotten."""
        rows = self._rows([person_id])
        if not rows:
            # Two writers may make one at once: the first stored wins, and both read it back.
            key = self._kek().wrap(person_id, os.urandom(KEY_BYTES))
            self._insert(StoredKey(person_id, key, _now(), None))
            rows = self._rows([person_id])
        [row] = rows
        return self._opened(row)

    def is_forgotten(self, person_id: str) -> bool:
        return any(k.forgotten_at for k in self._rows([person_id]))

    def keys(self, person_ids: Iterable[str]) -> dict[str, bytes | None]:
        """Keys by person id: None for the forgotten and for ids with no key."""
        wanted = sorted(set(person_ids))
        found: dict[str, bytes | None] = dict.fromkeys(wanted)
        for start in range(0, len(wanted), LOOKUP_CHUNK_MAX):
            for row in self._rows(wanted[start : start + LOOKUP_CHUNK_MAX]):
                found[row.person_id] = self._opened(row)
        return found

    def reveal(self, values: list[Any]) -> list[Any]:
        """Each value with sealed strings opened (ERASED for the forgotten); one lookup in all."""
        keys = self.keys(person_of(v) for v in values if is_sealed(v))
        return [unseal(keys[person_of(v)], v) if is_sealed(v) else v for v in values]

    def destroy(self, person_id: str) -> bool:
        """Forget the key for good, its old bytes overwritten where the store allows; the row
        stays, so a restore cannot bring the key back. False when old bytes may remain."""
        raise NotImplementedError

    def all(self) -> list[StoredKey]:
        """Every row as stored: keys wrapped, as a backup carries them."""
        raise NotImplementedError

    def load(self, rows: Iterable[StoredKey]) -> None:
        """Rows from a backup, wrapped under this store's KEK (else refused, loading none)."""
        rows = list(rows)
        for row in rows:
            self.check_kek(row.key_wrapped)
        for row in rows:
            self._insert(row)

    def load_plain(
        self, person_id: str, key: bytes | None, created_at: str, forgotten_at: str | None
    ) -> None:
        """A row of a backup made before keys were wrapped: wrapped now."""
        wrapped = None if key is None else self._kek().wrap(person_id, key)
        self._insert(StoredKey(person_id, wrapped, created_at, forgotten_at))

    def rewrap(self, new: KeyEncryptionKey) -> int:
        """Every key wrapped again under ``new``, at once; how many. The caller then uses
        ``new`` and destroys the old KEK (and so every old copy of these wrapped keys)."""
        old = self._kek()
        rows = [
            StoredKey(
                r.person_id,
                new.wrap(r.person_id, old.unwrap(r.person_id, r.key_wrapped)),
                r.created_at,
                r.forgotten_at,
            )
            for r in self.all()
            if r.key_wrapped is not None
        ]
        self._replace(rows)
        self.kek, self._kek_checked = new, False
        return len(rows)

    def _any_wrapped(self) -> str | None:
        raise NotImplementedError

    def _rows(self, person_ids: list[str]) -> list[StoredKey]:
        raise NotImplementedError

    def _insert(self, row: StoredKey) -> None:
        raise NotImplementedError

    def _replace(self, rows: list[StoredKey]) -> None:
        raise NotImplementedError


class MemoryKeyring(Keyring):
    """For the in-memory store of unit tests: the same wrapping, under a KEK of the process."""

    def __init__(self) -> None:
        super().__init__(KeyEncryptionKey.generate(), "the memory store's own")
        self._table: dict[str, StoredKey] = {}
        self._lock = threading.Lock()

    def _any_wrapped(self) -> str | None:
        return next((k.key_wrapped for k in self._table.values() if k.key_wrapped), None)

    def _rows(self, person_ids: list[str]) -> list[StoredKey]:
        return [self._table[p] for p in person_ids if p in self._table]

    def _insert(self, row: StoredKey) -> None:
        with self._lock:
            self._table.setdefault(row.person_id, row)

    def _replace(self, rows: list[StoredKey]) -> None:
        with self._lock:
            self._table.update((row.person_id, row) for row in rows)

    def destroy(self, person_id: str) -> bool:
        with self._lock:
            row = self._table.get(person_id)
            created_at = row.created_at if row else _now()
            forgotten_at = (row.forgotten_at if row else None) or _now()
            self._table[person_id] = StoredKey(person_id, None, created_at, forgotten_at)
        return True

    def all(self) -> list[StoredKey]:
        return sorted(self._table.values(), key=lambda k: k.person_id)


class SQLKeyring(Keyring):
    """The key table in the events' own database (SQLite file or PostgreSQL schema)."""

    COLUMNS = "person_id, key_wrapped, created_at, forgotten_at"

    def __init__(
        self, datastore: Any, kek: KeyEncryptionKey | None, kek_source: str, *, create: bool
    ) -> None:
        super().__init__(kek, kek_source)
        self.datastore = datastore
        schema = getattr(datastore, "schema", None)
        self.postgres = hasattr(datastore, "schema")
        self.table = f'"{schema}".fl_person_keys' if schema else "fl_person_keys"
        if create:
            self._execute(KEYS_DDL.replace("{t}", f'"{schema}".' if schema else ""), ())
        self._upgrade()

    def _sql(self, statement: str) -> str:
        statement = statement.replace("{table}", self.table)
        return statement if self.postgres else statement.replace("%s", "?")

    def _execute(self, statement: str, params: tuple[Any, ...]) -> None:
        with deleting(self.datastore) as cursor:
            cursor.execute(self._sql(statement), params)

    def _query(self, statement: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), params)
            return [dict(row) for row in cursor.fetchall()]

    def _columns(self) -> set[str]:
        if self.postgres:
            rows = self._query(
                "SELECT column_name AS name FROM information_schema.columns"
                " WHERE table_name = 'fl_person_keys' AND table_schema = %s",
                (getattr(self.datastore, "schema", None) or "public",),
            )
        else:
            rows = self._query("SELECT name FROM pragma_table_info('fl_person_keys')", ())
        return {row["name"] for row in rows}

    def _upgrade(self) -> None:
        """A table of a store made before keys were wrapped: its plain keys wrapped, once,
        and their old bytes overwritten. Needs the KEK; without it, says so and changes
        nothing."""
        columns = self._columns()
        if not columns:
            return  # no table (a store opened without creating one)
        if "key_wrapped" not in columns:
            self._execute("ALTER TABLE {table} ADD COLUMN key_wrapped TEXT", ())
        plain = self._query("SELECT person_id, key_hex FROM {table} WHERE key_hex IS NOT NULL", ())
        if not plain:
            return
        kek = self._kek()
        with deleting(self.datastore) as cursor:
            for row in plain:
                wrapped = kek.wrap(row["person_id"], bytes.fromhex(row["key_hex"]))
                cursor.execute(
                    self._sql(
                        "UPDATE {table} SET key_wrapped = %s, key_hex = NULL WHERE person_id = %s"
                    ),
                    (wrapped, row["person_id"]),
                )
        scrub_deleted(self.datastore, self.table)

    def _stored(self, rows: list[dict[str, Any]]) -> list[StoredKey]:
        return [StoredKey(**row) for row in rows]

    def _any_wrapped(self) -> str | None:
        rows = self._query(
            "SELECT key_wrapped FROM {table} WHERE key_wrapped IS NOT NULL LIMIT 1", ()
        )
        return rows[0]["key_wrapped"] if rows else None

    def _rows(self, person_ids: list[str]) -> list[StoredKey]:
        if not person_ids:
            return []
        marks = ", ".join(["%s"] * len(person_ids))
        return self._stored(
            self._query(
                f"SELECT {self.COLUMNS} FROM {{table}} WHERE person_id IN ({marks})",  # noqa: S608
                tuple(person_ids),
            )
        )

    def _insert(self, row: StoredKey) -> None:
        self._execute(
            f"INSERT INTO {{table}} ({self.COLUMNS}) VALUES (%s, %s, %s, %s)"  # noqa: S608
            " ON CONFLICT (person_id) DO NOTHING",
            (row.person_id, row.key_wrapped, row.created_at, row.forgotten_at),
        )

    def _replace(self, rows: list[StoredKey]) -> None:
        with deleting(self.datastore) as cursor:
            for row in rows:
                cursor.execute(
                    self._sql("UPDATE {table} SET key_wrapped = %s WHERE person_id = %s"),
                    (row.key_wrapped, row.person_id),
                )
        scrub_deleted(self.datastore, self.table)

    def destroy(self, person_id: str) -> bool:
        now = _now()
        self._execute(
            f"INSERT INTO {{table}} ({self.COLUMNS}) VALUES (%s, NULL, %s, %s)"  # noqa: S608
            " ON CONFLICT (person_id) DO UPDATE SET key_wrapped = NULL, key_hex = NULL,"
            " forgotten_at = COALESCE(fl_person_keys.forgotten_at, excluded.forgotten_at)",
            (person_id, now, now),
        )
        return scrub_deleted(self.datastore, self.table)

    def all(self) -> list[StoredKey]:
        return self._stored(
            self._query(f"SELECT {self.COLUMNS} FROM {{table}} ORDER BY person_id", ())  # noqa: S608
        )


def keyring_for(
    datastore: Any | None, kek: KeyEncryptionKey | None, kek_source: str, *, create: bool
) -> Keyring:
    """The keyring beside a store's events: in its database, or in memory for the memory store."""
    if datastore is None:
        return MemoryKeyring()
    return SQLKeyring(datastore, kek, kek_source, create=create)
