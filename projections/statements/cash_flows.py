"""现金流量表 (会民非03表), direct method: what moved cash and cash equivalents, by line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from projections.statements.forms import Column, Line, heading, statement, sum_of, total

FORM = "会民非03表"
INFLOW_LINES = (1, 2, 3, 4, 5, 8)
OUTFLOW_LINES = (14, 15, 16, 19)
LINES = (
    heading("一、业务活动产生的现金流量", "Cash flows from activities"),
    Line(1, "接受捐赠收到的现金", "Donations received"),
    Line(2, "收取会费收到的现金", "Membership dues received"),
    Line(3, "提供服务收到的现金", "Service fees received"),
    Line(4, "销售商品收到的现金", "Sales of goods received"),
    Line(5, "政府补助收到的现金", "Government grants received"),
    Line(8, "收到的其他与业务活动有关的现金", "Other receipts from activities"),
    total(13, "现金流入小计", "Cash inflows"),
    Line(14, "提供捐赠或者资助支付的现金", "Aid and grants paid"),
    Line(15, "支付给员工以及为员工支付的现金", "Paid to and for staff"),
    Line(16, "购买商品、接受服务支付的现金", "Goods and services paid for"),
    Line(19, "支付的其他与业务活动有关的现金", "Other payments for activities"),
    total(23, "现金流出小计", "Cash outflows"),
    total(24, "业务活动产生的现金流量净额", "Net cash from activities"),
    heading("二、投资活动产生的现金流量", "Cash flows from investing"),
    Line(25, "收回投资所收到的现金", "Investments recovered"),
    Line(26, "取得投资收益所收到的现金", "Investment income received"),
    Line(27, "处置固定资产和无形资产所收回的现金", "Disposals of fixed and intangible assets"),
    Line(30, "收到的其他与投资活动有关的现金", "Other investing receipts"),
    total(34, "现金流入小计", "Cash inflows"),
    Line(35, "购建固定资产和无形资产所支付的现金", "Fixed and intangible assets bought"),
    Line(36, "对外投资所支付的现金", "Investments made"),
    Line(39, "支付的其他与投资活动有关的现金", "Other investing payments"),
    total(43, "现金流出小计", "Cash outflows"),
    total(44, "投资活动产生的现金流量净额", "Net cash from investing"),
    heading("三、筹资活动产生的现金流量", "Cash flows from financing"),
    Line(45, "借款所收到的现金", "Borrowings received"),
    Line(48, "收到的其他与筹资活动有关的现金", "Other financing receipts"),
    total(50, "现金流入小计", "Cash inflows"),
    Line(51, "偿还借款所支付的现金", "Borrowings repaid"),
    Line(52, "偿付利息所支付的现金", "Interest paid"),
    Line(55, "支付的其他与筹资活动有关的现金", "Other financing payments"),
    total(58, "现金流出小计", "Cash outflows"),
    total(59, "筹资活动产生的现金流量净额", "Net cash from financing"),
    Line(60, "四、汇率变动对现金的影响额", "Effect of exchange rates"),
    total(61, "五、现金及现金等价物净增加额", "Net increase in cash and cash equivalents"),
)


def amounts_by_line(changes: Mapping[int, int]) -> dict[int, int]:
    """The form's lines from the change in cash by line (inflows positive): outflow lines
    show what went out as a positive figure, as the form does."""
    lines = {line: changes.get(line, 0) for line in INFLOW_LINES}
    lines.update({line: -changes.get(line, 0) for line in OUTFLOW_LINES})
    lines[13] = sum_of(lines, INFLOW_LINES)
    lines[23] = sum_of(lines, OUTFLOW_LINES)
    lines[24] = lines[13] - lines[23]
    lines[61] = lines[24]  # no investing, financing or foreign-currency flows yet
    assert lines[61] == sum(changes.values()), "a cash movement is on no line of the form"
    return lines


def cash_flows(periods: Mapping[str, tuple[str, str, Mapping[int, int]]]) -> dict[str, Any]:
    """The form for each period given as ``key: (label, English label, change by line)``."""
    figures = {key: amounts_by_line(changes) for key, (_, _, changes) in periods.items()}
    columns = [Column(key, label, label_en) for key, (label, label_en, _) in periods.items()]
    return statement(
        FORM,
        "现金流量表",
        "Statement of cash flows",
        columns,
        LINES,
        lambda line, column: figures[column].get(line, 0),
    )
