"""Voucher attachments (发票, receipts, contracts) kept by their SHA-256 under a folder: a file
is its hash, so the books hold the hash and anyone with the folder can check the paper."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ledger.store.files import UnsafeFile, new_file

ATTACHMENT_BYTES_MAX = 50 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def attachment_path(folder: Path, sha256: str) -> Path:
    if not _SHA256.match(sha256):
        raise ValueError(f"not a SHA-256: {sha256!r}")
    return folder / sha256[:2] / sha256


def keep_attachment(folder: Path, data: bytes) -> str:
    """Store the file under its hash (once: the same file again is the same file); its hash."""
    if len(data) > ATTACHMENT_BYTES_MAX:
        raise ValueError(f"an attachment is at most {ATTACHMENT_BYTES_MAX} bytes")
    sha256 = hashlib.sha256(data).hexdigest()
    path = attachment_path(folder, sha256)
    if path.exists():
        return sha256
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with new_file(path) as out:
        out.write(data)
    return sha256


def read_attachment(folder: Path, sha256: str) -> bytes:
    """The file kept under this hash, checked against it."""
    data = attachment_path(folder, sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise UnsafeFile(f"the attachment kept as {sha256} no longer has that hash")
    return data
