"""A month of the canteen's citizen-card meals checked against the subsidy rules in force.

Pure: rows in (already parsed, ``ledger.formats.meals_csv``), every refused row out with the
rule it breaks, and for the accepted ones the settlement's totals, bands and lines. Each row is
judged by the rules in force on its own day (rules are never retroactive); a duplicate or a
row refused for any other reason does not count toward the caps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from ledger.domain.base import month_of
from ledger.domain.canteen import Band, Rules, age_on
from ledger.domain.yuan import format_yuan


class Problem:
    """The kinds of refused row, as the report names them."""

    UNKNOWN_CARD = "unknown-card"
    UNDER_AGE = "under-age"
    NO_RULES = "no-rules-in-force"
    MEAL_TIME = "meal-time-not-subsidised"
    PRICE = "price-differs"
    SUBSIDY = "subsidy-differs"
    DUPLICATE = "duplicate"
    DAY_CAP = "over-day-cap"
    MONTH_CAP = "over-month-cap"
    OUTSIDE_MONTH = "outside-month"


@dataclass(frozen=True)
class MealRow:
    """One transaction of the canteen's citizen-card export."""

    line: int
    card: str
    at: datetime
    meal: str
    price_fen: int
    subsidy_fen: int


@dataclass(frozen=True)
class Person:
    beneficiary_id: str
    birth_date: date


@dataclass(frozen=True)
class BadMeal:
    line: int
    problem: str
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}: {self.detail}"


@dataclass
class Checked:
    """The month as checked: the refused rows, and the accepted ones summed."""

    month: str
    bad: list[BadMeal] = field(default_factory=list)
    meals: int = 0
    subsidy_fen: int = 0
    meals_price_fen: int = 0
    # (beneficiary id, band) -> [meals, subsidy_fen]
    lines: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def people(self) -> int:
        return len({person for person, _band in self.lines})

    def bands(self) -> dict[str, dict[str, int]]:
        """Meals, people and subsidy per age band: what the public record shows."""
        out: dict[str, dict[str, Any]] = {}
        for (person, band), (meals, subsidy_fen) in sorted(self.lines.items()):
            totals = out.setdefault(band, {"meals": 0, "people": set(), "subsidy_fen": 0})
            totals["meals"] += meals
            totals["people"].add(person)
            totals["subsidy_fen"] += subsidy_fen
        return {
            band: {"meals": t["meals"], "people": len(t["people"]), "subsidy_fen": t["subsidy_fen"]}
            for band, t in out.items()
        }

    def line_list(self) -> list[dict[str, Any]]:
        return [
            {"beneficiary_id": person, "band": band, "meals": meals, "subsidy_fen": subsidy_fen}
            for (person, band), (meals, subsidy_fen) in sorted(self.lines.items())
        ]


def rules_on(rules: Sequence[Rules], day: date) -> Rules | None:
    """The rules in force on ``day``: the latest to take effect on or before it."""
    in_force = [r for r in rules if r.effective_from <= day]
    return max(in_force, key=lambda r: r.effective_from) if in_force else None


def check_meals(
    rows: Sequence[MealRow],
    month: str,
    people: Mapping[str, Person],
    card_hash: Callable[[str], str],
    rules: Sequence[Rules],
) -> Checked:
    """Every row judged; ``people`` maps a card's keyed hash to its holder."""
    checked = Checked(month)
    # Tens of thousands of rows, a few thousand cards and thirty-one days: each hashed or
    # looked up once.
    holders = {card: people.get(card_hash(card)) for card in {row.card for row in rows}}
    days = {day: rules_on(rules, day) for day in {row.at.date() for row in rows}}
    in_month = {day for day in days if month_of(day) == month}
    seen: set[tuple[str, datetime, str]] = set()
    per_day: dict[tuple[str, date], int] = defaultdict(int)
    per_month: dict[str, int] = defaultdict(int)
    for row in sorted(rows, key=attrgetter("at", "line")):
        day = row.at.date()
        person, in_force = holders[row.card], days[day]
        judged = _judge(row, month, day in in_month, person, in_force)
        if isinstance(judged, tuple):
            checked.bad.append(BadMeal(row.line, *judged))
            continue
        assert person is not None  # else _judge refused the row
        assert in_force is not None
        key = (person.beneficiary_id, row.at, row.meal)
        if key in seen:
            checked.bad.append(BadMeal(row.line, Problem.DUPLICATE, f"{row.meal} at {row.at}"))
            continue
        seen.add(key)
        day_key = (person.beneficiary_id, day)
        if per_day[day_key] >= in_force.meals_per_day_max:
            detail = f"{in_force.meals_per_day_max} meals a day already on {day}"
            checked.bad.append(BadMeal(row.line, Problem.DAY_CAP, detail))
            continue
        if per_month[person.beneficiary_id] >= in_force.meals_per_month_max:
            detail = f"{in_force.meals_per_month_max} meals a month already in {month}"
            checked.bad.append(BadMeal(row.line, Problem.MONTH_CAP, detail))
            continue
        per_day[day_key] += 1
        per_month[person.beneficiary_id] += 1
        line = checked.lines.setdefault((person.beneficiary_id, judged.label), [0, 0])
        line[0] += 1
        line[1] += row.subsidy_fen
        checked.meals += 1
        checked.subsidy_fen += row.subsidy_fen
        checked.meals_price_fen += row.price_fen
    checked.bad.sort(key=lambda bad: bad.line)
    return checked


def _judge(
    row: MealRow, month: str, in_month: bool, person: Person | None, in_force: Rules | None
) -> tuple[str, str] | Band:
    """The rule a row breaks on its own, as (problem, detail); else the age band it is in."""
    day = row.at.date()
    if not in_month:
        return Problem.OUTSIDE_MONTH, f"{day} is not in {month}"
    if person is None:
        return Problem.UNKNOWN_CARD, "no registered beneficiary holds this card"
    if in_force is None:
        return Problem.NO_RULES, f"no subsidy rules in force on {day}"
    if row.meal not in in_force.meal_times:
        return Problem.MEAL_TIME, f"{row.meal} is not subsidised ({', '.join(in_force.meal_times)})"
    band = in_force.band_for(age_on(person.birth_date, day))
    if band is None:
        return Problem.UNDER_AGE, f"the holder is not in any subsidised age band on {day}"
    if row.price_fen != in_force.price_fen:
        given, rule = format_yuan(row.price_fen), format_yuan(in_force.price_fen)
        return Problem.PRICE, f"price {given}, the rules say {rule}"
    if row.subsidy_fen != band.subsidy_fen:
        given, rule = format_yuan(row.subsidy_fen), format_yuan(band.subsidy_fen)
        return Problem.SUBSIDY, f"subsidy claimed {given}, the rules give {band.label}: {rule}"
    return band
