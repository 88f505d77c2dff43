"""The key-encryption key (KEK): the per-person keys are stored wrapped under it, never plain.

The database and its backups hold only wrapped keys, so a copy of either reveals no sealed
name without the KEK, which lives apart: in ``FUND_LEDGER_KEK`` (the 32 bytes in base64) or in
the file ``FUND_LEDGER_KEK_FILE`` names (``fund-ledger.kek`` in the working folder by default),
made 0600 by ``fund-ledger keys init-kek``. A wrapped key is
``kek1:<KEK id>:<base64url(nonce | AES-256-GCM ciphertext | tag)>`` with the person's id as
associated data; the KEK id (16 hex digits of a hash of the KEK) says which KEK opens it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.domain.errors import KeyEncryptionKeyMissing, WrongKeyEncryptionKey
from ledger.store.files import write_new_file

KEK_ENV = "FUND_LEDGER_KEK"
KEK_FILE_ENV = "FUND_LEDGER_KEK_FILE"
DEFAULT_KEK_FILE = "fund-ledger.kek"
KEK_BYTES = 32
NONCE_BYTES = 12
WRAPPED_PREFIX = "kek1:"


class KeyEncryptionKey:
    """Wraps and unwraps the per-person keys."""

    def __init__(self, key: bytes) -> None:
        assert len(key) == KEK_BYTES
        self._aead = AESGCM(key)
        self.id = hashlib.sha256(b"fund-ledger kek id\x00" + key).hexdigest()[:16]
        self._key = key

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        return cls(os.urandom(KEK_BYTES))

    @classmethod
    def decode(cls, text: str, where: str) -> KeyEncryptionKey:
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEK_BYTES:
            raise KeyEncryptionKeyMissing(f"{where} is not 32 bytes in base64")
        return cls(key)

    def encode(self) -> str:
        return base64.b64encode(self._key).decode()

    def wrap(self, person_id: str, person_key: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, person_key, person_id.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{WRAPPED_PREFIX}{self.id}:{body}"

    def unwrap(self, person_id: str, wrapped: str) -> bytes:
        """The person's key; a key wrapped under another KEK is refused, never guessed at.
        One that does not open under its own KEK is a broken store: InvalidTag, not hidden."""
        under = wrapped_under(wrapped)
        if under != self.id:
            raise WrongKeyEncryptionKey(under, self.id)
        raw = base64.urlsafe_b64decode(wrapped.rsplit(":", 1)[1])
        try:
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], person_id.encode())
        except InvalidTag:
            raise InvalidTag(f"the wrapped key of {person_id} does not open") from None


def wrapped_under(wrapped: str) -> str:
    """The id of the KEK a wrapped key needs."""
    assert wrapped.startswith(WRAPPED_PREFIX), wrapped[:8]
    return wrapped[len(WRAPPED_PREFIX) :].split(":", 1)[0]


def kek_file(env: Mapping[str, str]) -> Path:
    return Path(env.get(KEK_FILE_ENV) or DEFAULT_KEK_FILE).expanduser()


def load_kek(env: Mapping[str, str]) -> KeyEncryptionKey | None:
    """The KEK from the environment, else from its file; None when neither is there."""
    if env.get(KEK_ENV):
        return KeyEncryptionKey.decode(env[KEK_ENV], KEK_ENV)
    path = kek_file(env)
    if not path.is_file():
        return None
    return KeyEncryptionKey.decode(path.read_text(), str(path))


def make_kek_file(path: Path) -> KeyEncryptionKey:
    """A new KEK in a new file only its owner may read (never replacing one)."""
    kek = KeyEncryptionKey.generate()
    write_new_file(path, kek.encode() + "\n")
    return kek
