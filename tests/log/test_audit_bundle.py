"""The audit bundle verifies, and each way of tampering with it fails naming the problem."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from logstore import ORIGIN, Store, change_amount_digit, record_gifts, verify
from typer.testing import CliRunner

from fund_ledger import cli, common
from ledger.app import FundLedger
from ledger.demo import load_demo
from ledger.log.merkle import leaf_hash, root_hash
from ledger.log.notes import Checkpoint, Signer, open_checkpoint
from projections.audit import export_audit_bundle
from projections.log.queries import Log
from projections.runner import Views

# -- 5. the audit bundle -------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleFiles:
    folder: Path
    key: Path  # the fund's public key, as the auditor got it from the fund
    size: int


@pytest.fixture(scope="module")
def bundle(store: Store, tmp_path_factory: pytest.TempPathFactory) -> BundleFiles:
    """`fund-ledger export audit-bundle` on the store, through the command line."""
    folder = tmp_path_factory.mktemp("bundle") / "audit"
    key_file = folder.parent / "signing.key"
    key_file.write_text(store.signer.encode() + "\n")
    public = folder.parent / "fund.pub"
    public.write_text(store.verifier.encode() + "\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FUND_LEDGER_DATABASE_URL", store.url)
        patch.setenv("FUND_LEDGER_SIGNING_KEY_FILE", str(key_file))
        patch.setattr(common, "open_ledger", lambda: store.ledger)  # the fixture closes it
        result = CliRunner().invoke(cli.app, ["export", "audit-bundle", str(folder)])
        assert result.exit_code == 0, result.output
        checkpoint = CliRunner().invoke(cli.app, ["log", "checkpoint"])
        assert checkpoint.exit_code == 0, checkpoint.output
    size = open_checkpoint((folder / "checkpoint").read_text(), store.verifier).size
    assert checkpoint.stdout == (folder / "checkpoint").read_text()
    return BundleFiles(folder, public, size)


def test_the_audit_bundle_verifies(store: Store, bundle: BundleFiles) -> None:
    files = sorted(p.name for p in bundle.folder.iterdir())
    assert files == [
        "README.md",
        "checkpoint",
        "checkpoints",
        "entries.jsonl",
        "journal.beancount",
        "key.pub",
        "summary.json",
    ]
    first = open_checkpoint(store.first_note, store.verifier)
    assert (bundle.folder / "checkpoints" / str(first.size)).read_text() == store.first_note
    assert len((bundle.folder / "entries.jsonl").read_bytes().splitlines()) == bundle.size
    assert f"({bundle.size} entries)" in (bundle.folder / "README.md").read_text()

    ok = f"ok: {bundle.size} entries verify against the checkpoint signed by {ORIGIN}"
    code, output = verify("--bundle", bundle.folder, "--key", bundle.key)
    assert code == 0, output
    assert output == f"{ok}; the replayed balances equal the published figures"
    code, output = verify("--bundle", bundle.folder)  # with the bundle's own key.pub
    assert code == 0, output
    assert output.startswith(f"{ok}; the replayed balances equal the published figures")
    assert "warning: no --key given: using the bundle's own key.pub" in output
    code, output = verify(
        "--bundle",
        bundle.folder,
        "--key",
        store.verifier.encode(),
        "--trusted",
        bundle.folder / "checkpoints" / str(first.size),
    )
    assert code == 0, output
    assert f"extending the trusted checkpoint of {first.size} entries" in output
    code, output = verify(
        "--entries",
        bundle.folder / "entries.jsonl",
        "--checkpoint",
        bundle.folder / "checkpoint",
        "--key",
        bundle.key,
    )
    assert (code, output) == (0, ok)
    summary = json.loads((bundle.folder / "summary.json").read_text())
    assert summary["events"] == bundle.size


def _entries(folder: Path) -> list[bytes]:
    return (folder / "entries.jsonl").read_bytes().splitlines()


def _write_entries(folder: Path, lines: list[bytes]) -> None:
    (folder / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def _first_of_type(lines: list[bytes], kind: str) -> int:
    return next(i for i, line in enumerate(lines) if f'"type":"{kind}"'.encode() in line)


def _position(line: bytes) -> int:
    return int(json.loads(line)["position"])


def t_amount_digit(folder: Path) -> str:
    lines = _entries(folder)
    k = _first_of_type(lines, "Donation.Received")
    lines[k] = change_amount_digit(lines[k].decode()).encode()
    _write_entries(folder, lines)
    return f"the root of the {len(lines)} entries differs from the signed checkpoint's"


def t_posting_digit(folder: Path) -> str:
    lines = _entries(folder)
    k = _first_of_type(lines, "Donation.Received")
    text = lines[k].decode()
    at = text.index('["Assets:Bank","') + len('["Assets:Bank","')
    lines[k] = (text[:at] + ("2" if text[at] == "1" else "1") + text[at + 1 :]).encode()
    _write_entries(folder, lines)
    return f"entry {k} posts unbalanced amounts"


def t_not_canonical(folder: Path) -> str:
    lines = _entries(folder)
    lines[40] = b"{ " + lines[40][1:]
    _write_entries(folder, lines)
    return "entry 40 is not in canonical form: its bytes were changed"


def t_line_deleted(folder: Path) -> str:
    lines = _entries(folder)
    del lines[100]
    _write_entries(folder, lines)
    return f"the log has {len(lines)} entries but the checkpoint signs {len(lines) + 1}"


def t_lines_swapped(folder: Path) -> str:
    lines = _entries(folder)
    lines[100], lines[101] = lines[101], lines[100]
    _write_entries(folder, lines)
    # Entry 100 (the old 101) still follows 99; entry 101 (the old 100) is the one out of order.
    return (
        f"entry 101 has position {_position(lines[101])} after {_position(lines[100])}: "
        "entries were removed, swapped or reordered"
    )


def t_truncated_mid_line(folder: Path) -> str:
    data = (folder / "entries.jsonl").read_bytes()
    kept = data[: len(data) // 2]
    (folder / "entries.jsonl").write_bytes(kept)
    complete = kept.count(b"\n")
    return f"entry {complete} is not JSON"


def t_truncated_at_a_line(folder: Path) -> str:
    lines = _entries(folder)
    _write_entries(folder, lines[:300])
    return f"the log has 300 entries but the checkpoint signs {len(lines)}: entries are missing"


def t_emptied(folder: Path) -> str:
    size = len(_entries(folder))
    (folder / "entries.jsonl").write_bytes(b"")
    return f"the log has 0 entries but the checkpoint signs {size}"


def t_summary_balance(folder: Path) -> str:
    summary = json.loads((folder / "summary.json").read_text())
    real = summary["balance"]
    summary["balance"] = ("2" if real[0] == "1" else "1") + real[1:]
    (folder / "summary.json").write_text(json.dumps(summary))
    return f"the published balance is {summary['balance']}, but the entries add up to {real}"


def t_summary_events(folder: Path) -> str:
    summary = json.loads((folder / "summary.json").read_text())
    summary["events"] -= 1
    (folder / "summary.json").write_text(json.dumps(summary))
    return f"the published events is {summary['events']}, but the entries add up to"


def _signature_line(note: str) -> tuple[str, str]:
    text, _, line = note.rstrip("\n").rpartition("\n")
    return text, line


def t_signature(folder: Path) -> str:
    note = (folder / "checkpoint").read_text()
    text, line = _signature_line(note)
    at = len(line) - 20
    flipped = line[:at] + ("A" if line[at] != "A" else "B") + line[at + 1 :]
    (folder / "checkpoint").write_text(f"{text}\n{flipped}\n")
    return f"checkpoint: the signature by {ORIGIN} does not verify: the note was changed"


def t_root(folder: Path) -> str:
    note = (folder / "checkpoint").read_text()
    origin, size, root, rest = note.split("\n", 3)
    other = base64.b64encode(hashlib.sha256(root.encode()).digest()).decode()
    (folder / "checkpoint").write_text("\n".join([origin, size, other, rest]))
    return f"checkpoint: the signature by {ORIGIN} does not verify"


def t_size(folder: Path) -> str:
    note = (folder / "checkpoint").read_text()
    origin, size, rest = note.split("\n", 2)
    (folder / "checkpoint").write_text("\n".join([origin, str(int(size) - 1), rest]))
    return f"checkpoint: the signature by {ORIGIN} does not verify"


def t_resigned_by_another_key(folder: Path) -> str:
    # Someone rewrites an entry and signs the result with a key of their own, under our name.
    impostor = Signer.generate(ORIGIN)
    lines = _entries(folder)
    k = _first_of_type(lines, "Donation.Received")
    lines[k] = change_amount_digit(lines[k].decode()).encode()
    _write_entries(folder, lines)
    root = root_hash([leaf_hash(line) for line in lines])
    (folder / "checkpoint").write_text(impostor.sign(Checkpoint(ORIGIN, len(lines), root).body()))
    (folder / "key.pub").write_text(impostor.verifier.encode() + "\n")
    return f"checkpoint: the note has no signature by {ORIGIN}"


BUNDLE_TAMPERING: list[Callable[[Path], str]] = [
    t_amount_digit,
    t_posting_digit,
    t_not_canonical,
    t_line_deleted,
    t_lines_swapped,
    t_truncated_mid_line,
    t_truncated_at_a_line,
    t_emptied,
    t_summary_balance,
    t_summary_events,
    t_signature,
    t_root,
    t_size,
    t_resigned_by_another_key,
]


@pytest.mark.parametrize(
    "tamper", BUNDLE_TAMPERING, ids=[t.__name__.removeprefix("t_") for t in BUNDLE_TAMPERING]
)
def test_a_tampered_bundle_fails_naming_the_problem(
    bundle: BundleFiles, tmp_path: Path, tamper: Callable[[Path], str]
) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(bundle.folder, folder)
    expected = tamper(folder)
    code, output = verify("--bundle", folder, "--key", bundle.key)
    assert code == 1, output
    assert output.startswith("FAILED: ")
    assert expected in output


def test_a_summary_missing_a_figure_fails(bundle: BundleFiles, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(bundle.folder, folder)
    summary = json.loads((folder / "summary.json").read_text())
    del summary["balance"]
    (folder / "summary.json").write_text(json.dumps(summary))
    code, output = verify("--bundle", folder, "--key", bundle.key)
    assert code == 1, output
    assert "balance" in output


@pytest.mark.parametrize("broken", ["summary.json", "checkpoint"])
def test_a_broken_bundle_file_fails_naming_it(
    bundle: BundleFiles, tmp_path: Path, broken: str
) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(bundle.folder, folder)
    if broken == "summary.json":
        (folder / broken).write_text('{"balance": "1954464.30",')
    else:
        (folder / broken).unlink()
    code, output = verify("--bundle", folder, "--key", bundle.key)
    assert code == 1, output
    assert broken in output


def test_a_forked_history_signed_with_the_same_key_is_refused(
    store: Store, bundle: BundleFiles, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A second store, signed with the fund's own key: a history the trusted one does not start."""
    trusted = tmp_path / "trusted"
    trusted.write_text(store.first_note)
    trusted_size = open_checkpoint(store.first_note, store.verifier).size
    code, output = verify("--bundle", bundle.folder, "--key", bundle.key, "--trusted", trusted)
    assert code == 0, output  # the honest bundle extends the trusted checkpoint

    ledger = FundLedger(request.getfixturevalue("sqlite_url" if store.sqlite else "postgres_url"))
    try:
        load_demo(ledger)
        views = Views(ledger)
        views.catch_up()
        log = Log(views.view("log"), origin=ORIGIN)
        same = export_audit_bundle(views, log, store.signer, tmp_path / "same-size")
        assert same.size == trusted_size
        record_gifts(ledger, views, 2)
        larger = export_audit_bundle(views, log, store.signer, tmp_path / "larger")
        assert larger.size == trusted_size + 2
    finally:
        ledger.close()
    for fork in (same, larger):
        code, output = verify("--bundle", fork.path, "--key", bundle.key)
        assert code == 0, output  # genuinely signed, and consistent in itself
        code, output = verify("--bundle", fork.path, "--key", bundle.key, "--trusted", trusted)
        assert code == 1, output
        assert (
            f"FAILED: the first {trusted_size} entries do not give the trusted checkpoint's root: "
            "a forked or rewritten history"
        ) == output
    # A checkpoint older than the one trusted: a log never shrinks.
    ahead = tmp_path / "ahead"
    ahead.write_text(store.signer.sign(Checkpoint(ORIGIN, bundle.size + 10, bytes(32)).body()))
    code, output = verify("--bundle", bundle.folder, "--key", bundle.key, "--trusted", ahead)
    assert code == 1
    assert f"is older than the trusted one ({bundle.size + 10})" in output
