"""The transparency log: a leaf per event, complete-subtree hashes, and signed checkpoints.

The log is a view like the others (its rows and its tracking in one transaction), strictly
behind the events. Complete subtrees are stored as they finish, so a proof costs O(log n)
reads. Checkpoints are signed only over the stored tree, and only when consistent with the
previous checkpoint, so the service never signs two inconsistent views of its history.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from eventsourcing.persistence import Tracking

from ledger.log.leaves import canonical, leaf_record
from ledger.log.merkle import (
    EMPTY_ROOT,
    MerkleFrontier,
    consistency_proof_from,
    inclusion_proof_from,
    leaf_hash,
    verify_consistency,
)
from ledger.log.notes import Checkpoint, Signer
from projections.sqlview.base import SQLView
from projections.sqlview.postgres import PostgresView
from projections.sqlview.sqlite import SQLiteView
from projections.sqlview.writes import Cursor
from projections.views import ViewProjection, Write

ENTRIES_PAGE_MAX = 1000
CHECKPOINT_INTERVAL_S = 2.0

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


def _subtree_reader(c: Cursor, size: int) -> Any:
    """subtree_hash(start, end) over the stored leaves and complete subtrees."""

    def subtree_hash(start: int, end: int) -> bytes:
        if end > size:
            msg = f"subtree [{start}, {end}) is beyond the tree of {size}"
            raise ValueError(msg)
        level = (end - start).bit_length() - 1
        if level == 0:
            c.execute("SELECT leaf_hash AS h FROM {t}fl_log_leaves WHERE leaf_index = %s", (start,))
        else:
            c.execute(
                "SELECT hash AS h FROM {t}fl_log_nodes WHERE level = %s AND idx = %s",
                (level, start >> level),
            )
        row = c.fetchone()
        if row is None:
            msg = f"the log is missing subtree [{start}, {end})"
            raise LookupError(msg)
        return bytes.fromhex(row["h"])

    return subtree_hash


def _frontier(c: Cursor, size: int) -> MerkleFrontier:
    subtree_hash = _subtree_reader(c, size)
    hashes, start = [], 0
    for bit in reversed(range(size.bit_length())):
        if size >> bit & 1:
            hashes.append(subtree_hash(start, start + (1 << bit)))
            start += 1 << bit
    return MerkleFrontier.resume(size, hashes)


def _size(c: Cursor) -> int:
    c.execute("SELECT MAX(leaf_index) AS last FROM {t}fl_log_leaves")
    row = c.fetchone() or {}
    return 0 if row.get("last") is None else int(row["last"]) + 1


SALTS_PER_QUERY = 500


def _kept_salts(c: Cursor, subjects: list[str]) -> dict[str, bytes]:
    """The salts already kept for these subjects, a query per few hundred, not one each."""
    found: dict[str, bytes] = {}
    for start in range(0, len(subjects), SALTS_PER_QUERY):
        chunk = subjects[start : start + SALTS_PER_QUERY]
        c.execute(
            "SELECT subject, salt FROM {t}fl_log_salts"
            f" WHERE subject IN ({', '.join(['%s'] * len(chunk))})",
            chunk,
        )
        found.update((row["subject"], bytes.fromhex(row["salt"])) for row in c.fetchall())
    return found


def _append(c: Cursor, batch: Sequence[tuple[int, Any]]) -> None:
    size = _size(c)
    frontier = _frontier(c, size)
    # A leaf's salts are its event's own (by originator) or a user's: read them for the batch
    # at once; a subject looked up and not found gets a new salt without asking again.
    looked_up = {str(e.originator_id) for _, e in batch}
    looked_up.update(str(e.user_id) for _, e in batch if getattr(e, "user_id", None))
    salts = _kept_salts(c, sorted(looked_up))
    new_salts: list[tuple[str, str]] = []

    def salt_for(subject: str) -> bytes:
        if subject not in salts:
            row = None
            if subject not in looked_up:
                c.execute("SELECT salt FROM {t}fl_log_salts WHERE subject = %s", (subject,))
                row = c.fetchone()
            if row is None:
                salts[subject] = secrets.token_bytes(32)
                new_salts.append((subject, salts[subject].hex()))
            else:
                salts[subject] = bytes.fromhex(row["salt"])
        return salts[subject]

    leaves: list[tuple[int, int, str, str]] = []
    nodes: list[tuple[int, int, str]] = []
    for position, domain_event in batch:
        data = canonical(leaf_record(position, domain_event, salt_for))
        hashed = leaf_hash(data)
        leaves.append((frontier.size, position, hashed.hex(), data.decode()))
        nodes.extend((level, index, h.hex()) for level, index, h in frontier.append(hashed))
    if new_salts:
        c.executemany("INSERT INTO {t}fl_log_salts (subject, salt) VALUES (%s, %s)", new_salts)
    c.executemany(
        "INSERT INTO {t}fl_log_leaves (leaf_index, position, leaf_hash, data)"
        " VALUES (%s, %s, %s, %s)",
        leaves,
    )
    if nodes:
        c.executemany("INSERT INTO {t}fl_log_nodes (level, idx, hash) VALUES (%s, %s, %s)", nodes)


class LogProjection(ViewProjection):
    name = "log"

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        return [lambda c: _append(c, [(position, domain_event)])]

    def process_batch(
        self, batch: Sequence[tuple[int, Any]], tracking: Tracking, *, after: int
    ) -> None:
        # One pass for the whole batch: the frontier is read once, not once per event.
        self.view.write([lambda c: _append(c, batch)], tracking, after=after)


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str


class Log:
    """Reading the log: entries, proofs, checkpoints; and signing new checkpoints."""

    def __init__(self, view: SQLView, origin: str) -> None:
        self.view = view
        self.origin = origin
        self._sign_lock = threading.Lock()

    def size(self) -> int:
        with self.view.cursor(commit=False) as c:
            return _size(c)

    def root(self, size: int) -> bytes:
        with self.view.cursor(commit=False) as c:
            return _frontier(c, size).root() if size else EMPTY_ROOT

    def entries(self, start: int, end: int) -> list[dict[str, Any]]:
        end = min(end, start + ENTRIES_PAGE_MAX, 2**63 - 1)
        rows = self.view.query(
            "SELECT leaf_index, position, data FROM {t}fl_log_leaves"
            " WHERE leaf_index >= %s AND leaf_index < %s ORDER BY leaf_index",
            [start, end],
        )
        return [
            {"index": int(r["leaf_index"]), "position": int(r["position"]), "data": r["data"]}
            for r in rows
        ]

    def leaf_for_position(self, position: int) -> dict[str, Any] | None:
        rows = self.view.query(
            "SELECT leaf_index, position, data, leaf_hash FROM {t}fl_log_leaves"
            " WHERE position = %s",
            [position],
        )
        return rows[0] if rows else None

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        with self.view.cursor(commit=False) as c:
            return inclusion_proof_from(_subtree_reader(c, _size(c)), index, tree_size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        with self.view.cursor(commit=False) as c:
            return consistency_proof_from(_subtree_reader(c, _size(c)), first, second)

    def checkpoint(self, size: int | None = None) -> StoredCheckpoint | None:
        sql = "SELECT tree_size, root, note FROM {t}fl_log_checkpoints"
        params: list[Any] = []
        if size is None:
            sql += " ORDER BY tree_size DESC LIMIT 1"
        else:
            sql += " WHERE tree_size = %s"
            params.append(size)
        rows = self.view.query(sql, params)
        if not rows:
            return None
        row = rows[0]
        return StoredCheckpoint(int(row["tree_size"]), bytes.fromhex(row["root"]), row["note"])

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self.view.query(
            "SELECT tree_size, root, note FROM {t}fl_log_checkpoints ORDER BY tree_size"
        )
        return [
            StoredCheckpoint(int(r["tree_size"]), bytes.fromhex(r["root"]), r["note"]) for r in rows
        ]

    def sign(self, signer: Signer) -> StoredCheckpoint | None:
        """Sign the stored tree if it grew, after checking it extends the last checkpoint."""
        with self._sign_lock, self.view.cursor(commit=True) as c:
            size = _size(c)
            c.execute(
                "SELECT tree_size, root FROM {t}fl_log_checkpoints ORDER BY tree_size DESC LIMIT 1"
            )
            last = c.fetchone() or {"tree_size": 0, "root": EMPTY_ROOT.hex()}
            last_size, last_root = int(last["tree_size"]), bytes.fromhex(last["root"])
            if size == 0 or size <= last_size:
                return None
            root = _frontier(c, size).root()
            if last_size:
                proof = consistency_proof_from(_subtree_reader(c, size), last_size, size)
                if not verify_consistency(last_size, size, proof, last_root, root):
                    msg = (
                        f"refusing to sign: the stored tree of {size} does not extend the "
                        f"checkpoint of {last_size}; the log was altered"
                    )
                    raise InconsistentLog(msg)
            note = signer.sign(Checkpoint(self.origin, size, root).body())
            c.execute(
                "INSERT INTO {t}fl_log_checkpoints (tree_size, root, note, signed_at)"
                " VALUES (%s, %s, %s, %s)",
                (size, root.hex(), note, time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())),
            )
            return StoredCheckpoint(size, root, note)


class InconsistentLog(Exception):
    """The stored log no longer extends what was signed: tampering, never signed over."""
