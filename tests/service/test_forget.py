"""Forgetting a person (PIPL right to erasure) by destroying their key, on SQLite and PostgreSQL:
sealed data, what forgetting erases, what it refuses, and the books and the log still verifying.
"""

from __future__ import annotations

import json
from pathlib import Path

from forgetting import (
    NAME,
    NOBODY,
    NOTE,
    OTHER_NAME,
    OTHER_PHONE,
    PAYEE,
    PHONE,
    Fund,
    holding,
    store_text,
)
from helpers import DAY, build_world, fen, refused

from fund_ledger import verifying
from ledger.app import OPERATOR, FundLedger
from ledger.domain.errors import NotAPerson, NotFound, NotPermitted, WrongState
from ledger.domain.sealing import ERASED, is_sealed
from projections.audit import check_store, export_audit_bundle
from projections.exports import export_360giving, export_beancount, export_csv
from projections.reader import Reader


def exports(reader: Reader) -> dict[str, str]:
    out = {
        "beancount": export_beancount(reader),
        "360giving": json.dumps(export_360giving(reader, published_on=DAY), ensure_ascii=False),
    }
    for kind in ("donations", "grants", "expenses"):
        for public in (False, True):
            out[f"{kind}.csv{'' if public else ' (full)'}"] = export_csv(
                reader, kind, public=public
            ).decode("utf-8-sig")
    return out


def test_sealed_data_is_never_stored_in_plain_but_an_auditor_reads_it(fund: Fund) -> None:
    assert holding(store_text(fund.app)) == []
    gifts = {g["donor_id"]: g for g in fund.reader.donations(limit=100).items}
    assert gifts[fund.donor_id]["donor_name"] == NAME
    assert gifts[fund.donor_id]["donor_public_name"] == "司马**"
    assert gifts[fund.donor_id]["note"] == NOTE
    assert gifts[fund.other_id]["donor_public_name"] == OTHER_NAME
    payees = {x["expense_id"]: x["payee"] for x in fund.reader.expenses(limit=100).items}
    assert payees[fund.expense_id] == PAYEE
    full = exports(fund.reader)
    assert holding(full["donations.csv (full)"]) == [NAME, PHONE, NOTE]
    assert holding(full["expenses.csv (full)"]) == [PAYEE]
    for public in ("donations.csv", "expenses.csv", "beancount", "360giving"):
        assert holding(full[public]) == [], public


def test_forget_erases_the_person_and_the_books_and_log_still_verify(
    fund: Fund, tmp_path: Path
) -> None:
    first = fund.log.sign(fund.signer)
    assert first is not None
    summary = fund.reader.summary().as_json()
    trial = fund.reader.trial_balance()
    balances = fund.reader.balances()
    member = fund.world.committee[0]

    receipt = fund.app.forget_person(member, fund.donor_id)
    fund.app.forget_person(OPERATOR, fund.expense_id)
    assert receipt.position > 0
    fund.views.catch_up()

    # The key is gone, and nothing in the store holds the person's data in plain.
    assert fund.app.keyring.keys([fund.donor_id, fund.expense_id]) == {
        fund.donor_id: None,
        fund.expense_id: None,
    }
    assert holding(store_text(fund.app)) == []
    # Every view reads as erased; the other person is untouched.
    gifts = {g["donor_id"]: g for g in fund.reader.donations(limit=100).items}
    erased = gifts[fund.donor_id]
    assert (erased["donor_name"], erased["donor_public_name"], erased["note"]) == (ERASED,) * 3
    assert erased["amount_fen"] == fen("5000.00")
    assert gifts[fund.other_id]["donor_name"] == OTHER_NAME
    statement = fund.reader.donor_statement(fund.donor_id)
    assert statement is not None
    assert statement["given_total"] == "5000.00"
    assert holding(json.dumps(statement, ensure_ascii=False, default=str)) == []
    payees = {x["expense_id"]: x["payee"] for x in fund.reader.expenses(limit=100).items}
    assert payees[fund.expense_id] == ERASED
    for name, text in exports(fund.reader).items():
        assert holding(text) == [], name
    full = exports(fund.reader)["donations.csv (full)"]
    assert OTHER_NAME in full
    assert OTHER_PHONE in full

    # The amounts are what they were: only the count of events grew, by the two decisions.
    after = fund.reader.summary().as_json()
    assert after.pop("events") == summary.pop("events") + 2
    assert after == summary
    assert fund.reader.trial_balance() == trial
    assert fund.reader.balances() == balances

    # The log: the new checkpoint extends the old one, the store checks, a rebuild agrees.
    second = fund.log.sign(fund.signer)
    assert second is not None
    assert second.size == first.size + 2
    assert check_store(fund.app, fund.log, fund.signer.verifier) == second.size
    fund.views.rebuild()
    assert fund.log.root(first.size) == first.root
    assert fund.log.root(second.size) == second.root
    assert check_store(fund.app, fund.log, fund.signer.verifier) == second.size

    # The audit bundle verifies against the checkpoint signed before forgetting, and holds none.
    bundle = export_audit_bundle(fund.views, fund.log, fund.signer, tmp_path / "bundle")
    for file in bundle.path.rglob("*"):
        if file.is_file():
            assert holding(file.read_text()) == [], file.name
    result = verifying.verify_files(
        bundle.path / "entries.jsonl",
        (bundle.path / "checkpoint").read_text(),
        fund.signer.verifier,
        first.note,
        json.loads((bundle.path / "summary.json").read_text()),
    )
    assert result.entries == second.size


