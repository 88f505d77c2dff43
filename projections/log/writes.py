"""How each event changes the log: a salted leaf, and the subtree hashes it completes."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking

from ledger.domain.records import LEAF_FORMAT_V1
from ledger.log.leaves import canonical, format_after, leaf_record
from ledger.log.merkle import leaf_hash
from projections.log.tree import frontier, size_of
from projections.sqlview.projection import ViewProjection
from projections.sqlview.writes import Cursor, Write

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


def _last_format(c: Cursor, size: int) -> str:
    """The format of the last leaf: the next one's, unless the next event adopts another."""
    if size == 0:
        return LEAF_FORMAT_V1
    c.execute("SELECT data FROM {t}fl_log_leaves WHERE leaf_index = %s", (size - 1,))
    row = c.fetchone()
    assert row is not None, f"the log of {size} leaves has no leaf {size - 1}"
    return str(json.loads(row["data"])["format"])


@dataclass
class Tail:
    """The tree this process last wrote, and its last leaf's format: what the next batch
    needs to know, read again only when the stored tree is another (another writer, a
    rolled-back batch)."""

    size: int = -1
    root: bytes = b""
    leaf_format: str = LEAF_FORMAT_V1


def _append(c: Cursor, batch: Sequence[tuple[int, Any]], tail: Tail) -> None:
    size = size_of(c)
    tree = frontier(c, size)
    root = tree.root() if size else b""
    known = (tail.size, tail.root) == (size, root)
    leaf_format = tail.leaf_format if known else _last_format(c, size)
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
        leaf_format = format_after(leaf_format, domain_event)
        data = canonical(leaf_record(position, domain_event, salt_for, leaf_format))
        hashed = leaf_hash(data)
        leaves.append((tree.size, position, hashed.hex(), data.decode()))
        nodes.extend((level, index, h.hex()) for level, index, h in tree.append(hashed))
    if new_salts:
        c.executemany("INSERT INTO {t}fl_log_salts (subject, salt) VALUES (%s, %s)", new_salts)
    c.executemany(
        "INSERT INTO {t}fl_log_leaves (leaf_index, position, leaf_hash, data)"
        " VALUES (%s, %s, %s, %s)",
        leaves,
    )
    if nodes:
        c.executemany("INSERT INTO {t}fl_log_nodes (level, idx, hash) VALUES (%s, %s, %s)", nodes)
    tail.size, tail.root, tail.leaf_format = tree.size, tree.root(), leaf_format


class LogProjection(ViewProjection):
    name = "log"
    _tail: Tail | None = None

    @property
    def tail(self) -> Tail:
        if self._tail is None:
            self._tail = Tail()
        return self._tail

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        return [lambda c: _append(c, [(position, domain_event)], self.tail)]

    def process_batch(
        self, batch: Sequence[tuple[int, Any]], tracking: Tracking, *, after: int
    ) -> None:
        # One pass for the whole batch: the frontier is read once, not once per event.
        self.view.write([lambda c: _append(c, batch, self.tail)], tracking, after=after)
