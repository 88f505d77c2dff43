"""The public record of each event, as canonical JSON bytes: the leaves of the transparency log.

A leaf holds what anyone may see of an event: its position, type, dates, amounts as yuan
strings, accounts, and references by id. Personal data (names, contact details, notes, an
individual payee) never goes in; a salted hash of it does, so that erasing a person's data
never changes a leaf, and without the salt nobody can test a guess against the hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.domain.accounts import commitment_change_fen, event_name, v1_postings_for
from ledger.domain.yuan import format_yuan
from ledger.log import canonical as jcs

LEAF_FORMAT = "fund-ledger/leaf/v1"

# Fields that are personal data: (event type, field) -> the id whose salt hashes it.
PERSONAL: dict[str, dict[str, str]] = {
    "Donor.Registered": {"name": "originator_id", "contact": "originator_id"},
    "Directory.UserAdded": {"name": "user_id"},
    "Donation.Received": {"note": "originator_id"},
    # Not personal, but the public never sees voucher files or their hashes; auditors do.
    "Expense.Paid": {"voucher_sha256": "originator_id"},
    # A bill's or an advance's payee may be a person: hashed whichever kind it is.
    "Bill.Received": {"payee": "originator_id"},
    "Advance.Paid": {"payee": "originator_id"},
    "IdempotencyRecord.Recorded": {"key": "originator_id"},
}
# Secrets and envelope fields that stay out of a leaf altogether.
# A command fingerprint is an unsalted hash of the command, personal data included.
OMITTED = frozenset(
    {
        "token_sha256",
        "fingerprint",
        "originator_topic",
        "originator_id",
        "originator_version",
        "timestamp",
        "meta",
    }
)

SaltFor = Callable[[str], bytes]


def salted_hash(salt: bytes, value: object) -> str:
    """``sha256:<hex>`` of a salt and the canonical JSON of a value."""
    return "sha256:" + hashlib.sha256(salt + jcs.dumps(_plain(value))).hexdigest()


_PLAIN = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> Any:
    """JSON-ready: amounts stay integers here; dates, ids and dataclasses become plain values."""
    if type(value) in _PLAIN:
        if type(value) is int and not -(2**53) < value < 2**53:
            raise ValueError(f"a leaf holds no integer beyond 2**53: {value}")
        return value
    if isinstance(value, float):
        raise TypeError(f"a leaf holds no floating-point number: {value!r}")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def leaf_record(position: int, domain_event: Any, salt_for: SaltFor) -> dict[str, Any]:
    """The public record of one event, in the leaf's JSON shape."""
    name = event_name(domain_event)
    meta = domain_event.meta
    record: dict[str, Any] = {
        "format": LEAF_FORMAT,
        "position": position,
        "event": f"{domain_event.originator_id}/{domain_event.originator_version}",
        "type": name,
        "effective_on": meta.effective_on.isoformat(),
        "recorded_at": domain_event.timestamp.isoformat(),
        "actor": meta.actor_id,
        "actor_role": meta.actor_role,
    }
    personal = PERSONAL.get(name, {})
    data: dict[str, Any] = {}
    for key, value in vars(domain_event).items():
        if key in OMITTED:
            continue
        if key in personal:
            subject = str(getattr(domain_event, personal[key]))
            data[key] = None if value in (None, {}, "") else salted_hash(salt_for(subject), value)
        elif key.endswith("_fen") and isinstance(value, int):
            data[key.removesuffix("_fen")] = format_yuan(value)
        else:
            data[key] = _plain(value)
    if name == "Expense.Paid" and domain_event.payee_kind != "organisation":
        # A person paid from the fund is personal data; an organisation is not.
        data["payee"] = salted_hash(salt_for(str(domain_event.originator_id)), domain_event.payee)
    if meta.idempotency_key is not None:
        subject = str(domain_event.originator_id)
        record["idempotency_key"] = salted_hash(salt_for(subject), meta.idempotency_key)
    record["data"] = data
    record["postings"] = [
        [p.account, format_yuan(p.amount_fen)] for p in v1_postings_for(domain_event)
    ]
    commitment_fen = commitment_change_fen(domain_event)
    if commitment_fen:
        record["commitment"] = format_yuan(commitment_fen)
    return record


def canonical(record: dict[str, Any]) -> bytes:
    """RFC 8785 (JCS) canonical JSON: the exact bytes a leaf hashes.

    ``leaf_record`` builds the record from ``_plain`` values only (no floats), so the check
    ``jcs.dumps`` makes of every value first is not needed here.
    """
    return jcs.dumps_plain(record)