def test_forget_is_idempotent_and_refuses_what_it_cannot_do(fund: Fund) -> None:
    app = fund.app
    refused(app, NotPermitted, lambda: app.forget_person(fund.world.treasurer, fund.donor_id))
    refused(app, NotFound, lambda: app.forget_person(OPERATOR, "no-such-person"))
    refused(app, NotFound, lambda: app.forget_person(OPERATOR, NOBODY))
    # An organisation paid is not a person; its name stays.
    organisation_paid = fund.reader.expenses(limit=100).items
    org_expense = next(x for x in organisation_paid if x["payee_kind"] == "organisation")
    refused(app, NotAPerson, lambda: app.forget_person(OPERATOR, org_expense["expense_id"]))
    keys_before = app.keyring.all()

    app.forget_person(OPERATOR, fund.donor_id)
    position = app.position()
    again = app.forget_person(OPERATOR, fund.donor_id)
    assert again.position == 0
    assert app.position() == position
    assert [k for k in app.keyring.all() if k.key_wrapped is None] == [
        k for k in app.keyring.all() if k.person_id == fund.donor_id
    ]
    assert len(app.keyring.all()) == len(keys_before)
    # A forgotten donor gives nothing more under that registration.
    refused(
        app,
        WrongState,
        lambda: app.record_donation(
            fund.world.treasurer, fund.donor_id, fen("1.00"), DAY, "cash", "F-9"
        ),
    )
    # A gift of theirs may still be reversed: the amounts stay the fund's business.
    gift = fund.reader.donations(donor_id=fund.donor_id).items[0]
    app.reverse_donation(fund.world.committee[0], gift["donation_id"], "bank returned it", on=DAY)


def test_an_organisation_is_not_forgotten_and_goes_on_giving_under_its_name(fund: Fund) -> None:
    app, world = fund.app, fund.world
    for kind in ("government", "enterprise", "community"):
        organisation = world.donors[kind]
        error = refused(app, NotAPerson, lambda o=organisation: app.forget_person(OPERATOR, o))
        assert "organisations are not people" in error.detail
        assert not app.keyring.is_forgotten(organisation)
    # Its future gifts are still recorded, under the name it gave.
    world.donate("10.00", donor="enterprise")
    fund.views.catch_up()
    donor = fund.reader.donor_statement(world.donors["enterprise"])
    assert donor is not None
    assert donor["donor"]["name"] == "南湖大酒店"


def test_forgetting_on_the_memory_store_and_what_a_sealed_value_looks_like() -> None:
    app = FundLedger("memory://")
    world = build_world(app)
    donor_id = app.register_donor(world.treasurer, NAME, "individual", "masked", {"w": PHONE}).id
    org_id = world.donors["enterprise"]
    stored = {type(e).__qualname__ + str(e.originator_id): e for _, e in app.iter_events()}
    registered = stored["Donor.Registered" + donor_id]
    assert is_sealed(registered.name)
    assert is_sealed(registered.contact)
    assert donor_id in registered.name
    assert not is_sealed(stored["Donor.Registered" + org_id].name)  # organisations stay plain
    assert app.keyring.reveal([registered.name, registered.contact]) == [NAME, {"w": PHONE}]
    app.forget_person(OPERATOR, donor_id)
    assert app.keyring.reveal([registered.name, registered.contact]) == [ERASED, ERASED]
