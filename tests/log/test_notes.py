"""Signed notes and checkpoints: the C2SP formats, checked against the spec and reference vectors.

c2sp.org/signed-note: key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4];
a verifier key is ``name+hex(key ID)+base64(0x01 || public key)``; verifiers ignore signatures by
unknown keys, even ones sharing a name or an ID (not both), and refuse a note no known key signed.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from ledger.log.notes import (
    SIGNATURE_PREFIX,
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    open_checkpoint,
    split_note,
)

NAME = "test.example/fund"
ROOT = hashlib.sha256(b"a root").digest()

# The example key and note of golang.org/x/mod/sumdb/note, the reference implementation of the
# format (used here as data). Ed25519 is deterministic: signing must give these exact bytes.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
    "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# The C2SP signed-note spec's verifier key example and the note it signs.
SPEC_VERIFIER_KEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfX"
    "ppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def spec_key_id(name: str, public_key: bytes) -> bytes:
    """The key ID exactly as c2sp.org/signed-note defines it for Ed25519."""
    return hashlib.sha256(name.encode() + b"\x0a" + b"\x01" + public_key).digest()[:4]


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate(NAME)


def test_the_key_id_is_the_one_the_spec_defines(signer: Signer) -> None:
    verifier = signer.verifier
    assert len(verifier.public_key) == 32
    assert verifier.key_id == spec_key_id(NAME, verifier.public_key)
    name, key_id_hex, key_b64 = verifier.encode().split("+", 2)
    assert (name, key_id_hex) == (NAME, spec_key_id(NAME, verifier.public_key).hex())
    assert base64.b64decode(key_b64) == b"\x01" + verifier.public_key
    # The signature line carries the same 4 bytes, then the 64-byte Ed25519 signature.
    note = signer.sign("hello\n")
    [(signed_by, blob)] = split_note(note)[1]
    assert signed_by == NAME
    assert blob[:4] == verifier.key_id
    assert len(blob) == 4 + 64
    assert note.endswith("\n")
    assert f"\n\n{SIGNATURE_PREFIX}{NAME} " in note


def test_keys_round_trip(signer: Signer) -> None:
    encoded = signer.verifier.encode()
    assert Verifier.decode(encoded) == signer.verifier
    assert Verifier.decode(encoded + "\n") == signer.verifier
    again = Signer.decode(signer.encode())
    assert again.verifier == signer.verifier
    assert signer.verifier.verify(again.sign("same key\n")) == "same key\n"
    assert signer.encode().startswith(f"PRIVATE+KEY+{NAME}+{signer.verifier.key_id.hex()}+")


def test_the_reference_implementations_example_signs_and_verifies_byte_for_byte() -> None:
    signer = Signer.decode(GO_SIGNER_KEY)
    assert signer.name == "PeterNeumann"
    assert signer.verifier.encode() == GO_VERIFIER_KEY
    assert signer.encode() == GO_SIGNER_KEY
    assert signer.sign(GO_TEXT) == GO_NOTE
    assert Verifier.decode(GO_VERIFIER_KEY).verify(GO_NOTE) == GO_TEXT
    verifier = Verifier.decode(SPEC_VERIFIER_KEY)
    assert verifier.key_id == spec_key_id("example.com/foo", verifier.public_key)
    assert verifier.verify(SPEC_NOTE) == "This is an example message.\n"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("no-plus-signs", "not a verifier key"),
        ("name+c74f20a3+not base64!", "not a verifier key"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "id does not match"),
        ("Other+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "id does not match"),
        ("PeterNeumann+c74f20a3+ApcpXQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not an Ed25519"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4", "not an Ed25519"),
    ],
)
def test_a_malformed_verifier_key_is_refused(key: str, problem: str) -> None:
    with pytest.raises(NoteError, match=problem):
        Verifier.decode(key)


def test_a_checkpoint_opens_only_with_its_own_key(signer: Signer) -> None:
    checkpoint = Checkpoint(NAME, 635, ROOT)
    note = signer.sign(checkpoint.body())
    assert note.startswith(f"{NAME}\n635\n{base64.b64encode(ROOT).decode()}\n\n")
    assert open_checkpoint(note, signer.verifier) == checkpoint

    same_name = Signer.generate(NAME)  # another key under the same name: a different key ID
    with pytest.raises(NoteError, match=re.escape(f"no signature by {NAME}")):
        open_checkpoint(same_name.sign(checkpoint.body()), signer.verifier)
    other = Signer.generate("other.example/fund")
    with pytest.raises(NoteError, match=re.escape(f"no signature by {NAME}")):
        open_checkpoint(other.sign(checkpoint.body()), signer.verifier)
    # A key ID collision is not a key: the signature must still verify.
    blob = base64.b64encode(signer.verifier.key_id + bytes(64)).decode()
    forged = f"{checkpoint.body()}\n{SIGNATURE_PREFIX}{NAME} {blob}\n"
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(forged, signer.verifier)


def test_a_signature_by_an_unknown_key_is_ignored_not_fatal(signer: Signer) -> None:
    body = Checkpoint(NAME, 7, ROOT).body()
    ours = signer.sign(body).split("\n\n")[1]
    theirs = Signer.generate(NAME).sign(body).split("\n\n")[1]  # same name, unknown key
    witness = Signer.generate("witness.example").sign(body).split("\n\n")[1]
    both = f"{body}\n{theirs}{witness}{ours}"
    assert open_checkpoint(both, signer.verifier) == Checkpoint(NAME, 7, ROOT)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda n: n.replace("\n635\n", "\n636\n", 1), id="size"),
        pytest.param(lambda n: n.replace("\n635\n", "\n634\n", 1), id="smaller-size"),
        pytest.param(
            lambda n: n.replace(
                base64.b64encode(ROOT).decode(), base64.b64encode(bytes(32)).decode()
            ),
            id="root",
        ),
        pytest.param(lambda n: n.replace(NAME, NAME + "x", 1), id="origin"),
        pytest.param(lambda n: "extra line\n" + n, id="line-before"),
        pytest.param(lambda n: n.replace("\n\n", "\nextension\n\n", 1), id="line-after"),
    ],
)
def test_a_checkpoint_with_a_changed_body_is_refused(signer: Signer, change: object) -> None:
    note = signer.sign(Checkpoint(NAME, 635, ROOT).body())
    changed = change(note)  # type: ignore[operator]
    assert changed != note
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(changed, signer.verifier)


def test_a_checkpoint_for_another_log_is_refused(signer: Signer) -> None:
    note = signer.sign(Checkpoint("another.example/log", 3, ROOT).body())
    with pytest.raises(NoteError, match=re.escape("checkpoint is for 'another.example/log'")):
        open_checkpoint(note, signer.verifier)


@pytest.mark.parametrize(
    ("note", "problem"),
    [
        ("", "no blank line"),
        ("just text\n", "no blank line"),
        (f"{NAME}\n1\nroot\n\n", "no blank line"),
        (f"{NAME}\n1\n\n{SIGNATURE_PREFIX}{NAME} AAAA", "no blank line"),
        (f"{NAME}\n1\n\n-- {NAME} AAAAAAAA\n", "not a signature line"),
        (f"{NAME}\n1\n\n{SIGNATURE_PREFIX}{NAME} not*base64\n", "not base64"),
        (f"{NAME}\n1\n\n{SIGNATURE_PREFIX}{NAME} AAAA\n", "too short"),
        ("x" * 1_000_001, "too large"),
    ],
)
def test_a_malformed_note_is_refused(signer: Signer, note: str, problem: str) -> None:
    with pytest.raises(NoteError, match=problem):
        open_checkpoint(note, signer.verifier)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (f"{NAME}\n635\n", "each on its own line"),
        (f"{NAME}\n", "each on its own line"),
        (f"{NAME}\n0635\n{base64.b64encode(ROOT).decode()}\n", "not a number"),
        (f"{NAME}\n-1\n{base64.b64encode(ROOT).decode()}\n", "not a number"),
        (f"{NAME}\n\n{base64.b64encode(ROOT).decode()}\n", "not a number"),
        (f"{NAME}\n635\nnot base64!\n", "not base64"),
        (f"{NAME}\n635\n{base64.b64encode(ROOT[:31]).decode()}\n", "not a SHA-256"),
    ],
)
def test_a_malformed_checkpoint_is_refused_even_when_signed(
    signer: Signer, body: str, problem: str
) -> None:
    with pytest.raises(NoteError, match=problem):
        open_checkpoint(signer.sign(body), signer.verifier)


def test_a_checkpoint_may_carry_extension_lines(signer: Signer) -> None:
    body = Checkpoint(NAME, 5, ROOT).body() + "an extension line\n"
    assert open_checkpoint(signer.sign(body), signer.verifier) == Checkpoint(NAME, 5, ROOT)


@pytest.mark.parametrize("size", ["６３５", "²"])
def test_a_checkpoint_size_must_be_ascii_digits(size: str) -> None:
    with pytest.raises(NoteError, match="not a number"):
        Checkpoint.parse(f"{NAME}\n{size}\n{base64.b64encode(ROOT).decode()}\n")


def test_control_characters_are_refused(signer: Signer) -> None:
    text = f"{NAME}\n5\n{base64.b64encode(ROOT).decode()}\ttab\n"
    with pytest.raises(NoteError):
        signer.sign(text)
    signature = signer.private_key.sign(text.encode())
    blob = base64.b64encode(signer.verifier.key_id + signature).decode()
    with pytest.raises(NoteError):
        signer.verifier.verify(f"{text}\n{SIGNATURE_PREFIX}{NAME} {blob}\n")


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\there", "new\nline"])
def test_a_key_name_with_spaces_or_plus_is_refused(name: str) -> None:
    with pytest.raises(NoteError, match="key name"):
        Signer.generate(name)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "not a signer key"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "id"),
        (
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AgEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            "Ed25519",
        ),
    ],
)
def test_a_malformed_signer_key_is_refused(key: str, problem: str) -> None:
    with pytest.raises(NoteError, match=problem):
        Signer.decode(key)


def test_a_note_text_must_end_in_a_newline(signer: Signer) -> None:
    with pytest.raises(NoteError, match="newline"):
        signer.sign("no newline")
