"""The demo's community canteen (社区食堂): opened in June 2026 for residents over 60, with a few
hundred elders, their daily meals on the citizen card, two changes of the subsidy rules, one
month whose file has bad rows (refused whole, then settled from the corrected file), and the
attendance of the birthday lunches, clinics and barbershop. Deterministic: its own random seed.

The canteen's files go through the same reading and checks as ``fund-ledger import meals``.
"""

from __future__ import annotations

import calendar
import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from ledger.app import Actor, FundLedger
from ledger.demo.cast import (
    ADVISER,
    AUDITOR,
    COMMITTEE,
    INSTITUTIONS,
    MONTHLY,
    RESIDENTS,
    TREASURER,
)
from ledger.domain.canteen import Band, NewBeneficiary, Rules, age_on
from ledger.domain.errors import MealsRefused
from ledger.domain.meals import rules_on
from ledger.domain.money import parse_yuan
from ledger.formats.meals_csv import parse_meals

ELDERS = 320
SEED = 60
# Every other name of the demo: no elder shares one.
TAKEN = repr([COMMITTEE, TREASURER, ADVISER, AUDITOR, RESIDENTS, INSTITUTIONS, MONTHLY])
OPENED_ON = date(2026, 5, 18)
SETTLED_MONTHS = ("2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
BAD_MONTH = "2026-08"
OPERATOR_NAME = "南湖宾馆餐饮部"
SURNAMES = "沈钱孙李周吴郑冯陈褚卫蒋韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章"
GIVEN = [
    "桂英", "秀兰", "玉珍", "凤娣", "金妹", "阿根", "福生", "根宝", "杏娣", "招娣",
    "雪琴", "月仙", "荣华", "德林", "寿康", "炳坤", "惠珍", "菊英", "兆祥", "锦芳",
]  # fmt: skip


class _Demo(Protocol):
    app: FundLedger
    projects: dict[str, str]
    grants: dict[str, str]

    def actor(self, name: str) -> Actor: ...


@dataclass(frozen=True)
class Elder:
    beneficiary_id: str
    birth_date: date
    card: str
    regularity: float  # the chance of lunch on a day


def _rules(effective_from: date, subsidies: tuple[str, ...], **more: object) -> Rules:
    fields: dict[str, object] = {
        "meals_per_day_max": 2,
        "meals_per_month_max": 40,
        "meal_times": ("lunch", "dinner"),
        "price_fen": parse_yuan("15.00"),
        "operator": OPERATOR_NAME,
    } | more
    edges = (
        [(60, 69), (70, 79), (80, None)]
        if len(subsidies) == 3
        else [(60, 69), (70, 79), (80, 89), (90, None)]
    )
    bands = tuple(
        Band(low, high, parse_yuan(s)) for (low, high), s in zip(edges, subsidies, strict=True)
    )
    return Rules(effective_from, bands, **fields)  # type: ignore[arg-type]


# The rules as decided: (proposed on, approved on, the rules). Never back: each takes effect
# on a day after its approval.
RULES = [
    (date(2026, 5, 18), date(2026, 5, 20), _rules(date(2026, 6, 1), ("3.00", "5.00", "8.00"))),
    (date(2026, 7, 10), date(2026, 7, 15), _rules(date(2026, 8, 1), ("3.00", "6.00", "9.00"))),
    (
        date(2026, 9, 8),
        date(2026, 9, 12),
        _rules(
            date(2026, 10, 1),
            ("3.00", "6.00", "9.00", "10.00"),
            meal_times=("breakfast", "lunch", "dinner"),
            meals_per_month_max=45,
        ),
    ),
]


def _names(rng: random.Random, taken: str) -> list[str]:
    names = sorted(s + g for s in SURNAMES for g in GIVEN if s + g not in taken)
    rng.shuffle(names)
    return names[:ELDERS]


def open_canteen(demo: _Demo) -> None:
    """The canteen from its opening to October's settlement."""
    rng = random.Random(SEED)  # noqa: S311 - a repeatable demo, not a secret
    app, treasurer = demo.app, demo.actor(TREASURER)
    demo.projects["canteen"] = app.open_project(
        treasurer,
        "canteen",
        "社区食堂 · 长者助餐",
        "Community canteen: meal subsidies for residents over 60",
        "社区食堂与市民卡联动，60岁以上居民用餐按年龄段补贴；公示只列人数与金额。",
        OPERATOR_NAME,
        on=OPENED_ON,
    ).id
    grant_id = app.propose_grant(
        demo.actor(COMMITTEE[3]),
        demo.projects["canteen"],
        parse_yuan("300000.00"),
        "2026年社区食堂长者助餐补贴 / canteen meal subsidies for elders",
        on=date(2026, 5, 20),
    ).id
    for name in COMMITTEE[:3]:
        app.approve_grant(demo.actor(name), grant_id, on=date(2026, 5, 22))
    demo.grants["canteen"] = grant_id
    for proposed_on, approved_on, rules in RULES:
        rules_id = app.propose_subsidy_rules(
            demo.actor(COMMITTEE[3]), "canteen", rules, on=proposed_on
        ).id
        for name in COMMITTEE[:3]:
            app.approve_subsidy_rules(demo.actor(name), rules_id, on=approved_on)
    elders = _register(demo, rng)
    for month in SETTLED_MONTHS:
        _settle(demo, rng, elders, month)
    _attendance(demo, rng, elders)


def roster(rng: random.Random) -> list[tuple[NewBeneficiary, float]]:
    """The elders the canteen registers, each with how often they come to lunch."""
    people = []
    for index, name in enumerate(_names(rng, TAKEN)):
        born = date(1937, 1, 1) + timedelta(days=rng.randint(0, 29 * 365))
        if index % 100 == 50:
            born = date(1935, 1 + index // 100, 20)  # the few over 90
        if index % 100 == 99:
            born = date(1967, 1 + index // 100, 9)  # on the list before they turn 60
        card = f"3304{born:%Y%m%d}{index:04d}{rng.randint(10, 99)}"
        address = f"{rng.choice(['二毛一村', '新湖绿都', '湖滨花园'])}{rng.randint(1, 30)}幢"
        people.append((NewBeneficiary(name, born, card, address), rng.uniform(0.15, 0.9)))
    return people


def demo_roster() -> list[NewBeneficiary]:
    """The demo's elders as registered (for the tests that look for them where they must
    never be)."""
    return [person for person, _ in roster(random.Random(SEED))]  # noqa: S311


def _register(demo: _Demo, rng: random.Random) -> list[Elder]:
    people = roster(rng)
    receipt = demo.app.register_beneficiaries(
        demo.actor(TREASURER), [p for p, _ in people], idempotency_key="demo-canteen-elders"
    )
    return [
        Elder(person_id, given.birth_date, given.card_number, regularity)
        for person_id, (given, regularity) in zip(receipt.ids, people, strict=True)
    ]


def _day_rows(rng: random.Random, elder: Elder, day: date, rules: Rules) -> list[str]:
    band = rules.band_for(age_on(elder.birth_date, day))
    if band is None:
        return []
    subsidy = f"{band.subsidy_fen // 100}.{band.subsidy_fen % 100:02d}"
    price = f"{rules.price_fen // 100}.{rules.price_fen % 100:02d}"
    meals = []
    if "breakfast" in rules.meal_times and rng.random() < elder.regularity * 0.2:
        meals.append(("breakfast", 7))
    if rng.random() < elder.regularity:
        meals.append(("lunch", 11))
    if rng.random() < elder.regularity * 0.3:
        meals.append(("dinner", 17))
    return [
        f"{elder.card},{day} {hour:02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d},"
        f"{meal},{price},{subsidy}\n"
        for meal, hour in meals[: rules.meals_per_day_max]
    ]


def _month_rows(
    rng: random.Random, elders: list[Elder], month: str, rules: list[Rules]
) -> list[str]:
    year, number = int(month[:4]), int(month[5:])
    rows: list[str] = []
    for elder in elders:
        eaten: list[str] = []
        for day_number in range(1, calendar.monthrange(year, number)[1] + 1):
            day = date(year, number, day_number)
            in_force = rules_on(rules, day)
            assert in_force is not None
            eaten.extend(
                _day_rows(rng, elder, day, in_force)[: in_force.meals_per_month_max - len(eaten)]
            )
        rows.extend(eaten)
    return rows


def _bad_rows(elders: list[Elder], month: str) -> list[str]:
    """What went wrong in August's first file: the old subsidy for 70-79 still claimed, a
    visitor's card, a transaction exported twice, a resident not yet 60, a third meal of a day
    and a breakfast before breakfasts counted."""
    day = f"{month}-20"
    at = datetime.fromisoformat(f"{day} 12:05:00")
    seventies = _seventies(elders, at.date())
    young = next(e for e in elders if age_on(e.birth_date, at.date()) < 60)
    regular = seventies[0]
    return [
        *(f"{e.card},{day} 11:4{i}:00,lunch,15.00,5.00\n" for i, e in enumerate(seventies[1:4])),
        f"330400199001010000,{day} 11:50:00,lunch,15.00,3.00\n",
        f"{young.card},{day} 11:55:00,lunch,15.00,3.00\n",
        f"{regular.card},{day} 07:30:00,breakfast,15.00,6.00\n",
        f"{regular.card},{month}-21 11:30:00,lunch,15.00,6.00\n",
        f"{regular.card},{month}-21 11:30:00,lunch,15.00,6.00\n",
        f"{regular.card},{month}-21 17:10:00,dinner,15.00,6.00\n",
        f"{regular.card},{month}-21 18:40:00,dinner,15.00,6.00\n",
    ]


def _seventies(elders: list[Elder], day: date) -> list[Elder]:
    return [e for e in elders if 70 <= age_on(e.birth_date, day) <= 79]


def _settle(demo: _Demo, rng: random.Random, elders: list[Elder], month: str) -> None:
    app, treasurer = demo.app, demo.actor(TREASURER)
    rules = app.rules_in_force("canteen")
    header = "card_number,time,meal,price,subsidy\n"
    rows = _month_rows(rng, elders, month, rules)
    if month == BAD_MONTH:
        # The elder whose rows the bad ones add to eats nothing else from the 20th on.
        regular = _seventies(elders, date(2026, 8, 20))[0]
        rows = [r for r in rows if not r.startswith(f"{regular.card},{month}-2")]
        bad = (header + "".join([*rows, *_bad_rows(elders, month)])).encode()
        try:
            _settle_file(demo, treasurer, month, bad)
        except MealsRefused:
            pass  # refused whole: nothing recorded; the canteen sends a corrected file
        else:
            raise AssertionError("the demo's bad file was accepted")
    _settle_file(demo, treasurer, month, (header + "".join(rows)).encode())


def _settle_file(demo: _Demo, treasurer: Actor, month: str, data: bytes) -> None:
    parsed = parse_meals(data.decode())
    assert parsed.bad == [], parsed.bad[:3]
    demo.app.settle_meals(
        treasurer,
        "canteen",
        demo.grants["canteen"],
        month,
        hashlib.sha256(data).hexdigest(),
        parsed.rows,
    )


def _attendance(demo: _Demo, rng: random.Random, elders: list[Elder]) -> None:
    """Birthday lunches on the 15th (70 and over, born that month), clinics on the 8th,
    haircuts on the first Friday: June to November."""
    app, treasurer = demo.app, demo.actor(TREASURER)
    for number in range(6, 12):
        lunch_on = date(2026, number, 15)
        born_this_month = [
            e.beneficiary_id
            for e in elders
            if e.birth_date.month == number and age_on(e.birth_date, lunch_on) >= 70
        ]
        if born_this_month:
            app.record_attendance(treasurer, "noodles", "birthday_lunch", lunch_on, born_this_month)
        clinic = rng.sample([e.beneficiary_id for e in elders], rng.randint(25, 40))
        app.record_attendance(
            treasurer, "health", "clinic_visit", date(2026, number, 8), clinic, len(clinic) + 6
        )
        first = date(2026, number, 1)
        friday = first + timedelta(days=(4 - first.weekday()) % 7)
        haircuts = rng.sample([e.beneficiary_id for e in elders], rng.randint(10, 20))
        app.record_attendance(treasurer, "barber", "haircut", friday, haircuts)
