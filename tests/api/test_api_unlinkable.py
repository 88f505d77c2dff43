"""The public log links no two gifts of a masked or anonymous person; the donor can still find
and prove every gift of theirs, and the totals still verify from the leaves.

Every public leaf and every receipt of the demo is fetched without a token. A value that shows
on two gifts of one such person and on no gift of anyone else would tie their gifts together:
there must be none. Amounts and dates are the gift's public facts by design, and a receipt's
inclusion proof and checkpoint are the tree's shape: they are set aside.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_calls import demo_tokens
from fastapi.testclient import TestClient
from test_api_privacy import wait_for_checkpoint
from typer.testing import CliRunner

from api.app import create_app
from api.config import Settings
from fund_ledger.cli import app as cli
from ledger.app import FundLedger
from ledger.demo import load_demo
from ledger.domain.gift_refs import gift_reference
from ledger.log.donors import donation_id_of, gifts_of, proves_gift
from ledger.log.notes import Signer, Verifier
from ledger.log.verify import verify_log
from projections.reader import Reader

# Per-gift facts, public by design, and the Merkle tree's shape, shared by neighbours.
SET_ASIDE = {
    "amount",
    "effective_on",
    "recorded_at",
    "position",
    "index",
    "tree_size",
    "proof",
    "checkpoint",
    "key",
    "postings",
}


class Served:
    def __init__(self, client: TestClient, tokens: dict[str, str], reader: Reader) -> None:
        self.client = client
        self.tokens = tokens
        self.reader = reader

    def get(self, path: str, who: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        response = self.client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        return response.json()


@pytest.fixture(scope="module")
def served(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    ledger = FundLedger(module_store_url)
    tokens = demo_tokens(load_demo(ledger))
    key_file = Path(tmp_path_factory.mktemp("keys")) / "signing.key"
    key_file.write_text(Signer.generate("fund-ledger.test/unlinkable").encode())
    settings = Settings(
        database_url=module_store_url, signing_key_file=str(key_file), checkpoint_interval_s=0.1
    )
    with TestClient(create_app(settings, ledger), raise_server_exceptions=False) as client:
        wait_for_checkpoint(client)
        yield Served(client, tokens, client.app.state.services.reader)  # type: ignore[attr-defined]


def _values(value: Any, key: str = "") -> Iterator[str]:
    """Every value of a JSON document as text, but for the fields set aside."""
    if key in SET_ASIDE:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _values(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _values(v, key)
    elif isinstance(value, str) and value.startswith("{"):
        yield from _values(json.loads(value), key)  # a leaf inside a receipt
    else:
        yield f"{key}={value}"


def _entries(served: Served) -> list[str]:
    entries: list[str] = []
    while True:
        page = served.get(f"/v1/log/entries?start={len(entries)}")
        entries += [entry["data"] for entry in page["entries"]]
        if len(entries) >= page["size"] or not page["entries"]:
            return entries


def _people_with_gifts(served: Served) -> dict[str, list[str]]:
    """Masked or anonymous individuals with two gifts or more: donor id -> donation ids."""
    rows = served.reader.registers_view.query(
        "SELECT d.donation_id, d.donor_id FROM {t}fl_donations d JOIN {t}fl_donors p"
        " ON p.donor_id = d.donor_id WHERE p.kind = 'individual' AND p.disclosure <> 'named'"
    )
    gifts: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        gifts[row["donor_id"]].append(row["donation_id"])
    return {donor: ids for donor, ids in gifts.items() if len(ids) >= 2}


def test_no_public_leaf_or_receipt_links_two_gifts_of_a_masked_or_anonymous_person(
    served: Served,
) -> None:
    entries = _entries(served)
    leaves = {}
    for entry in entries:
        record = json.loads(entry)
        if record["type"] == "Donation.Received":
            leaves[donation_id_of(record)] = record
    values: dict[str, set[str]] = {}
    for donation_id, leaf in leaves.items():
        receipt = served.get(f"/v1/donations/{donation_id}/receipt")
        assert "gift_opening" not in receipt  # the public gets no opening
        values[donation_id] = set(_values(leaf)) | set(_values(receipt))
    people = _people_with_gifts(served)
    assert len(people) >= 5, people  # the demo has such people, so the check below bites
    donor_of = {gift: donor for donor, gifts in people.items() for gift in gifts}
    linking = {}
    for donor, gifts in people.items():
        counts: dict[str, int] = defaultdict(int)
        for gift in gifts:
            for value in values[gift]:
                counts[value] += 1
        for value, count in counts.items():
            others = [g for g, vs in values.items() if value in vs and donor_of.get(g) != donor]
            if count >= 2 and not others:
                linking[value] = donor
    assert linking == {}


def test_the_donor_finds_and_proves_every_gift_and_nobody_else_gets_the_means(
    served: Served,
) -> None:
    entries = _entries(served)
    people = _people_with_gifts(served)
    for donor, gifts in people.items():
        statement = served.get(f"/v1/donors/{donor}/statement", "treasurer")
        secret = bytes.fromhex(statement["donor_secret"])
        found = gifts_of(secret, entries)
        assert sorted(donation_id_of(r) for r in found) == sorted(gifts)
        for gift in gifts:
            receipt = served.get(f"/v1/donations/{gift}/receipt", "treasurer")
            opening = bytes.fromhex(receipt["gift_opening"])
            assert proves_gift(opening, receipt["entry"])
            # The opening of one gift proves that gift only.
            assert [g for g in gifts if proves_gift(opening, _leaf_of(entries, g))] == [gift]
            assert gift_reference(opening).startswith("ref:")
    # Only the treasurer, who hands them to the donor, gets the secret and the openings.
    donor, gifts = next(iter(people.items()))
    for who in ("auditor", "adviser", "committee0"):
        assert "donor_secret" not in served.get(f"/v1/donors/{donor}/statement", who)
        assert "gift_opening" not in served.get(f"/v1/donations/{gifts[0]}/receipt", who)
    # And the public may not read a person's statement at all.
    assert served.client.get(f"/v1/donors/{donor}/statement").status_code == 404


def test_the_totals_still_verify_from_the_public_leaves(served: Served) -> None:
    entries = _entries(served)
    checkpoint = served.client.get("/v1/log/checkpoint").text
    verifier = Verifier.decode(served.client.get("/v1/log/key").text)
    size = int(checkpoint.splitlines()[1])
    summary = served.get("/v1/summary")
    assert summary["events"] == size == len(entries)
    verified = verify_log(
        (e.encode() for e in entries), checkpoint, verifier, published_summary=summary
    )
    assert verified.entries == size


def _leaf_of(entries: list[str], donation_id: str) -> str:
    return next(e for e in entries if f'"event":"{donation_id}/1"' in e)


def test_a_donor_lists_their_gifts_with_fund_ledger_verify(served: Served, tmp_path: Path) -> None:
    entries = _entries(served)
    checkpoint = served.client.get("/v1/log/checkpoint").text
    (tmp_path / "entries.jsonl").write_text("".join(entry + "\n" for entry in entries))
    (tmp_path / "checkpoint").write_text(checkpoint)
    key = served.client.get("/v1/log/key").text.strip()
    donor, gifts = max(_people_with_gifts(served).items(), key=lambda item: len(item[1]))
    secret = served.get(f"/v1/donors/{donor}/statement", "treasurer")["donor_secret"]
    given = [
        "verify",
        "--entries",
        str(tmp_path / "entries.jsonl"),
        "--checkpoint",
        str(tmp_path / "checkpoint"),
        "--key",
        key,
        "--donor-secret",
    ]
    result = CliRunner().invoke(cli, [*given, secret])
    assert result.exit_code == 0, result.output
    assert f"{len(gifts)} gifts of this donor" in result.output
    receipts = {
        g["receipt_no"]
        for g in served.get("/v1/donations?limit=500", "treasurer")["items"]
        if g["id"] in gifts
    }
    assert all(receipt in result.output for receipt in receipts)
    # Another secret finds none; a malformed one is refused in one line.
    other = CliRunner().invoke(cli, [*given, "00" * 32])
    assert "0 gifts of this donor" in other.output
    bad = CliRunner().invoke(cli, [*given, "not-a-secret"])
    assert bad.exit_code == 2
    assert bad.output.startswith("error: ")
