"""The public record of each event, as canonical JSON bytes: the leaves of the transparency log.

A leaf holds what anyone may see of an event: its position, type, dates, amounts as yuan
strings, accounts, and references by id. Personal data (names, contact details, notes, an
individual payee) never goes in; a salted hash of it does, so that erasing a person's data
never changes a leaf, and without the salt nobody can test a guess against the hash.

Formats. A leaf signed is signed for good, so what goes in changes only with a new format,
taken from a recorded position on (the ``LeafFormat.Adopted`` event: its own leaf is the first
of the new format). v1 showed a gift's donor id, which links every gift of one person; v2
shows a blinded reference instead for any donor whose id is not public
(``ledger.domain.gift_refs``), and the postings without the v1 release from restriction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.domain.accounts import (
    commitment_change_fen,
    event_name,
    postings_for,
    v1_postings_for,
)
from ledger.domain.disclosure import ORGANISATION_KINDS
from ledger.domain.records import LEAF_FORMAT_V1, LEAF_FORMAT_V2
from ledger.domain.yuan import format_yuan
from ledger.log import canonical as jcs

LEAF_FORMATS = (LEAF_FORMAT_V1, LEAF_FORMAT_V2)
# Fields of events that only a later format shows (an older one never did, so never may).
LATER_FIELDS = {LEAF_FORMAT_V1: frozenset({"donor_ref"})}

# Fields that are personal data: (event type, field) -> the id whose salt hashes it.
PERSONAL: dict[str, dict[str, str]] = {
    "Donor.Registered": {"name": "originator_id", "contact": "originator_id"},
    "Directory.UserAdded": {"name": "user_id"},
    "Donation.Received": {"note": "originator_id"},
    # Not personal, but the public never sees voucher files or their hashes; auditors do.
    "Expense.Paid": {"voucher_sha256": "originator_id"},
    "VoucherYear.Numbered": {"attachments_sha256": "originator_id"},
    # A bank statement's lines name the other side of each movement: often a person.
    "BankStatementBook.LinesImported": {"lines": "originator_id"},
    # A bill's or an advance's payee may be a person: hashed whichever kind it is.
    "Bill.Received": {"payee": "originator_id"},
    "Advance.Paid": {"payee": "originator_id"},
    "IdempotencyRecord.Recorded": {"key": "originator_id"},
    # The people the projects serve: every field sealed, and even the sealed strings hashed.
    "Beneficiary.Registered": {
        "name": "originator_id",
        "birth_date": "originator_id",
        "address": "originator_id",
        "card": "originator_id",
    },
    # Who ate or was served, by id: the public sees the counts only.
    # The bands' counts go public only through the views, with counts under 5 suppressed.
    "MealSettlement.Recorded": {
        "lines": "originator_id",
        "bands": "originator_id",
        "file_sha256": "originator_id",
    },
    "Attendance.Recorded": {"beneficiary_ids": "originator_id"},
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


def format_after(leaf_format: str, domain_event: Any) -> str:
    """The format of this event's leaf, given the format of the leaf before it."""
    if event_name(domain_event) == "LeafFormat.Adopted":
        return str(domain_event.leaf_format)
    return leaf_format


def leaf_record(
    position: int, domain_event: Any, salt_for: SaltFor, leaf_format: str = LEAF_FORMAT_V1
) -> dict[str, Any]:
    """The public record of one event, in the leaf's JSON shape, in ``leaf_format``."""
    assert leaf_format in LEAF_FORMATS, leaf_format
    name = event_name(domain_event)
    meta = domain_event.meta
    record: dict[str, Any] = {
        "format": leaf_format,
        "position": position,
        "event": f"{domain_event.originator_id}/{domain_event.originator_version}",
        "type": name,
        "effective_on": meta.effective_on.isoformat(),
        "recorded_at": domain_event.timestamp.isoformat(),
        "actor": meta.actor_id,
        "actor_role": meta.actor_role,
    }
    personal = PERSONAL.get(name, {})
    omitted = OMITTED | LATER_FIELDS.get(leaf_format, frozenset())
    data: dict[str, Any] = {}
    for key, value in vars(domain_event).items():
        if key in omitted:
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
    if leaf_format != LEAF_FORMAT_V1 and name == "Donation.Received":
        _blind_donor(data, domain_event)
    record["data"] = data
    postings = v1_postings_for if leaf_format == LEAF_FORMAT_V1 else postings_for
    record["postings"] = [[p.account, format_yuan(p.amount_fen)] for p in postings(domain_event)]
    commitment_fen = commitment_change_fen(domain_event)
    if commitment_fen:
        record["commitment"] = format_yuan(commitment_fen)
    return record


def _blind_donor(data: dict[str, Any], gift: Any) -> None:
    """A gift shows its donor's id only when it may be published (an organisation not
    anonymous, recorded with no reference); else the reference, or nothing."""
    donor_ref = getattr(gift, "donor_ref", None)
    data["donor_ref"] = donor_ref
    if donor_ref is not None or gift.donor_kind not in ORGANISATION_KINDS:
        del data["donor_id"]


def canonical(record: dict[str, Any]) -> bytes:
    """RFC 8785 (JCS) canonical JSON: the exact bytes a leaf hashes.

    ``leaf_record`` builds the record from ``_plain`` values only (no floats), so the check
    ``jcs.dumps`` makes of every value first is not needed here.
    """
    return jcs.dumps_plain(record)
