"""Signed checkpoints: C2SP signed notes with Ed25519, and the tlog-checkpoint body.

A checkpoint says "the log named <origin> has <size> entries and this root hash", signed by the
fund's key. Formats follow c2sp.org/signed-note and c2sp.org/tlog-checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519_ALGORITHM = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space open each signature line
NOTE_BYTES_MAX = 1_000_000


class NoteError(ValueError):
    """A note or checkpoint that does not parse or does not verify, with what is wrong."""


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519_ALGORITHM + public_key).digest()[:4]


def _has_control(text: str, allowed: str = "") -> bool:
    return any((ord(ch) < 32 or ord(ch) == 127) and ch not in allowed for ch in text)


def _check_name(name: str) -> None:
    if not name or any(ch.isspace() for ch in name) or "+" in name or _has_control(name):
        msg = f"key name must be non-empty, without spaces, '+' or control characters: {name!r}"
        raise NoteError(msg)


@dataclass(frozen=True)
class Verifier:
    """A public key with its name, as in a C2SP verifier key ``name+keyid+base64``."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, self.public_key)

    def encode(self) -> str:
        key = base64.b64encode(ED25519_ALGORITHM + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{key}"

    @classmethod
    def decode(cls, text: str) -> Verifier:
        try:
            name, key_id_hex, key_b64 = text.strip().split("+", 2)
            raw = base64.b64decode(key_b64, validate=True)
        except ValueError as error:
            msg = f"not a verifier key (name+keyid+base64): {error}"
            raise NoteError(msg) from None
        if len(raw) != 33 or raw[:1] != ED25519_ALGORITHM:
            msg = "verifier key is not an Ed25519 key"
            raise NoteError(msg)
        _check_name(name)
        verifier = cls(name, raw[1:])
        if verifier.key_id.hex() != key_id_hex:
            msg = "verifier key's id does not match its name and key"
            raise NoteError(msg)
        return verifier

    def verify(self, note: str) -> str:
        """The note's text if one of its signatures is by this key and valid; else NoteError."""
        text, signatures = split_note(note)
        public = Ed25519PublicKey.from_public_bytes(self.public_key)
        for name, blob in signatures:
            if name != self.name or blob[:4] != self.key_id:
                continue
            try:
                public.verify(blob[4:], text.encode())
            except InvalidSignature:
                msg = f"the signature by {name} does not verify: the note was changed"
                raise NoteError(msg) from None
            return text
        msg = f"the note has no signature by {self.name}"
        raise NoteError(msg)


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> Signer:
        _check_name(name)
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def verifier(self) -> Verifier:
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(self.name, raw)

    def encode(self) -> str:
        """``PRIVATE+KEY+name+keyid+base64(alg || seed)``: keep it out of the database."""
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        key = base64.b64encode(ED25519_ALGORITHM + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{key}"

    @classmethod
    def decode(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            msg = "not a signer key (PRIVATE+KEY+name+keyid+base64)"
            raise NoteError(msg)
        raw = base64.b64decode(parts[4])
        if len(raw) != 33 or raw[:1] != ED25519_ALGORITHM:
            msg = "signer key is not an Ed25519 key"
            raise NoteError(msg)
        _check_name(parts[2])
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.key_id.hex() != parts[3]:
            msg = "signer key's id does not match its name and key"
            raise NoteError(msg)
        return signer

    def sign(self, text: str) -> str:
        if not text.endswith("\n"):
            msg = "a note's text ends with a newline"
            raise NoteError(msg)
        if _has_control(text, allowed="\n"):
            msg = "a note may hold no control characters but newlines (C2SP signed-note)"
            raise NoteError(msg)
        signature = self.private_key.sign(text.encode())
        blob = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {blob}\n"


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """(text, [(key name, key id + signature)]) of a signed note."""
    if len(note) > NOTE_BYTES_MAX:
        msg = "the note is too large"
        raise NoteError(msg)
    if _has_control(note, allowed="\n"):
        msg = "a note may hold no control characters but newlines (C2SP signed-note)"
        raise NoteError(msg)
    text, separator, block = note.rpartition("\n\n")
    if not separator or not block.endswith("\n"):
        msg = "not a signed note: no blank line before the signatures"
        raise NoteError(msg)
    signatures = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            msg = f"not a signature line: {line[:60]!r}"
            raise NoteError(msg)
        name, _, blob_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(blob_b64, validate=True)
        except ValueError:
            msg = "a signature is not base64"
            raise NoteError(msg) from None
        if len(blob) < 5:
            msg = "a signature is too short"
            raise NoteError(msg)
        signatures.append((name, blob))
    return text + "\n", signatures


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            msg = "a checkpoint has an origin, a size and a root hash, each on its own line"
            raise NoteError(msg)
        origin, size_text, root_b64 = lines[0], lines[1], lines[2]
        digits = size_text.isascii() and size_text.isdigit()
        if not digits or (len(size_text) > 1 and size_text.startswith("0")):
            msg = f"checkpoint size is not a number: {size_text!r}"
            raise NoteError(msg)
        try:
            root = base64.b64decode(root_b64, validate=True)
        except ValueError:
            msg = "checkpoint root is not base64"
            raise NoteError(msg) from None
        if len(root) != 32:
            msg = "checkpoint root is not a SHA-256 hash"
            raise NoteError(msg)
        return cls(origin, int(size_text), root)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """Verify a signed checkpoint and parse it; NoteError says what is wrong."""
    checkpoint = Checkpoint.parse(verifier.verify(note))
    if checkpoint.origin != verifier.name:
        msg = f"checkpoint is for {checkpoint.origin!r}, the key for {verifier.name!r}"
        raise NoteError(msg)
    return checkpoint
