"""Reading a bank statement export (对账单 / 账户明细): a header block, then a table of lines
with debit and credit columns (借方发生额 / 贷方发生额) and the running balance (余额).

Chinese banks export CSV in GBK (GB18030) or UTF-8; the table's header row is found by its
column names, whatever the lines before it say (account number, holder, currency, period).
Every problem is reported with its line number and nothing is returned while any line is
bad: a wrong encoding, a missing column, a truncated last line, a balance that does not follow
from the line before it, or a footer total (合计) that does not match the lines.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime

from ledger.domain.errors import InvalidInput, LedgerError
from ledger.domain.money import parse_yuan
from ledger.domain.yuan import format_yuan

LINES_MAX = 100_000
HEADER_LINES_MAX = 30
# Each column the table needs, by the names banks give it (ICBC, ABC, CCB, BOC, ZJRCU).
COLUMNS = {
    "day": ("交易日期", "记账日期", "交易时间", "日期"),
    "debit": ("借方发生额", "借方金额", "支出金额", "付款金额"),
    "credit": ("贷方发生额", "贷方金额", "收入金额", "收款金额"),
    "balance": ("余额", "账户余额", "当前余额"),
}
OPTIONAL = {
    "counterpart": ("对方户名", "对方单位名称", "对方账户名称", "对方名称"),
    "counterpart_account": ("对方账号", "对方账户"),
    "reference": ("交易流水号", "流水号", "凭证号", "交易参考号"),
    "memo": ("摘要", "用途", "附言"),
}
_HOLDER = re.compile(r"^(户名|账户名称|单位名称)[:：]\s*(.+)$")
_ACCOUNT = re.compile(r"^(账号|账户|卡号)[:：]\s*([\d\s*-]+)$")


class StatementRefused(LedgerError):
    """A file refused whole, with every problem found in it."""

    kind = "invalid"
    code = "statement-refused"
    title = "The file was refused"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"{len(problems)} problem(s): " + "; ".join(problems[:20]), problems=problems
        )
        self.problems = problems


@dataclass(frozen=True)
class StatementLine:
    line: int  # in the file, for the treasurer to find it
    day: date
    debit_fen: int  # money out of the account
    credit_fen: int  # money in
    balance_fen: int
    counterpart: str
    counterpart_account: str
    reference: str
    memo: str

    @property
    def change_fen(self) -> int:
        return self.credit_fen - self.debit_fen


@dataclass(frozen=True)
class BankStatement:
    account_no: str
    holder: str
    opening_balance_fen: int
    lines: tuple[StatementLine, ...]

    @property
    def closing_balance_fen(self) -> int:
        return self.lines[-1].balance_fen if self.lines else self.opening_balance_fen


def decode_statement(data: bytes, encoding: str = "auto") -> str:
    """UTF-8 (a BOM or none) or GBK/GB18030; ``auto`` tries UTF-8 first, then GB18030."""
    tried = ("utf-8-sig", "gb18030") if encoding == "auto" else (encoding,)
    for name in tried:
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    raise StatementRefused([f"the file is not {' or '.join(tried)} text"])


def _amount(text: str, what: str) -> int:
    cleaned = text.replace(",", "").replace("¥", "").strip()
    if cleaned in {"", "-", "0", "0.00"}:
        return 0
    return parse_yuan(cleaned, field=what, allow_zero=True)


def _day(text: str) -> date:
    cleaned = text.strip()
    for pattern in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y%m%d %H:%M:%S"):
        try:
            return datetime.strptime(cleaned, pattern).date()  # noqa: DTZ007 (a bank's day)
        except ValueError:
            continue
    raise InvalidInput("交易日期", cleaned, "must be a date such as 2026-01-31 or 20260131")


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    return next((header.index(n) for n in names if n in header), None)


def parse_bank_statement(text: str) -> BankStatement:
    """The statement's lines, checked; ``StatementRefused`` with every problem otherwise."""
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) > LINES_MAX:
        raise StatementRefused([f"over {LINES_MAX} lines: split the statement by month"])
    holder, account_no, at = "", "", None
    for index, row in enumerate(rows[:HEADER_LINES_MAX]):
        cells = [c.strip() for c in row]
        first = ",".join(c for c in cells if c)
        if (found := _HOLDER.match(first)) is not None:
            holder = found.group(2).strip()
        if (found := _ACCOUNT.match(first)) is not None:
            account_no = re.sub(r"\s", "", found.group(2))
        if sum(any(n in cells for n in names) for names in COLUMNS.values()) >= 2:
            at = index
            break
    if at is None:
        raise StatementRefused(
            [
                "no table header with 交易日期, 借方发生额, 贷方发生额 and 余额 in the first "
                f"{HEADER_LINES_MAX} lines (a wrong encoding, or not a bank statement)"
            ]
        )
    header = [c.strip() for c in rows[at]]
    columns = {key: _find(header, names) for key, names in COLUMNS.items()}
    missing = [COLUMNS[key][0] for key, i in columns.items() if i is None]
    if missing:
        raise StatementRefused([f"line {at + 1}: the table has no column {', '.join(missing)}"])
    optional = {key: _find(header, names) for key, names in OPTIONAL.items()}
    lines, problems, footer = _lines(rows, at, header, columns, optional)
    truncated = not text.endswith(("\n", "\r"))
    if truncated and rows and len(rows) - 1 > at and len(rows[-1]) < len(header):
        problems.append(f"line {len(rows)}: the last line is cut short (the file is truncated)")
    problems.extend(_balance_problems(lines))
    problems.extend(_footer_problems(footer, lines))
    if problems:
        raise StatementRefused(problems)
    opening_fen = lines[0].balance_fen - lines[0].change_fen if lines else 0
    return BankStatement(account_no, holder, opening_fen, tuple(lines))


