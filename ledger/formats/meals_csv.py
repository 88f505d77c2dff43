"""Reading the canteen's citizen-card transaction export (CSV), row by row.

Columns: ``card_number, time, meal, price, subsidy`` (time ``YYYY-MM-DD HH:MM[:SS]``, money in
yuan). A row that cannot be read is reported with its line; the rules are checked afterwards
(``ledger.domain.meals``). A card number is personal data: no report ever repeats it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from ledger.domain.canteen import MealTime
from ledger.domain.errors import InvalidInput, LedgerError
from ledger.domain.meals import BadMeal, MealRow
from ledger.domain.money import parse_yuan

COLUMNS = ("card_number", "time", "meal", "price", "subsidy")
ROWS_MAX = 2_000_000
CARD = re.compile(r"^[0-9A-Z]{6,32}$")
UNREADABLE = "unreadable"
PROGRESS_ROWS = 5_000
MEALS = frozenset(MealTime)


@dataclass
class ParsedMeals:
    rows: list[MealRow] = field(default_factory=list)
    bad: list[BadMeal] = field(default_factory=list)


def normal_card(text: str) -> str:
    """A card number as matched: no spaces, upper case."""
    return text.replace(" ", "").upper()


def parse_meals(text: str, progress: Callable[[int], None] | None = None) -> ParsedMeals:
    """Every row read, or reported; ``progress`` is told of each ``PROGRESS_ROWS`` rows read."""
    reader = csv.reader(io.StringIO(text))
    header = [c.strip().lower() for c in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidInput("file", ",".join(header), f"lacks the columns {', '.join(missing)}")
    pick = itemgetter(*(header.index(c) for c in COLUMNS))
    parsed = ParsedMeals()
    # A month has a handful of prices and subsidies: each text is parsed once.
    prices: dict[str, int] = {}
    subsidies: dict[str, int] = {}
    for index, cells in enumerate(reader):
        if index >= ROWS_MAX:
            raise InvalidInput("file", f"over {ROWS_MAX} rows", "is too long; split it")
        if progress is not None and index % PROGRESS_ROWS == PROGRESS_ROWS - 1:
            progress(PROGRESS_ROWS)
        if not cells:
            continue
        line = reader.line_num
        try:
            card, time, meal, price, subsidy = _cells(pick, cells, len(header))
            price_fen = prices.get(price)
            if price_fen is None:
                price_fen = prices[price] = parse_yuan(price, field="price")
            subsidy_fen = subsidies.get(subsidy)
            if subsidy_fen is None:
                subsidy_fen = parse_yuan(subsidy, field="subsidy", allow_zero=True)
                subsidies[subsidy] = subsidy_fen
            parsed.rows.append(_row(line, card, time, meal, price_fen, subsidy_fen))
        except LedgerError as error:
            parsed.bad.append(BadMeal(line, UNREADABLE, error.detail))
    return parsed


def _cells(pick: Any, cells: list[str], width: int) -> tuple[str, ...]:
    """The five columns, stripped; a short row is padded with empty cells."""
    if len(cells) < width:
        cells = cells + [""] * (width - len(cells))
    return tuple(cell.strip() for cell in pick(cells))


def _row(line: int, card: str, time: str, meal: str, price_fen: int, subsidy_fen: int) -> MealRow:
    if not CARD.match(card):
        card = normal_card(card)
    if not CARD.match(card):
        # The value is not repeated: it may be a real card number mistyped.
        raise InvalidInput(
            "card_number", f"{len(card)} characters", "must be 6-32 digits or letters"
        )
    try:
        at = datetime.fromisoformat(time)
    except ValueError:
        raise InvalidInput("time", time[:40], "must be YYYY-MM-DD HH:MM[:SS]") from None
    if meal not in MEALS:
        raise InvalidInput("meal", meal[:40], f"must be one of {', '.join(MealTime)}")
    if at.tzinfo is not None:
        at = at.replace(tzinfo=None)
    return MealRow(line, card, at, meal, price_fen, subsidy_fen)
