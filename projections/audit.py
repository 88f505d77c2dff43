"""The audit bundle an outsider checks offline, and the server's own check of its stored log."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ledger.app import FundLedger
from ledger.domain.records import LEAF_FORMAT_V1
from ledger.log.leaves import canonical, format_after, leaf_record
from ledger.log.merkle import MerkleFrontier, leaf_hash
from ledger.log.notes import NoteError, Signer, Verifier, open_checkpoint
from ledger.log.verify import VerificationFailed
from projections.exports.journal_beancount import export_beancount
from projections.log.queries import ENTRIES_PAGE_MAX, Log
from projections.reader import Reader
from projections.runner import Views

ATTEMPTS_MAX = 5

BUNDLE_README = """# Audit bundle: {name}

This folder lets anyone check the fund's books without trusting its server.

- `entries.jsonl`: the transparency log, entry *i* on line *i*+1: the exact bytes of its
  leaf (RFC 8785 canonical JSON).
- `checkpoint`: the latest signed checkpoint ({size} entries), a C2SP signed note.
- `checkpoints/`: every checkpoint the server has signed, named by size.
- `key.pub`: the fund's public key (C2SP verifier key, Ed25519).
- `summary.json`: the published figures at the checkpoint.
- `journal.beancount`: the double-entry journal; `bean-check journal.beancount` checks it.

