"""Reading a log to verify from files or from a live service (standard library HTTP only)."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import URLError

from ledger.log.donors import watching
from ledger.log.notes import Checkpoint, NoteError, Verifier
from ledger.log.verify import VerificationFailed, Verified, verify_log

HTTP_TIMEOUT_S = 30
ATTEMPTS_MAX = 5


@dataclass(frozen=True)
class Result:
    checkpoint: Checkpoint
    entries: int
    trusted_size: int | None
    summary_checked: bool
    # With a donor's secret: their gifts among the verified entries (ledger.log.donors).
    donor_gifts: list[dict[str, Any]] = field(default_factory=list)


def _watched(
    entries: Iterable[bytes], secret: bytes | None, found: list[dict[str, Any]]
) -> Iterable[bytes]:
    return entries if secret is None else watching(secret, entries, found)


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as lines:
        for line in lines:
            yield line.rstrip(b"\n")


def verify_files(
    entries: Path,
    checkpoint_note: str,
    verifier: Verifier,
    trusted_note: str | None,
    summary: Mapping[str, object] | None,
    donor_secret: bytes | None = None,
) -> Result:
    if not entries.exists():
        msg = f"no entries file at {entries}"
        raise VerificationFailed(msg)
    found: list[dict[str, Any]] = []
    verified = verify_log(
        _watched(_lines(entries), donor_secret, found),
        checkpoint_note,
        verifier,
        trusted_note=trusted_note,
        published_summary=summary,
    )
    return _result(verified, summary is not None, found)


def _result(verified: Verified, summary_checked: bool, found: list[dict[str, Any]]) -> Result:
    # Only gifts the checkpoint covers: the verifier stops reading at its size.
    covered = [gift for gift in found if gift["position"] <= verified.last_position]
    return Result(
        verified.checkpoint, verified.entries, verified.trusted_size, summary_checked, covered
    )


def _get(url: str) -> bytes:
    if not url.startswith(("http://", "https://")):
        msg = f"not an http(s) address: {url}"
        raise VerificationFailed(msg)
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310
            return bytes(response.read())
    except URLError as error:
        msg = f"cannot fetch {url}: {error}"
        raise VerificationFailed(msg) from None


def verify_url(
    base: str, verifier: Verifier, trusted_note: str | None, donor_secret: bytes | None = None
) -> Result:
    """Fetch the checkpoint, the entries it covers, and the published figures; verify them.

    The figures are compared when they describe the same log position as the checkpoint; the
    service signs every few seconds, so a few attempts catch a quiet moment.
    """
    base = base.rstrip("/")
    for _attempt in range(ATTEMPTS_MAX):
        note = _get(f"{base}/v1/log/checkpoint").decode()
        try:
            size = Checkpoint.parse(verifier.verify(note)).size
        except NoteError as error:
            msg = f"checkpoint: {error}"
            raise VerificationFailed(msg) from None
        summary = json.loads(_get(f"{base}/v1/summary"))
        if summary.get("events") == size:
            break
        time.sleep(1)
    else:
        summary = None
    proof = None
    if trusted_note is not None:
        try:
            trusted_size = Checkpoint.parse(verifier.verify(trusted_note)).size
        except NoteError as error:
            msg = f"trusted checkpoint: {error}"
            raise VerificationFailed(msg) from None
        if 0 < trusted_size <= size:
            answer = json.loads(
                _get(f"{base}/v1/log/proof/consistency?first={trusted_size}&second={size}")
            )
            proof = [base64.b64decode(item) for item in answer["proof"]]

    def entries() -> Iterator[bytes]:
        start = 0
        while start < size:
            page = json.loads(_get(f"{base}/v1/log/entries?start={start}&end={size}"))["entries"]
            if not page:
                return
            for entry in page:
                yield entry["data"].encode()
            start += len(page)

    found: list[dict[str, Any]] = []
    verified = verify_log(
        _watched(entries(), donor_secret, found),
        note,
        verifier,
        trusted_note=trusted_note,
        published_summary=summary,
        consistency_proof=proof,
    )
    return _result(verified, summary is not None, found)
