"""Forgetting a person (PIPL right to erasure) by destroying their key, on SQLite and PostgreSQL.

Before: an auditor reads the person's name, contact details, the note on their gift and the
name of a person paid, while no table of the store, no leaf and no public answer holds them in
plain. After ``forget``: no table, view, export, audit bundle, page or API answer holds them;
the amounts, the balances and the transparency log are what they were and keep verifying, and a
rebuild of every view gives the same log root.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import DAY, World, build_world, events_named, fen, refused
from typer.testing import CliRunner

from api.app import create_app
from api.config import Settings
from fund_ledger import verifying
from fund_ledger.cli import app as cli
from ledger.app import OPERATOR, FundLedger
from ledger.domain.errors import IdempotencyConflict, NotFound, NotPermitted, WrongState
from ledger.domain.sealing import ERASED, is_sealed
from ledger.log.notes import Signer
from projections.audit import check_store, export_audit_bundle
from projections.exports import export_360giving, export_beancount, export_csv
from projections.log.queries import Log
from projections.reader import Reader
from projections.runner import Views

NAME = "司马青云"
PHONE = "13987654321"
NOTE = "纪念先母司马氏"
PAYEE = "柳如烟阿婆"
# Another person, who is not forgotten: their data must survive everything below.
OTHER_NAME = "欧阳明华"
OTHER_PHONE = "13800001111"
SECRETS = (NAME, PHONE, NOTE, PAYEE)
NOBODY = "00000000-0000-4000-8000-000000000000"


def forms(secret: str) -> list[str]:
    """A secret as text and as JSON with ASCII escapes, as either could be stored."""
    return [secret, json.dumps(secret)[1:-1]]


def holding(text: str, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    return [s for s in secrets if any(form in text for form in forms(s))]


@dataclass
class Fund:
    world: World
    views: Views
    log: Log
    reader: Reader
    signer: Signer
    donor_id: str
    other_id: str
    expense_id: str

    @property
    def app(self) -> FundLedger:
        return self.world.app


@pytest.fixture
def fund(store_url: str) -> Iterator[Fund]:
    app = FundLedger(store_url)
    world = build_world(app)
    treasurer = world.treasurer
    donor_id = app.register_donor(treasurer, NAME, "individual", "masked", {"phone": PHONE}).id
    other_id = app.register_donor(
        treasurer, OTHER_NAME, "individual", "named", {"phone": OTHER_PHONE}
    ).id
    app.record_donation(treasurer, donor_id, fen("5000.00"), DAY, "bank_transfer", "F-1", note=NOTE)
    app.record_donation(treasurer, other_id, fen("800.00"), DAY, "cash", "F-2")
    world.donate("20000.00", "noodles")
    grant_id = world.grant("noodles", "3000.00")
    expense_id = app.record_expense(
        treasurer,
        grant_id,
        fen("300.00"),
        DAY,
        PAYEE,
        "programme",
        "home visits, transport",
        payee_kind="individual",
    ).id
    world.spend(grant_id, "500.00")
    views = Views(app)
    views.catch_up()
    signer = Signer.generate("test.example/forget")
    log = Log(views.view("log"), signer.name)
    yield Fund(world, views, log, Reader(views), signer, donor_id, other_id, expense_id)
    app.close()


def store_text(app: FundLedger) -> str:
    """Every row of every table of the store (events, views, log, keys) as text."""
    datastore: Any = app.recorder.datastore  # type: ignore[attr-defined]
    schema = getattr(datastore, "schema", None)
    with datastore.transaction(commit=False) as c:
        if schema:
            c.execute(
                "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        else:
            c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = [row["name"] for row in c.fetchall()]
        assert "fl_person_keys" in tables
        parts = []
        for table in tables:
            c.execute(
                f'SELECT * FROM "{schema}"."{table}"' if schema else f'SELECT * FROM "{table}"'
            )
            for row in c.fetchall():
                for value in dict(row).values():
                    raw = bytes(value) if isinstance(value, bytes | memoryview) else None
                    parts.append(raw.decode("utf-8", "replace") if raw else str(value))
    text = "\n".join(parts)
    # A sealed value's body, decoded: it must be ciphertext, not an encoding of the plaintext.
    bodies = re.findall(r"sealed:v1:[0-9a-f-]+:([A-Za-z0-9_=-]+)", text)
    assert bodies
    opened = [base64.urlsafe_b64decode(body).decode("utf-8", "replace") for body in bodies]
    return "\n".join([text, *opened])


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
    refused(app, WrongState, lambda: app.forget_person(OPERATOR, org_expense["expense_id"]))
    keys_before = app.keyring.all()

    app.forget_person(OPERATOR, fund.donor_id)
    position = app.position()
    again = app.forget_person(OPERATOR, fund.donor_id)
    assert again.position == 0
    assert app.position() == position
    assert [k for k in app.keyring.all() if k.key_hex is None] == [
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


def test_the_cli_forgets_once_and_names_unknown_ids(
    fund: Fund, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", store_url)
    runner = CliRunner()
    first = runner.invoke(cli, ["forget", fund.donor_id, "--as", fund.world.committee[1].name])
    assert first.exit_code == 0, first.output
    assert "forgotten" in first.output
    again = runner.invoke(cli, ["forget", fund.donor_id])
    assert again.exit_code == 0, again.output
    assert "already forgotten" in again.output
    unknown = runner.invoke(cli, ["forget", NOBODY])
    assert unknown.exit_code == 2
    assert NOBODY in unknown.output
    decided = [e for _, e in fund.app.iter_events() if type(e).__qualname__ == "Donor.Forgotten"]
    assert [(e.meta.actor_id, e.meta.actor_role) for e in decided] == [
        (fund.world.committee[1].id, "committee")
    ]
    assert holding(json.dumps(decided[0].__dict__, default=str, ensure_ascii=False)) == []


def test_a_backup_carries_the_keys_of_the_remembered_and_not_of_the_forgotten(
    fund: Fund, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    fund.app.forget_person(OPERATOR, fund.donor_id)
    fund.views.catch_up()
    signed = fund.log.sign(fund.signer)
    assert signed is not None
    file = tmp_path / "backup.jsonl"
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", store_url)
    assert CliRunner().invoke(cli, ["backup", str(file)]).exit_code == 0
    assert holding(file.read_text()) == []

    target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", target)
    result = CliRunner().invoke(cli, ["restore", str(file)])
    assert result.exit_code == 0, result.output
    restored = FundLedger(target)
    try:
        views = Views(restored)
        views.catch_up()
        reader = Reader(views)
        gifts = {g["donor_id"]: g for g in reader.donations(limit=100).items}
        assert gifts[fund.other_id]["donor_name"] == OTHER_NAME
        assert gifts[fund.donor_id]["donor_name"] == ERASED
        payees = {x["expense_id"]: x["payee"] for x in reader.expenses(limit=100).items}
        assert payees[fund.expense_id] == PAYEE
        assert OTHER_PHONE in export_csv(reader, "donations", public=False).decode("utf-8-sig")
        log = Log(views.view("log"), fund.signer.name)
        assert log.root(signed.size) == signed.root
        assert check_store(restored, log, fund.signer.verifier) == signed.size
        assert holding(store_text(restored)) == []
    finally:
        restored.close()


def test_an_auditor_sees_the_person_through_the_api_until_they_are_forgotten(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = FundLedger(sqlite_url)
    world = build_world(app)
    _, token = app.add_user(OPERATOR, "审计员甲", "auditor")
    _, member_token = app.add_user(OPERATOR, "委员甲", "committee")
    _, treasurer_token = app.add_user(OPERATOR, "出纳乙", "treasurer")
    donor_id = app.register_donor(
        world.treasurer, NAME, "individual", "anonymous", {"phone": PHONE}
    ).id
    app.record_donation(world.treasurer, donor_id, fen("66.00"), DAY, "cash", "F-1", note=NOTE)
    world.donate("500.00")
    grant_id = world.grant("noodles", "100.00")
    expense_id = app.record_expense(
        world.treasurer,
        grant_id,
        fen("50.00"),
        DAY,
        PAYEE,
        "programme",
        "care",
        payee_kind="individual",
    ).id
    settings = Settings(database_url=sqlite_url)
    auditor = {"Authorization": f"Bearer {token}"}
    paths = [
        "/v1/donations",
        "/v1/expenses",
        "/v1/events?limit=500",
        f"/v1/donors/{donor_id}/statement",
        "/v1/exports/donations.csv",
        "/v1/exports/expenses.csv",
        "/",
        "/donations",
    ]

    def answers(client: TestClient) -> dict[str, str]:
        out = {}
        for path in paths:
            for headers in (auditor, {}):
                response = client.get(path, headers=headers)
                expected = 401 if path.startswith("/v1/events") and not headers else 200
                assert response.status_code == expected, (path, response.text[:200])
                out[f"{path} {bool(headers)}"] = (
                    json.dumps(response.text, ensure_ascii=False) + response.text
                )
        return out

    with TestClient(create_app(settings, app)) as client:
        before = answers(client)
        seen = sorted({s for text in before.values() for s in holding(text)})
        assert seen == sorted(SECRETS)
        forget = f"/v1/people/{donor_id}/forget"
        treasurer = client.post(forget, headers={"Authorization": f"Bearer {treasurer_token}"})
        assert treasurer.status_code == 403
        assert before == answers(client)
        member = {"Authorization": f"Bearer {member_token}"}
        decided = client.post(forget, headers=member)
        assert decided.status_code == 200, decided.text
        assert decided.json()["position"] > 0
        assert client.post(forget, headers=member).json()["position"] == 0
        assert client.post(f"/v1/people/{NOBODY}/forget", headers=member).status_code == 404
        app.forget_person(OPERATOR, expense_id)
        after = answers(client)
        leaks = {path: holding(text) for path, text in after.items() if holding(text)}
        assert leaks == {}
        assert any(ERASED in text for text in after.values())
    app.close()


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


def _plain_fingerprint(command: str, args: dict[str, Any], on: object) -> str:
    """How a guesser would test a guess against a kept fingerprint, were it a plain hash."""
    text = json.dumps([command, args, on], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_fingerprint_kept_for_retries_cannot_confirm_a_guess(store_url: str) -> None:
    app = FundLedger(store_url)
    world = build_world(app)
    t = world.treasurer
    contact = {"phone": PHONE}
    first = app.register_donor(t, NAME, "individual", "masked", contact, idempotency_key="r-1")
    again = app.register_donor(t, NAME, "individual", "masked", contact, idempotency_key="r-1")
    assert (again.replayed, again.id) == (True, first.id)
    refused(
        app,
        IdempotencyConflict,
        lambda: app.register_donor(
            t, "别人", "individual", "masked", contact, idempotency_key="r-1"
        ),
    )
    gift = {"amount_fen": fen("10.00"), "received_on": DAY, "channel": "cash", "note": NOTE}
    app.record_donation(t, first.id, receipt_no="F-1", idempotency_key="g-1", **gift)
    # A single donation from the API goes through a group commit: the same protections.
    order = app.donation_order(t, first.id, receipt_no="F-3", idempotency_key="g-3", **gift)
    [grouped] = app.record_donation_orders([order])
    assert not isinstance(grouped, Exception), grouped
    assert NOTE.encode() not in b"".join(
        n.state for n in app.recorder.select_notifications(grouped.position, 1)
    )
    batch = [{"donor_id": first.id, "receipt_no": "F-2", **gift}]
    made = app.record_donations(t, batch, idempotency_key="g-2")
    assert app.record_donations(t, batch, idempotency_key="g-2").ids == made.ids
    world.donate("500.00")
    grant_id = world.grant("noodles", "100.00")
    paid = {
        "grant_id": grant_id,
        "amount_fen": fen("50.00"),
        "paid_on": DAY,
        "payee": PAYEE,
        "category": "programme",
        "description": "care",
    }
    spent = app.record_expense(t, **paid, payee_kind="individual", idempotency_key="p-1")
    retried = app.record_expense(t, **paid, payee_kind="individual", idempotency_key="p-1")
    assert (retried.replayed, retried.id) == (True, spent.id)

    guesses = {
        _plain_fingerprint(
            "register_donor",
            {"name": NAME, "kind": "individual", "disclosure": "masked", "contact": contact},
            None,
        ),
        _plain_fingerprint(
            "record_donation",
            {"donor_id": first.id, "receipt_no": "F-1", "project_id": None, **gift},
            DAY,
        ),
        _plain_fingerprint(
            "record_donation",
            {"donor_id": first.id, "receipt_no": "F-3", "project_id": None, **gift},
            DAY,
        ),
        _plain_fingerprint(
            "record_expense",
            {**paid, "payee_kind": "individual", "voucher_no": None, "voucher_sha256": None},
            DAY,
        ),
    }
    kept = {e.fingerprint for e in events_named(app, "IdempotencyRecord.Recorded")}
    assert len(kept) == 5
    assert kept.isdisjoint(guesses)
    # The guesses are made the way the command hashes: an organisation payee stays plain.
    org = {**paid, "payee": "南湖宾馆", "amount_fen": fen("1.00")}
    app.record_expense(t, **org, idempotency_key="p-2")
    kept_now = {e.fingerprint for e in events_named(app, "IdempotencyRecord.Recorded")}
    assert (
        _plain_fingerprint(
            "record_expense",
            {**org, "payee_kind": "organisation", "voucher_no": None, "voucher_sha256": None},
            DAY,
        )
        in kept_now
    )
    app.close()
