"""The Nanhu demo year, recorded through the ledger's own commands; deterministic in its figures."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from ledger.app import OPERATOR, Actor, FundLedger
from ledger.demo.accruals import record_the_rest, value_hospital_equipment
from ledger.demo.canteen import open_canteen
from ledger.demo.cast import (
    ADVISER,
    AUDITOR,
    CLOSED_MONTH,
    COMMITTEE,
    FRIDAY_BARBER,
    FUND_NAME,
    GIFT_AMOUNTS,
    GRANTS,
    INSTITUTIONS,
    MONTHLY,
    PRINTING,
    PROJECTS,
    QUARTERLY,
    RESIDENTS,
    TARGET_FEN,
    TREASURER,
    YEAR_END,
    YEAR_START,
    Planned,
)
from ledger.demo.money import issue_official_receipts, settle_month
from ledger.domain.money import parse_yuan


@dataclass
class DemoUsers:
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (role, token)


@dataclass
class _Demo:
    app: FundLedger
    rng: random.Random
    users: DemoUsers = field(default_factory=DemoUsers)
    projects: dict[str, str] = field(default_factory=dict)
    grants: dict[str, str] = field(default_factory=dict)
    voucher_no: int = 0
    receipt_no: int = 0
    donors: dict[str, str] = field(default_factory=dict)
    in_kind_equipment: str = ""
    institution_gifts: list[str] = field(default_factory=list)

    def actor(self, name: str) -> Actor:
        return self.app.actor_named(name)

    def give(self, donor_id: str, amount: str, when: date, channel: str, code: str | None) -> str:
        self.receipt_no += 1
        return self.app.record_donation(
            self.actor(TREASURER),
            donor_id,
            parse_yuan(amount),
            when,
            channel,
            receipt_no=f"NH{when.year}-{self.receipt_no:05d}",
            project_id=self.projects[code] if code else None,
        ).id

    def planned(self, month: date, plan: Planned, day: date | None = None) -> str:
        """One of the month's regular expenses, its amount drawn from the plan's range."""
        code, (low, high), day_of_month, payee, what, category, payee_kind = plan
        amount = f"{self.rng.randint(low, high)}.{self.rng.choice([0, 50, 80])}"
        when = day or month.replace(day=day_of_month)
        description = what.format(month=month.month)
        return self.expense(code, amount, when, payee, description, category, payee_kind)

    def voucher(self, when: date) -> tuple[str, str]:
        self.voucher_no += 1
        number = f"PZ{when:%Y%m}-{self.voucher_no:04d}"
        # Stands in for the SHA-256 of the scanned receipt.
        return number, hashlib.sha256(number.encode()).hexdigest()

    def expense(
        self,
        code: str,
        amount: str,
        when: date,
        payee: str,
        description: str,
        category: str = "programme",
        payee_kind: str = "organisation",
    ) -> str:
        number, digest = self.voucher(when)
        return self.app.record_expense(
            self.actor(TREASURER),
            self.grants[code],
            parse_yuan(amount),
            when,
            payee,
            category,
            description,
            number,
            digest,
            payee_kind,
            idempotency_key=f"demo-expense-{number}",
        ).id


def load_demo(app: FundLedger, progress: Callable[[str], None] = lambda _: None) -> DemoUsers:
    """Load the demo year into an empty store and return the demo users' tokens."""
    demo = _Demo(app, random.Random(2026))  # noqa: S311 - a repeatable demo, not a secret
    progress("fund and people")
    _people(demo)
    progress("projects")
    _projects(demo)
    progress("donations")
    _donations(demo)
    progress("grants")
    _grants(demo)
    progress("twelve months of spending")
    _year(demo)
    progress("bills, advances, custody, goods used, hours, the close of 2025")
    record_the_rest(demo)
    progress("the canteen: elders, rules, five months of meals, attendance")
    open_canteen(demo)
    return demo.users


