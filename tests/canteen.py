"""A canteen on any store, for the tests: its project, money, grant, rules and a few elders.

The rules take effect on 2025-04-01 (decided in March, never back); April 2025 is the month
the tests settle. Each person's card number is their own; ``UNDER_60`` is registered (the
clinic serves them) but too young for the canteen's subsidy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from helpers import DAY, World, fen

from ledger.domain.canteen import Band, Rules

MONTH = "2025-04"
PRICE = "15.00"
# name, birth date, card number
ELDERS = {
    "s60": ("沈桂英", date(1962, 4, 20), "330400196204201234"),  # turns 63 in April
    "s70": ("陆志明", date(1950, 1, 1), "330400195001011111"),
    "s80": ("钱阿婆", date(1940, 6, 1), "330400194006012222"),
    "s85": ("顾阿姨", date(1939, 2, 14), "330400193902143333"),
}
UNDER_60 = ("许小峰", date(1970, 1, 1), "330400197001014444")
UNKNOWN_CARD = "330400199912319999"
HEADER = "card_number,time,meal,price,subsidy\n"


def rules(effective_from: date = date(2025, 4, 1), *, subsidy_70: str = "5.00") -> Rules:
    return Rules(
        effective_from=effective_from,
        bands=(
            Band(60, 69, fen("3.00")),
            Band(70, 79, fen(subsidy_70)),
            Band(80, None, fen("8.00")),
        ),
        meals_per_day_max=2,
        meals_per_month_max=40,
        meal_times=("lunch", "dinner"),
        price_fen=fen(PRICE),
        operator="南湖大酒店餐饮管理有限公司",
    )


@dataclass
class Canteen:
    world: World
    grant_id: str
    rules_id: str
    people: dict[str, str] = field(default_factory=dict)  # key -> beneficiary id

    @property
    def app(self):  # type: ignore[no-untyped-def]
        return self.world.app


def open_canteen(world: World, *, donated: str = "20000.00", granted: str = "10000.00") -> Canteen:
    """The canteen project with money restricted to it, its approved grant, rules, elders."""
    app, treasurer = world.app, world.treasurer
    project_id = app.open_project(treasurer, "canteen", "社区食堂 · 长者助餐").id
    world.projects["canteen"] = project_id
    world.donate(donated, "canteen", on=DAY)
    grant_id = world.grant("canteen", granted, on=DAY)
    proposer, *others = world.committee
    rules_id = app.propose_subsidy_rules(proposer, "canteen", rules(), on=date(2025, 3, 5)).id
    for member in others[: app.fund().quorum]:
        app.approve_subsidy_rules(member, rules_id, on=DAY)
    canteen = Canteen(world, grant_id, rules_id)
    for key, (name, born, card) in {**ELDERS, "u55": UNDER_60}.items():
        address = f"二毛一村{len(canteen.people) + 1}幢"
        canteen.people[key] = app.register_beneficiary(
            treasurer, name, born, card, address=address
        ).id
    return canteen


def row(card: str, at: str, meal: str = "lunch", price: str = PRICE, subsidy: str = "5.00") -> str:
    return f"{card},{at},{meal},{price},{subsidy}\n"


def good_rows() -> list[str]:
    """A clean April: each elder eats lunch on a few days, one has dinner too."""
    s60, s70, s80, s85 = (ELDERS[k][2] for k in ("s60", "s70", "s80", "s85"))
    return [
        row(s60, "2025-04-02 11:30", subsidy="3.00"),
        row(s60, "2025-04-21 11:35", subsidy="3.00"),  # 63 by then: still 60-69
        row(s70, "2025-04-02 11:40"),
        row(s70, "2025-04-02 17:30", meal="dinner"),
        row(s70, "2025-04-03 11:40"),
        row(s80, "2025-04-02 11:50", subsidy="8.00"),
        row(s85, "2025-04-15 12:00", subsidy="8.00"),
    ]


def bad_rows() -> dict[str, str]:
    """One row of each kind the rules refuse, by the problem it must be reported as."""
    s70, s80 = ELDERS["s70"][2], ELDERS["s80"][2]
    return {
        "unknown-card": row(UNKNOWN_CARD, "2025-04-04 11:30"),
        "under-age": row(UNDER_60[2], "2025-04-04 11:30", subsidy="3.00"),
        "over-day-cap": row(s70, "2025-04-02 19:00", meal="dinner"),  # a third meal that day
        "duplicate": row(s80, "2025-04-02 11:50", subsidy="8.00"),
        "subsidy-differs": row(s70, "2025-04-05 11:30", subsidy="8.00"),
        "price-differs": row(s70, "2025-04-06 11:30", price="18.00"),
        "meal-time-not-subsidised": row(s70, "2025-04-07 07:30", meal="breakfast"),
        "outside-month": row(s70, "2025-05-01 11:30"),
        "unreadable": "12,yesterday,lunch,15.00,5.00\n",
    }


def month_cap_rows() -> list[str]:
    """40 more meals in April of the elder who ate once already (``good_rows``): with them,
    the 41st meal is over the month's cap of 40."""
    s80 = ELDERS["s80"][2]
    rows = []
    for day in range(10, 31):
        rows.append(row(s80, f"2025-04-{day:02d} 11:30", subsidy="8.00"))
        rows.append(row(s80, f"2025-04-{day:02d} 17:30", meal="dinner", subsidy="8.00"))
    return rows[:40]


def csv_of(rows: list[str]) -> bytes:
    return (HEADER + "".join(rows)).encode()
