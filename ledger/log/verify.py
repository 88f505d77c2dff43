"""Checking the books without trusting the server: signatures, leaves, roots, history, balances.

Everything streams: a million entries are checked in O(log n) memory (the Merkle frontier) plus
one balance per account. Each check stops at the first problem and names it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.domain.books import position_from
from ledger.domain.money import parse_yuan
from ledger.log.canonical import NotCanonicalJSON, NotJSON, loads_canonical
from ledger.log.leaves import LEAF_FORMATS
from ledger.log.merkle import MerkleFrontier, leaf_hash, verify_consistency
from ledger.log.notes import Checkpoint, NoteError, Verifier, open_checkpoint

SUMMARY_FIELDS = (
    "received_total",
    "spent_total",
    "balance",
    "restricted_balance",
    "unrestricted_balance",
    "committed_unspent",
    "available_for_grants",
    "in_kind_total",
    "events",
)


class VerificationFailed(Exception):
    """The first problem found, in words an auditor can act on."""


@dataclass
class Verified:
    """What was checked and found good."""

    checkpoint: Checkpoint
    entries: int
    summary: dict[str, object]
    trusted_size: int | None = None
    notes: list[str] = field(default_factory=list)
    last_position: int = 0  # of the last entry the checkpoint covers


def _trusted(
    trusted_note: str | None,
    verifier: Verifier,
    checkpoint: Checkpoint,
    consistency_proof: list[bytes] | None,
) -> Checkpoint | None:
    """The older checkpoint the reader trusts, checked against the newer one."""
    if trusted_note is None:
        return None
    try:
        trusted = open_checkpoint(trusted_note, verifier)
    except NoteError as error:
        raise VerificationFailed(f"trusted checkpoint: {error}") from None
    if trusted.size > checkpoint.size:
        raise VerificationFailed(
            f"the checkpoint ({checkpoint.size} entries) is older than the trusted one "
            f"({trusted.size}): a log never shrinks"
        )
    if (
        consistency_proof is not None
        and trusted.size
        and not verify_consistency(
            trusted.size, checkpoint.size, consistency_proof, trusted.root, checkpoint.root
        )
    ):
        raise VerificationFailed(
            f"the server's consistency proof from {trusted.size} to {checkpoint.size} "
            "does not verify: the log was rewritten (a forked history)"
        )
    return trusted


def _signed_amount_fen(text: str) -> int:
    return (
        -parse_yuan(text[1:], allow_zero=True)
        if text.startswith("-")
        else parse_yuan(text, allow_zero=True)
    )


def verify_log(
    entries: Iterable[bytes],
    checkpoint_note: str,
    verifier: Verifier,
    *,
    trusted_note: str | None = None,
    published_summary: Mapping[str, object] | None = None,
    consistency_proof: list[bytes] | None = None,
) -> Verified:
    """Verify a log's entries (leaf bytes, in order) against a signed checkpoint.

    With ``trusted_note``, an older checkpoint the reader already trusts, the log must extend
    it (the same history, not a fork). With ``published_summary``, the balances replayed from
    the entries must equal the published figures.
    """
    try:
        checkpoint = open_checkpoint(checkpoint_note, verifier)
    except NoteError as error:
        raise VerificationFailed(f"checkpoint: {error}") from None
    trusted = _trusted(trusted_note, verifier, checkpoint, consistency_proof)
    replay = _Replay()
    for index, data in enumerate(entries):
        if index >= checkpoint.size:
            break  # entries past the checkpoint are not covered by its signature
        replay.add(index, data)
        if (
            trusted is not None
            and replay.frontier.size == trusted.size
            and replay.frontier.root() != trusted.root
        ):
            raise VerificationFailed(
                f"the first {trusted.size} entries do not give the trusted checkpoint's root: "
                "a forked or rewritten history"
            )
    size = replay.frontier.size
    if size < checkpoint.size:
        raise VerificationFailed(
            f"the log has {size} entries but the checkpoint signs {checkpoint.size}: "
            "entries are missing (truncated)"
        )
    if replay.frontier.root() != checkpoint.root:
        raise VerificationFailed(
            f"the root of the {size} entries differs from the signed checkpoint's: "
            "an entry was changed, removed, added or reordered"
        )
    summary = position_from(replay.balances_fen, replay.committed_fen, size).as_json()
    if published_summary is not None:
        _check_published(published_summary, summary)
    return Verified(
        checkpoint,
        size,
        summary,
        trusted.size if trusted else None,
        last_position=replay.last_position,
    )


@dataclass
class _Replay:
    """The Merkle frontier and the balances of the entries read so far."""

    frontier: MerkleFrontier = field(default_factory=MerkleFrontier)
    balances_fen: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    committed_fen: int = 0
    last_position: int = 0
    leaf_format: str = LEAF_FORMATS[0]

    def add(self, index: int, data: bytes) -> None:
        record = _entry(index, data)
        self._check_format(index, record)
        position = record.get("position")
        if not isinstance(position, int) or position <= self.last_position:
            raise VerificationFailed(
                f"entry {index} has position {position!r} after {self.last_position}: "
                "entries were removed, swapped or reordered"
            )
        self.last_position = position
        self.frontier.append(leaf_hash(data))
        try:
            postings = [
                (account, _signed_amount_fen(amount))
                for account, amount in record.get("postings", [])
            ]
            if "commitment" in record:
                self.committed_fen += _signed_amount_fen(record["commitment"])
        except (ValueError, TypeError) as error:
            raise VerificationFailed(f"entry {index} has a malformed amount: {error}") from None
        if sum(amount_fen for _, amount_fen in postings) != 0:
            raise VerificationFailed(f"entry {index} posts unbalanced amounts")
        for account, amount_fen in postings:
            self.balances_fen[account] += amount_fen

    def _check_format(self, index: int, record: dict[str, Any]) -> None:
        """Formats change only at a ``LeafFormat.Adopted`` entry, and only forward."""
        leaf_format = record.get("format")
        if leaf_format == self.leaf_format:
            return
        if leaf_format not in LEAF_FORMATS:
            raise VerificationFailed(f"entry {index} has an unknown format {leaf_format!r}")
        if record.get("type") != "LeafFormat.Adopted" or LEAF_FORMATS.index(
            leaf_format
        ) < LEAF_FORMATS.index(self.leaf_format):
            raise VerificationFailed(
                f"entry {index} changes the format from {self.leaf_format} to {leaf_format}"
                " other than forward at a LeafFormat.Adopted entry"
            )
        self.leaf_format = leaf_format


def _entry(index: int, data: bytes) -> dict[str, Any]:
    try:
        record = loads_canonical(data)
    except NotJSON:
        raise VerificationFailed(f"entry {index} is not JSON") from None
    except NotCanonicalJSON as error:
        raise VerificationFailed(
            f"entry {index} is not in canonical form: its bytes were changed ({error})"
        ) from None
    if not isinstance(record, dict):
        raise VerificationFailed(f"entry {index} is not a JSON object")
    return record


def _check_published(published: Mapping[str, object], summary: Mapping[str, object]) -> None:
    for key in SUMMARY_FIELDS:
        if key not in published:
            raise VerificationFailed(f"the published summary has no {key}")
        if published[key] != summary[key]:
            raise VerificationFailed(
                f"the published {key} is {published[key]}, but the entries add up to {summary[key]}"
            )
