"""The page's words in Chinese and English: Chinese first, English beside it (or the reverse)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

WORDS: dict[str, tuple[str, str]] = {
    "home": ("基金概况", "The fund at a glance"),
    "received": ("累计收到", "Received"),
    "spent": ("累计支出", "Spent"),
    "balance": ("余额", "Balance"),
    "restricted": ("限定性余额", "Restricted"),
    "unrestricted": ("非限定性余额", "Unrestricted"),
    "committed": ("已批未支", "Committed, unspent"),
    "available": ("可用于资助", "Available for grants"),
    "in_kind": ("实物捐赠（不计入现金）", "Gifts in kind (not cash)"),
    "projects": ("七大共富项目", "Projects"),
    "granted_vs_spent": ("已支出 / 已批准", "Spent / granted"),
    "income_by_kind": ("捐赠来源", "Income by kind of donor"),
    "spending_by_month": ("每月支出", "Spending by month"),
    "latest_donations": ("最新捐赠", "Latest donations"),
    "latest_expenses": ("最新支出", "Latest expenses"),
    "as_of": ("数据截至", "Figures as of"),
    "donations": ("捐赠名单", "Donations"),
    "corrections": ("更正说明", "Corrections"),
    "reports": ("报告与公示", "Reports and notices"),
    "open_data": ("开放数据", "Open data"),
    "date": ("日期", "Date"),
    "donor": ("捐赠人", "Donor"),
    "amount": ("金额（元）", "Amount (yuan)"),
    "project": ("项目", "Project"),
    "unrestricted_gift": ("非限定", "Unrestricted"),
    "receipt": ("票据号", "Receipt no."),
    "payee": ("收款方", "Payee"),
    "purpose": ("用途", "Purpose"),
    "category": ("类别", "Category"),
    "voucher": ("凭证号", "Voucher no."),
    "month": ("月份", "Month"),
    "kind": ("类型", "Kind"),
    "search_receipt": ("按票据号查询", "Find a gift by receipt number"),
    "search": ("查询", "Search"),
    "next_page": ("下一页", "Next page"),
    "grants": ("资助", "Grants"),
    "status": ("状态", "Status"),
    "approved_by": ("批准人", "Approved by"),
    "opinions": ("专家意见", "Expert panel's opinions"),
    "decisions": ("管委会决定", "Committee decisions"),
    "expenses": ("支出明细", "Expenses"),
    "spending_by_month_category": ("按月按类别支出", "Spending by month and category"),
    "reason": ("原因", "Reason"),
    "original_date": ("原日期", "Original date"),
    "reversed_on": ("更正日期", "Corrected on"),
    "what": ("对象", "What"),
    "monthly_reports": ("月度报告", "Monthly reports"),
    "annual_reports": ("年度报告", "Annual reports"),
    "progress_reports": ("项目进展报告", "Project progress reports"),
    "calendar": ("信息公开日历", "Disclosure calendar"),
    "due": ("应公开日期", "Due by"),
    "state": ("情况", "State"),
    "notice": ("公示", "Notice"),
    "income": ("本月收入", "Income this month"),
    "spending": ("本月支出", "Spending this month"),
    "opening": ("月初余额", "Opening balance"),
    "closing": ("月末余额", "Closing balance"),
    "scan": ("扫码查看明细", "Scan for details"),
    "frozen": ("已结账，数据已冻结", "Closed: figures frozen"),
    "live": ("未结账，数据可能变动", "Open: figures may change"),
    "table": ("数据表", "Data table"),
    "none": ("暂无", "None yet"),
    "download": ("下载", "Download"),
    "lang_switch": ("English", "中文"),
    "verifiable": ("可验证账本", "Verifiable books"),
    "public_key": ("公钥", "Public key"),
    "display_period": ("公示期", "On display"),
    "issued_on": ("发布日期", "Issued on"),
    "supervision_phone": ("监督电话", "Supervising phone"),
    "supervision_address": ("意见反馈地址", "Questions in person"),
    "seal": ("（盖章）", "(seal)"),
    "signature": ("负责人签字", "Signed"),
    "not_configured": ("未设置", "not set"),
}


def words(lang: str) -> dict[str, Markup]:
    """Each word as markup: the page's language first, the other beside it in small type."""
    primary, other = (1, 0) if lang == "en" else (0, 1)
    other_lang = "zh" if lang == "en" else "en"
    return {
        key: Markup('{} <small lang="{}">{}</small>').format(
            escape(pair[primary]), other_lang, escape(pair[other])
        )
        for key, pair in WORDS.items()
    }


def plain(key: str, lang: str) -> str:
    zh, en = WORDS[key]
    return en if lang == "en" else zh


CHOICES: dict[str, tuple[str, str]] = {
    "government": ("政府", "Government"),
    "foundation": ("基金会", "Foundation"),
    "enterprise": ("爱心企业", "Enterprise"),
    "individual": ("爱心人士", "Individual"),
    "community_org": ("社会组织", "Community organisation"),
    "programme": ("业务活动", "Programme"),
    "management": ("管理费用", "Management"),
    "fundraising": ("筹资费用", "Fundraising"),
    "bank_transfer": ("银行转账", "Bank transfer"),
    "cash": ("现金", "Cash"),
    "wechat_pay": ("微信支付", "WeChat Pay"),
    "alipay": ("支付宝", "Alipay"),
    "in_kind": ("实物", "In kind"),
    "proposed": ("待批准", "Proposed"),
    "approved": ("已批准", "Approved"),
    "rejected": ("未通过", "Rejected"),
    "closed": ("已结项", "Closed"),
    "donation": ("捐赠", "Donation"),
    "expense": ("支出", "Expense"),
    "published": ("已公开", "Published"),
    "overdue": ("已逾期", "Overdue"),
    "upcoming": ("待公开", "Upcoming"),
}

MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def choice(value: str | None, lang: str) -> str:
    """A stored code (``enterprise``, ``programme``) in the page's language."""
    if value is None:
        return ""
    zh, en = CHOICES.get(value, (value, value))
    return en if lang == "en" else zh


def date_words(day: date, lang: str) -> str:
    """A date as a notice writes it: 2026年12月31日, or 31 December 2026."""
    if lang == "en":
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日"


def month_words(month: str, lang: str) -> str:
    """ "2026-03" as 2026年3月, or March 2026."""
    year, number = int(month[:4]), int(month[5:7])
    return f"{MONTHS_EN[number - 1]} {year}" if lang == "en" else f"{year}年{number}月"


def period_words(first: str, last: str, lang: str) -> str:
    """A range of months in words: 2026年6月至8月, 2025年12月至2026年2月, June to August 2026."""
    (y1, m1), (y2, m2) = (int(first[:4]), int(first[5:7])), (int(last[:4]), int(last[5:7]))
    if lang == "en":
        if y1 == y2:
            return f"{MONTHS_EN[m1 - 1]} to {MONTHS_EN[m2 - 1]} {y2}"
        return f"{MONTHS_EN[m1 - 1]} {y1} to {MONTHS_EN[m2 - 1]} {y2}"
    if y1 == y2:
        return f"{y1}年{m1}月至{m2}月"
    return f"{y1}年{m1}月至{y2}年{m2}月"
