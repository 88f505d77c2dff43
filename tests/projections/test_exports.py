"""Exports, Beancount: bean-check agrees with the views and the summary, a tampered journal fails,
a journal is read again while the books move; and what a new store exports.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data, realization
from exporting import PUBLISHED_ON, read_csv

from ledger.app import OPERATOR, FundLedger
from ledger.domain.books import total_fen
from ledger.domain.money import parse_yuan
from ledger.domain.yuan import format_yuan
from projections.exports import ExportMoved, export_360giving, export_beancount, export_csv
from projections.reader import Reader
from projections.runner import Views

BEAN_CHECK = Path(sys.executable).parent / "bean-check"


@pytest.fixture(scope="module")
def journal(reader: Reader) -> str:
    return export_beancount(reader)


def bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


# -- Beancount ---------------------------------------------------------------------------------


def test_the_journal_passes_bean_check_and_loads_without_errors(
    reader: Reader, journal: str, tmp_path: Path
) -> None:
    path = tmp_path / "fund.beancount"
    path.write_text(journal, encoding="utf-8")
    result = bean_check(path)
    assert (result.returncode, result.stderr) == (0, "")

    entries, errors, options = loader.load_file(str(path))
    assert errors == []
    assert options["operating_currency"] == ["CNY"]
    fund = reader.fund()
    assert fund is not None
    assert options["title"] == fund["name"]
    transactions = [e for e in entries if isinstance(e, data.Transaction)]
    events = [t for t in transactions if "position" in t.meta]
    rows = reader.books_view.query("SELECT position, event_id FROM {t}fl_entries")
    assert sorted((int(t.meta["position"]), t.meta["event-id"]) for t in events) == sorted(
        (int(r["position"]), r["event_id"]) for r in rows
    )
    # Every other transaction is a day's release from restriction, as the books derive it,
    # or the closing entries of a closed year (the demo closes 2025).
    closings = [t for t in transactions if "closes-year" in t.meta]
    assert [(t.date, t.meta["closes-year"]) for t in closings] == [(date(2025, 12, 31), "2025")]
    assert sum(p.units.number for p in closings[0].postings) == 0
    assert any(p.account.startswith("Equity:NetAssets:") for p in closings[0].postings)
    releases = [t for t in transactions if "position" not in t.meta and t not in closings]
    assert [(t.date, t.meta["release-of"], t.postings[0].units.number) for t in releases] == [
        (day, component, Decimal(amount_fen) / 100)
        for day, component, amount_fen in reader.releases()
    ]
    assert releases, "the demo releases restricted money"
    assert all(t.flag == "*" for t in transactions)
    # One assertion per account after each of the twelve demo months: the check has teeth.
    accounts = {e.account for e in entries if isinstance(e, data.Open)}
    balances = [e for e in entries if isinstance(e, data.Balance)]
    assert len(balances) == 12 * len(accounts)
    assert {b.date for b in balances} == {
        date(2025 + (m + 11) // 12, (m + 11) % 12 + 1, 1) for m in range(1, 13)
    }


def test_the_journal_balances_equal_the_views_and_the_summary(reader: Reader, journal: str) -> None:
    entries, errors, _ = loader.load_string(journal)
    assert errors == []
    real = realization.realize(entries)

    def fen(account: str) -> int:
        """The balance of an account and its children in fen, 0 for an account not there."""
        node = realization.get(real, account)
        if node is None:
            return 0
        number = realization.compute_balance(node).get_currency_units("CNY").number * 100
        assert number == number.to_integral_value()
        return int(number)

    position = reader.summary()
    assert position == reader.views.ledger.summary()  # the views agree with the event fold
    # Cash and cash equivalents: the bank, the cash box and the platforms' balances.
    money_fen = fen("Assets:Bank") + fen("Assets:Cash") + fen("Assets:Platforms")
    assert money_fen == position.balance_fen
    assert fen("Assets:Cash") > 0, "the demo's cash gifts sit in the cash box"
    received = [
        "Income:Unrestricted:Donations",
        "Income:Unrestricted:GovernmentGrants",
        "Income:Restricted:Donations",
        "Income:Restricted:GovernmentGrants",
    ]
    # Income and expense of the closed year 2025 are in net assets in the journal; the
    # position's running totals are the flows, before any close.
    flows = reader.balances()
    assert -sum(total_fen(flows, a) for a in received) == position.received_total_fen
    assert position.received_total_fen == parse_yuan("3000000.00")
    in_kind_costs = -total_fen(flows, "Assets:InKind:UsedFor") - total_fen(
        flows, "Assets:FixedAssets:Depreciation"
    )
    assert in_kind_costs == parse_yuan("8133.30")  # goods used, ten months' depreciation
    assert total_fen(flows, "Expenses") - in_kind_costs == position.spent_total_fen
    assert fen("Assets:InKind") + fen("Assets:FixedAssets") == position.in_kind_total_fen
    # Each account's own balance (a parent's children apart), as the views hold it.
    own = {
        node.account: int(node.balance.get_currency_units("CNY").number * 100)
        for node in realization.iter_children(real)
        if node.account
    }
    assert {a: v for a, v in own.items() if v} == reader.balances_closed()
    assert fen("Equity:NetAssets") != 0, "the close of 2025 is in the journal"


def _bump(line: str, fen: int) -> str:
    """A posting or balance line with its amount moved by some fen."""
    match = re.search(r"(-?\d+\.\d{2})( ~ 0\.00)? CNY$", line)
    assert match is not None, line
    moved = format_yuan(round(Decimal(match[1]) * 100) + fen)
    return line[: match.start(1)] + moved + line[match.end(1) :]


def _one_posting(journal: str) -> tuple[str, str]:
    lines = journal.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  Assets:Bank"))
    lines[first] = _bump(lines[first], 1)
    return "\n".join(lines), "Transaction does not balance"


def _a_balanced_pair(journal: str) -> tuple[str, str]:
    # Still balanced, so only the assertions from the daily totals can catch it.
    lines = journal.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  Assets:Bank"))
    lines[first] = _bump(lines[first], 1)
    lines[first + 1] = _bump(lines[first + 1], -1)
    return "\n".join(lines), "Balance failed for 'Assets:Bank'"


def _an_assertion(journal: str) -> tuple[str, str]:
    lines = journal.splitlines()
    last = max(i for i, line in enumerate(lines) if " balance Expenses:" in line)
    lines[last] = _bump(lines[last], -1)
    return "\n".join(lines), "Balance failed for 'Expenses:"


@pytest.mark.parametrize("tamper", [_one_posting, _a_balanced_pair, _an_assertion])
def test_a_tampered_journal_fails_bean_check(
    journal: str, tmp_path: Path, tamper: Callable[[str], tuple[str, str]]
) -> None:
    tampered, complaint = tamper(journal)
    assert tampered != journal
    path = tmp_path / "tampered.beancount"
    path.write_text(tampered, encoding="utf-8")
    result = bean_check(path)
    assert result.returncode != 0
    assert complaint in result.stderr
    _, errors, _ = loader.load_file(str(path))
    assert any(complaint in error.message for error in errors)


def test_the_journal_is_read_again_while_the_books_move(
    reader: Reader, journal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The books move once during the first read, then settle: the second read is returned.
    positions = iter([10, 11, 11, 11])
    monkeypatch.setattr(reader.views, "position", lambda name: next(positions))
    assert export_beancount(reader) == journal
    ever = itertools.count()
    monkeypatch.setattr(reader.views, "position", lambda name: next(ever))
    with pytest.raises(ExportMoved):
        export_beancount(reader)


def test_a_new_store_exports_an_empty_journal_odd_text_and_no_empty_package(
    store_url: str, tmp_path: Path
) -> None:
    ledger = FundLedger(store_url)
    views = Views(ledger)
    reader = Reader(views)
    path = tmp_path / "small.beancount"
    try:
        views.catch_up()
        path.write_text(export_beancount(reader), encoding="utf-8")
        assert (bean_check(path).returncode, loader.load_file(str(path))[:2]) == (0, ([], []))
        assert read_csv(export_csv(reader, "donations", public=True)) == []
        with pytest.raises(ValueError, match="no fund"):
            export_360giving(reader, published_on=PUBLISHED_ON)

        ledger.establish_fund(OPERATOR, "小基金", quorum=1)
        ledger.add_user(OPERATOR, "出纳", "treasurer")
        ledger.add_user(OPERATOR, "委员", "committee")
        treasurer = ledger.actor_named("出纳")
        formula = ledger.register_donor(treasurer, "=1+1 商行", "enterprise", "named").id
        secret = ledger.register_donor(
            treasurer, "钱多多", "individual", "anonymous", {"phone": "13900000000"}
        ).id
        day = date(2026, 1, 5)
        ledger.record_donation(treasurer, formula, parse_yuan("10.00"), day, "cash")
        wrong = ledger.record_donation(treasurer, secret, parse_yuan("99.00"), day, "cash").id
        reason = '金额应为 "9.90" \\ 见凭证\n第二行'
        ledger.reverse_donation(ledger.actor_named("委员"), wrong, reason, on=day)
        views.catch_up()

        path.write_text(export_beancount(reader), encoding="utf-8")
        assert (bean_check(path).returncode, bean_check(path).stderr) == (0, "")
        entries, errors, _ = loader.load_file(str(path))
        assert errors == []
        narrations = {e.narration for e in entries if isinstance(e, data.Transaction)}
        assert f"冲销捐赠 donation reversed: {reason.replace(chr(10), ' ')}" in narrations
        public = export_csv(reader, "donations", public=True)
        assert "钱多多".encode() not in public
        assert b"13900000000" not in public
        # A spreadsheet would run a cell starting with "=", so it is kept as text.
        assert "'=1+1 商行" in {row["捐赠人 / donor"] for row in read_csv(public)}
        # 360Giving refuses a package without grants, so none is made.
        with pytest.raises(ValueError, match="no approved or closed grants"):
            export_360giving(reader, published_on=PUBLISHED_ON)
    finally:
        views.close()
        ledger.close()
