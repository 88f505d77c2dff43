"""The panel's workbench on the command line: a question answered as XLSX, and the views left
caught up by the command that wrote the events (SQLite)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from fund_ledger.cli import app
from ledger.app import FundLedger
from ledger.domain.accounts import event_name
from projections.runner import Views


def test_query_answers_spending_per_project_as_xlsx(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", sqlite_url)
    demo = CliRunner().invoke(app, ["demo"])
    assert demo.exit_code == 0, demo.output
    ledger = FundLedger(sqlite_url)
    views = Views(ledger)
    # The demo command left every view at the log's end.
    assert {views.position(s.name) for s in views.specs} == {ledger.position()}
    paid: dict[str, tuple[str, int]] = {}
    for _, event in ledger.iter_events():
        if event_name(event) == "Expense.Paid":
            paid[str(event.originator_id)] = (event.project_code, event.amount_fen)
        elif event_name(event) == "Expense.Reversed":
            del paid[str(event.originator_id)]
    views.close()
    ledger.close()
    expected: Counter[str] = Counter()
    for project, amount_fen in paid.values():
        expected[project] += amount_fen

    out = tmp_path / "spending.xlsx"
    args = ["query", "project", "--measure", "expenses,expense_count", "--format", "xlsx"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:3] == ["项目 / project", "项目 / project（名称）", "支出（元） / expenses"]
    got = {r[0]: Decimal(str(r[2])) for r in rows[1:-1]}
    assert got == {p: Decimal(f) / 100 for p, f in expected.items()}
    assert rows[-1][3] == len(paid)

    refused = CliRunner().invoke(app, ["query", "colour"])
    assert refused.exit_code == 2
    assert "group_by" in refused.output

    # The warnings, on the same books: the payees who also gave, by name at the console.
    warned = CliRunner().invoke(app, ["checks", "--kind", "related_party", "--format", "csv"])
    assert warned.exit_code == 0, warned.output
    assert "南湖宾馆：收款12笔" in warned.stdout
    assert warned.stdout.startswith("\ufeff编号 / id")
