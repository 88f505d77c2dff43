"""Backup, restore and migration: the stored events byte for byte, with their log positions.

A backup holds the events exactly as stored (so a restored store verifies against the same
signed checkpoints), the log's salts (so the leaves come out the same) and its checkpoints,
and the per-person keys that open the sealed personal data (a forgotten person's row comes
without its key, so a restore keeps them forgotten). The views are rebuilt after a restore.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from ledger.app import FundLedger
from ledger.store.files import new_file
from ledger.store.keyring import StoredKey
from projections.log.kept import kept_records, restore_kept
from projections.runner import Views

FORMAT = "fund-ledger/backup/v1"
PAGE_SIZE = 1000


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return path.open(mode, encoding="utf-8")


@contextlib.contextmanager
def _new_backup(path: Path) -> Iterator[IO[str]]:
    """A backup file only its owner may read, never through a symlink, put in place whole."""
    with new_file(path, replace=True) as raw:
        if path.suffix == ".gz":
            packed = gzip.GzipFile(fileobj=raw, mode="wb")
            out = io.TextIOWrapper(packed, encoding="utf-8")
            yield out
            out.close()  # and the gzip stream's end; ``raw`` stays open for new_file
        else:
            plain = io.TextIOWrapper(raw, encoding="utf-8")
            yield plain
            plain.flush()
            plain.detach()


def records(ledger: FundLedger, views: Views) -> Iterator[dict[str, Any]]:
    """Everything a backup holds, as JSON-ready records, events in log order."""
    yield {"format": FORMAT}
    after = 0
    count = 0
    while notifications := ledger.recorder.select_notifications(start=after + 1, limit=PAGE_SIZE):
        for n in notifications:
            yield {
                "position": n.id,
                "originator_id": str(n.originator_id),
                "originator_version": n.originator_version,
                "topic": n.topic,
                "state": base64.b64encode(n.state).decode(),
            }
            count += 1
        after = notifications[-1].id
    yield from kept_records(views.view("log"))
    for key in ledger.keyring.all():
        yield {
            "person_key": key.person_id,
            # Wrapped under the KEK, which is not in the backup: a backup alone opens nothing.
            "key_wrapped": key.key_wrapped,
            "created_at": key.created_at,
            "forgotten_at": key.forgotten_at,
        }
    # The last line: a backup cut short has none, and is refused.
    yield {"end": count}


def backup(ledger: FundLedger, views: Views, path: Path, progress: Callable[[int], None]) -> int:
    count = 0
    with _new_backup(path) as out:
        for record in records(ledger, views):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            if "position" in record:
                count += 1
                progress(1)
    return count


def restore(ledger: FundLedger, views: Views, path: Path, progress: Callable[[int], None]) -> int:
    """Load a backup into an empty store, keeping every event's position; then rebuild views.

    The file is read twice: first to check it is whole, so a cut-short backup loads nothing.
    """
    if ledger.position():
        msg = "the store is not empty: restore only into an empty store"
        raise ValueError(msg)
    expected = _check_whole(path)
    _check_keys(path, ledger)
    events: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    count = 0
    with _open(path, "r") as lines:
        next(lines)
        for line in lines:
            record = json.loads(line)
            if "position" in record:
                events.append(record)
                if len(events) == PAGE_SIZE:
                    count += _insert(ledger, events)
                    progress(len(events))
                    events = []
            elif "end" not in record:
                kept.append(record)
        count += _insert(ledger, events)
        progress(len(events))
    assert count == expected
    _restore_keys(ledger, [record for record in kept if "person_key" in record])
    restore_kept(views.view("log"), kept)
    views.rebuild()
    return count


def _restore_keys(ledger: FundLedger, records: list[dict[str, Any]]) -> None:
    """The keys as the backup holds them: wrapped (they need the KEK they were wrapped under),
    or, from a backup made before keys were wrapped, plain (wrapped now)."""
    wrapped = [r for r in records if "key_wrapped" in r]
    ledger.keyring.load(
        StoredKey(r["person_key"], r["key_wrapped"], r["created_at"], r["forgotten_at"])
        for r in wrapped
    )
    for r in records:
        if "key" in r:
            key = bytes.fromhex(r["key"]) if r["key"] else None
            ledger.keyring.load_plain(r["person_key"], key, r["created_at"], r["forgotten_at"])


def _check_keys(path: Path, ledger: FundLedger) -> None:
    """Refuse a backup whose keys this store's KEK cannot open, before loading anything."""
    with _open(path, "r") as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("key_wrapped") or record.get("key"):
                ledger.keyring.check_kek(record.get("key_wrapped"))
                return


def check_header(path: Path) -> None:
    """Refuse, with a ValueError saying so, a file that does not start as a fund-ledger
    backup; only its first line is read (``restore`` checks the whole file)."""
    try:
        with _open(path, "r") as lines:
            header = json.loads(next(lines, "{}"))
    except (ValueError, EOFError, gzip.BadGzipFile, zlib.error):  # not JSON, UTF-8 or gzip
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        msg = f'not a fund-ledger backup (its first line is not {{"format": "{FORMAT}"}})'
        raise ValueError(msg)


def _check_whole(path: Path) -> int:
    with _open(path, "r") as lines:
        header = json.loads(next(lines, "{}"))
        if header.get("format") != FORMAT:
            msg = f"not a fund-ledger backup (format {header.get('format')!r})"
            raise ValueError(msg)
        count, end = 0, None
        for line in lines:
            record = json.loads(line)
            if "position" in record:
                count += 1
            end = record.get("end", end)
    if end != count:
        msg = f"the backup is incomplete: {count} events and no last line saying how many"
        raise ValueError(msg)
    return count


def _insert(ledger: FundLedger, events: list[dict[str, Any]]) -> int:
    """Insert stored events with their original positions (PostgreSQL ids may have gaps)."""
    if not events:
        return 0
    recorder: Any = ledger.recorder
    rows = [
        (
            UUID(e["originator_id"]),
            e["originator_version"],
            e["topic"],
            base64.b64decode(e["state"]),
            e["position"],
        )
        for e in events
    ]
    table = recorder.events_table_name
    with recorder.datastore.transaction(commit=True) as cursor:
        if hasattr(recorder.datastore, "schema"):
            qualified = f'"{recorder.datastore.schema}"."{table}"'
            cursor.executemany(
                f"INSERT INTO {qualified} (originator_id, originator_version, topic, state,"
                " notification_id) VALUES (%s, %s, %s, %s, %s)",
                rows,
            )
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{qualified}', 'notification_id'),"
                f" (SELECT MAX(notification_id) FROM {qualified}))"
            )
        else:
            cursor.executemany(
                f"INSERT INTO {table} (rowid, originator_id, originator_version, topic, state)"
                " VALUES (?, ?, ?, ?, ?)",
                [(p, o.hex, v, t, s) for o, v, t, s, p in rows],
            )
    return len(rows)
