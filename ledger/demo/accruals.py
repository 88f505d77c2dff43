"""The rest of the demo's books, recorded after its year of spending and dated within it (so the
figures show that what counts is the day a thing happened, not when it was keyed): a bill
received and paid later, another still unpaid, an advance settled, money held for others and
passed on, goods given in kind and used, a fixed asset depreciated month by month, doctors' and
chefs' hours, and the close of the fund's first year, 2025 (its one month, December)."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from ledger.app import Actor, FundLedger
from ledger.demo.cast import COMMITTEE, TREASURER
from ledger.domain.money import parse_yuan


class _Demo(Protocol):
    """What these steps need of the demo being loaded (``ledger.demo.year``)."""

    app: FundLedger
    grants: dict[str, str]
    donors: dict[str, str]
    in_kind_equipment: str

    def actor(self, name: str) -> Actor: ...

    def give(
        self, donor_id: str, amount: str, when: date, channel: str, code: str | None
    ) -> str: ...


# The months of 2026 whose books the demo keeps (November has not ended).
MONTHS_2026 = range(1, 11)


def value_hospital_equipment(demo: _Demo, donation_id: str) -> None:
    """The hospital's smart devices: kept as a fixed asset at the invoice price, over 5 years."""
    demo.app.value_in_kind(
        demo.actor(TREASURER),
        donation_id,
        "invoice",
        "嘉兴市第一医院采购发票 No. 33020251218 / the hospital's purchase invoice",
        fixed_asset=True,
        useful_life_months=60,
        on=date(2025, 12, 18),
    )
    demo.in_kind_equipment = donation_id


def record_the_rest(demo: _Demo) -> None:
    app, treasurer = demo.app, demo.actor(TREASURER)
    _bills_and_advances(demo)
    held = app.receive_custody(
        treasurer,
        "嘉兴市南湖区慈善基金会",
        "南湖街道社会工作站",
        parse_yuan("20000.00"),
        date(2026, 1, 20),
        "代转困难家庭春节慰问金 / New Year relief passed on for the foundation",
    ).id
    app.pass_on_custody(treasurer, held, on=date(2026, 2, 3))
    app.receive_custody(
        treasurer,
        "南湖街道办事处",
        "南湖未来社区文体队",
        parse_yuan("10000.00"),
        date(2026, 11, 12),
        "代转新年演出补贴 / a performance subsidy held until the show",
    )
    _goods(demo)
    for month in MONTHS_2026:
        app.depreciate(treasurer, demo.in_kind_equipment, f"2026-{month:02d}")
        app.record_service_hours(
            treasurer,
            "嘉兴市第一医院",
            "health",
            9,
            date(2026, month, 8),
            "专家义诊（3位医生各3小时） / clinic: three doctors, three hours each",
            people=3,
        )
        app.record_service_hours(
            treasurer,
            "南湖宾馆",
            "noodles",
            8,
            date(2026, month, 15),
            "厨师集体生日长寿面（2位厨师各4小时） / birthday noodles: two chefs",
            people=2,
        )
    # The fund's first year is its first month, December 2025: closed once December was.
    app.close_year(demo.actor(COMMITTEE[0]), 2025, on=date(2026, 1, 20))


def _bills_and_advances(demo: _Demo) -> None:
    app, treasurer = demo.app, demo.actor(TREASURER)
    paid_later = app.receive_bill(
        treasurer,
        demo.grants["science"],
        parse_yuan("3200.00"),
        date(2026, 6, 20),
        "嘉兴科教器材有限公司",
        "programme",
        "小小科学家实验器材（月结） / lab kits on account",
        voucher_no="ZD202606-0001",
    ).id
    app.pay_bill(treasurer, paid_later, on=date(2026, 7, 10))
    app.receive_bill(
        treasurer,
        demo.grants["stage"],
        parse_yuan("2400.00"),
        date(2026, 11, 5),
        "南湖舞台灯光租赁部",
        "programme",
        "幸福舞台灯光租赁 / stage lighting hire",
        voucher_no="ZD202611-0002",
    )
    advance = app.pay_advance(
        treasurer,
        demo.grants["health"],
        parse_yuan("8000.00"),
        date(2026, 9, 1),
        "嘉兴市第一医院",
        "健康小屋智能设备维保预付 / devices' maintenance paid ahead",
    ).id
    app.settle_advance(
        treasurer, advance, "健康小屋智能设备维保完成 / maintenance done", on=date(2026, 10, 15)
    )


def _goods(demo: _Demo) -> None:
    """Noodle ingredients from the hotel, restricted to the birthdays, used month by month."""
    app, treasurer = demo.app, demo.actor(TREASURER)
    gift = demo.give(demo.donors["南湖宾馆"], "6000.00", date(2026, 1, 10), "in_kind", "noodles")
    app.value_in_kind(
        treasurer,
        gift,
        "market_price",
        "同类挂面与鸡蛋超市价格 / supermarket prices of the same",
        on=date(2026, 1, 10),
    )
    for month in (1, 2, 3, 4):
        app.use_in_kind(
            treasurer,
            gift,
            parse_yuan("1500.00"),
            f"{month}月集体生日长寿面食材 / ingredients",
            on=date(2026, month, 15),
        )
