"""The statutory statements of the demo: at every month end the balance sheet balances, the
activities form's change in net assets is the balance sheet's, the cash-flow form's net
increase is the change in cash; and the XLSX and the PDF hold the JSON's figures."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from projections.exports import export_statements_pdf, export_statements_xlsx
from projections.exports.statements_pdf import chromium_path
from projections.reader import Reader
from projections.statements.forms import figure
from projections.statements.notes import money_by_account

# The demo's months, December 2025 to November 2026.
DEMO_MONTHS = [(2025, 12)] + [(2026, month) for month in range(1, 12)]
# The totals an auditor reads first: (statement, line, column of the year statements).
TOTALS = (
    ("balance_sheet", 60, "closing"),
    ("balance_sheet", 120, "closing"),
    ("balance_sheet", 110, "closing"),
    ("activities", 11, "current_total"),
    ("activities", 31, "current_total"),
    ("activities", 45, "current_total"),
    ("cash_flows", 61, "current"),
)


@pytest.fixture(scope="module")
def year_2026(reader: Reader) -> dict[str, object]:
    return reader.statements(2026)


@pytest.mark.parametrize(("year", "month"), DEMO_MONTHS)
def test_at_every_month_end_the_statements_agree_with_each_other(
    reader: Reader, year: int, month: int
) -> None:
    statements = reader.statements(year, month)
    assert statements["checks"] == {
        "balance_sheet_balances": True,
        "activities_match_net_assets": True,
        "cash_flows_match_cash": True,
    }
    sheet, acts = statements["balance_sheet"], statements["activities"]
    # Worked again here from the figures, not taken from "checks".
    assert figure(sheet, 60, "closing") == figure(sheet, 120, "closing")
    net = [Decimal(figure(sheet, 110, column)) for column in ("opening", "closing")]
    assert Decimal(figure(acts, 45, "year_total")) == net[1] - net[0]
    cash = [Decimal(figure(sheet, 1, column)) for column in ("opening", "closing")]
    assert Decimal(figure(statements["cash_flows"], 61, "year")) == cash[1] - cash[0]
    assert Decimal(figure(sheet, 105, "closing")) >= 0


def test_the_year_2026_shows_liabilities_goods_fixed_assets_and_custody(
    year_2026: dict[str, object],
) -> None:
    sheet = year_2026["balance_sheet"]
    assert figure(sheet, 62, "closing") == "2400.00"  # the stage-lighting bill, unpaid
    assert figure(sheet, 51, "closing") == figure(sheet, 91, "closing") == "10000.00"
    assert figure(sheet, 31, "closing") == "12800.00"
    assert figure(sheet, 32, "closing") == "2133.30"  # ten months of 213.33
    assert figure(sheet, 8, "closing") == "0.00"  # the noodle ingredients all used
    notes = year_2026["notes"]
    assert {g["basis"] for g in notes["in_kind"]} == {"invoice", "market_price"}
    assert notes["services"]["hours_total"] == 170  # (9 + 8) hours, ten months
    assert all(float(row["closing"]) >= 0 for row in notes["restricted_by_project"])
    assert year_2026["closed"] is False


def test_the_first_year_is_closed_and_its_ratio_basis_is_stated(reader: Reader) -> None:
    assert reader.closed_years() == [2025]
    first = reader.statements(2025)
    assert first["closed"] is True
    # No year before the fund's first: the charitable-spending ratio cannot be worked out.
    assert first["ratios"]["charitable_spending"]["status"] == "not computable"
    later = reader.statements(2026)["ratios"]["charitable_spending"]
    assert later["basis"] == "previous_year_income"
    assert later["basis_amount"] == figure(first["activities"], 11, "current_total")
    assert later["status"] in {"ok", "below the minimum"}


def test_the_workbook_holds_the_json_figures_as_numbers(year_2026: dict[str, object]) -> None:
    book = load_workbook(io.BytesIO(export_statements_xlsx(year_2026)))
    assert book.sheetnames == ["资产负债表", "业务活动表", "现金流量表", "附注"]
    sheets = dict(zip(("balance_sheet", "activities", "cash_flows"), book.worksheets, strict=False))
    for key, line, column in TOTALS:
        sheet = sheets[key]
        keys = [c["key"] for c in year_2026[key]["columns"]]
        row = next(r for r in sheet.iter_rows(min_row=4) if r[1].value == line)
        cell = row[2 + keys.index(column)]
        assert isinstance(cell.value, int | float | Decimal), (key, line)
        assert Decimal(str(cell.value)).quantize(Decimal("0.01")) == Decimal(
            figure(year_2026[key], line, column)
        )
        assert cell.number_format == "#,##0.00;-#,##0.00"


@pytest.mark.browser
def test_the_pdf_prints_the_json_figures(year_2026: dict[str, object]) -> None:
    import os

    if not os.path.exists(chromium_path()):
        if os.environ.get("FUND_LEDGER_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required to print the statements")
        pytest.skip("no Chromium")
    pdf = PdfReader(io.BytesIO(export_statements_pdf(year_2026)))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert len(pdf.pages) >= 3
    for key, line, column in TOTALS:
        assert figure(year_2026[key], line, column) in text, (key, line)


def test_the_statements_are_one_json_document(year_2026: dict[str, object]) -> None:
    again = json.loads(json.dumps(year_2026, ensure_ascii=False))
    assert again == year_2026


def test_the_notes_show_cash_bank_and_platform_money_on_their_lines() -> None:
    opening = {"Assets:Bank": 100_000, "Assets:Cash": 5_000}
    closing = {
        "Assets:Bank": 90_000,
        "Assets:Bank:Icbc-2": 7_000,
        "Assets:Cash": 2_500,
        "Assets:Platforms:WechatPay": 1_188,
        "Assets:Platforms:Alipay": 400,
        "Expenses:Programme:Noodles": 10_000,
    }
    rows = money_by_account(opening, closing)
    assert [(r["account"], r["opening"], r["closing"]) for r in rows] == [
        ("Assets:Cash", "50.00", "25.00"),
        ("Assets:Bank", "1000.00", "970.00"),
        ("Assets:Bank:Icbc-2", "0.00", "70.00"),
        ("Assets:Platforms", "0.00", "15.88"),
        ("Assets:Platforms:Alipay", "0.00", "4.00"),
        ("Assets:Platforms:WechatPay", "0.00", "11.88"),
    ]
    assert rows[0]["label"].startswith("库存现金")
    assert rows[3]["label"].startswith("其他货币资金")
