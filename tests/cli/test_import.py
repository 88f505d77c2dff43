"""Importing donations from CSV on the command line: every bad row reported, nothing imported
partially unless asked.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fund_ledger.cli import app
from ledger.app import OPERATOR, FundLedger
from ledger.domain.money import parse_yuan


@pytest.fixture
def store(store_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[FundLedger, str]:
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", store_url)
    ledger = FundLedger(store_url)
    ledger.establish_fund(OPERATOR, "import fund")
    ledger.add_user(OPERATOR, "出纳", "treasurer")
    donor = ledger.register_donor(ledger.actor_named("出纳"), "某企业", "enterprise", "named").id
    yield ledger, donor
    ledger.close()


def _csv(
    path: Path, rows: list[str], header: str = "donor_id,amount,received_on,channel,receipt_no"
) -> Path:
    path.write_text("\ufeff" + "\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_good_file_is_imported_whole(store: tuple[FundLedger, str], tmp_path: Path) -> None:
    ledger, donor = store
    rows = [f"{donor},{i}.50,2026-01-0{1 + i % 9},wechat_pay,R{i}" for i in range(1, 26)]
    result = CliRunner().invoke(
        app, ["import", "donations", str(_csv(tmp_path / "a.csv", rows)), "--as", "出纳"]
    )
    assert result.exit_code == 0, result.output
    assert ledger.summary().received_total_fen == sum(parse_yuan(f"{i}.50") for i in range(1, 26))


def test_every_bad_row_is_reported_and_nothing_is_imported(
    store: tuple[FundLedger, str], tmp_path: Path
) -> None:
    ledger, donor = store
    before = ledger.position()
    rows = [
        f"{donor},100.00,2026-01-05,cash,OK-1",
        f"{donor},1e6,2026-01-05,cash,BAD-EXP",  # not a yuan amount
        f"{donor},3000000.00,2026-01-05,cash,BAD-TYPO",  # a 1e6-yuan typo
        f"{donor},10.00,2026-01-05,cash,OK-1",  # a duplicate receipt number
        f"{donor},10.00,not-a-date,cash,BAD-DATE",
        f"{donor},10.00,2026-01-05,cheque,BAD-CHANNEL",
        "00000000-0000-0000-0000-000000000000,10.00,2026-01-05,cash,BAD-DONOR",
    ]
    result = CliRunner().invoke(
        app, ["import", "donations", str(_csv(tmp_path / "b.csv", rows)), "--as", "出纳"]
    )
    assert result.exit_code == 1
    for line in range(3, 9):  # every bad row, by its line in the file
        assert f"line {line}:" in result.output, result.output
    assert "line 2:" not in result.output
    assert ledger.position() == before

    result = CliRunner().invoke(
        app, ["import", "donations", str(tmp_path / "b.csv"), "--as", "出纳", "--partial"]
    )
    assert result.exit_code == 0, result.output
    assert ledger.summary().received_total_fen == parse_yuan("100.00")


def test_a_receipt_already_in_the_books_stops_the_whole_file(
    store: tuple[FundLedger, str], tmp_path: Path
) -> None:
    ledger, donor = store
    ledger.record_donation(
        ledger.actor_named("出纳"), donor, 100, date(2026, 1, 2), "cash", receipt_no="TAKEN"
    )
    before = ledger.position()
    rows = [f"{donor},5.00,2026-01-05,cash,NEW-{i}" for i in range(5)]
    rows.append(f"{donor},5.00,2026-01-05,cash,TAKEN")
    result = CliRunner().invoke(
        app, ["import", "donations", str(_csv(tmp_path / "c.csv", rows)), "--as", "出纳"]
    )
    assert result.exit_code == 1
    assert "TAKEN is already recorded" in result.output
    assert ledger.position() == before


def test_wrong_encoding_and_missing_columns_are_refused(
    store: tuple[FundLedger, str], tmp_path: Path
) -> None:
    ledger, donor = store
    before = ledger.position()
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(
        f"donor_id,amount,received_on,channel\n{donor},1.00,2026-01-05,现金\n".encode("gbk")
    )
    result = CliRunner().invoke(app, ["import", "donations", str(gbk), "--as", "出纳"])
    assert result.exit_code == 2
    assert "UTF-8" in result.output
    missing = _csv(tmp_path / "m.csv", [f"{donor},1.00"], header="donor_id,amount")
    result = CliRunner().invoke(app, ["import", "donations", str(missing), "--as", "出纳"])
    assert result.exit_code == 2
    assert "received_on" in result.output
    assert ledger.position() == before


def _import(path: Path, *flags: str) -> Result:
    return CliRunner().invoke(app, ["import", "donations", str(path), "--as", "出纳", *flags])


def test_a_bank_file_without_receipt_numbers_imported_twice_is_refused_the_second_time(
    store: tuple[FundLedger, str], tmp_path: Path
) -> None:
    ledger, donor = store
    rows = [f"{donor},{100 + i}.00,2026-01-0{1 + i},bank_transfer" for i in range(4)]
    bank = _csv(tmp_path / "bank.csv", rows, header="donor_id,amount,received_on,channel")
    first = _import(bank)
    assert first.exit_code == 0, first.output
    received_fen = ledger.summary().received_total_fen
    assert received_fen == sum(parse_yuan(f"{100 + i}.00") for i in range(4))
    before = ledger.position()

    second = _import(bank)

    assert second.exit_code == 1
    lines = second.stderr.splitlines()
    for line in range(2, 6):  # each row listed, with the receipt the books gave it
        assert any(
            text.startswith(f"line {line}: already recorded as receipt ") for text in lines
        ), second.stderr
    assert "4 bad rows: nothing imported" in second.stderr
    assert "4 already recorded: --allow-duplicates" in second.stderr
    assert ledger.position() == before
    assert ledger.summary().received_total_fen == received_fen


def test_a_repeated_row_without_a_receipt_number_is_refused_unless_allowed(
    store: tuple[FundLedger, str], tmp_path: Path
) -> None:
    ledger, donor = store
    rows = [f"{donor},50.00,2026-01-05,cash", f"{donor},50.00,2026-01-05,cash"]
    twice = _csv(tmp_path / "twice.csv", rows, header="donor_id,amount,received_on,channel")
    refused = _import(twice)
    assert refused.exit_code == 1
    assert "line 3: no receipt number, and the same natural key" in refused.stderr
    assert "as line 2" in refused.stderr
    assert ledger.summary().received_total_fen == 0

    allowed = _import(twice, "--allow-duplicates")

    assert allowed.exit_code == 0, allowed.output
    assert ledger.summary().received_total_fen == parse_yuan("100.00")
    # Other gifts of the same donor, day and amount are different gifts: another channel.
    other = _csv(tmp_path / "other.csv", [f"{donor},50.00,2026-01-05,wechat_pay"])
    assert _import(other).exit_code == 0
    assert ledger.summary().received_total_fen == parse_yuan("150.00")


def test_a_receipt_the_load_finds_recorded_is_listed_by_its_line_and_nothing_is_imported(
    store: tuple[FundLedger, str], tmp_path: Path
) -> None:
    """A clean file leaves the receipts already recorded to the load (on PostgreSQL, whose
    COPY refuses them); the report is the preflight's all the same."""
    ledger, donor = store
    ledger.record_donation(
        ledger.actor_named("出纳"), donor, 100, date(2026, 1, 2), "cash", receipt_no="R-27"
    )
    before = ledger.position()
    rows = [f"{donor},{i}.00,2026-01-05,cash,R-{i}" for i in range(1, 31)]
    rows.insert(10, "")  # a blank line: line numbers are the file's, not the rows'
    result = _import(_csv(tmp_path / "late.csv", rows))
    assert result.exit_code == 1
    assert "line 29: receipt R-27 is already recorded" in result.stderr, result.stderr
    assert "1 bad rows: nothing imported" in result.stderr
    assert ledger.position() == before
    assert ledger.summary().received_total_fen == 100


