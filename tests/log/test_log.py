"""The verifiable books on both stores: private and reproducible leaves, proofs from the store,
a donor's receipt, the audit bundle and its tampering, the server's self-check, and signing that
refuses an altered log.

The demo year is loaded once per store; tests that tamper with it put every byte back and check
that the self-check passes again, so the tests stay independent of their order.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import opened
from typer.testing import CliRunner

from api.app import create_app
from api.config import Settings
from fund_ledger import cli, common, verifying
from ledger.app import FundLedger
from ledger.demo import TREASURER, DemoUsers, load_demo
from ledger.domain import today
from ledger.domain.sealing import is_sealed
from ledger.domain.yuan import format_yuan
from ledger.log.leaves import salted_hash
from ledger.log.merkle import (
    MerkleFrontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.log.notes import Checkpoint, Signer, Verifier, open_checkpoint
from ledger.log.verify import VerificationFailed, verify_log
from projections.audit import check_store, export_audit_bundle
from projections.log.queries import InconsistentLog, Log
from projections.runner import Views
from projections.sqlview.base import SQLView
from projections.sqlview.writes import Cursor

ORIGIN = "test.example/fund"
Row = dict[str, Any]


@dataclass
class Store:
    """One demo store with its views, its log and the key that signs it."""

    url: str
    ledger: FundLedger
    views: Views
    log: Log
    signer: Signer
    users: DemoUsers
    first_note: str  # the checkpoint signed right after the demo

    @property
    def verifier(self) -> Verifier:
        return self.signer.verifier

    @property
    def sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    # Raw access to the tables, as someone with the database password has it.
    @property
    def events_table(self) -> str:
        return "stored_events" if self.sqlite else "{t}fundledger_events"

    @property
    def position_column(self) -> str:
        return "rowid" if self.sqlite else "notification_id"

    def query(self, statement: str, params: tuple[Any, ...] = ()) -> list[Row]:
        return self.views.view("log").query(statement, params)

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        with self.views.view("log").cursor(commit=True) as c:
            c.execute(statement, params)

    def event_row(self, position: int) -> Row:
        [row] = self.query(
            f"SELECT {self.position_column} AS position, originator_id, originator_version,"
            f" topic, state FROM {self.events_table} WHERE {self.position_column} = %s",
            (position,),
        )
        row["state"] = bytes(row["state"])
        return row

    def set_event_state(self, position: int, state: bytes) -> None:
        self.execute(
            f"UPDATE {self.events_table} SET state = %s WHERE {self.position_column} = %s",
            (state, position),
        )

    def delete_event(self, position: int) -> Row:
        row = self.event_row(position)
        self.execute(
            f"DELETE FROM {self.events_table} WHERE {self.position_column} = %s", (position,)
        )
        return row

    def insert_event(self, row: Row) -> None:
        self.execute(
            f"INSERT INTO {self.events_table} ({self.position_column}, originator_id,"
            " originator_version, topic, state) VALUES (%s, %s, %s, %s, %s)",
            (
                row["position"],
                row["originator_id"],
                row["originator_version"],
                row["topic"],
                row["state"],
            ),
        )

    def leaves(self) -> list[Row]:
        return self.query(
            "SELECT leaf_index, position, leaf_hash, data FROM {t}fl_log_leaves ORDER BY leaf_index"
        )

    def leaf(self, index: int) -> Row:
        [row] = self.query(
            "SELECT leaf_index, position, leaf_hash, data FROM {t}fl_log_leaves"
            " WHERE leaf_index = %s",
            (index,),
        )
        return row

    def set_leaf_data(self, index: int, data: str) -> None:
        self.execute("UPDATE {t}fl_log_leaves SET data = %s WHERE leaf_index = %s", (data, index))

    def insert_leaf(self, row: Row) -> None:
        self.execute(
            "INSERT INTO {t}fl_log_leaves (leaf_index, position, leaf_hash, data)"
            " VALUES (%s, %s, %s, %s)",
            (row["leaf_index"], row["position"], row["leaf_hash"], row["data"]),
        )

    def salt(self, subject: str) -> bytes:
        [row] = self.query("SELECT salt FROM {t}fl_log_salts WHERE subject = %s", (subject,))
        return bytes.fromhex(row["salt"])

    def first_donation(self) -> Row:
        """The first gift of the demo (the 街道办事处's ¥1,200,000.00), with its leaf index."""
        [row] = self.views.view("registers").query(
            "SELECT donation_id, position, amount_fen FROM {t}fl_donations"
            " ORDER BY position LIMIT 1"
        )
        [leaf] = self.query(
            "SELECT leaf_index FROM {t}fl_log_leaves WHERE position = %s", (row["position"],)
        )
        return {**row, "leaf_index": int(leaf["leaf_index"])}

    def self_check(self) -> int:
        return check_store(self.ledger, self.log, self.verifier)

    def signed(self) -> Checkpoint:
        """A checkpoint of the whole log as it stands, signed now if the log grew."""
        self.views.catch_up()
        self.log.sign(self.signer)
        stored = self.log.checkpoint()
        assert stored is not None
        checkpoint = open_checkpoint(stored.note, self.verifier)
        assert checkpoint.size == self.log.size()
        return checkpoint


def record_gifts(ledger: FundLedger, views: Views, count: int, **extra: Any) -> list[str]:
    """Some new gifts by a resident, applied to the views; their donation ids."""
    treasurer = ledger.actor_named(TREASURER)
    [donor] = views.view("registers").query(
        "SELECT donor_id FROM {t}fl_donors WHERE kind = 'individual' ORDER BY position LIMIT 1"
    )
    ids = [
        ledger.record_donation(
            treasurer, donor["donor_id"], 52000 + i, today(), "wechat_pay", **extra
        ).id
        for i in range(count)
    ]
    views.catch_up()
    return ids


def change_amount_digit(text: str, field: str = "amount") -> str:
    """The text with the first digit of the first ``"field":"..."`` value changed."""
    match = re.search(rf'"{field}":"?(\d)', text)
    assert match is not None, f"no {field} in {text[:200]}"
    digit = "2" if match[1] == "1" else "1"
    return text[: match.start(1)] + digit + text[match.end(1) :]


def change_last_digit(state: bytes, field: bytes = b'"amount_fen":') -> bytes:
    """One byte of a stored event changed: the last digit of its amount."""
    start = state.index(field) + len(field)
    end = start
    while state[end : end + 1].isdigit():
        end += 1
    digit = b"1" if state[end - 1 : end] != b"1" else b"2"
    return state[: end - 1] + digit + state[end:]


@pytest.fixture(scope="module")
def store(module_store_url: str) -> Iterator[Store]:
    ledger = FundLedger(module_store_url)
    try:
        users = load_demo(ledger)
        views = Views(ledger)
        views.catch_up()
        signer = Signer.generate(ORIGIN)
        log = Log(views.view("log"), origin=signer.name)
        first = log.sign(signer)
        assert first is not None
        assert first.size == len(list(ledger.iter_events()))
        yield Store(module_store_url, ledger, views, log, signer, users, first.note)
    finally:
        ledger.close()


# -- 1. leaves: no personal data, only salted hashes of it ----------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_no_personal_data_in_any_leaf_only_salted_hashes(store: Store) -> None:
    # A gift with a personal note and an idempotency key naming the giver, beside the demo's.
    note = "顾阿姨托女儿转交，电话13905730001"
    idempotency_key = "顾阿姨-2026-gift"
    [gift] = record_gifts(store.ledger, store.views, 1, note=note, idempotency_key=idempotency_key)
    registers = store.views.view("registers")
    donors = opened(
        store.ledger, registers.query("SELECT donor_id, name, kind, disclosure FROM {t}fl_donors")
    )
    individuals = [d for d in donors if d["kind"] == "individual"]
    assert {d["disclosure"] for d in individuals} == {"named", "masked", "anonymous"}
    contacts = {
        r["donor_id"]: json.loads(r["contact_json"])
        for r in opened(
            store.ledger, registers.query("SELECT donor_id, contact_json FROM {t}fl_donor_contacts")
        )
    }
    contact_values = [v for contact in contacts.values() for v in contact.values()]
    payees = opened(
        store.ledger,
        registers.query(
            "SELECT expense_id, payee FROM {t}fl_expenses WHERE payee_kind = 'individual'"
        ),
    )
    people = registers.query("SELECT user_id, name FROM {t}fl_people")
    assert individuals
    assert contact_values
    assert payees
    assert people
    tokens = [token for _, token in store.users.tokens.values()]
    private = {
        *(d["name"] for d in individuals),
        *contact_values,
        *(p["payee"] for p in payees),
        *(p["name"] for p in people),
        note,
        idempotency_key,
        *tokens,
        *(hashlib.sha256(t.encode()).hexdigest() for t in tokens),
    }

    leaves = store.leaves()
    assert [int(leaf["position"]) for leaf in leaves] == [p for p, _ in store.ledger.iter_events()]
    leaks: list[tuple[int, str]] = []
    records = {}
    for leaf in leaves:
        record = json.loads(leaf["data"])
        records[int(leaf["leaf_index"])] = record
        texts = [leaf["data"], *_strings(record)]
        leaks.extend(
            (int(leaf["leaf_index"]), secret)
            for secret in private
            if any(secret in text for text in texts)
        )
        assert not {"token_sha256", "fingerprint", "meta"} & set(record["data"])
    assert leaks == []

    # What is there instead: salted hashes that the stored salt reproduces, and only it, of
    # what the events store: personal data sealed under the person's key (ledger.domain.sealing).
    stored = {
        r["donor_id"]: r
        for r in registers.query(
            "SELECT donor_id, name, contact_json FROM {t}fl_donors"
            " JOIN {t}fl_donor_contacts USING (donor_id)"
        )
    }
    by_type: dict[str, list[dict[str, Any]]] = {}
    for record in records.values():
        by_type.setdefault(record["type"], []).append(record)
    registered = {r["event"].split("/")[0]: r["data"] for r in by_type["Donor.Registered"]}
    assert len(registered) == len(donors)
    for donor in donors:
        data = registered[donor["donor_id"]]
        salt = store.salt(donor["donor_id"])
        sealed = stored[donor["donor_id"]]
        assert is_sealed(sealed["name"]) == (donor["kind"] == "individual")
        assert data["name"].startswith("sha256:")
        assert data["name"] == salted_hash(salt, sealed["name"])
        assert data["name"] != salted_hash(b"", sealed["name"])
        if contacts[donor["donor_id"]]:
            sealed_contact = json.loads(sealed["contact_json"])
            assert is_sealed(sealed_contact)
            assert data["contact"] == salted_hash(salt, sealed_contact)
        else:
            assert data["contact"] is None
    added = {r["data"]["user_id"]: r["data"] for r in by_type["Directory.UserAdded"]}
    for person in people:
        assert added[person["user_id"]]["name"] == salted_hash(
            store.salt(person["user_id"]), person["name"]
        )
    paid = {r["event"].split("/")[0]: r["data"] for r in by_type["Expense.Paid"]}
    sealed_payees = {
        r["expense_id"]: r["payee"]
        for r in registers.query("SELECT expense_id, payee FROM {t}fl_expenses")
    }
    for payee in payees:
        assert is_sealed(sealed_payees[payee["expense_id"]])
        assert paid[payee["expense_id"]]["payee"] == salted_hash(
            store.salt(payee["expense_id"]), sealed_payees[payee["expense_id"]]
        )
    organisation = next(d for d in paid.values() if d["payee_kind"] == "organisation")
    assert not organisation["payee"].startswith("sha256:")  # an organisation is public
    [received] = [r for r in by_type["Donation.Received"] if r["event"].startswith(gift)]
    [sealed_note] = registers.query(
        "SELECT note FROM {t}fl_donations WHERE donation_id = %s", [gift]
    )
    assert is_sealed(sealed_note["note"])
    assert received["data"]["note"] == salted_hash(store.salt(gift), sealed_note["note"])
    assert received["idempotency_key"] == salted_hash(store.salt(gift), idempotency_key)
    assert received["data"]["amount"] == format_yuan(52000)


# -- 2. leaves are reproducible ------------------------------------------------------------------


def test_a_rebuild_gives_byte_identical_leaves_and_the_same_root(store: Store) -> None:
    checkpoint = store.signed()
    leaves = store.leaves()
    nodes = store.query("SELECT level, idx, hash FROM {t}fl_log_nodes ORDER BY level, idx")
    salts = store.query("SELECT subject, salt FROM {t}fl_log_salts ORDER BY subject")
    assert len(nodes) == checkpoint.size - checkpoint.size.bit_count()  # every complete subtree

    store.views.rebuild()

    assert store.leaves() == leaves
    assert store.query("SELECT level, idx, hash FROM {t}fl_log_nodes ORDER BY level, idx") == nodes
    assert store.query("SELECT subject, salt FROM {t}fl_log_salts ORDER BY subject") == salts
    assert store.log.root(checkpoint.size) == checkpoint.root
    assert root_hash([leaf_hash(row["data"].encode()) for row in leaves]) == checkpoint.root
    assert store.log.sign(store.signer) is None  # nothing grew: nothing new to sign
    assert store.self_check() == checkpoint.size


# -- 3. proofs from the store --------------------------------------------------------------------


class CountingView:
    """A view whose cursors count the statements they run."""

    def __init__(self, view: SQLView) -> None:
        self.view = view
        self.statements = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.view, name)

    @contextmanager
    def cursor(self, *, commit: bool) -> Iterator[Cursor]:
        outer = self

        class Counting:
            def __init__(self, inner: Cursor) -> None:
                self.inner = inner

            def execute(self, sql: str, params: Any = ()) -> None:
                outer.statements += 1
                self.inner.execute(sql, params)

            def fetchone(self) -> Row | None:
                return self.inner.fetchone()

            def fetchall(self) -> list[Row]:
                return self.inner.fetchall()

        with self.view.cursor(commit=commit) as inner:
            yield Counting(inner)  # type: ignore[misc]


