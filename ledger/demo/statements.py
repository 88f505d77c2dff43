"""Bank statements as the bank would send them, written from the books: the demo's, and the
tests'. ICBC's corporate-banking CSV layout (``tests/fixtures/bank/README.md``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ledger.domain.yuan import format_yuan

HEADER = "交易日期,交易时间,凭证号,摘要,借方发生额,贷方发生额,余额,对方户名,对方账号,交易流水号"


@dataclass(frozen=True)
class Movement:
    day: date
    change_fen: int
    counterpart: str = ""
    reference: str = ""
    memo: str = ""


def _money(fen: int) -> str:
    whole, _, cents = format_yuan(fen).partition(".")
    return f'"{int(whole):,}.{cents}"'


def icbc_statement(
    account_no: str, holder: str, month: str, opening_fen: int, movements: Iterable[Movement]
) -> str:
    """The month's statement: the header block, a row a movement, the 合计 row (CRLF ends)."""
    rows = [
        "中国工商银行 企业网上银行 账户明细查询结果",
        f"账号：{account_no}",
        f"户名：{holder}",
        "币种：人民币",
        f"查询区间：{month}",
        HEADER,
    ]
    balance_fen, debit_fen, credit_fen = opening_fen, 0, 0
    for serial, m in enumerate(sorted(movements, key=lambda m: m.day), start=1):
        balance_fen += m.change_fen
        debit = _money(-m.change_fen) if m.change_fen < 0 else ""
        credit = _money(m.change_fen) if m.change_fen > 0 else ""
        debit_fen += max(0, -m.change_fen)
        credit_fen += max(0, m.change_fen)
        reference = m.reference or f"HQ{m.day:%Y%m%d}{serial:06d}"
        memo = m.memo or ("转账收入" if m.change_fen > 0 else "转账支出")
        rows.append(
            f"{m.day.isoformat()},10:00:00,,{memo},{debit},{credit},{_money(balance_fen)},"
            f"{m.counterpart},,{reference}"
        )
    rows.append(f"合计,,,,{_money(debit_fen)},{_money(credit_fen)},,,,")
    return "\r\n".join(rows) + "\r\n"
