"""Any table of the panel's workbench as a spreadsheet: CSV for Excel (UTF-8 with a BOM) or
XLSX, Chinese headers first, every text cell made safe from formulas."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from decimal import Decimal

from openpyxl import Workbook

from projections.exports.registers_csv import _cell as safe_text

Cells = Sequence[object]

SHEET_TITLE_CHARS_MAX = 31  # Excel's limit
YUAN = re.compile(r"^-?\d{1,13}\.\d{2}$")


def table_csv(headers: Cells, rows: Sequence[Cells]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_text(h) for h in headers])
    for row in rows:
        writer.writerow([safe_text(_text(v)) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def table_xlsx(headers: Cells, rows: Sequence[Cells], title: str) -> bytes:
    """One sheet: numbers stay numbers (yuan as decimals with two places), text stays text."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:SHEET_TITLE_CHARS_MAX]
    sheet.append([safe_text(h) for h in headers])
    for row in rows:
        sheet.append([_xlsx(v) for v in row])
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text(value: object) -> object:
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


def _xlsx(value: object) -> object:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, str) and YUAN.match(value):
        return Decimal(value)  # an amount in yuan: a number to the spreadsheet
    return safe_text(value) if value is not None else None
