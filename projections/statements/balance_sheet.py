"""资产负债表 (会民非01表): assets, liabilities and net assets at the start and the end."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from ledger.domain.accounts import (
    CUSTODY_ASSETS,
    CUSTODY_LIABILITIES,
    DEPRECIATION,
    FIXED_ASSETS,
    IN_KIND_ASSETS,
    NET_ASSETS_RESTRICTED,
    NET_ASSETS_UNRESTRICTED,
    PAYABLES,
    PREPAYMENTS,
    is_cash_equivalent,
)
from ledger.domain.books import total_fen
from projections.statements.forms import Column, Line, heading, statement, total

FORM = "会民非01表"
LINES = (
    heading("资产", "Assets"),
    heading("流动资产：", "Current assets"),
    Line(1, "货币资金", "Cash and bank"),
    Line(2, "短期投资", "Short-term investments"),
    Line(3, "应收款项", "Receivables"),
    Line(4, "预付账款", "Prepayments"),
    Line(8, "存货", "Inventories (goods given in kind)"),
    Line(9, "待摊费用", "Prepaid expenses"),
    Line(15, "一年内到期的长期债权投资", "Long-term debt investments due within a year"),
    Line(18, "其他流动资产", "Other current assets"),
    total(20, "流动资产合计", "Total current assets"),
    heading("长期投资：", "Long-term investments"),
    Line(21, "长期股权投资", "Long-term equity investments"),
    Line(24, "长期债权投资", "Long-term debt investments"),
    total(30, "长期投资合计", "Total long-term investments"),
    heading("固定资产：", "Fixed assets"),
    Line(31, "固定资产原价", "Fixed assets at cost"),
    Line(32, "减：累计折旧", "Less: accumulated depreciation"),
    Line(33, "固定资产净值", "Fixed assets, net"),
    Line(34, "在建工程", "Construction in progress"),
    Line(35, "文物文化资产", "Heritage assets"),
    Line(38, "固定资产清理", "Fixed assets in disposal"),
    total(40, "固定资产合计", "Total fixed assets"),
    heading("无形资产：", "Intangible assets"),
    Line(41, "无形资产", "Intangible assets"),
    heading("受托代理资产：", "Assets held for others"),
    Line(51, "受托代理资产", "Assets held for others"),
    total(60, "资产总计", "Total assets"),
    heading("负债和净资产", "Liabilities and net assets"),
    heading("流动负债：", "Current liabilities"),
    Line(61, "短期借款", "Short-term borrowings"),
    Line(62, "应付款项", "Payables"),
    Line(63, "应付工资", "Wages payable"),
    Line(65, "应交税金", "Taxes payable"),
    Line(66, "预收账款", "Receipts in advance"),
    Line(71, "预提费用", "Accrued expenses"),
    Line(72, "预计负债", "Provisions"),
    Line(74, "一年内到期的长期负债", "Long-term liabilities due within a year"),
    Line(78, "其他流动负债", "Other current liabilities"),
    total(80, "流动负债合计", "Total current liabilities"),
    heading("长期负债：", "Long-term liabilities"),
    Line(81, "长期借款", "Long-term borrowings"),
    Line(84, "长期应付款", "Long-term payables"),
    Line(88, "其他长期负债", "Other long-term liabilities"),
    total(90, "长期负债合计", "Total long-term liabilities"),
    heading("受托代理负债：", "Liabilities for assets held for others"),
    Line(91, "受托代理负债", "Liabilities for assets held for others"),
    total(100, "负债合计", "Total liabilities"),
    heading("净资产：", "Net assets"),
    Line(101, "非限定性净资产", "Net assets without donor restrictions"),
    Line(105, "限定性净资产", "Net assets with donor restrictions"),
    total(110, "净资产合计", "Total net assets"),
    total(120, "负债和净资产总计", "Total liabilities and net assets"),
)


def amounts_by_line(b: Mapping[str, int]) -> dict[int, int]:
    """Every line of the form from balances (after any closing: net assets read the same)."""
    cost_fen = total_fen(b, FIXED_ASSETS) - total_fen(b, DEPRECIATION)
    depreciation_fen = -total_fen(b, DEPRECIATION)
    lines = {
        1: sum(v for account, v in b.items() if is_cash_equivalent(account)),
        4: total_fen(b, PREPAYMENTS),
        8: total_fen(b, IN_KIND_ASSETS),
        31: cost_fen,
        32: depreciation_fen,
        33: cost_fen - depreciation_fen,
        51: total_fen(b, CUSTODY_ASSETS),
        62: -total_fen(b, PAYABLES),
        91: -total_fen(b, CUSTODY_LIABILITIES),
        101: -(
            total_fen(b, "Income:Unrestricted")
            + total_fen(b, "Expenses")
            + total_fen(b, NET_ASSETS_UNRESTRICTED)
        ),
        105: -(total_fen(b, "Income:Restricted") + total_fen(b, NET_ASSETS_RESTRICTED)),
    }
    lines[20] = lines[1] + lines[4] + lines[8]
    lines[40] = lines[33]
    lines[60] = lines[20] + lines[40] + lines[51]
    lines[80] = lines[62]
    lines[100] = lines[80] + lines[91]
    lines[110] = lines[101] + lines[105]
    lines[120] = lines[100] + lines[110]
    assert total_fen(b, "Assets") == lines[60], "an asset account is on no line of the form"
    assert lines[60] == lines[120], "the balance sheet does not balance"
    return lines


def balance_sheet(
    opening: Mapping[str, int], closing: Mapping[str, int], opening_on: date, closing_on: date
) -> dict[str, Any]:
    """The form with 年初数 (the balances at ``opening_on``) and 期末数 (at ``closing_on``)."""
    figures = {"opening": amounts_by_line(opening), "closing": amounts_by_line(closing)}
    return statement(
        FORM,
        "资产负债表",
        "Balance sheet",
        (
            Column("opening", "年初数", f"Start of year ({opening_on.isoformat()})"),
            Column("closing", "期末数", f"End of period ({closing_on.isoformat()})"),
        ),
        LINES,
        lambda line, column: figures[column].get(line, 0),
        opening_on=opening_on.isoformat(),
        closing_on=closing_on.isoformat(),
    )
