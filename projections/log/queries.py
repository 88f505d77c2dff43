"""Reading the log: entries, proofs, checkpoints; and signing new checkpoints.

Checkpoints are signed only over the stored tree, and only when consistent with the previous
checkpoint, so the service never signs two inconsistent views of its history.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ledger.log.merkle import (
    EMPTY_ROOT,
    consistency_proof_from,
    inclusion_proof_from,
    verify_consistency,
)
from ledger.log.notes import Checkpoint, Signer
from projections.log.tree import frontier, size_of, subtree_reader
from projections.sqlview.base import SQLView

ENTRIES_PAGE_MAX = 1000
CHECKPOINT_INTERVAL_S = 2.0


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> StoredCheckpoint:
        return cls(int(row["tree_size"]), bytes.fromhex(row["root"]), row["note"])


class Log:
    """Reading the log: entries, proofs, checkpoints; and signing new checkpoints."""

    def __init__(self, view: SQLView, origin: str) -> None:
        self.view = view
        self.origin = origin
        self._sign_lock = threading.Lock()

    def size(self) -> int:
        with self.view.cursor(commit=False) as c:
            return size_of(c)

    def root(self, size: int) -> bytes:
        with self.view.cursor(commit=False) as c:
            return frontier(c, size).root() if size else EMPTY_ROOT

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

    def stored_leaves(self, size: int) -> Iterator[tuple[int, int, bytes, bytes]]:
        """The first ``size`` leaves as stored (index, position, data, hash), a page a query."""
        for start in range(0, size, ENTRIES_PAGE_MAX):
            rows = self.view.query(
                "SELECT leaf_index, position, data, leaf_hash FROM {t}fl_log_leaves"
                " WHERE leaf_index >= %s AND leaf_index < %s ORDER BY leaf_index",
                [start, min(size, start + ENTRIES_PAGE_MAX)],
            )
            for row in rows:
                yield (
                    int(row["leaf_index"]),
                    int(row["position"]),
                    row["data"].encode(),
                    bytes.fromhex(row["leaf_hash"]),
                )

    def salts(self) -> dict[str, bytes]:
        """Every salt kept, by subject."""
        return {
            row["subject"]: bytes.fromhex(row["salt"])
            for row in self.view.query("SELECT subject, salt FROM {t}fl_log_salts")
        }

    def nodes(self) -> dict[tuple[int, int], bytes]:
        """Every stored subtree hash, by level and index."""
        return {
            (int(row["level"]), int(row["idx"])): bytes.fromhex(row["hash"])
            for row in self.view.query("SELECT level, idx, hash FROM {t}fl_log_nodes")
        }

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        with self.view.cursor(commit=False) as c:
            return inclusion_proof_from(subtree_reader(c, size_of(c)), index, tree_size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        with self.view.cursor(commit=False) as c:
            return consistency_proof_from(subtree_reader(c, size_of(c)), first, second)

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
        return StoredCheckpoint.of_row(rows[0])

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self.view.query(
            "SELECT tree_size, root, note FROM {t}fl_log_checkpoints ORDER BY tree_size"
        )
        return [StoredCheckpoint.of_row(row) for row in rows]

    def sign(self, signer: Signer) -> StoredCheckpoint | None:
        """Sign the stored tree if it grew, after checking it extends the last checkpoint."""
        with self._sign_lock, self.view.cursor(commit=True) as c:
            size = size_of(c)
            c.execute(
                "SELECT tree_size, root FROM {t}fl_log_checkpoints ORDER BY tree_size DESC LIMIT 1"
            )
            last = c.fetchone() or {"tree_size": 0, "root": EMPTY_ROOT.hex()}
            last_size, last_root = int(last["tree_size"]), bytes.fromhex(last["root"])
            if size == 0 or size <= last_size:
                return None
            root = frontier(c, size).root()
            if last_size:
                proof = consistency_proof_from(subtree_reader(c, size), last_size, size)
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
