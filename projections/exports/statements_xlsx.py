"""The statements as an XLSX workbook (openpyxl): one sheet per statement laid out as its form,
numbers as numbers with two decimals, and a sheet of notes."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

MONEY = "#,##0.00;-#,##0.00"
SHEETS = (
    ("balance_sheet", "资产负债表"),
    ("activities", "业务活动表"),
    ("cash_flows", "现金流量表"),
)


def _form_sheet(sheet: Worksheet, fund: str, period: str, form: dict[str, Any]) -> None:
    sheet.append([f"{form['title']} {form['title_en']}", None, form["form"]])
    sheet.append([fund, None, period, form["unit"]])
    columns = form["columns"]
    sheet.append(["项目 Item", "行次 Line", *(f"{c['label']} {c['label_en']}" for c in columns)])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True)
    for row in form["rows"]:
        label = f"{row['label']} {row['label_en']}"
        if row["kind"] == "heading":
            sheet.append([label])
            sheet.cell(sheet.max_row, 1).font = Font(bold=True)
            continue
        # Decimal, never float: openpyxl writes it as the exact number it is.
        sheet.append([label, row["line"], *(Decimal(row["values"][c["key"]]) for c in columns)])
        for column in range(3, 3 + len(columns)):
            cell = sheet.cell(sheet.max_row, column)
            cell.number_format = MONEY
            cell.font = Font(bold=row["kind"] == "total")
    sheet.column_dimensions["A"].width = 48
    sheet.column_dimensions["B"].width = 8
    for index in range(len(columns)):
        sheet.column_dimensions[chr(ord("C") + index)].width = 22


def _notes_sheet(sheet: Worksheet, statements: dict[str, Any]) -> None:
    notes = statements["notes"]
    sheet.append(["附注 Notes"])
    for key, value in notes["basis"].items():
        sheet.append([key, value])
    sheet.append([])
    sheet.append(["限定性净资产 Restricted net assets by project"])
    sheet.append(["项目 project", "年初 opening", "增加 received", "解除 released", "期末 closing"])
    for row in notes["restricted_by_project"]:
        sheet.append(
            [
                row["project"],
                *(Decimal(row[k]) for k in ("opening", "received", "released", "closing")),
            ]
        )
    sheet.append([])
    sheet.append(["货币资金 Cash, bank and platforms"])
    sheet.append(["账户 account", "年初 opening", "期末 closing"])
    for row in notes["money_by_account"]:
        sheet.append([row["label"], Decimal(row["opening"]), Decimal(row["closing"])])
    sheet.append([])
    sheet.append(["受赠实物 Gifts in kind"])
    sheet.append(
        [
            "receipt",
            "project",
            "received_on",
            "fair value",
            "basis",
            "fixed asset",
            "used",
            "depreciated",
        ]
    )
    for gift in notes["in_kind"]:
        sheet.append(
            [
                gift["receipt_no"],
                gift["project"],
                gift["received_on"],
                Decimal(gift["fair_value"]),
                gift["basis_label"],
                "是 yes" if gift["fixed_asset"] else "否 no",
                Decimal(gift["used"]),
                Decimal(gift["depreciated"]),
            ]
        )
    sheet.append([])
    sheet.append(["服务捐赠 Donated services (not income)", notes["services"]["treatment"]])
    sheet.append(["project", "provider", "hours", "people", "occasions"])
    for row in notes["services"]["rows"]:
        sheet.append(
            [row["project"], row["provider"], row["hours"], row["people"], row["occasions"]]
        )
    sheet.append([])
    sheet.append(["期后更正 Corrections after the period"])
    for row in notes["corrections_after_period"]:
        sheet.append([row["type"], row["original_on"], row["corrected_on"], row["narration"]])
    sheet.column_dimensions["A"].width = 40
    sheet.column_dimensions["B"].width = 40


def export_statements_xlsx(statements: dict[str, Any]) -> bytes:
    """The workbook's bytes."""
    book = Workbook()
    period = statements["month"] or str(statements["year"])
    first = True
    for key, title in SHEETS:
        sheet = book.active if first else book.create_sheet()
        assert sheet is not None
        sheet.title = title
        first = False
        _form_sheet(sheet, statements["fund"], period, statements[key])
    _notes_sheet(book.create_sheet("附注"), statements)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
