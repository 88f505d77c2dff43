"""Overwriting what was deleted, as far as the database allows, before a forget answers.

SQLite: the key table is written with ``secure_delete`` (freed bytes zeroed), then the
write-ahead log is checkpointed and truncated, so neither the file nor its WAL keeps a
destroyed key's old bytes. PostgreSQL: ``VACUUM FULL`` rewrites the key table into a new file,
leaving no dead row version in it; what the server's own WAL segments, replicas and base
backups hold is for their retention to end (docs/privacy.md).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

CHECKPOINT_TRIES = 20
CHECKPOINT_WAIT_S = 0.05


def is_postgres(datastore: Any) -> bool:
    return hasattr(datastore, "schema")


@contextlib.contextmanager
def deleting(datastore: Any) -> Iterator[Any]:
    """A write transaction whose freed bytes are zeroed (SQLite's ``secure_delete``)."""
    with datastore.transaction(commit=True) as cursor:
        if not is_postgres(datastore):
            cursor.execute("PRAGMA secure_delete = ON")
        yield cursor


def scrub_deleted(datastore: Any, table: str) -> bool:
    """Overwrite the old bytes of rows changed in ``table``; False when SQLite's WAL could not
    be truncated in time (busy readers): the caller says so, and a retry completes it."""
    if is_postgres(datastore):
        with datastore.get_connection() as connection:  # in autocommit: VACUUM needs it
            connection.execute(f"VACUUM FULL {table}")
        return True
    for _ in range(CHECKPOINT_TRIES):
        with datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = cursor.fetchone()
        if row is None or row[0] == 0:
            return True
        time.sleep(CHECKPOINT_WAIT_S)
    return False