def test_a_bad_row_met_after_the_load_began_is_listed_by_its_line_and_nothing_is_imported(
    store: tuple[FundLedger, str], tmp_path: Path
) -> None:
    """On PostgreSQL a clean-looking file is stored as it is read: a bad row far down (after
    chunks went to the COPY) rolls it all back, and the file is read again to list every
    bad row, by its line."""
    from ledger.store import bulk

    ledger, donor = store
    before = ledger.position()
    count = 2 * bulk.CHUNK_ROWS + 500
    rows = [f"{donor},{1 + i % 90}.00,2026-01-05,cash,L-{i}" for i in range(count)]
    rows[count - 300] = f"{donor},12.345,2026-01-05,cash,L-BAD"  # three decimals
    rows[count - 100] = f"{donor},5.00,2026-01-05,cheque,L-CHEQUE"  # no such channel
    result = _import(_csv(tmp_path / "long.csv", rows))
    assert result.exit_code == 1
    assert f"line {count - 300 + 2}: " in result.stderr, result.stderr
    assert "12.345" in result.stderr
    assert f"line {count - 100 + 2}: channel 'cheque' is not known" in result.stderr
    assert "2 bad rows: nothing imported" in result.stderr
    assert ledger.position() == before


@pytest.mark.parametrize("leave_views", [False, True])
def test_an_import_leaves_the_views_caught_up_unless_told_to_leave_them(
    store: tuple[FundLedger, str], tmp_path: Path, leave_views: bool
) -> None:
    from projections.runner import Views

    ledger, donor = store
    rows = [f"{donor},{i}.00,2026-01-05,alipay,L{i}" for i in range(1, 11)]
    args = ["import", "donations", str(_csv(tmp_path / "l.csv", rows)), "--as", "出纳"]
    result = CliRunner().invoke(app, [*args, "--leave-views"] if leave_views else args)
    assert result.exit_code == 0, result.output
    views = Views(ledger)
    behind = [s.name for s in views.specs if views.position(s.name) < ledger.position()]
    # Left: every view is behind the ten gifts (a runner or a rebuild brings them).
    assert behind == ([s.name for s in views.specs] if leave_views else [])
