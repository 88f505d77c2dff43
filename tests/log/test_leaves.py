"""The log's leaves on both stores: no personal data, only salted hashes of it, and the same
bytes after a rebuild.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from helpers import opened
from logstore import Row, Store, record_gifts

from ledger.domain.sealing import is_sealed
from ledger.domain.yuan import format_yuan
from ledger.log.leaves import salted_hash
from ledger.log.merkle import leaf_hash, root_hash

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


@dataclass
class Personal:
    """What is personal in the demo and in one more gift, read back from the views."""

    gift: str
    note: str
    idempotency_key: str
    donors: list[Row]
    individuals: list[Row]
    contacts: dict[str, Any]
    payees: list[Row]
    people: list[Row]


def _personal_data(store: Store) -> Personal:
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
    return Personal(gift, note, idempotency_key, donors, individuals, contacts, payees, people)


def _private_strings(store: Store, personal: Personal) -> set[str]:
    contact_values = [v for contact in personal.contacts.values() for v in contact.values()]
    tokens = [token for _, token in store.users.tokens.values()]
    return {
        *(d["name"] for d in personal.individuals),
        *contact_values,
        *(p["payee"] for p in personal.payees),
        *(p["name"] for p in personal.people),
        personal.note,
        personal.idempotency_key,
        *tokens,
        *(hashlib.sha256(t.encode()).hexdigest() for t in tokens),
    }


def _leaf_records_without(store: Store, private: set[str]) -> dict[int, Any]:
    """Every leaf's record, by leaf index, after checking that none holds a private string."""
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
    return records


def _assert_donors_hashed(
    store: Store, personal: Personal, by_type: dict[str, list[dict[str, Any]]]
) -> None:
    stored = {
        r["donor_id"]: r
        for r in store.views.view("registers").query(
            "SELECT donor_id, name, contact_json FROM {t}fl_donors"
            " JOIN {t}fl_donor_contacts USING (donor_id)"
        )
    }
    registered = {r["event"].split("/")[0]: r["data"] for r in by_type["Donor.Registered"]}
    assert len(registered) == len(personal.donors)
    for donor in personal.donors:
        data = registered[donor["donor_id"]]
        salt = store.salt(donor["donor_id"])
        sealed = stored[donor["donor_id"]]
        assert is_sealed(sealed["name"]) == (donor["kind"] == "individual")
        assert data["name"].startswith("sha256:")
        assert data["name"] == salted_hash(salt, sealed["name"])
        assert data["name"] != salted_hash(b"", sealed["name"])
        if personal.contacts[donor["donor_id"]]:
            sealed_contact = json.loads(sealed["contact_json"])
            assert is_sealed(sealed_contact)
            assert data["contact"] == salted_hash(salt, sealed_contact)
        else:
            assert data["contact"] is None


def _assert_people_and_payees_hashed(
    store: Store, personal: Personal, by_type: dict[str, list[dict[str, Any]]]
) -> None:
    added = {r["data"]["user_id"]: r["data"] for r in by_type["Directory.UserAdded"]}
    for person in personal.people:
        assert added[person["user_id"]]["name"] == salted_hash(
            store.salt(person["user_id"]), person["name"]
        )
    paid = {r["event"].split("/")[0]: r["data"] for r in by_type["Expense.Paid"]}
    sealed_payees = {
        r["expense_id"]: r["payee"]
        for r in store.views.view("registers").query("SELECT expense_id, payee FROM {t}fl_expenses")
    }
    for payee in personal.payees:
        assert is_sealed(sealed_payees[payee["expense_id"]])
        assert paid[payee["expense_id"]]["payee"] == salted_hash(
            store.salt(payee["expense_id"]), sealed_payees[payee["expense_id"]]
        )
    organisation = next(d for d in paid.values() if d["payee_kind"] == "organisation")
    assert not organisation["payee"].startswith("sha256:")  # an organisation is public


def _assert_gift_hashed(
    store: Store, personal: Personal, by_type: dict[str, list[dict[str, Any]]]
) -> None:
    gift = personal.gift
    [received] = [r for r in by_type["Donation.Received"] if r["event"].startswith(gift)]
    [sealed_note] = store.views.view("registers").query(
        "SELECT note FROM {t}fl_donations WHERE donation_id = %s", [gift]
    )
    assert is_sealed(sealed_note["note"])
    assert received["data"]["note"] == salted_hash(store.salt(gift), sealed_note["note"])
    assert received["idempotency_key"] == salted_hash(store.salt(gift), personal.idempotency_key)
    assert received["data"]["amount"] == format_yuan(52000)


def test_no_personal_data_in_any_leaf_only_salted_hashes(store: Store) -> None:
    personal = _personal_data(store)
    records = _leaf_records_without(store, _private_strings(store, personal))

    # What is there instead: salted hashes that the stored salt reproduces, and only it, of
    # what the events store: personal data sealed under the person's key (ledger.domain.sealing).
    by_type: dict[str, list[dict[str, Any]]] = {}
    for record in records.values():
        by_type.setdefault(record["type"], []).append(record)
    _assert_donors_hashed(store, personal, by_type)
    _assert_people_and_payees_hashed(store, personal, by_type)
    _assert_gift_hashed(store, personal, by_type)


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