Check it: `fund-ledger verify --bundle .` (add `--trusted OLD_CHECKPOINT` with a checkpoint you
saved earlier, to check the log still extends it). The verifier checks the signature,
re-canonicalises every entry and compares the bytes, recomputes the Merkle root (RFC 6962),
and replays the postings to the published figures. Obtain `key.pub` from the fund itself
(its notice board or web page), not only from this folder.
"""


@dataclass(frozen=True)
class Bundle:
    path: Path
    size: int


def _leaves(log: Log, size: int) -> Iterator[bytes]:
    for start in range(0, size, ENTRIES_PAGE_MAX):
        for entry in log.entries(start, min(size, start + ENTRIES_PAGE_MAX)):
            yield entry["data"].encode()


def export_audit_bundle(views: Views, log: Log, signer: Signer, folder: Path) -> Bundle:
    """Write the bundle; entries, checkpoint, figures and journal all at one log position."""
    reader = Reader(views)
    for _attempt in range(ATTEMPTS_MAX):
        views.catch_up()
        log.sign(signer)
        checkpoint = log.checkpoint()
        if checkpoint is None:
            msg = "the log is empty: nothing to bundle"
            raise ValueError(msg)
        last = log.entries(checkpoint.size - 1, checkpoint.size)[0]["position"]
        if all(status.position == last for status in views.status()):
            summary = reader.summary().as_json()
            journal = export_beancount(reader)
            if all(status.position == last for status in views.status()):
                break
    else:
        msg = "the books kept moving while the bundle was written; try again when quieter"
        raise RuntimeError(msg)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "checkpoints").mkdir(exist_ok=True)
    with (folder / "entries.jsonl").open("wb") as out:
        for data in _leaves(log, checkpoint.size):
            out.write(data + b"\n")
    (folder / "checkpoint").write_text(checkpoint.note)
    for stored in log.checkpoints():
        if stored.size <= checkpoint.size:
            (folder / "checkpoints" / str(stored.size)).write_text(stored.note)
    (folder / "key.pub").write_text(signer.verifier.encode() + "\n")
    (folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    (folder / "journal.beancount").write_text(journal)
    (folder / "README.md").write_text(BUNDLE_README.format(name=log.origin, size=checkpoint.size))
    return Bundle(folder, checkpoint.size)


def check_store(ledger: FundLedger, log: Log, verifier: Verifier) -> int:
    """The server's self-check: every event against its leaf, every checkpoint against the tree.

    Returns the number of entries checked; raises VerificationFailed naming the first problem.
    """
    salts = log.salts()

    def salt_for(subject: str) -> bytes:
        if subject not in salts:
            msg = f"the salt for {subject} is missing: its leaves cannot be checked"
            raise VerificationFailed(msg)
        return salts[subject]

    checkpoints = {c.size: c for c in log.checkpoints()}
    nodes = log.nodes()
    frontier = MerkleFrontier()
    size = log.size()
    leaves = log.stored_leaves(size)
    events = ledger.iter_events()
    leaf_format = LEAF_FORMAT_V1
    while True:
        try:
            position, event = next(events)
        except StopIteration:
            break
        except Exception as error:  # a changed byte can make a stored event unreadable
            msg = f"a stored event after entry {frontier.size} cannot be read: {error}"
            raise VerificationFailed(msg) from None
        stored = next(leaves, None)
        if stored is None:
            msg = f"the event at position {position} has no log entry: the log stops at {size}"
            raise VerificationFailed(msg)
        index, stored_position, data, stored_hash = stored
        if index != frontier.size:
            msg = f"entry {frontier.size} is missing: the next stored entry is {index}"
            raise VerificationFailed(msg)
        if stored_position != position:
            msg = (
                f"entry {index} is for position {stored_position} but the next event is at "
                f"{position}: events were deleted or reordered"
            )
            raise VerificationFailed(msg)
        leaf_format = format_after(leaf_format, event)
        if canonical(leaf_record(position, event, salt_for, leaf_format)) != data:
            msg = (
                f"the event at position {position} does not match entry {index}: "
                "the stored event or its entry was changed"
            )
            raise VerificationFailed(msg)
        _append_checked(frontier, index, data, stored_hash, nodes)
        _check_checkpoint(checkpoints.get(frontier.size), frontier, verifier)
    extra = next(leaves, None)
    if extra is not None:
        msg = f"entry {extra[0]} has no event: the event log was truncated"
        raise VerificationFailed(msg)
    _check_totals(frontier.size, len(nodes), checkpoints)
    return frontier.size


def _check_totals(size: int, nodes: int, checkpoints: Mapping[int, object]) -> None:
    expected_nodes = size - size.bit_count()
    if nodes != expected_nodes:
        msg = f"the log stores {nodes} subtree hashes; a tree of {size} has {expected_nodes}"
        raise VerificationFailed(msg)
    beyond = [s for s in checkpoints if s > size]
    if beyond:
        msg = f"a checkpoint signs {max(beyond)} entries but the log has {size}"
        raise VerificationFailed(msg)


def _append_checked(
    frontier: MerkleFrontier,
    index: int,
    data: bytes,
    stored_hash: bytes,
    nodes: dict[tuple[int, int], bytes],
) -> None:
    """Add a leaf, checking the hashes stored for it and for the subtrees it completes."""
    hashed = leaf_hash(data)
    if stored_hash != hashed:
        msg = f"the stored hash of entry {index} is not the hash of its data"
        raise VerificationFailed(msg)
    for level, node_index, node in frontier.append(hashed):
        if nodes.get((level, node_index)) != node:
            msg = (
                f"the stored subtree hash ({level}, {node_index}) is wrong or missing: "
                "proofs served from it would not verify"
            )
            raise VerificationFailed(msg)


def _check_checkpoint(stored: object, frontier: MerkleFrontier, verifier: Verifier) -> None:
    if stored is None:
        return
    try:
        checkpoint = open_checkpoint(stored.note, verifier)  # type: ignore[attr-defined]
    except NoteError as error:
        msg = f"the stored checkpoint of {frontier.size}: {error}"
        raise VerificationFailed(msg) from None
    if checkpoint.size != frontier.size or checkpoint.root != frontier.root():
        msg = (
            f"the signed checkpoint of {checkpoint.size} entries does not match the stored log: "
            "entries were changed after signing"
        )
        raise VerificationFailed(msg)
