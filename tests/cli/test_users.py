"""Tokens on the command line: a lost one replaced (the old one refused at once), a revoked
person pointed to ``users token``, and the demo's tokens printed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.config import Settings
from fund_ledger.cli import app
from ledger.app import OPERATOR, FundLedger
from projections.runner import Views


@pytest.fixture
def fund(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FundLedger, TestClient]]:
    """A fund served by the API in this process; the commands open the same store apart."""
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", store_url)
    ledger = FundLedger(store_url)
    ledger.establish_fund(OPERATOR, "令牌基金", 1)
    settings = Settings(database_url=store_url, signing_key_file=str(tmp_path / "no.key"))
    with TestClient(create_app(settings, ledger), raise_server_exceptions=False) as client:
        yield ledger, client
    ledger.close()


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def _events_status(client: TestClient, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return client.get("/v1/events", params={"limit": 1}, headers=headers).status_code


def test_a_new_token_works_and_the_old_one_is_refused_at_once(
    fund: tuple[FundLedger, TestClient],
) -> None:
    ledger, client = fund
    old = _cli("users", "add", "--name", "审计师", "--role", "auditor")
    assert _events_status(client, old) == 200
    user_id = ledger.actor_named("审计师").id

    new = _cli("users", "token", "--name", "审计师")

    assert new != old
    assert _events_status(client, old) == 401
    assert _events_status(client, new) == 200
    actor = ledger.authenticate(new)
    assert actor is not None
    assert (actor.id, actor.role.value) == (user_id, "auditor")


def test_a_revoked_name_is_pointed_to_users_token_which_makes_them_active_again(
    fund: tuple[FundLedger, TestClient],
) -> None:
    ledger, client = fund
    old = _cli("users", "add", "--name", "离任委员", "--role", "committee")
    CliRunner().invoke(app, ["users", "revoke", "--name", "离任委员"])
    assert _events_status(client, old) == 401

    again = CliRunner().invoke(app, ["users", "add", "--name", "离任委员", "--role", "committee"])

    assert again.exit_code == 2
    assert again.stderr.splitlines() == [
        "error: 离任委员 is already a user (committee, revoked); fund-ledger users token "
        "--name 离任委员 gives them a new token and makes them active again"
    ]
    new = _cli("users", "token", "--name", "离任委员")
    assert _events_status(client, new) == 200
    assert _events_status(client, old) == 401
    assert "│ 离任委员 │ committee │ yes" in _cli("users", "list")
    views = Views(ledger)  # the registers view follows: active again
    views.catch_up()
    rows = views.view("registers").query(
        "SELECT active FROM {t}fl_people WHERE name = %s", ["离任委员"]
    )
    assert [bool(row["active"]) for row in rows] == [True]


def test_demo_prints_each_demo_users_token(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", sqlite_url)
    lines = _cli("demo").splitlines()
    ledger = FundLedger(sqlite_url)
    people = ledger.directory().users.values()
    assert len(lines) == len(people) >= 5
    for line in lines:
        role_and_name, token = line.split("\t")
        role, name = role_and_name.split()
        actor = ledger.authenticate(token)
        assert actor is not None, line
        assert (actor.name, actor.role.value) == (name, role)
    ledger.close()
