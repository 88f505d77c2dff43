"""Leaf formats in one log: a store made before v2 keeps its signed entries, records the switch
at its next write, and shows no person's donor id from there on; everything verifies."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from ledger.app import FundLedger
from ledger.domain.records import LEAF_FORMAT_V1, LEAF_FORMAT_V2
from ledger.log.merkle import leaf_hash, root_hash
from ledger.log.notes import Checkpoint, Signer, open_checkpoint
from ledger.log.verify import VerificationFailed, verify_log
from projections.audit import check_store
from projections.log.queries import Log
from projections.reader import Reader
from projections.runner import Views

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-v1"
OLD_SIZE = 22


def old_store(folder: Path) -> str:
    """The store made by the code before v2 (tests/fixtures/store-v1), copied to ``folder``."""
    with (
        gzip.open(FIXTURE / "store.sqlite3.gz", "rb") as packed,
        (folder / "store.sqlite3").open("wb") as out,
    ):
        shutil.copyfileobj(packed, out)
    return f"sqlite:///{folder / 'store.sqlite3'}"


def test_an_old_store_keeps_its_root_and_takes_v2_from_its_next_write(tmp_path: Path) -> None:
    signer = Signer.decode((FIXTURE / "signing.key").read_text())
    old_note = (FIXTURE / "checkpoint").read_text()
    old = open_checkpoint(old_note, signer.verifier)
    app = FundLedger(old_store(tmp_path))
    views = Views(app)
    views.catch_up()
    log = Log(views.view("log"), signer.name)
    assert (old.size, log.root(old.size)) == (OLD_SIZE, old.root)
    assert check_store(app, log, signer.verifier) == OLD_SIZE

    [person] = views.view("registers").query(
        "SELECT donor_id FROM {t}fl_donors WHERE disclosure = 'masked'"
    )
    treasurer = app.actor_named("出纳")
    new_gifts = [
        app.record_donation(treasurer, person["donor_id"], 700, date(2026, 4, 1), "cash", f"N{n}")
        for n in range(2)
    ]
    views.catch_up()
    leaves = [json.loads(entry["data"]) for entry in log.entries(0, 100)]
    assert [leaf["format"] for leaf in leaves[:OLD_SIZE]] == [LEAF_FORMAT_V1] * OLD_SIZE
    assert leaves[OLD_SIZE]["type"] == "LeafFormat.Adopted"
    assert {leaf["format"] for leaf in leaves[OLD_SIZE:]} == {LEAF_FORMAT_V2}
    gifts = [leaf for leaf in leaves if leaf["type"] == "Donation.Received"]
    # The old entries still show the person's id (they are signed); the new ones do not.
    old_ids = [g["data"].get("donor_id") for g in gifts if g["format"] == LEAF_FORMAT_V1]
    assert old_ids.count(person["donor_id"]) == 2
    fresh = [g["data"] for g in gifts if g["format"] == LEAF_FORMAT_V2]
    assert len(fresh) == len(new_gifts) == 2
    assert all("donor_id" not in data for data in fresh)
    assert fresh[0]["donor_ref"] != fresh[1]["donor_ref"]

    signed = log.sign(signer)
    assert signed is not None
    entries = [entry["data"].encode() for entry in log.entries(0, signed.size)]
    verified = verify_log(
        entries,
        signed.note,
        signer.verifier,
        trusted_note=old_note,
        consistency_proof=log.consistency_proof(old.size, signed.size),
        published_summary=Reader(views).summary().as_json(),
    )
    assert verified.trusted_size == OLD_SIZE
    assert check_store(app, log, signer.verifier) == signed.size
    views.rebuild()
    assert log.root(signed.size) == signed.root
    views.close()
    app.close()


def test_a_log_that_goes_back_to_an_older_format_fails_to_verify(tmp_path: Path) -> None:
    signer = Signer.decode((FIXTURE / "signing.key").read_text())
    app = FundLedger(old_store(tmp_path))
    views = Views(app)
    # A view whose tables this code changed is made anew on opening: read it once caught up.
    views.catch_up()
    treasurer = app.actor_named("出纳")
    [person] = views.view("registers").query(
        "SELECT donor_id FROM {t}fl_donors WHERE disclosure = 'masked'"
    )
    app.record_donation(treasurer, person["donor_id"], 700, date(2026, 4, 1), "cash", "N1")
    views.catch_up()
    log = Log(views.view("log"), signer.name)
    entries = [entry["data"] for entry in log.entries(0, 100)]
    # An entry of v2 put back as v1 (and the tree re-signed by the fund's key): refused.
    entries[-1] = entries[-1].replace(LEAF_FORMAT_V2, LEAF_FORMAT_V1)
    data = [entry.encode() for entry in entries]
    root = root_hash([leaf_hash(d) for d in data])
    note = signer.sign(Checkpoint(signer.name, len(data), root).body())
    with pytest.raises(VerificationFailed, match="changes the format"):
        verify_log(data, note, signer.verifier)
    views.close()
    app.close()
