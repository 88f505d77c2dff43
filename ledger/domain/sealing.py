"""Personal data sealed per person (AES-256-GCM), so that destroying one key erases it everywhere.

The keys themselves are kept by ``ledger.store.keyring``.

An individual donor's name, any donor's contact details, the notes on their gifts and an
individual payee's name are stored in the events as *sealed* strings: the person's id and an
AES-GCM ciphertext under that person's own random key, with the id as associated data. The keys
live in one table beside the events (``fl_person_keys``), never in an event, a view or a leaf.
Views keep the sealed strings as they are and open them when read, so forgetting a person is
destroying one key: every view, page and export then shows ``ERASED`` instead, a rebuild gives
the same rows, and the events and the transparency log (which hashes the sealed strings, not
the plaintext) stay byte for byte what was signed.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED_PREFIX = "sealed:v1:"
# What a forgotten person's data reads as, wherever it is shown.
ERASED = "（已删除）erased"
KEY_BYTES = 32
NONCE_BYTES = 12


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def seal(key: bytes, person_id: str, value: object) -> str:
    """``sealed:v1:<person id>:<base64url(nonce | ciphertext | tag)>`` of a JSON value."""
    assert len(key) == KEY_BYTES
    nonce = os.urandom(NONCE_BYTES)
    plain = json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, person_id.encode())
    return f"{SEALED_PREFIX}{person_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def person_of(token: str) -> str:
    return token[len(SEALED_PREFIX) :].rsplit(":", 1)[0]


def unseal(key: bytes | None, token: str) -> Any:
    """The value sealed in ``token``, or ERASED when the key is gone.

    A key that does not open its own ciphertext is a broken store, not a forgotten person:
    ``InvalidTag`` is raised and must not be hidden.
    """
    if key is None:
        return ERASED
    person_id, body = token[len(SEALED_PREFIX) :].rsplit(":", 1)
    raw = base64.urlsafe_b64decode(body)
    plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], person_id.encode())
    return json.loads(plain)
