"""The money path on the command line: statements and settlements imported (bad files refused
with every problem and nothing recorded), the 银行余额调节表 and the voucher list printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from helpers import World, build_world, fen
from typer.testing import CliRunner

from fund_ledger.cli import app
from ledger.app import FundLedger
from ledger.demo.statements import Movement, icbc_statement

SETTLEMENT = Path(__file__).parent.parent / "fixtures" / "platform" / "wechat-2025-03.csv"


@pytest.fixture
def world(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", store_url)
    ledger = FundLedger(store_url)
    yield build_world(ledger)
    ledger.close()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def statement(path: Path, gift: str) -> Path:
    text = icbc_statement(
        "1204", "南湖", "2025-03", 0, [Movement(date(2025, 3, 5), fen(gift), "", "R1")]
    )
    path.write_bytes(text.encode("gbk"))
    return path


def test_a_statement_imported_reconciles_and_one_fen_off_does_not(
    world: World, tmp_path: Path
) -> None:
    world.donate("1000.00", on=date(2025, 3, 5), receipt_no="R1")
    code, _, said = run(
        "import",
        "bank-statement",
        str(statement(tmp_path / "ok.csv", "1000.00")),
        "--account",
        "bank",
        "--as",
        "出纳",
    )
    assert code == 0, said
    assert "1 of 1 lines matched" in said
    code, out, _ = run("report", "bank-reconciliation", "--month", "2025-03")
    table = json.loads(out)
    assert code == 0
    assert (table["reconciled"], table["book_adjusted"], table["bank_adjusted"]) == (
        True,
        "1000.00",
        "1000.00",
    )
    run(
        "import",
        "bank-statement",
        str(statement(tmp_path / "off.csv", "1000.01")),
        "--account",
        "bank",
        "--as",
        "出纳",
    )
    code, out, said = run("report", "bank-reconciliation", "--month", "2025-03")
    assert code == 1
    assert json.loads(out)["reconciled"] is False
    assert "not reconciled" in said


def test_a_bad_statement_is_refused_with_every_problem_and_nothing_recorded(
    world: World, tmp_path: Path
) -> None:
    text = statement(tmp_path / "s.csv", "1000.00").read_bytes().decode("gbk")
    bad = text.replace("2025-03-05", "2025-02-30").replace("合计", "合计,").rstrip("\r\n")
    bad = bad[: bad.rindex(",")]
    (tmp_path / "bad.csv").write_bytes(bad.encode("gbk"))
    position = world.app.position()
    code, _, said = run(
        "import", "bank-statement", str(tmp_path / "bad.csv"), "--account", "bank", "--as", "出纳"
    )
    assert code == 1
    assert "line 7: 交易日期" in said
    assert "nothing imported" in said
    assert world.app.position() == position


def test_a_settlement_imported_twice_records_nothing_the_second_time(world: World) -> None:
    args = (
        "import",
        "platform-settlement",
        str(SETTLEMENT),
        "--platform",
        "wechat_pay",
        "--donor",
        world.donors["individual"],
        "--as",
        "出纳",
        "--settled-on",
        "2025-03-13",
    )
    code, _, said = run(*args)
    assert code == 0, said
    assert "3 gifts recorded, 0 found recorded by hand; settlement recorded" in said
    position = world.app.position()
    code, _, said = run(*args)
    assert "0 gifts recorded, 0 found recorded by hand; settlement already recorded" in said
    assert world.app.position() == position


def test_the_vouchers_of_a_month_are_listed_with_gaps_flagged(world: World) -> None:
    world.donate("500.00", on=date(2025, 3, 1))
    for number in ("PZ-1", "PZ-3"):
        code, _, said = run(
            "money",
            "transfer",
            "bank",
            "cash",
            "10.00",
            "--on",
            "2025-03-02",
            "--as",
            "出纳",
            "--kind",
            "withdrawal",
            "--voucher-no",
            number,
        )
        assert code == 0, said
    code, out, _ = run("report", "vouchers", "--month", "2025-03")
    listed = json.loads(out)
    assert [v["voucher_no"] for v in listed["vouchers"]] == ["PZ-1", "PZ-3"]
    assert listed["gaps"] == ["PZ-2"]


def test_the_other_reports_are_passed_on_as_before(world: World) -> None:
    world.donate("500.00", on=date(2025, 3, 1))
    code, out, said = run("report", "trial-balance", "--as-of", "2025-03-31")
    assert code == 0, said
    assert "Assets:Bank" in out
