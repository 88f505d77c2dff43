"""A donor's own check of the public log: each gift proved by its receipt, all found by the
donor's secret, and nobody without the secret able to tell whose a gift is."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from ledger.domain.gift_refs import gift_opening, gift_reference


def _gift(entry: bytes | str) -> dict[str, Any] | None:
    record = json.loads(entry)
    if not isinstance(record, dict) or record.get("type") != "Donation.Received":
        return None
    return record


def donation_id_of(record: dict[str, Any]) -> str:
    """A gift's id: the aggregate half of its leaf's ``event``."""
    return str(record["event"]).split("/", 1)[0]


def proves_gift(opening: bytes, entry: bytes | str) -> bool:
    """Whether a receipt's opening proves this entry is the gift of whoever holds it."""
    record = _gift(entry)
    return record is not None and record["data"].get("donor_ref") == gift_reference(opening)


def gifts_of(secret: bytes, entries: Iterable[bytes | str]) -> list[dict[str, Any]]:
    """Every gift in the entries that the donor holding ``secret`` gave, in log order."""
    found: list[dict[str, Any]] = []
    for _entry in watching(secret, (_bytes(entry) for entry in entries), found):
        pass
    return found


def watching(
    secret: bytes, entries: Iterable[bytes], found: list[dict[str, Any]]
) -> Iterator[bytes]:
    """The entries as they pass (to a verifier, say), each gift of the donor added to
    ``found``."""
    for entry in entries:
        yield entry
        record = _gift(entry) if b'"Donation.Received"' in entry else None
        if record is None or record["data"].get("donor_ref") is None:
            continue
        opening = gift_opening(secret, donation_id_of(record))
        if record["data"]["donor_ref"] == gift_reference(opening):
            found.append(record)


def _bytes(entry: bytes | str) -> bytes:
    return entry if isinstance(entry, bytes) else entry.encode()
