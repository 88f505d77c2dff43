"""How each event changes the log: a salted leaf, and the subtree hashes it completes."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from eventsourcing.persistence import Tracking

from ledger.domain.accounts import event_name
from ledger.domain.records import LEAF_FORMAT_V1
from ledger.domain.yuan import format_yuan
from ledger.log.leaves import LEAF_FORMATS, _blind_donor, canonical, format_after, leaf_record
from ledger.log.merkle import leaf_hash
from projections.log.tree import frontier, size_of
from projections.sqlview.decoding import GIFT_EVENT_FIELDS
from projections.sqlview.gifts import GIFT, SHAPES_MAX, gift_pair
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


def gift_leaf_record(position: int, gift: Any, leaf_format: str) -> dict[str, Any] | None:
    """``leaf_record`` of a gift received with nothing personal to hash (no note, no
    idempotency key) and not in kind; None for any other event, left to ``leaf_record``."""
    if (
        leaf_format not in LEAF_FORMATS
        or gift_pair(gift) is None
        or gift.note is not None
        or gift.meta.idempotency_key is not None
        or tuple(vars(gift)) != GIFT_EVENT_FIELDS
    ):
        return None
    meta = gift.meta
    debit, credit = gift_pair(gift) or ("", "")
    amount_fen = gift.amount_fen
    data: dict[str, Any] = {
        "donor_id": gift.donor_id,
        "donor_kind": gift.donor_kind,
        "amount": format_yuan(amount_fen),
        "channel": gift.channel,
        "receipt_no": gift.receipt_no,
        "project_id": gift.project_id,
        "project_code": gift.project_code,
        "in_kind": gift.in_kind,
        "note": None,
        "account": gift.account,
    }
    if leaf_format != LEAF_FORMAT_V1:
        _blind_donor(data, gift)
    return {
        "format": leaf_format,
        "position": position,
        "event": f"{gift.originator_id}/{gift.originator_version}",
        "type": GIFT,
        "effective_on": meta.effective_on.isoformat(),
        "recorded_at": gift.timestamp.isoformat(),
        "actor": meta.actor_id,
        "actor_role": meta.actor_role,
        "data": data,
        "postings": [[debit, format_yuan(amount_fen)], [credit, format_yuan(-amount_fen)]],
    }


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
    # Gifts the fast path takes hash nothing: their salts are not needed.
    fast = _gift_leaves(batch, leaf_format)
    first_format = leaf_format
    looked_up = {str(e.originator_id) for i, (_, e) in enumerate(batch) if fast[i] is None}
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
    for i, (position, domain_event) in enumerate(batch):
        leaf_format = format_after(leaf_format, domain_event)
        text = fast[i] if leaf_format == first_format else None
        if text is None:
            text = canonical(leaf_record(position, domain_event, salt_for, leaf_format)).decode()
        hashed = leaf_hash(text.encode())
        leaves.append((tree.size, position, hashed.hex(), text))
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


class _FastLeaves:
    """Whether the gifts' leaves made from templates have matched ``leaf_record`` so far, in
    this process: the first of every batch, and of every template, is made both ways."""

    trusted = True


# What differs between gifts of one shape: the rest of a gift's leaf is its shape's template.
_VARYING = frozenset({"originator_id", "amount_fen", "receipt_no"})
_SHAPED = tuple(k for k in GIFT_EVENT_FIELDS if k not in _VARYING)
_UNKNOWN: Any = object()
_CUT = re.compile(r'"\\u0000(position|event|amount|receipt_no|debit|credit)\\u0000"')
_CUT_NAMES = ["amount", "credit", "debit", "event", "position", "receipt_no"]
_templates: dict[tuple[Any, ...], Any] = {}


def _template(gift: Any, leaf_format: str) -> list[str] | None:
    """The canonical JSON of a gift's leaf cut where its varying values go: text, name, text,
    name, ... text; None if the gift is not one ``gift_leaf_record`` makes."""
    record = gift_leaf_record(0, gift, leaf_format)
    if record is None:
        return None
    mark = "\x00{}\x00".format
    record["position"], record["event"] = mark("position"), mark("event")
    record["data"]["amount"], record["data"]["receipt_no"] = mark("amount"), mark("receipt_no")
    record["postings"][0][1], record["postings"][1][1] = mark("debit"), mark("credit")
    pieces = _CUT.split(canonical(record).decode())
    names = sorted(pieces[1::2])
    return (
        pieces
        if names == ["amount", "credit", "debit", "event", "position", "receipt_no"]
        else None
    )


def _gift_leaf(position: int, gift: Any, pieces: list[str]) -> str:
    amount_fen = gift.amount_fen
    values = {
        "position": str(position),
        "event": encode_basestring(f"{gift.originator_id}/{gift.originator_version}"),
        "amount": f'"{format_yuan(amount_fen)}"',
        "receipt_no": encode_basestring(gift.receipt_no),
        "debit": f'"{format_yuan(amount_fen)}"',
        "credit": f'"{format_yuan(-amount_fen)}"',
    }
    out = pieces[:]
    for i in range(1, len(out), 2):
        out[i] = values[out[i]]
    return "".join(out)


def _gift_leaves(batch: Sequence[tuple[int, Any]], leaf_format: str) -> list[str | None]:
    """The canonical JSON of the leaves of the batch's gifts the fast path takes (None for the
    others), in the format ``leaf_format`` the batch starts in."""
    leaves: list[str | None] = [None] * len(batch)
    if not _FastLeaves.trusted:
        return leaves
    checked = False
    for i, (position, gift) in enumerate(batch):
        if event_name(gift) != GIFT or tuple(vars(gift)) != GIFT_EVENT_FIELDS:
            continue
        d = vars(gift)
        if type(d["receipt_no"]) is not str or type(d["amount_fen"]) is not int:
            continue
        # Receipts outside ASCII are left to the slow path: canonical JSON orders and escapes
        # ASCII exactly as the standard library writes it.
        if not d["receipt_no"].isascii():
            continue
        shape = (leaf_format, d["amount_fen"] > 0, *(d[k] for k in _SHAPED))
        try:
            pieces = _templates.get(shape, _UNKNOWN)
        except TypeError:  # a value that cannot be a key is not one a template was made for
            continue
        new = pieces is _UNKNOWN
        if new:
            pieces = _template(gift, leaf_format)
            if len(_templates) < SHAPES_MAX:
                _templates[shape] = pieces
        if pieces is None:
            continue
        leaf = _gift_leaf(position, gift, pieces)
        if new or not checked:
            checked = True
            asked: list[str] = []
            slow = canonical(leaf_record(position, gift, _asking(asked), leaf_format))
            if asked or leaf.encode() != slow:
                _FastLeaves.trusted = False
                return [None] * len(batch)
        leaves[i] = leaf
    return leaves


def _asking(asked: list[str]) -> Callable[[str], bytes]:
    """A salt_for that notes who was asked for: a gift the fast path takes hashes nothing."""

    def salt_for(subject: str) -> bytes:
        asked.append(subject)
        return bytes(32)

    return salt_for


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
