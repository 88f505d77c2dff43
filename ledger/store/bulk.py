"""Loading many donations at once: a million rows from a bank statement in one transaction.

The ordinary path makes a Donation aggregate per gift and encodes its event through the
eventsourcing mapper (about 70 µs a gift), then inserts row by row (half a millisecond a gift
on PostgreSQL under the table lock). Here the stored event of a gift is written directly as
the bytes the mapper would write, and PostgreSQL takes them all with one ``COPY`` under the
same table lock and notification the recorder uses, so positions follow commit order and the
views wake up as for any write.

The bytes are only trusted after a check: gifts made both ways (the mapper's and this one,
including one with quotes, backslashes, control characters, Chinese and emoji) must come out
the same, or the import falls back to the mapper for every gift. Gifts with a note go through
the mapper always (a note is sealed under its donor's key).

A gift's bytes come from a template made once per donor, project, channel and day (the state
encoded with markers where the amount, the receipt number and the donor's reference go), its
id from SHA-1 as ``uuid5`` computes it, and its row of the binary ``COPY`` is written whole:
about 2 µs a gift where building the state and encoding it took 10. The rows are made as the
COPY takes them (``copy_chunks``; the CLI feeds it as it reads the file), and a thread sends
them, so that PostgreSQL's own work on them (about 5 s a million: 650 MB of events, two
indexes, their WAL) goes on beside the Python's.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from json.encoder import encode_basestring
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent

from ledger.domain import Donation, Donor, Meta, Project, derived_id
from ledger.domain.base import NAMESPACE
from ledger.domain.donations import channel_account
from ledger.domain.errors import Duplicate

# How the service makes one gift of an import (its note sealed), for the mapper's bytes.
MakeDonation = Callable[[Donor, Project | None, dict[str, Any], Meta], Donation]
# The reference a gift shows in place of its donor (None when the donor's id is public).
DonorReference = Callable[[Donor, str], str | None]

# The encoder of eventsourcing's JSONTranscoder, without its hook for other types: every value
# given to it here is already plain.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

# A receipt number that exercises every escape the encoder could write otherwise.
_AWKWARD_RECEIPT = 'NH"\\/\n\t\x01\u2028票据№😀'

# ``derived_id("receipt", receipt_no)`` is ``uuid5``: SHA-1 of the namespace and the name.
_RECEIPT_ID_SHA1 = hashlib.sha1(NAMESPACE.bytes + b"receipt\x1f", usedforsecurity=False)

# Where a template's varying values go: strings no state holds (they encode with \u0000).
_AMOUNT, _RECEIPT, _REFERENCE = "\x00amount\x00", "\x00receipt\x00", "\x00reference\x00"

# A row of a binary COPY into (originator_id, originator_version, topic, state).
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
COPY_TRAILER = b"\xff\xff"
_ROW_HEAD = struct.pack(">hi", 4, 16)
_LENGTH = struct.Struct(">i").pack
# Rows a chunk of the COPY carries (about 1.5 MB of gifts): the progress bar moves by these.
CHUNK_ROWS = 10_000


# The version (5) and variant (RFC 4122) bits, as ``UUID(bytes=..., version=5)`` sets them.
_ID_KEPT = int.from_bytes(b"\xff" * 6 + b"\x0f\xff\x3f" + b"\xff" * 7)
_ID_SET = int.from_bytes(bytes(6) + b"\x50\x00\x80" + bytes(7))


def receipt_id(receipt_no: str) -> bytes:
    """The 16 bytes of ``Donation.create_id(receipt_no)``, a quarter of the time ``uuid5`` takes."""
    digest = _RECEIPT_ID_SHA1.copy()
    digest.update(receipt_no.encode("utf-8"))
    return (int.from_bytes(digest.digest()[:16]) & _ID_KEPT | _ID_SET).to_bytes(16)


def binary_row(stored: StoredEvent) -> bytes:
    """A stored event as one row of the binary COPY."""
    topic = stored.topic.encode("utf-8")
    return b"".join(
        (
            _ROW_HEAD,
            UUID(str(stored.originator_id)).bytes,
            struct.pack(">iqi", 8, stored.originator_version, len(topic)),
            topic,
            _LENGTH(len(stored.state)),
            stored.state,
        )
    )


class DonationEncoder:
    """Writes a Donation.Received stored event from a checked item, as the mapper would."""

    def __init__(
        self,
        mapper: Mapper[Any],
        actor_id: str,
        actor_role: str,
        make: MakeDonation,
        reference: DonorReference,
    ) -> None:
        self.mapper = mapper
        self.make = make
        self.reference = reference
        self.actor_id = actor_id
        self.actor_role = actor_role
        self.timestamp = datetime.now(UTC)
        self.topic = ""
        self.originator_topic = ""
        self.trusted = False
        # (donor, project, channel, day) -> the state's bytes around its varying values.
        self._templates: dict[tuple[Any, ...], tuple[bytes, ...]] = {}
        self._row_middle = b""

    def calibrate(self, donor: Donor, project: Project | None, item: dict[str, Any]) -> bool:
        """Compare with the mapper on this gift and an awkward one; trust the bytes if equal."""
        # Gifts with a note always go through the mapper: calibrate on gifts without one.
        plain = {**item, "note": None}
        self.trusted = all(
            self._mapped(donor, project, sample) == self._direct(donor, project, sample)
            for sample in (plain, {**plain, "receipt_no": _AWKWARD_RECEIPT})
        )
        return self.trusted

    def encode(self, donor: Donor, project: Project | None, item: dict[str, Any]) -> StoredEvent:
        if self.trusted and item["note"] is None:
            return self._direct(donor, project, item)
        return self._mapped(donor, project, item)

    def _mapped(self, donor: Donor, project: Project | None, item: dict[str, Any]) -> StoredEvent:
        meta = Meta(self.actor_id, self.actor_role, item["received_on"], None)
        donation = self.make(donor, project, item, meta)
        (event,) = donation.collect_events()
        # One moment for the whole import, whichever way a gift is written.
        object.__setattr__(event, "timestamp", self.timestamp)
        stored = self.mapper.to_stored_event(event)
        self.topic = stored.topic
        topic = stored.topic.encode("utf-8")
        self._row_middle = struct.pack(">iqi", 8, 1, len(topic)) + topic
        self.originator_topic = event.originator_topic  # type: ignore[attr-defined]
        return stored

    def _direct(self, donor: Donor, project: Project | None, item: dict[str, Any]) -> StoredEvent:
        donation_id = receipt_id(item["receipt_no"])
        return StoredEvent(
            originator_id=UUID(bytes=donation_id),
            originator_version=1,
            topic=self.topic,
            state=self._state(donor, project, item, donation_id),
        )

    def row(self, donor: Donor, project: Project | None, item: dict[str, Any]) -> bytes:
        """The gift's row of the binary COPY: what ``encode`` stores, written whole."""
        if not (self.trusted and item["note"] is None):
            return binary_row(self._mapped(donor, project, item))
        donation_id = receipt_id(item["receipt_no"])
        state = self._state(donor, project, item, donation_id)
        return b"".join((_ROW_HEAD, donation_id, self._row_middle, _LENGTH(len(state)), state))

    def chunks(
        self,
        items: Iterable[dict[str, Any]],
        donor_for: Callable[[str], Donor],
        project_for: Callable[[str], Project],
    ) -> Iterator[tuple[bytes, int]]:
        """The rows of these gifts in chunks of ``CHUNK_ROWS`` (bytes, how many rows): ``row``
        for each, with the common case (a template made, no reference, no note) written here
        in one go, since it is a million times."""
        templates = self._templates
        sha1, kept, bits = _RECEIPT_ID_SHA1.copy, _ID_KEPT, _ID_SET
        head, length, escape = _ROW_HEAD, _LENGTH, encode_basestring
        # A template is made for a donor and project (their ids as stored), not for the text
        # that names them in an item: each text is looked up once, with ``donor_for``.
        donors: dict[str, str] = {}
        projects: dict[str | None, str | None] = {None: None, "": None}
        rows: list[bytes] = []
        for item in items:
            receipt = item["receipt_no"]
            key = (
                donors.get(item["donor_id"]),
                projects.get(item["project_id"], ""),
                item["channel"],
                item["received_on"],
            )
            parts = templates.get(key)
            if parts is None or len(parts) != 3 or item["note"] is not None or not self.trusted:
                donor = donor_for(item["donor_id"])
                project = project_for(item["project_id"]) if item["project_id"] else None
                donors[item["donor_id"]] = str(donor.id)
                projects[item["project_id"]] = str(project.id) if project else None
                if not self.topic:
                    self.calibrate(donor, project, item)
                rows.append(self.row(donor, project, item))
            else:
                digest = sha1()
                digest.update(receipt.encode("utf-8"))
                state = b"".join(
                    (
                        parts[0],
                        str(item["amount_fen"]).encode(),
                        parts[1],
                        escape(receipt).encode("utf-8"),
                        parts[2],
                    )
                )
                rows.append(
                    b"".join(
                        (
                            head,
                            (int.from_bytes(digest.digest()[:16]) & kept | bits).to_bytes(16),
                            self._row_middle,
                            length(len(state)),
                            state,
                        )
                    )
                )
            if len(rows) == CHUNK_ROWS:
                yield b"".join(rows), CHUNK_ROWS
                rows = []
        yield b"".join(rows), len(rows)

    def _state(
        self, donor: Donor, project: Project | None, item: dict[str, Any], donation_id: bytes
    ) -> bytes:
        key: tuple[Any, ...] = (str(donor.id), str(project.id) if project else None)
        key += (item["channel"], item["received_on"])
        parts = self._templates.get(key) or self._template(key, donor, project)
        receipt = encode_basestring(item["receipt_no"]).encode("utf-8")
        if len(parts) == 3:
            return b"".join(
                (parts[0], str(item["amount_fen"]).encode(), parts[1], receipt, parts[2])
            )
        reference = self.reference(donor, str(UUID(bytes=donation_id)))
        assert reference is not None, donor.id  # the template has a place for it
        return b"".join(
            (
                parts[0],
                str(item["amount_fen"]).encode(),
                parts[1],
                receipt,
                parts[2],
                encode_basestring(reference).encode("utf-8"),
                parts[3],
            )
        )

    def _template(
        self, key: tuple[Any, ...], donor: Donor, project: Project | None
    ) -> tuple[bytes, ...]:
        """The state of this donor's gifts by this channel on this day, split where the amount,
        the receipt number and (for a donor whose id is not public) the reference go."""
        channel, day = key[2], key[3]
        # A donor whose id is public has no reference: none for any gift.
        referenced = self.reference(donor, str(derived_id("receipt", _RECEIPT))) is not None
        state = self._state_of(
            donor, project, channel, day, _AMOUNT, _RECEIPT, _REFERENCE if referenced else None
        )
        text = _encode(state).encode("utf-8")
        parts: list[bytes] = []
        for marker in (_AMOUNT, _RECEIPT, _REFERENCE)[: 3 if referenced else 2]:
            before, found, text = text.partition(_encode(marker).encode("utf-8"))
            assert found, marker
            assert _encode(marker).encode("utf-8") not in text, marker
            parts.append(before)
        self._templates[key] = (*parts, text)
        return self._templates[key]

    def _state_of(
        self,
        donor: Donor,
        project: Project | None,
        channel: str,
        day: date,
        amount_fen: object,
        receipt_no: str,
        donor_ref: str | None,
    ) -> dict[str, Any]:
        return {
            "timestamp": {"_type_": "datetime_iso", "_data_": self.timestamp.isoformat()},
            "originator_topic": self.originator_topic,
            "donor_id": str(donor.id),
            "donor_kind": donor.kind,
            "amount_fen": amount_fen,
            "channel": channel,
            "receipt_no": receipt_no,
            "project_id": str(project.id) if project else None,
            "project_code": project.code if project else None,
            "in_kind": channel == "in_kind",
            "note": None,
            "meta": {
                "_type_": "meta",
                "_data_": {
                    "actor_id": self.actor_id,
                    "actor_role": self.actor_role,
                    "effective_on": {"_type_": "date_iso", "_data_": day.isoformat()},
                    "idempotency_key": None,
                },
            },
            "donor_ref": donor_ref,
            "account": None if channel == "in_kind" else channel_account(channel),
        }