def _lines(
    rows: list[list[str]],
    at: int,
    header: list[str],
    columns: dict[str, int | None],
    optional: dict[str, int | None],
) -> tuple[list[StatementLine], list[str], dict[str, int] | None]:
    lines: list[StatementLine] = []
    problems: list[str] = []
    footer: dict[str, int] | None = None
    for number, row in enumerate(rows[at + 1 :], start=at + 2):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if cells[0].startswith(("合计", "总计", "本页合计")):
            footer = _footer(cells, columns)
            continue
        if len(cells) < len(header):
            problems.append(
                f"line {number}: {len(cells)} fields where the header has {len(header)}"
            )
            continue
        try:
            lines.append(_line(number, cells, columns, optional))
        except LedgerError as error:
            problems.append(f"line {number}: {error.detail}")
    return lines, problems, footer


def _line(
    number: int, cells: list[str], columns: dict[str, int | None], optional: dict[str, int | None]
) -> StatementLine:
    def cell(index: int | None) -> str:
        return cells[index] if index is not None else ""

    debit_fen = _amount(cell(columns["debit"]), "借方发生额")
    credit_fen = _amount(cell(columns["credit"]), "贷方发生额")
    if (debit_fen == 0) == (credit_fen == 0):
        raise InvalidInput("借方/贷方", f"{debit_fen}/{credit_fen}", "one of the two must be set")
    if debit_fen < 0 or credit_fen < 0:
        raise InvalidInput("借方/贷方", f"{debit_fen}/{credit_fen}", "must not be negative")
    return StatementLine(
        line=number,
        day=_day(cell(columns["day"])),
        debit_fen=debit_fen,
        credit_fen=credit_fen,
        balance_fen=_amount(cell(columns["balance"]), "余额"),
        counterpart=cell(optional["counterpart"]),
        counterpart_account=cell(optional["counterpart_account"]),
        reference=cell(optional["reference"]),
        memo=cell(optional["memo"]),
    )


def _footer(cells: list[str], columns: dict[str, int | None]) -> dict[str, int]:
    found: dict[str, int] = {}
    for key in ("debit", "credit"):
        index = columns[key]
        if index is not None and index < len(cells):
            try:
                found[key] = _amount(cells[index], key)
            except LedgerError:
                found[key] = -1
    return found


def _balance_problems(lines: list[StatementLine]) -> list[str]:
    """Each balance must follow from the one before and the line's own movement."""
    problems = []
    for before, line in itertools.pairwise(lines):
        if before.balance_fen + line.change_fen != line.balance_fen:
            problems.append(
                f"line {line.line}: 余额 {format_yuan(line.balance_fen)} does not follow from "
                f"{format_yuan(before.balance_fen)} and this line's movement"
            )
    return problems


def _footer_problems(footer: dict[str, int] | None, lines: list[StatementLine]) -> list[str]:
    if footer is None:
        return []
    sums = {
        "debit": sum(li.debit_fen for li in lines),
        "credit": sum(li.credit_fen for li in lines),
    }
    return [
        f"合计 {key}: the footer says {format_yuan(footer[key])}, the lines add up to "
        f"{format_yuan(sums[key])}"
        for key in footer
        if footer[key] != sums[key]
    ]