def test_inclusion_proofs_from_the_store_verify_against_the_signed_root(store: Store) -> None:
    checkpoint = store.signed()
    size = checkpoint.size
    hashes = [leaf_hash(row["data"].encode()) for row in store.leaves()]
    assert [bytes.fromhex(row["leaf_hash"]) for row in store.leaves()] == hashes
    assert root_hash(hashes) == checkpoint.root
    rng = random.Random(6)
    sample = sorted(
        {0, 1, 2, 7, 8, 255, 256, size // 2, size - 2, size - 1, *rng.sample(range(size), 20)}
    )
    for index in sample:
        proof = store.log.inclusion_proof(index, size)
        assert verify_inclusion(hashes[index], index, size, proof, checkpoint.root), index
        assert proof == inclusion_proof(hashes, index, size)
        other = hashes[index - 1] if index else hashes[1]
        assert not verify_inclusion(other, index, size, proof, checkpoint.root)
        assert not verify_inclusion(hashes[index], index, size, proof, bytes(32))
    # An older checkpoint keeps verifying: proofs for the tree of its size.
    first = open_checkpoint(store.first_note, store.verifier)
    for index in (0, first.size // 3, first.size - 1):
        proof = store.log.inclusion_proof(index, first.size)
        assert verify_inclusion(hashes[index], index, first.size, proof, first.root)

    # O(log n) reads per proof, not a pass over the log.
    counting = CountingView(store.views.view("log"))
    log = Log(counting, origin=ORIGIN)  # type: ignore[arg-type]
    for index in (0, size // 2, size - 1):
        counting.statements = 0
        assert log.inclusion_proof(index, size) == inclusion_proof(hashes, index, size)
        assert counting.statements <= 2 * size.bit_length() + 2
    counting.statements = 0
    assert log.consistency_proof(size // 3, size) == consistency_proof(hashes, size // 3, size)
    assert counting.statements <= 2 * size.bit_length() + 2


def test_consistency_proofs_between_checkpoints_verify(store: Store) -> None:
    before = store.signed()
    record_gifts(store.ledger, store.views, 3)
    signed = store.log.sign(store.signer)
    assert signed is not None
    after = open_checkpoint(signed.note, store.verifier)
    assert after.size == before.size + 3
    assert store.log.checkpoint(before.size) is not None  # every checkpoint is kept

    proof = store.log.consistency_proof(before.size, after.size)
    assert verify_consistency(before.size, after.size, proof, before.root, after.root)
    assert not verify_consistency(before.size, after.size, proof, bytes(32), after.root)
    assert not verify_consistency(before.size, after.size, proof[:-1], before.root, after.root)
    hashes = [leaf_hash(row["data"].encode()) for row in store.leaves()]
    assert proof == consistency_proof(hashes, before.size, after.size)
    for first, second in [(1, after.size), (before.size - 1, after.size - 1), (100, 512)]:
        assert verify_consistency(
            first,
            second,
            store.log.consistency_proof(first, second),
            root_hash(hashes[:first]),
            root_hash(hashes[:second]),
        )
    # Every checkpoint ever signed extends the one before it.
    stored = store.log.checkpoints()
    opened = [open_checkpoint(c.note, store.verifier) for c in stored]
    assert [c.size for c in opened] == sorted({c.size for c in opened})
    for old, new in itertools.pairwise(opened):
        assert verify_consistency(
            old.size, new.size, store.log.consistency_proof(old.size, new.size), old.root, new.root
        )


# -- 4. a donor's receipt ------------------------------------------------------------------------


BASE = "http://testserver"


def _wait_for_checkpoint(client: TestClient, bigger_than: int) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        response = client.get("/v1/log/checkpoint")
        if response.status_code == 200:
            size = int(response.text.split("\n")[1])
            if size > bigger_than:
                return str(response.text)
        time.sleep(0.1)
    pytest.fail(f"no checkpoint larger than {bigger_than} was signed")


def test_a_receipt_verifies_now_and_against_a_later_checkpoint(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "signing.key"
    key_file.write_text(store.signer.encode())
    settings = Settings(
        database_url=store.url, signing_key_file=str(key_file), checkpoint_interval_s=0.2
    )
    gift = store.first_donation()
    donation_id = gift["donation_id"]
    signed = store.signed()  # all signed: the service has nothing to sign until the next gift
    with TestClient(create_app(settings, FundLedger(store.url))) as client:
        served = _wait_for_checkpoint(client, signed.size - 1)
        answer = client.get(f"/v1/donations/{donation_id}/receipt")
        assert answer.status_code == 200, answer.text
        receipt = answer.json()
        assert receipt["checkpoint"] == served
        assert receipt["key"] == store.verifier.encode()
        # The donor checks it with the fund's key, obtained from the fund, not from the receipt.
        then = open_checkpoint(receipt["checkpoint"], store.verifier)
        assert receipt["tree_size"] == then.size
        entry = json.loads(receipt["entry"])
        assert entry["type"] == "Donation.Received"
        assert entry["event"] == f"{donation_id}/1"
        assert entry["data"]["amount"] == format_yuan(int(gift["amount_fen"]))
        proof = [base64.b64decode(h) for h in receipt["proof"]]
        leaf = leaf_hash(receipt["entry"].encode())
        assert verify_inclusion(leaf, receipt["index"], then.size, proof, then.root)
        forged = leaf_hash(change_amount_digit(receipt["entry"]).encode())
        assert not verify_inclusion(forged, receipt["index"], then.size, proof, then.root)
        assert client.get("/v1/donations/no-such-gift/receipt").status_code == 404

        # More books, a later checkpoint: the receipt still holds, through a consistency proof.
        [new_gift] = record_gifts(store.ledger, store.views, 1)
        later_note = _wait_for_checkpoint(client, store.log.size() - 1)
        later = open_checkpoint(later_note, store.verifier)
        answer = client.get(f"/v1/log/proof/consistency?first={then.size}&second={later.size}")
        assert answer.status_code == 200, answer.text
        consistency = [base64.b64decode(h) for h in answer.json()["proof"]]
        assert verify_consistency(then.size, later.size, consistency, then.root, later.root)
        assert not verify_consistency(then.size, later.size, consistency, bytes(32), later.root)
        answer = client.get(
            f"/v1/log/proof/inclusion?index={receipt['index']}&tree_size={later.size}"
        )
        assert answer.status_code == 200, answer.text
        in_later = [base64.b64decode(h) for h in answer.json()["proof"]]
        assert verify_inclusion(leaf, receipt["index"], later.size, in_later, later.root)
        assert client.get(f"/v1/log/checkpoints/{then.size}").text == receipt["checkpoint"]
        answer = client.get(f"/v1/donations/{new_gift}/receipt")
        assert answer.status_code == 200, answer.text
        assert answer.json()["entry"] in {
            e["data"] for e in store.log.entries(then.size, later.size)
        }

        # The whole live log, checked as an outsider would, through the same HTTP answers.
        def get(url: str) -> bytes:
            response = client.get(url.removeprefix(BASE))
            assert response.status_code == 200, response.text
            return bytes(response.content)

        monkeypatch.setattr(verifying, "_get", get)
        result = verifying.verify_url(BASE, store.verifier, receipt["checkpoint"])
        assert result.entries >= later.size
        assert result.trusted_size == then.size
        assert result.summary_checked
        # A trusted checkpoint of another history (same key, same size, another root).
        fork = store.signer.sign(Checkpoint(ORIGIN, then.size, bytes(32)).body())
        with pytest.raises(VerificationFailed, match="forked history"):
            verifying.verify_url(BASE, store.verifier, fork)
    assert store.self_check() == store.log.size()


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


def verify(*args: str | Path) -> tuple[int, str]:
    """`fund-ledger verify ...`: its exit code and its output, with the line wrapping undone."""
    result = CliRunner().invoke(cli.app, ["verify", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


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
    lines[18] = change_amount_digit(lines[18].decode()).encode()
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


# -- 6. the server's self-check ------------------------------------------------------------------


def s_event_byte(store: Store) -> tuple[str, Callable[[], None]]:
    position = int(store.first_donation()["position"])
    state = store.event_row(position)["state"]
    store.set_event_state(position, change_last_digit(state))
    entry = store.first_donation()["leaf_index"]
    return (
        f"the event at position {position} does not match entry {entry}: "
        "the stored event or its entry was changed",
        lambda: store.set_event_state(position, state),
    )


def s_event_unreadable(store: Store) -> tuple[str, Callable[[], None]]:
    gift = store.first_donation()
    state = store.event_row(int(gift["position"]))["state"]
    store.set_event_state(int(gift["position"]), state[:-1])
    return (
        "cannot be read",  # which event is not said: a whole page of events fails to map
        lambda: store.set_event_state(int(gift["position"]), state),
    )


def s_leaf_data(store: Store) -> tuple[str, Callable[[], None]]:
    gift = store.first_donation()
    index = gift["leaf_index"]
    data = store.leaf(index)["data"]
    store.set_leaf_data(index, change_amount_digit(data))
    return (
        f"the event at position {gift['position']} does not match entry {index}",
        lambda: store.set_leaf_data(index, data),
    )


def s_leaf_deleted(store: Store) -> tuple[str, Callable[[], None]]:
    row = store.leaf(100)
    store.execute("DELETE FROM {t}fl_log_leaves WHERE leaf_index = %s", (100,))
    return ("entry 100 is missing: the next stored entry is 101", lambda: store.insert_leaf(row))


def s_leaves_swapped(store: Store) -> tuple[str, Callable[[], None]]:
    first, second = store.leaf(100), store.leaf(101)
    store.set_leaf_data(100, second["data"])
    store.set_leaf_data(101, first["data"])

    def restore() -> None:
        store.set_leaf_data(100, first["data"])
        store.set_leaf_data(101, second["data"])

    return f"the event at position {first['position']} does not match entry 100", restore


def s_event_deleted(store: Store) -> tuple[str, Callable[[], None]]:
    entry = store.leaf(200)
    row = store.delete_event(int(entry["position"]))
    return (
        f"entry 200 is for position {entry['position']} but the next event is at "
        f"{store.leaf(201)['position']}: events were deleted or reordered",
        lambda: store.insert_event(row),
    )


def s_log_truncated(store: Store) -> tuple[str, Callable[[], None]]:
    last = store.ledger.position()
    row = store.delete_event(last)
    return (
        f"entry {store.log.size() - 1} has no event: the event log was truncated",
        lambda: store.insert_event(row),
    )


def s_checkpoint_note(store: Store) -> tuple[str, Callable[[], None]]:
    stored = store.log.checkpoint()
    assert stored is not None
    origin, size, _root, rest = stored.note.split("\n", 3)
    other = base64.b64encode(bytes(32)).decode()
    store.execute(
        "UPDATE {t}fl_log_checkpoints SET note = %s WHERE tree_size = %s",
        ("\n".join([origin, size, other, rest]), stored.size),
    )
    return (
        f"the stored checkpoint of {stored.size}: the signature by {ORIGIN} does not verify",
        lambda: store.execute(
            "UPDATE {t}fl_log_checkpoints SET note = %s WHERE tree_size = %s",
            (stored.note, stored.size),
        ),
    )


STORE_TAMPERING: list[Callable[[Store], tuple[str, Callable[[], None]]]] = [
    s_event_byte,
    s_event_unreadable,
    s_leaf_data,
    s_leaf_deleted,
    s_leaves_swapped,
    s_event_deleted,
    s_log_truncated,
    s_checkpoint_note,
]


@contextmanager
def tampered(
    store: Store, tamper: Callable[[Store], tuple[str, Callable[[], None]]]
) -> Iterator[str]:
    """The store with one tampering applied, put back afterwards and checked to be whole again."""
    size = store.signed().size
    assert store.self_check() == size
    expected, restore = tamper(store)
    try:
        yield expected
    finally:
        restore()
    assert store.self_check() == size


@pytest.mark.parametrize(
    "tamper", STORE_TAMPERING, ids=[t.__name__.removeprefix("s_") for t in STORE_TAMPERING]
)
def test_the_self_check_names_each_tampering(
    store: Store, tamper: Callable[[Store], tuple[str, Callable[[], None]]]
) -> None:
    with tampered(store, tamper) as expected, pytest.raises(VerificationFailed) as failure:
        store.self_check()
    assert expected in str(failure.value)


def test_verify_store_on_the_command_line(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "signing.key"
    key_file.write_text(store.signer.encode())
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", store.url)
    monkeypatch.setenv("FUND_LEDGER_SIGNING_KEY_FILE", str(key_file))
    monkeypatch.setattr(common, "open_ledger", lambda: store.ledger)
    size = store.signed().size
    assert verify("--store") == (
        0,
        f"ok: the store's {size} events match their log entries and checkpoints",
    )
    with tampered(store, s_event_byte) as expected:
        code, output = verify("--store", "--key", store.verifier.encode())
    assert code == 1
    assert output == f"FAILED: {expected}"
    other = Signer.generate(ORIGIN).verifier.encode()
    code, output = verify("--store", "--key", other)
    assert code == 1
    assert f"the stored checkpoint of {store.log.checkpoints()[0].size}: " in output
    assert f"no signature by {ORIGIN}" in output


def s_leaf_hash(store: Store) -> tuple[str, Callable[[], None]]:
    row = store.leaf(9)
    store.execute(
        "UPDATE {t}fl_log_leaves SET leaf_hash = %s WHERE leaf_index = 9", (bytes(32).hex(),)
    )
    return "entry 9", lambda: store.execute(
        "UPDATE {t}fl_log_leaves SET leaf_hash = %s WHERE leaf_index = 9", (row["leaf_hash"],)
    )


def s_subtree_hash(store: Store) -> tuple[str, Callable[[], None]]:
    [row] = store.query("SELECT hash FROM {t}fl_log_nodes WHERE level = 3 AND idx = 0")
    store.execute(
        "UPDATE {t}fl_log_nodes SET hash = %s WHERE level = 3 AND idx = 0", (bytes(32).hex(),)
    )
    return "subtree", lambda: store.execute(
        "UPDATE {t}fl_log_nodes SET hash = %s WHERE level = 3 AND idx = 0", (row["hash"],)
    )


@pytest.mark.parametrize("tamper", [s_leaf_hash, s_subtree_hash], ids=["leaf_hash", "subtree"])
def test_a_changed_stored_hash_breaks_the_proofs_served(
    store: Store, tamper: Callable[[Store], tuple[str, Callable[[], None]]]
) -> None:
    """Why the self-check must look at the stored hashes: every proof is served from them."""
    checkpoint = store.signed()
    data = store.leaf(8)["data"].encode()
    proof = store.log.inclusion_proof(8, checkpoint.size)
    assert verify_inclusion(leaf_hash(data), 8, checkpoint.size, proof, checkpoint.root)
    with tampered(store, tamper):
        proof = store.log.inclusion_proof(8, checkpoint.size)
        assert not verify_inclusion(leaf_hash(data), 8, checkpoint.size, proof, checkpoint.root)


@pytest.mark.parametrize("tamper", [s_leaf_hash, s_subtree_hash], ids=["leaf_hash", "subtree"])
def test_the_self_check_finds_a_changed_stored_hash(
    store: Store, tamper: Callable[[Store], tuple[str, Callable[[], None]]]
) -> None:
    with tampered(store, tamper) as expected, pytest.raises(VerificationFailed) as failure:
        store.self_check()
    assert expected in str(failure.value)


def test_the_self_check_finds_an_event_deleted_with_its_unsigned_leaf(store: Store) -> None:
    store.signed()
    record_gifts(store.ledger, store.views, 3)
    size = store.log.size()
    entry = store.leaf(size - 2)
    event = store.delete_event(int(entry["position"]))
    store.execute("DELETE FROM {t}fl_log_leaves WHERE leaf_index = %s", (size - 2,))
    try:
        assert store.log.size() == size  # the tree still counts the deleted leaf
        assert len(store.log.entries(0, size)) == size - 1
        with pytest.raises(VerificationFailed, match=f"entry {size - 2}"):
            store.self_check()
    finally:
        store.insert_event(event)
        store.insert_leaf(entry)
    assert store.self_check() == size


# -- 7. signing refuses an altered log -----------------------------------------------------------


def _rewrite_tree(store: Store) -> None:
    """Recompute every stored hash from the leaves' data, as a careful tamperer would."""
    frontier = MerkleFrontier()
    nodes: list[tuple[int, int, str]] = []
    with store.views.view("log").cursor(commit=True) as c:
        for row in store.leaves():
            hashed = leaf_hash(row["data"].encode())
            c.execute(
                "UPDATE {t}fl_log_leaves SET leaf_hash = %s WHERE leaf_index = %s",
                (hashed.hex(), row["leaf_index"]),
            )
            nodes.extend((level, index, h.hex()) for level, index, h in frontier.append(hashed))
        c.execute("DELETE FROM {t}fl_log_nodes")
        c.executemany("INSERT INTO {t}fl_log_nodes (level, idx, hash) VALUES (%s, %s, %s)", nodes)


def a_leaf_rewritten(store: Store) -> Callable[[], None]:
    index = store.first_donation()["leaf_index"]
    store.set_leaf_data(index, change_amount_digit(store.leaf(index)["data"]))
    _rewrite_tree(store)

    def restore() -> None:
        store.views.rebuild()  # the leaves and hashes again from the untouched events

    return restore


def a_event_changed_and_views_rebuilt(store: Store) -> Callable[[], None]:
    position = int(store.first_donation()["position"])
    state = store.event_row(position)["state"]
    store.set_event_state(position, change_last_digit(state))
    store.views.rebuild()

    def restore() -> None:
        store.set_event_state(position, state)
        store.views.rebuild()

    return restore


@pytest.mark.parametrize(
    "alter", [a_leaf_rewritten, a_event_changed_and_views_rebuilt], ids=["leaf", "event"]
)
def test_signing_refuses_a_log_that_no_longer_extends_its_checkpoint(
    store: Store, alter: Callable[[Store], Callable[[], None]]
) -> None:
    before = store.signed()
    checkpoints = store.log.checkpoints()
    restore = alter(store)
    try:
        record_gifts(store.ledger, store.views, 2)
        assert store.log.size() == before.size + 2
        with pytest.raises(
            InconsistentLog, match=f"does not extend the checkpoint of {before.size}"
        ):
            store.log.sign(store.signer)
        assert store.log.checkpoints() == checkpoints  # nothing was signed
        with pytest.raises(VerificationFailed):
            store.self_check()
    finally:
        restore()
    signed = store.log.sign(store.signer)
    assert signed is not None
    assert signed.size == before.size + 2
    assert store.self_check() == signed.size


def test_signing_never_covers_a_changed_leaf(store: Store) -> None:
    """Only a leaf's data changed (its stored hash kept): whatever sign does, it signs no root
    over the changed bytes, and the self-check names the entry."""
    before = store.signed()
    honest = [row["data"].encode() for row in store.leaves()]
    index = store.first_donation()["leaf_index"]
    store.set_leaf_data(index, change_amount_digit(honest[index].decode()))
    try:
        record_gifts(store.ledger, store.views, 1)
        honest.append(store.leaf(before.size)["data"].encode())
        try:
            signed = store.log.sign(store.signer)
        except InconsistentLog:
            signed = None
        if signed is not None:
            assert signed.root == root_hash([leaf_hash(d) for d in honest])
            served = [row["data"].encode() for row in store.leaves()]
            with pytest.raises(VerificationFailed, match="differs from the signed checkpoint"):
                verify_log(served, signed.note, store.verifier)
        with pytest.raises(VerificationFailed, match=f"does not match entry {index}"):
            store.self_check()
    finally:
        store.set_leaf_data(index, honest[index].decode())
    assert store.self_check() == store.signed().size