def copy_chunks(
    encoder: DonationEncoder,
    items: Iterable[dict[str, Any]],
    donor_for: Callable[[str], Donor],
    project_for: Callable[[str], Project],
) -> Iterator[tuple[bytes, int]]:
    """The binary COPY of checked items, in chunks (bytes, how many rows), made as the COPY
    takes them; the first item calibrates the encoder.

    One process: PostgreSQL's own work on these rows (about 5 s a million: 650 MB of
    events, two indexes, the WAL) takes the machine's other core. A second encoding process
    (a fork, tried) cost a second of page copying and gained nothing."""
    yield COPY_SIGNATURE, 0
    yield from encoder.chunks(items, donor_for, project_for)
    yield COPY_TRAILER, 0


def copy_into_postgres(
    recorder: Any, chunks: Iterable[tuple[bytes, int]], progress: Callable[[int], None]
) -> int:
    """Insert the chunks of a binary COPY with the recorder's COPY, all in one transaction.
    Returns how many; a receipt already recorded (by a writer since the preflight, or when
    the preflight left that check to this load) refuses them all."""

    def counted() -> Iterator[tuple[bytes, int]]:
        for chunk, rows in chunks:
            yield chunk, rows
            progress(rows)

    try:
        count, _last = recorder.copy_rows(counted())
    except IntegrityError as error:  # eventsourcing's, wrapping psycopg's UniqueViolation
        detail = str(error).partition("DETAIL:")[2].partition("\n")[0].strip()
        raise Duplicate("receipt", f"a gift already recorded ({detail[:200]})") from None
    return int(count)
