"""The canteen's other commands: residents registered from a file (ids out, no personal data
printed), and subsidy rules proposed and approved by the committee's quorum."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from helpers import World, build_world
from typer.testing import CliRunner

from fund_ledger.cli import app as cli
from ledger.app import FundLedger
from ledger.domain.base import today


@pytest.fixture
def world(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", store_url)
    ledger = FundLedger(store_url)
    world = build_world(ledger)
    world.app.open_project(world.treasurer, "canteen", "社区食堂")
    yield world
    ledger.close()


def test_residents_are_registered_from_a_file_and_only_ids_are_printed(
    world: World, tmp_path: Path
) -> None:
    file = tmp_path / "people.csv"
    file.write_text(
        "name,birth_date,card_number,address\n"
        "沈桂英,1950-03-04,330400195003041234,二毛一村3幢\n"
        "陆志明,1944-11-30,330400194411301111,\n",
        encoding="utf-8",
    )
    done = CliRunner().invoke(cli, ["import", "beneficiaries", str(file), "--as", "出纳"])
    assert done.exit_code == 0, done.output
    ids = [line.split("\t")[1] for line in done.stdout.splitlines()]
    assert len(ids) == 2
    for secret in ("沈桂英", "1950-03-04", "330400195003041234", "二毛一村"):
        assert secret not in done.output
    registered = [world.app.repository.get(UUID(i)) for i in ids]
    assert [type(b).__name__ for b in registered] == ["Beneficiary", "Beneficiary"]

    before = world.app.position()
    file.write_text(
        "name,birth_date,card_number\n钱阿婆,1940-13-01,330400194013012222\n", encoding="utf-8"
    )
    bad = CliRunner().invoke(cli, ["import", "beneficiaries", str(file), "--as", "出纳"])
    assert bad.exit_code == 1
    assert "line 2: birth_date must be YYYY-MM-DD" in bad.output
    assert "1940-13-01" not in bad.output
    # The same card twice is refused, and says nothing of whose.
    file.write_text(
        "name,birth_date,card_number\n钱阿婆,1940-01-01,330400195003041234\n", encoding="utf-8"
    )
    again = CliRunner().invoke(cli, ["import", "beneficiaries", str(file), "--as", "出纳"])
    assert again.exit_code == 2
    assert "already exists" in again.output
    assert "330400195003041234" not in again.output
    assert world.app.position() == before


def test_rules_are_proposed_and_in_force_once_the_quorum_approves(world: World) -> None:
    runner = CliRunner()
    start = (today() + timedelta(days=3)).isoformat()
    args = ["canteen", "propose-rules", "--as", world.committee[0].name, "--from", start]
    args += ["--band", "60-69=3.00", "--band", "70-79=5.00", "--band", "80+=8.00"]
    args += ["--price", "15.00", "--operator", "南湖宾馆餐饮部"]
    proposed = runner.invoke(cli, args)
    assert proposed.exit_code == 0, proposed.output
    rules_id = proposed.stdout.strip()
    past = runner.invoke(cli, [*args[:5], "2020-01-01", *args[6:]])
    assert past.exit_code == 2
    assert "never retroactive" in past.output
    for member in world.committee[1:4]:
        approved = runner.invoke(cli, ["canteen", "approve-rules", rules_id, "--as", member.name])
        assert approved.exit_code == 0, approved.output
    assert "in force" in approved.output
    [rules] = world.app.rules_in_force("canteen")
    assert [b.label for b in rules.bands] == ["60-69", "70-79", "80+"]
