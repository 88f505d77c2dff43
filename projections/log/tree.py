"""The stored Merkle tree read back: its size, a subtree's hash, the frontier to extend it."""

from __future__ import annotations

from typing import Any

from ledger.log.merkle import MerkleFrontier
from projections.sqlview.writes import Cursor


def subtree_reader(c: Cursor, size: int) -> Any:
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


def frontier(c: Cursor, size: int) -> MerkleFrontier:
    subtree_hash = subtree_reader(c, size)
    hashes, start = [], 0
    for bit in reversed(range(size.bit_length())):
        if size >> bit & 1:
            hashes.append(subtree_hash(start, start + (1 << bit)))
            start += 1 << bit
    return MerkleFrontier.resume(size, hashes)


def size_of(c: Cursor) -> int:
    c.execute("SELECT MAX(leaf_index) AS last FROM {t}fl_log_leaves")
    row = c.fetchone() or {}
    return 0 if row.get("last") is None else int(row["last"]) + 1