def _people(demo: _Demo) -> None:
    demo.app.establish_fund(OPERATOR, FUND_NAME, quorum=3, on=YEAR_START)
    people = [(n, "committee") for n in COMMITTEE] + [
        (TREASURER, "treasurer"),
        (ADVISER, "adviser"),
        (AUDITOR, "auditor"),
    ]
    for name, role in people:
        _, token = demo.app.add_user(OPERATOR, name, role, on=YEAR_START)
        demo.users.tokens[name] = (role, token)


def _projects(demo: _Demo) -> None:
    treasurer = demo.actor(TREASURER)
    for code, name, name_en, organisation, description in PROJECTS:
        demo.projects[code] = demo.app.open_project(
            treasurer, code, name, name_en, description, organisation, on=YEAR_START
        ).id


def _donations(demo: _Demo) -> None:
    total_fen = 0
    for name, kind, disclosure, contact, gifts in INSTITUTIONS:
        first_gift_on = gifts[0][1]
        donor_id = demo.app.register_donor(
            demo.actor(TREASURER), name, kind, disclosure, contact, on=first_gift_on
        ).id
        demo.donors[name] = donor_id
        for amount, when, channel, code in gifts:
            demo.institution_gifts.append(demo.give(donor_id, amount, when, channel, code))
            total_fen += parse_yuan(amount)
    residents = _residents(demo)
    # A mistake corrected the way the law asks: 赵先生 gave 5,000.00, keyed as 50,000.00.
    wrong = demo.give(residents[1], "50000.00", date(2025, 12, 16), "cash", None)
    demo.app.reverse_donation(
        demo.actor(COMMITTEE[0]),
        wrong,
        "金额录入错误，应为5000.00元 / amount keyed wrongly",
        on=date(2025, 12, 17),
    )
    demo.give(residents[1], "5000.00", date(2025, 12, 16), "cash", None)
    total_fen += parse_yuan("5000.00")
    _residents_give(demo, residents, total_fen)
    # Doctors' equipment given in kind: kept at fair value, out of the cash balances.
    hospital = demo.app.register_donor(
        demo.actor(TREASURER), "嘉兴市第一医院", "community_org", "named", on=date(2025, 12, 18)
    ).id
    equipment = demo.give(hospital, "12800.00", date(2025, 12, 18), "in_kind", "health")
    value_hospital_equipment(demo, equipment)
    issue_official_receipts(demo.app, demo.actor(TREASURER), demo.institution_gifts)


def _residents(demo: _Demo) -> list[str]:
    return [
        demo.app.register_donor(
            demo.actor(TREASURER),
            name,
            "individual",
            disclosure,
            {"phone": f"1390573{index:04d}", "address": f"南湖未来社区{index + 1}幢"},
            on=date(2025, 12, 15),
        ).id
        for index, (name, disclosure) in enumerate(RESIDENTS)
    ]


def _residents_give(demo: _Demo, residents: list[str], total_fen: int) -> None:
    """Residents give through the year until the fund reaches exactly ¥3,000,000.00."""
    channels = ["wechat_pay", "alipay", "cash"]
    day = date(2025, 12, 20)
    codes: list[str | None] = [None, None, None, "noodles", "barber", "science"]
    while TARGET_FEN - total_fen > 0:
        amount_fen = min(parse_yuan(demo.rng.choice(GIFT_AMOUNTS)), TARGET_FEN - total_fen)
        if TARGET_FEN - total_fen - amount_fen < parse_yuan("100.00"):
            amount_fen = TARGET_FEN - total_fen  # no crumbs left over at the end
        fen, cents = divmod(amount_fen, 100)
        demo.give(
            demo.rng.choice(residents),
            f"{fen}.{cents:02d}",
            day,
            demo.rng.choice(channels),
            demo.rng.choice(codes),
        )
        total_fen += amount_fen
        day = min(day + timedelta(days=demo.rng.randint(1, 4)), YEAR_END)


