"""Chinese labels beside the stored codes, for the panel's tables and their spreadsheets.

The views keep codes (``programme``, ``bank_transfer``); whoever reads a table or opens a
spreadsheet reads 业务活动成本 and 银行转账 beside them. Category names follow the accounting
system for non-profit organisations (民间非营利组织会计制度).
"""

from __future__ import annotations

CODES: dict[str, tuple[str, str]] = {
    # donor kinds
    "government": ("政府", "Government"),
    "foundation": ("基金会", "Foundation"),
    "enterprise": ("爱心企业", "Enterprise"),
    "individual": ("爱心人士", "Individual"),
    "community_org": ("社会组织", "Community organisation"),
    # expense categories, as the statement of activities names them
    "programme": ("业务活动成本", "Programme costs"),
    "management": ("管理费用", "Management"),
    "fundraising": ("筹资费用", "Fundraising"),
    # channels
    "bank_transfer": ("银行转账", "Bank transfer"),
    "cash": ("现金", "Cash"),
    "wechat_pay": ("微信支付", "WeChat Pay"),
    "alipay": ("支付宝", "Alipay"),
    "in_kind": ("实物", "In kind"),
    # grant statuses
    "proposed": ("待批准", "Proposed"),
    "approved": ("已批准", "Approved"),
    "rejected": ("未通过", "Rejected"),
    "closed": ("已结项", "Closed"),
    # payee kinds, disclosure
    "organisation": ("单位", "Organisation"),
    "named": ("公开姓名", "Named"),
    "masked": ("部分隐去", "Masked"),
    "anonymous": ("匿名", "Anonymous"),
    # what a correction reversed
    "donation": ("捐赠", "Donation"),
    "expense": ("支出", "Expense"),
    "grant": ("资助", "Grant"),
    "project": ("项目", "Project"),
}

WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")

# The unrestricted gifts' project code in a grouping, and the row that pools who may not be
# told apart (individual payees or donors) for a caller who may not see them one by one.
UNRESTRICTED = "(unrestricted)"
UNRESTRICTED_LABEL = "非限定 / unrestricted"
POOLED = "(individuals)"
POOLED_LABEL = "个人（合并） / individuals"

# Headers: the dimensions and measures of a query, and the columns of the lists.
HEADERS: dict[str, str] = {
    "project": "项目",
    "project_name": "项目名称",
    "month": "月份",
    "quarter": "季度",
    "year": "年度",
    "weekday": "星期",
    "category": "费用类别",
    "payee": "收款方",
    "donor": "捐赠人",
    "donor_kind": "捐赠人类型",
    "channel": "捐赠方式",
    "grant": "资助",
    "donations": "捐赠收入（元）",
    "donation_count": "捐赠笔数",
    "expenses": "支出（元）",
    "restricted_expenses": "限定性支出（元）",
    "unrestricted_expenses": "非限定性支出（元）",
    "overhead": "管理及筹资费用（元）",
    "overhead_ratio": "管理及筹资费用占比（%）",
    "expense_count": "支出笔数",
    "grants": "已批准资助（元）",
    "commitments": "已批未支（元）",
    "grant_count": "资助笔数",
    "people_served": "服务人次",
    "cost_per_person": "人均成本（元）",
    "share": "占比（%）",
    "total": "合计",
}


def label(code: str | None) -> str:
    """A stored code in Chinese, with the code itself for any code not in the table."""
    if code is None:
        return ""
    pair = CODES.get(code)
    return pair[0] if pair else code


def header(key: str) -> str:
    """A column's header: Chinese first, the key beside it (``项目名称 / project_name``)."""
    zh = HEADERS.get(key)
    return f"{zh} / {key}" if zh else key


def quarter_label(code: str) -> str:
    year, quarter = code.split("-Q")
    return f"{year}年第{quarter}季度"


def month_label(code: str) -> str:
    year, month = code.split("-")
    return f"{year}年{int(month)}月"
