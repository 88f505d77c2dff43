"""A forgotten person through the command line, a backup and the API: forgotten once, their key
left out of backups, and their data shown to an auditor only until they are forgotten.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from forgetting import (
    NAME,
    NOBODY,
    NOTE,
    OTHER_NAME,
    OTHER_PHONE,
    PAYEE,
    PHONE,
    SECRETS,
    Fund,
    holding,
    store_text,
)
from helpers import DAY, build_world, fen
from typer.testing import CliRunner

from api.app import create_app
from api.config import Settings
from fund_ledger.cli import app as cli
from ledger.app import OPERATOR, FundLedger
from ledger.domain.sealing import ERASED
from projections.audit import check_store
from projections.exports import export_csv
from projections.log.queries import Log
from projections.reader import Reader
from projections.runner import Views


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


def _public_status(path: str) -> int:
    """The raw log is for token holders; a person's statement too (it links every gift of
    theirs), so the public gets 404 for it, as for no donor at all."""
    if path.startswith("/v1/events"):
        return 401
    return 404 if path.endswith("/statement") else 200


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
                expected = 200 if headers else _public_status(path)
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
