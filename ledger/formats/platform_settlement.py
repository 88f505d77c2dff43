"""Reading a payment platform's settlement file: one line a gift with its fee, and the totals
the platform pays to the bank (应结订单总金额 less 手续费总金额).

WeChat Pay's merchant trade bill (交易账单) prefixes every field with a backquote so that
spreadsheets keep long numbers whole, and ends with a summary row; Alipay's detail export
(业务明细) puts ``#`` lines around its table. Every problem is listed and nothing is returned
while any line is bad, the totals included.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ledger.domain.errors import InvalidInput, LedgerError
from ledger.formats.bank_statement import StatementRefused

LINES_MAX = 100_000
COLUMNS = {
    "transaction_id": ("微信订单号", "支付宝交易号"),
    "at": ("交易时间", "完成时间"),
    "amount": ("应结订单金额", "订单金额（元）", "订单金额(元)"),
    "fee": ("手续费", "服务费（元）", "服务费(元)"),
}
OPTIONAL = {"status": ("交易状态",), "order_no": ("商户订单号",)}
_SUMMARY = "总交易单数"
_ALIPAY_TOTAL = re.compile(r"#交易合计[:：](\d+)笔")


@dataclass(frozen=True)
class SettlementLine:
    line: int
    transaction_id: str
    day: date
    amount_fen: int
    fee_fen: int


@dataclass(frozen=True)
class Settlement:
    lines: tuple[SettlementLine, ...]

    @property
    def amount_fen(self) -> int:
        return sum(li.amount_fen for li in self.lines)

    @property
    def fee_fen(self) -> int:
        return sum(li.fee_fen for li in self.lines)

    @property
    def last_day(self) -> date:
        return max(li.day for li in self.lines)


def _fen(text: str, what: str) -> int:
    """Yuan to fen; a fee given to five decimals (WeChat's) rounds half up to the fen."""
    try:
        value = Decimal(text.replace(",", "").strip() or "0")
    except InvalidOperation:
        raise InvalidInput(what, text, "must be an amount in yuan") from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(what, text, "must be an amount in yuan, not negative")
    fen = (value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if what != "fee" and fen != value * 100:
        raise InvalidInput(what, text, "must have at most two decimals")
    return int(fen)


def _clean(row: list[str]) -> list[str]:
    return [c.strip().removeprefix("`").strip() for c in row]


def parse_settlement(text: str) -> Settlement:
    rows = [_clean(r) for r in csv.reader(io.StringIO(text))]
    if len(rows) > LINES_MAX:
        raise StatementRefused([f"over {LINES_MAX} lines: split the file"])
    at = next(
        (i for i, r in enumerate(rows) if any(n in r for n in COLUMNS["transaction_id"])), None
    )
    if at is None:
        raise StatementRefused(
            ["no header with 微信订单号 or 支付宝交易号 (a wrong encoding, or another file)"]
        )
    header = rows[at]
    found = {
        k: next((header.index(n) for n in names if n in header), None)
        for k, names in COLUMNS.items()
    }
    missing = [COLUMNS[k][0] for k, i in found.items() if i is None]
    if missing:
        raise StatementRefused([f"line {at + 1}: no column {', '.join(missing)}"])
    status = next((header.index(n) for n in OPTIONAL["status"] if n in header), None)
    lines: list[SettlementLine] = []
    problems: list[str] = []
    totals: list[str] | None = None
    count_said: int | None = None
    for number, row in enumerate(rows[at + 1 :], start=at + 2):
        if not any(row):
            continue
        if row[0].startswith("#"):
            if (said := _ALIPAY_TOTAL.match(row[0])) is not None:
                count_said = int(said.group(1))
            continue
        if row[0] == _SUMMARY:
            totals = rows[number] if number < len(rows) else []
            break
        if len(row) < len(header):
            problems.append(f"line {number}: {len(row)} fields where the header has {len(header)}")
            continue
        if status is not None and row[status] not in {"SUCCESS", "成功", "交易成功"}:
            continue  # refunds and closed orders move no gift
        try:
            lines.append(_line(number, row, found))
        except LedgerError as error:
            problems.append(f"line {number}: {error.detail}")
    problems.extend(_duplicates(lines))
    problems.extend(_total_problems(totals, count_said, lines))
    if problems:
        raise StatementRefused(problems)
    return Settlement(tuple(lines))


def _line(number: int, row: list[str], found: dict[str, int | None]) -> SettlementLine:
    def cell(key: str) -> str:
        index = found[key]
        assert index is not None
        return row[index]

    try:
        day = datetime.strptime(cell("at")[:10], "%Y-%m-%d").date()  # noqa: DTZ007
    except ValueError:
        raise InvalidInput("交易时间", cell("at"), "must start with a date YYYY-MM-DD") from None
    if not cell("transaction_id"):
        raise InvalidInput("transaction_id", "", "is empty")
    amount_fen = _fen(cell("amount"), "amount")
    if amount_fen == 0:
        raise InvalidInput("amount", cell("amount"), "must be more than zero")
    return SettlementLine(number, cell("transaction_id"), day, amount_fen, _fen(cell("fee"), "fee"))


def _duplicates(lines: list[SettlementLine]) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for li in lines:
        if li.transaction_id in seen:
            problems.append(
                f"line {li.line}: transaction {li.transaction_id} is also on line "
                f"{seen[li.transaction_id]}"
            )
        seen.setdefault(li.transaction_id, li.line)
    return problems


def _total_problems(
    totals: list[str] | None, count_said: int | None, lines: list[SettlementLine]
) -> list[str]:
    """The file's own totals against its lines; a file with none is cut short."""
    if totals is None and count_said is None:
        return ["the file ends before its totals (总交易单数 / #交易合计): truncated?"]
    problems = []
    if count_said is not None and count_said != len(lines):
        problems.append(f"#交易合计 says {count_said} lines, the file has {len(lines)}")
    if totals is not None:
        if len(totals) < 5:
            return [*problems, "the summary row is cut short (truncated?)"]
        try:
            said = (int(totals[0]), _fen(totals[1], "amount"), _fen(totals[4], "fee"))
        except (ValueError, LedgerError):
            return [*problems, f"the summary row {','.join(totals)} is not numbers"]
        sums = (len(lines), sum(li.amount_fen for li in lines), sum(li.fee_fen for li in lines))
        for label, a, b in zip(
            ("总交易单数", "应结订单总金额", "手续费总金额"), said, sums, strict=True
        ):
            if a != b:
                problems.append(f"{label} says {a}, the lines add up to {b}")
    return problems
