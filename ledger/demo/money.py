"""The demo's money path: a cash float drawn, the cash box deposited at the bank at each
month's end, both platforms settled to the bank net of their fee, and the bank's monthly
statements written from the books (one month with a deposit in transit)."""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from ledger.app import Actor, FundLedger
from ledger.demo.cast import YEAR_END
from ledger.demo.statements import Movement, icbc_statement
from ledger.domain.accounts import CASH, postings_for
from ledger.domain.money import parse_yuan

# WeChat Pay's and Alipay's standard rate, 0.6%, kept as a fundraising cost (筹资费用).
FEE_PER_MILLE = 6
FLOAT_ON = date(2025, 12, 10)
FLOAT = "1000.00"
PLATFORMS = {
    "wechat_pay": ("Assets:Platforms:WechatPay", "WX", "财付通支付科技有限公司"),
    "alipay": ("Assets:Platforms:Alipay", "ALI", "支付宝（中国）网络技术有限公司"),
}
# The bank credits the cash deposited on 31 March 2026 on 1 April: an item in transit.
IN_TRANSIT_MONTH = "2026-03"
ACCOUNT_NO = "1204 0600 0920 0123 456"
HOLDER = "嘉兴市南湖区慈善总会（南湖未来社区共富基金专户）"


def month_end(month: date) -> date:
    last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    return min(last, YEAR_END)


def _gifts_in(app: FundLedger, month: date) -> dict[str, int]:
    """Money gifts (less gifts reversed) brought into each account in the month."""
    sums: defaultdict[str, int] = defaultdict(int)
    for _, domain_event in app.iter_events():
        name = type(domain_event).__qualname__
        day = domain_event.meta.effective_on
        if name in {"Donation.Received", "Donation.Reversed"} and day.replace(day=1) == month:
            for posting in postings_for(domain_event):
                if posting.account.startswith("Assets:") and posting.account != "Assets:InKind":
                    sums[posting.account] += posting.amount_fen
    return dict(sums)


def settle_month(app: FundLedger, treasurer: Actor, month: date) -> None:
    """At the month's end: the cash box's gifts to the bank, each platform's to the bank."""
    day = month_end(month)
    if month == FLOAT_ON.replace(day=1):
        app.record_transfer(
            treasurer,
            "bank",
            "cash",
            parse_yuan(FLOAT),
            FLOAT_ON,
            ("withdrawal", 0, "management"),
            reference="FLOAT",
        )
    gifts = _gifts_in(app, month)
    if gifts.get(CASH, 0) > 0:
        app.record_transfer(
            treasurer,
            "cash",
            "bank",
            gifts[CASH],
            day,
            ("deposit", 0, "management"),
            reference=f"CASH{month:%Y%m}",
        )
    for name, (account, prefix, _) in PLATFORMS.items():
        gross_fen = gifts.get(account, 0)
        if gross_fen > 0:
            fee_fen = gross_fen * FEE_PER_MILLE // 1000
            app.record_transfer(
                treasurer,
                name,
                "bank",
                gross_fen,
                day,
                ("settlement", fee_fen, "fundraising"),
                reference=f"{prefix}{month:%Y%m}",
            )


def demo_movements(app: FundLedger) -> dict[str, list[Movement]]:
    """The bank's side of every entry on the bank account, by the month the bank books it."""
    counterparts = {prefix: who for _, prefix, who in PLATFORMS.values()}
    by_month: defaultdict[str, list[Movement]] = defaultdict(list)
    for entry in app.book_entries("Assets:Bank"):
        bank_day = entry.day
        if entry.reference == f"CASH{IN_TRANSIT_MONTH.replace('-', '')}":
            bank_day = entry.day + timedelta(days=1)
        counterpart = entry.counterpart or next(
            (who for prefix, who in counterparts.items() if entry.reference.startswith(prefix)),
            "",
        )
        memo = "现金存入" if entry.reference.startswith("CASH") else ""
        by_month[bank_day.isoformat()[:7]].append(
            Movement(bank_day, entry.change_fen, counterpart, entry.reference, memo)
        )
    return dict(sorted(by_month.items()))


def demo_statements(
    app: FundLedger, movements: dict[str, list[Movement]] | None = None
) -> dict[str, str]:
    """The bank's statement of each month, as its CSV text, the balance carried on."""
    statements: dict[str, str] = {}
    opening_fen = 0
    for month, moves in (movements or demo_movements(app)).items():
        statements[month] = icbc_statement(ACCOUNT_NO, HOLDER, month, opening_fen, moves)
        opening_fen += sum(m.change_fen for m in moves)
    return statements


def issue_official_receipts(app: FundLedger, treasurer: Actor, gift_ids: list[str]) -> None:
    """公益事业捐赠票据 for the institutions' gifts, a week after each, and one spoiled form."""
    for number, gift_id in enumerate(gift_ids, start=1):
        gift: Any = app.repository.get(UUID(gift_id))
        issued_on = min(gift.received_on + timedelta(days=7), YEAR_END)
        if number == 2:
            app.void_official_receipt(
                treasurer, "33012025000002", "打印错位，票据作废 / misprinted form", issued_on
            )
        app.issue_official_receipt(treasurer, gift_id, f"330120250000{number + 10:02d}", issued_on)
