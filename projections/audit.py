"""The audit bundle an outsider checks offline, and the server's own check of its stored log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ledger.app import FundLedger
from ledger.merkle import MerkleFrontier, leaf_hash
from ledger.notes import NoteError, Signer, Verifier, open_checkpoint
from ledger.transparency import canonical, leaf_record
from ledger.verify import VerificationFailed
from projections.exports import export_beancount
from projections.log import ENTRIES_PAGE_MAX, Log
from projections.queries import Reader
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
    view = log.view
    salts = {
        row["subject"]: bytes.fromhex(row["salt"])
        for row in view.query("SELECT subject, salt FROM {t}fl_log_salts")
    }

    def salt_for(subject: str) -> bytes:
        if subject not in salts:
            msg = f"the salt for {subject} is missing: its leaves cannot be checked"
            raise VerificationFailed(msg)
        return salts[subject]

    checkpoints = {c.size: c for c in log.checkpoints()}
    frontier = MerkleFrontier()
    size = log.size()
    leaves = _stored_leaves(log, size)
    events = ledger.iter_events()
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
        index, stored_position, data = stored
        if stored_position != position:
            msg = (
                f"entry {index} is for position {stored_position} but the next event is at "
                f"{position}: events were deleted or reordered"
            )
            raise VerificationFailed(msg)
        if canonical(leaf_record(position, event, salt_for)) != data:
            msg = (
                f"the event at position {position} does not match entry {index}: "
                "the stored event or its entry was changed"
            )
            raise VerificationFailed(msg)
        frontier.append(leaf_hash(data))
        _check_checkpoint(checkpoints.get(frontier.size), frontier, verifier)
    extra = next(leaves, None)
    if extra is not None:
        msg = f"entry {extra[0]} has no event: the event log was truncated"
        raise VerificationFailed(msg)
    beyond = [s for s in checkpoints if s > frontier.size]
    if beyond:
        msg = f"a checkpoint signs {max(beyond)} entries but the log has {frontier.size}"
        raise VerificationFailed(msg)
    return frontier.size


def _stored_leaves(log: Log, size: int) -> Iterator[tuple[int, int, bytes]]:
    for start in range(0, size, ENTRIES_PAGE_MAX):
        for entry in log.entries(start, min(size, start + ENTRIES_PAGE_MAX)):
            yield entry["index"], entry["position"], entry["data"].encode()


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