def _grants(demo: _Demo) -> None:
    app = demo.app
    # Approved once the first large gifts had arrived, before the first month's spending.
    when = date(2025, 12, 5)
    for code, amount, purpose, proposer in GRANTS:
        grant_id = app.propose_grant(
            demo.actor(COMMITTEE[proposer]),
            demo.projects[code],
            parse_yuan(amount),
            purpose,
            on=when,
        ).id
        approvers = [n for i, n in enumerate(COMMITTEE) if i != proposer][:3]
        for name in approvers:
            app.approve_grant(demo.actor(name), grant_id, on=when)
        demo.grants[code] = grant_id
    # The committee turned one proposal down, and another awaits its third approval.
    rejected = app.propose_grant(
        demo.actor(COMMITTEE[1]),
        demo.projects["stage"],
        parse_yuan("80000.00"),
        "新音响系统 / new sound system",
        on=when,
    ).id
    app.reject_grant(
        demo.actor(COMMITTEE[0]),
        rejected,
        "现有设备可用，暂缓购置 / current equipment suffices",
        on=when,
    )
    pending = app.propose_grant(
        demo.actor(COMMITTEE[2]),
        demo.projects["science"],
        parse_yuan("30000.00"),
        "暑期科学营 / summer science camp",
        on=date(2026, 11, 10),
    ).id
    app.approve_grant(demo.actor(COMMITTEE[0]), pending, on=date(2026, 11, 12))
    app.record_opinion(
        demo.actor(ADVISER),
        demo.projects["health"],
        "义诊覆盖率高，建议增加慢病随访。/ Good reach; add chronic-disease follow-up.",
        on=date(2026, 3, 2),
    )
    app.record_opinion(
        demo.actor(ADVISER),
        demo.grants["pairing"],
        "帮扶对象信息须严格保密，公示只列户数。/ Keep beneficiaries private; publish counts only.",
        on=date(2026, 1, 8),
    )


def _fridays(start: date, end: date) -> list[date]:
    first = start + timedelta(days=(4 - start.weekday()) % 7)
    return [first + timedelta(weeks=w) for w in range((end - first).days // 7 + 1)]


def _year(demo: _Demo) -> None:
    app = demo.app
    months = [date(2025 + (11 + m) // 12, (11 + m) % 12 + 1, 1) for m in range(12)]
    fridays = _fridays(YEAR_START, YEAR_END)
    # Every expense's voucher carries its receipt's hash (the committee's threshold: all).
    app.set_attachment_threshold(demo.actor(COMMITTEE[0]), 0)
    for month in months:
        # Close December once its books are complete, on the 5th of January.
        if month == date(2026, 1, 1):
            app.close_period(demo.actor(COMMITTEE[0]), CLOSED_MONTH, on=date(2026, 1, 5))
        _month(demo, month, [f for f in fridays if (f.year, f.month) == (month.year, month.month)])
        # At the month's end the cash box and the platforms' money go to the bank.
        settle_month(app, demo.actor(TREASURER), month)
    redboat_closed = date(2026, 10, 31)
    app.close_grant(demo.actor(COMMITTEE[0]), demo.grants["redboat"], on=redboat_closed)


def _month(demo: _Demo, month: date, fridays: list[date]) -> None:
    for plan in MONTHLY:
        demo.planned(month, plan)
    if month.month in (3, 6, 9) or month == date(2025, 12, 1):
        demo.planned(month, QUARTERLY)
    for friday in fridays:
        demo.planned(month, FRIDAY_BARBER, friday)
    # Printing the monthly notice is a management cost; the 99 Giving Day poster fundraising.
    demo.planned(month, PRINTING)
    if month.month == 9:
        demo.expense(
            "stage",
            "1800.00",
            month.replace(day=5),
            "南湖印务",
            "99公益日海报",
            category="fundraising",
        )
    if month == date(2026, 4, 1):
        # A supplies bill keyed twice; the committee reverses the copy.
        copy = demo.expense(
            "barber",
            "560.00",
            month.replace(day=3),
            "嘉兴美发用品商行",
            "周五理发室工具与耗材（重复录入）",
        )
        demo.app.reverse_expense(
            demo.actor(COMMITTEE[0]), copy, "重复录入 / entered twice", on=month.replace(day=6)
        )
