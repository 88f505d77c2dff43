"""Voucher attachments kept by their hash: private, once, and checked when read back."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from ledger.store.attachments import attachment_path, keep_attachment, read_attachment
from ledger.store.files import UnsafeFile


def test_an_attachment_is_kept_once_under_its_hash_and_read_back_checked(tmp_path: Path) -> None:
    invoice = "浙江增值税普通发票 No.0001 南湖大酒店 ¥1,280.50".encode()
    sha256 = keep_attachment(tmp_path, invoice)
    assert sha256 == hashlib.sha256(invoice).hexdigest()
    assert keep_attachment(tmp_path, invoice) == sha256
    path = attachment_path(tmp_path, sha256)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_attachment(tmp_path, sha256) == invoice
    path.chmod(0o600)
    path.write_bytes(invoice + b" altered")
    with pytest.raises(UnsafeFile):
        read_attachment(tmp_path, sha256)
    with pytest.raises(ValueError, match="not a SHA-256"):
        attachment_path(tmp_path, "../../etc/passwd")
