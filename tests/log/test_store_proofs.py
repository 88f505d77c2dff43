"""Proofs served from the store verify against the signed root, and so does a donor's receipt,
now and against a later checkpoint.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from logstore import ORIGIN, Row, Store, change_amount_digit, record_gifts

from api.app import create_app
from api.config import Settings
from fund_ledger import verifying
from ledger.app import FundLedger
from ledger.domain.yuan import format_yuan
from ledger.log.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.log.notes import Checkpoint, open_checkpoint
from ledger.log.verify import VerificationFailed
from projections.log.queries import Log
from projections.sqlview.base import SQLView
from projections.sqlview.writes import Cursor

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
