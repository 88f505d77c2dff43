"""业务活动表 (会民非02表): income, expenses and the release, in 非限定性 / 限定性 / 合计
columns, for the period and a comparative one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.domain.books import total_fen
from ledger.domain.restrictions import RELEASED_RESTRICTED
from projections.statements.forms import Column, Line, heading, statement, total

FORM = "会民非02表"
LINES = (
    heading("一、收入", "Income"),
    Line(1, "其中：捐赠收入", "Donations (cash and in kind)"),
    Line(2, "会费收入", "Membership dues"),
    Line(3, "提供服务收入", "Service fees"),
    Line(4, "商品销售收入", "Sales of goods"),
    Line(5, "政府补助收入", "Government grants"),
    Line(6, "投资收益", "Investment income"),
    Line(9, "其他收入", "Other income"),
    total(11, "收入合计", "Total income"),
    heading("二、费用", "Expenses"),
    Line(12, "（一）业务活动成本", "Programme costs"),
    Line(21, "（二）管理费用", "Management"),
    Line(24, "（三）筹资费用", "Fundraising"),
    Line(28, "（四）其他费用", "Other expenses"),
    total(31, "费用合计", "Total expenses"),
    Line(40, "三、限定性净资产转为非限定性净资产", "Released from donor restrictions"),
    total(45, "四、净资产变动额（若为净资产减少额，以“-”号填列）", "Change in net assets"),
)
SCOPES = ("unrestricted", "restricted")
_SCOPE_LABELS = {"unrestricted": "非限定性", "restricted": "限定性", "total": "合计"}
_SCOPE_EN = {"unrestricted": "without restrictions", "restricted": "with restrictions"}


def amounts_by_line(moves: Mapping[str, int]) -> dict[str, dict[int, int]]:
    """Each column's lines from a period's movements (before any closing entry)."""
    columns: dict[str, dict[int, int]] = {}
    for scope in SCOPES:
        income = f"Income:{scope.capitalize()}"
        lines = {
            1: -(total_fen(moves, f"{income}:Donations") + total_fen(moves, f"{income}:InKind")),
            5: -total_fen(moves, f"{income}:GovernmentGrants"),
        }
        if scope == "unrestricted":  # expenses are always the unrestricted column's
            lines[12] = total_fen(moves, "Expenses:Programme")
            lines[21] = total_fen(moves, "Expenses:Management")
            lines[24] = total_fen(moves, "Expenses:Fundraising")
        lines[11] = lines[1] + lines[5]
        lines[31] = lines.get(12, 0) + lines.get(21, 0) + lines.get(24, 0)
        released_fen = total_fen(moves, RELEASED_RESTRICTED)  # a debit: positive
        lines[40] = released_fen if scope == "unrestricted" else -released_fen
        lines[45] = lines[11] - lines[31] + lines[40]
        columns[scope] = lines
    columns["total"] = {
        line: columns["unrestricted"].get(line, 0) + columns["restricted"].get(line, 0)
        for line in {*columns["unrestricted"], *columns["restricted"]}
    }
    moved_fen = -(total_fen(moves, "Income") + total_fen(moves, "Expenses"))
    assert columns["total"][45] == moved_fen, "an income or expense account is on no line"
    return columns


def activities(
    periods: Mapping[str, tuple[str, str, Mapping[str, int]]],
) -> dict[str, Any]:
    """The form for each period given as ``key: (label, English label, movements)``: e.g.
    上年数 and 本年数, or 本月数 and 本年累计数."""
    figures = {key: amounts_by_line(moves) for key, (_, _, moves) in periods.items()}
    columns = [
        Column(
            f"{key}_{scope}",
            f"{label} {_SCOPE_LABELS[scope]}",
            f"{label_en}, {_SCOPE_EN.get(scope, 'total')}",
        )
        for key, (label, label_en, _) in periods.items()
        for scope in (*SCOPES, "total")
    ]

    def value(line: int, column: str) -> int:
        key, scope = column.rsplit("_", 1)
        return figures[key][scope].get(line, 0)

    return statement(FORM, "业务活动表", "Statement of activities", columns, LINES, value)
