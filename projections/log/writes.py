"""How each event changes the log: a salted leaf, and the subtree hashes it completes."""

from __future__ import annotations

import hashlib
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
from ledger.log.leaves import (
    LEAF_FORMATS,
    SaltFor,
    _blind_donor,
    canonical,
    format_after,
    leaf_record,
    salted_hash,
)
from ledger.log.merkle import leaf_hash
from projections.log.tree import frontier, size_of
from projections.sqlview.decoding import GIFT_EVENT_FIELDS, RECORD_EVENT_FIELDS
from projections.sqlview.gifts import GIFT, RECORD, SHAPES_MAX, gift_pair
from projections.sqlview.projection import ViewProjection
from projections.sqlview.writes import Cursor, LastIso, Write

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


def gift_leaf_record(
    position: int, gift: Any, leaf_format: str, salt_for: SaltFor
) -> dict[str, Any] | None:
    """``leaf_record`` of a gift received with no note (the only personal field it hashes
    is then its idempotency key, if any) and not in kind; None for any other event, left to
    ``leaf_record``."""
    if (
        leaf_format not in LEAF_FORMATS
        or gift_pair(gift) is None
        or gift.note is not None
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
    record = {
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
    if meta.idempotency_key is not None:
        salt = salt_for(str(gift.originator_id))
        record["idempotency_key"] = salted_hash(salt, meta.idempotency_key)
    return record


def _hashes_nothing(event: Any) -> bool:
    """A gift with neither note nor idempotency key: its leaf asks for no salt."""
    return (
        event_name(event) == GIFT
        and getattr(event, "note", True) is None
        and getattr(getattr(event, "meta", None), "idempotency_key", True) is None
    )


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
    # Gifts with neither note nor idempotency key hash nothing: their salts are not needed.
    looked_up = {str(e.originator_id) for _, e in batch if not _hashes_nothing(e)}
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

    fast = _fast_leaves(batch, leaf_format, salt_for)
    first_format = leaf_format
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
    """Whether the leaves made from templates have matched ``leaf_record`` so far, in this
    process: the first of every kind in every batch, and of every template, is made both
    ways, with the salts it asks for noted."""

    trusted = True


# A fast leaf is its shape's template, canonical JSON cut where the values that differ
# between events of one shape go (named by a marker), with those values put back.
_UNKNOWN: Any = object()
_CUT = re.compile(
    r'"\\u0000(position|event|recorded_at|amount|receipt_no|debit|credit|idempotency_key'
    r'|key|result_id)\\u0000"'
)
_templates: dict[tuple[Any, ...], Any] = {}
# The fields of a gift its leaf's template is made for: all but those its values come from.
_GIFT_SHAPED = tuple(
    k
    for k in GIFT_EVENT_FIELDS
    if k not in {"timestamp", "meta", "originator_id", "amount_fen", "receipt_no"}
)
_NO_SALT = bytes(32)


def _mark(name: str) -> str:
    return f"\x00{name}\x00"


def _cut(record: dict[str, Any], names: list[str]) -> list[str] | None:
    """The canonical JSON of a record with markers, cut at them: text, name, text, name, ...
    text; None unless the markers found are exactly ``names``."""
    pieces = _CUT.split(canonical(record).decode())
    return pieces if sorted(pieces[1::2]) == sorted(names) else None


def _fill(pieces: list[str], values: dict[str, str]) -> str:
    out = pieces[:]
    for i in range(1, len(out), 2):
        out[i] = values[out[i]]
    return "".join(out)


_recorded = LastIso()


def _common(position: int, event: Any) -> dict[str, str]:
    """The values every fast leaf has: its position, event and moment recorded."""
    return {
        "position": str(position),
        "event": encode_basestring(f"{event.originator_id}/{event.originator_version}"),
        "recorded_at": encode_basestring(_recorded.iso(event.timestamp)),
    }


def _hashed(salt_for: SaltFor, subject: Any, value: str) -> str:
    return f'"{salted_hash(salt_for(str(subject)), value)}"'


def _gift_shape(gift: Any, leaf_format: str) -> tuple[Any, ...] | None:
    """What a gift's leaf is made of besides its values; None to leave it to the slow path."""
    if tuple(vars(gift)) != GIFT_EVENT_FIELDS:
        return None
    d = vars(gift)
    # Receipts outside ASCII are left to the slow path: canonical JSON orders and escapes
    # ASCII exactly as the standard library writes it.
    if type(d["receipt_no"]) is not str or type(d["amount_fen"]) is not int:
        return None
    meta = d["meta"]
    key = meta.idempotency_key
    if not d["receipt_no"].isascii() or not (key is None or type(key) is str):
        return None
    return (
        GIFT,
        key is None,
        leaf_format,
        d["amount_fen"] > 0,
        meta.actor_id,
        meta.actor_role,
        meta.effective_on,
        *(d[k] for k in _GIFT_SHAPED),
    )


def _gift_template(gift: Any, leaf_format: str) -> list[str] | None:
    record = gift_leaf_record(0, gift, leaf_format, lambda subject: _NO_SALT)
    if record is None:
        return None
    names = ["position", "event", "recorded_at", "amount", "receipt_no", "debit", "credit"]
    if "idempotency_key" in record:
        names.append("idempotency_key")
        record["idempotency_key"] = _mark("idempotency_key")
    record["position"], record["event"] = _mark("position"), _mark("event")
    record["recorded_at"] = _mark("recorded_at")
    record["data"]["amount"] = _mark("amount")
    record["data"]["receipt_no"] = _mark("receipt_no")
    record["postings"][0][1], record["postings"][1][1] = _mark("debit"), _mark("credit")
    return _cut(record, names)


def _gift_values(position: int, gift: Any, salt_for: SaltFor) -> dict[str, str]:
    amount_fen = gift.amount_fen
    values = _common(position, gift)
    values["amount"] = values["debit"] = f'"{format_yuan(amount_fen)}"'
    values["credit"] = f'"{format_yuan(-amount_fen)}"'
    values["receipt_no"] = encode_basestring(gift.receipt_no)
    key = gift.meta.idempotency_key
    if key is not None:
        values["idempotency_key"] = _hashed(salt_for, gift.originator_id, key)
    return values


def _record_shape(record: Any, leaf_format: str) -> tuple[Any, ...] | None:
    """What an idempotency record's leaf is made of besides its values (its key and result
    id, hashed and shown); None to leave it to the slow path."""
    d = vars(record)
    if tuple(d) != RECORD_EVENT_FIELDS:
        return None
    meta = d["meta"]
    key = meta.idempotency_key
    if (
        type(d["key"]) is not str
        or not d["key"]
        or type(d["result_id"]) is not str
        or not d["result_id"].isascii()
        or not (key is None or type(key) is str)
    ):
        return None
    # The fingerprint and the topic go in no leaf.
    return (
        RECORD,
        key is None,
        leaf_format,
        meta.actor_id,
        meta.actor_role,
        meta.effective_on,
        d["actor_id"],
    )


def _record_template(record: Any, leaf_format: str) -> list[str] | None:
    leaf = leaf_record(0, record, lambda subject: _NO_SALT, leaf_format)
    names = ["position", "event", "recorded_at", "key", "result_id"]
    if "idempotency_key" in leaf:
        names.append("idempotency_key")
        leaf["idempotency_key"] = _mark("idempotency_key")
    leaf["position"], leaf["event"] = _mark("position"), _mark("event")
    leaf["recorded_at"] = _mark("recorded_at")
    data = leaf["data"]
    data["key"], data["result_id"] = _mark("key"), _mark("result_id")
    return _cut(leaf, names)


def _record_values(position: int, record: Any, salt_for: SaltFor) -> dict[str, str]:
    values = _common(position, record)
    values["key"] = _hashed(salt_for, record.originator_id, record.key)
    values["result_id"] = encode_basestring(record.result_id)
    key = record.meta.idempotency_key
    if key is not None:
        values["idempotency_key"] = _hashed(salt_for, record.originator_id, key)
    return values


# A shape starts with the kind of event and whether it has an idempotency key.
Shape = Callable[[Any, str], "tuple[Any, ...] | None"]
Template = Callable[[Any, str], "list[str] | None"]
Values = Callable[[int, Any, SaltFor], dict[str, str]]
# The kinds of event with fast leaves: gifts, and the idempotency record saved with each
# gift posted with a key.
_KINDS: dict[str, tuple[Shape, Template, Values]] = {
    GIFT: (_gift_shape, _gift_template, _gift_values),
    RECORD: (_record_shape, _record_template, _record_values),
}


def _fast_leaves(
    batch: Sequence[tuple[int, Any]], leaf_format: str, salt_for: SaltFor
) -> list[str | None]:
    """The canonical JSON of the leaves of the batch's events the fast path takes (None for
    the others), in the format ``leaf_format`` the batch starts in."""
    leaves: list[str | None] = [None] * len(batch)
    if not _FastLeaves.trusted:
        return leaves
    checked: set[tuple[Any, ...]] = set()
    for i, (position, event) in enumerate(batch):
        kind = _KINDS.get(event_name(event))
        if kind is None:
            continue
        shape_of, template_of, values_of = kind
        shape = shape_of(event, leaf_format)
        if shape is None:
            continue
        try:
            pieces = _templates.get(shape, _UNKNOWN)
        except TypeError:  # a value that cannot be a key is not one a template was made for
            continue
        new = pieces is _UNKNOWN
        if new:
            pieces = template_of(event, leaf_format)
            if len(_templates) >= SHAPES_MAX:
                _templates.clear()  # keyed gifts each bring a shape: keep the latest
            _templates[shape] = pieces
        if pieces is None:
            continue
        # The first of each kind (a gift, a keyed gift, a record) in each batch is checked.
        if new or shape[:2] not in checked:
            checked.add(shape[:2])
            if not _agrees(position, event, pieces, values_of, leaf_format):
                _FastLeaves.trusted = False
                return [None] * len(batch)
        leaves[i] = _fill(pieces, values_of(position, event, salt_for))
    return leaves


def _agrees(position: int, event: Any, pieces: list[str], values_of: Values, fmt: str) -> bool:
    """Whether the fast leaf of an event is the slow one, with the same salts asked for.
    Both are made with stand-in salts, one per subject, so that nothing is stored before."""
    fast: set[str] = set()
    slow: set[str] = set()
    leaf = _fill(pieces, values_of(position, event, _asking(fast)))
    expected = canonical(leaf_record(position, event, _asking(slow), fmt))
    return fast == slow and leaf.encode() == expected


def _asking(asked: set[str]) -> SaltFor:
    """A salt_for that notes who was asked for, and gives each a salt of its own."""

    def salt_for(subject: str) -> bytes:
        asked.add(subject)
        return hashlib.sha256(subject.encode()).digest()

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
