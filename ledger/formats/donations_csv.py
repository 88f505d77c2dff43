"""Reading donations from a CSV file (a bank statement or a spreadsheet export), row by row.

Every bad row is reported with its line number and what is wrong; nothing is imported while
any row is bad, unless the caller asks for the good rows alone.

A row with a receipt number is that gift: the number is unique in the books. A row without one
is known by its natural key, ``NATURAL_KEY``: the day received, the donor, the amount, the
channel and the project (none for an unrestricted gift). Two rows with the same natural key are
taken for one gift entered twice (or a file imported twice) unless the caller allows
duplicates: two real gifts alike in all five are rare, and then the treasurer says so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import Any

from ledger.domain.errors import InvalidInput, LedgerError
from ledger.domain.money import parse_yuan

REQUIRED_COLUMNS = ("donor_id", "amount", "received_on", "channel")
OPTIONAL_COLUMNS = ("receipt_no", "project_id", "note")
NATURAL_KEY = ("received_on", "donor_id", "amount", "channel", "project_id")
ROWS_MAX = 10_000_000
# A single gift above this is far more likely a typo (an extra zero) than a real donation.
SUSPICIOUS_AMOUNT_FEN = 1_000_000 * 100


DUPLICATE_ROW = (
    "no receipt number, and the same natural key (day, donor, amount, channel, project) as"
)


@dataclass(frozen=True)
class BadRow:
    line: int
    problem: str


NaturalKey = tuple[str, str, int, str, str | None]


def natural_key(item: dict[str, Any]) -> NaturalKey:
    """What identifies a gift without a receipt number (``NATURAL_KEY``): a row of a file, or
    a gift recorded (``received_on`` a date or its ISO text, the amount in ``amount_fen``)."""
    received_on = item["received_on"]
    day = received_on.isoformat() if isinstance(received_on, date) else str(received_on)[:10]
    return (
        day,
        str(item["donor_id"]),
        int(item["amount_fen"]),
        str(item["channel"]),
        item.get("project_id") or None,
    )


@dataclass
class Parsed:
    items: list[dict[str, Any]]
    bad: list[BadRow]


def decode(data: bytes) -> str:
    """UTF-8 (with or without a BOM) only: a wrong encoding is refused, not guessed."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        msg = f"the file is not UTF-8 (byte {error.start}): save it as CSV UTF-8"
        raise InvalidInput("file", "encoding", msg.removeprefix("the file ")) from None


def parse_donations(
    text: str, *, amount_fen_max: int = SUSPICIOUS_AMOUNT_FEN, allow_duplicates: bool = False
) -> Parsed:
    """Every row of the file: the good ones as items, the others as bad rows."""
    parsed = Parsed([], [])
    parsed.items = list(
        read_donations(
            text,
            amount_fen_max=amount_fen_max,
            allow_duplicates=allow_duplicates,
            refuse=parsed.bad.append,
        )
    )
    return parsed


class Unclean(Exception):
    """A row that ``stream_donations`` does not take as it stands: the file is to be read
    whole and every problem listed (``parse_donations``) instead."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def stream_donations(
    text: str, *, amount_fen_max: int = SUSPICIOUS_AMOUNT_FEN, allow_duplicates: bool = False
) -> Iterator[dict[str, Any]]:
    """The items of a clean file, one at a time as they are read, so that they can be stored
    while the rest is read. The first bad row raises ``Unclean``, and so does a row without a
    receipt number unless duplicates are allowed: its natural key is to be looked for in the
    books first."""

    def refuse(bad: BadRow) -> None:
        raise Unclean(f"line {bad.line}: {bad.problem}")

    for item in read_donations(
        text, amount_fen_max=amount_fen_max, allow_duplicates=allow_duplicates, refuse=refuse
    ):
        if item["receipt_no"] is None and not allow_duplicates:
            raise Unclean(f"line {item['line']}: no receipt number")
        yield item


def read_donations(
    text: str,
    *,
    amount_fen_max: int,
    allow_duplicates: bool,
    refuse: Callable[[BadRow], None],
) -> Iterator[dict[str, Any]]:
    """The good rows of the file as items, in order; each bad row goes to ``refuse``."""
    reader = csv.reader(io.StringIO(text))
    columns = [c.strip() for c in next(reader, [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidInput("file", ",".join(columns), f"lacks the columns {', '.join(missing)}")
    receipts: dict[str, int] = {}
    keys: dict[NaturalKey, int] = {}
    check = _Checks(amount_fen_max)
    # Where each column is (the last of a name given twice, as a dict of the row would keep);
    # a column the file lacks reads as the empty text put after each row.
    width = len(columns)
    where = {name: index for index, name in enumerate(columns) if name}
    pick = itemgetter(*(where.get(name, width) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)))
    amounts, days = check.amounts, check.days
    count = 0
    for row in reader:
        if not row:  # a blank line, skipped as csv.DictReader skips it
            continue
        count += 1
        if count > ROWS_MAX:
            raise InvalidInput("file", f"over {ROWS_MAX} rows", "is too long; split it")
        line = reader.line_num
        # Short rows read as empty, extra fields are ignored.
        fields = row if len(row) == width else row[:width] + [""] * (width - len(row))
        fields.append("")
        donor_id, amount, received_on, channel, receipt, project_id, note = map(
            str.strip, pick(fields)
        )
        amount_fen = amounts.get(amount)
        day = days.get(received_on)
        try:
            if type(amount_fen) is not int:
                amount_fen = check.amount(amount)
            if type(day) is not date:
                day = check.day(received_on)
            if not donor_id:
                raise InvalidInput("donor_id", "", "is empty")
        except LedgerError as error:
            refuse(BadRow(line, error.detail))
            continue
        item = {
            "donor_id": donor_id,
            "amount_fen": amount_fen,
            "received_on": day,
            "channel": channel,
            "receipt_no": receipt or None,
            "project_id": project_id or None,
            "note": note or None,
            "line": line,
        }
        if receipt:
            if receipt in receipts:
                refuse(BadRow(line, f"receipt {receipt} is also on line {receipts[receipt]}"))
                continue
            receipts[receipt] = line
        elif not allow_duplicates:
            key = natural_key(item)
            if key in keys:
                refuse(BadRow(line, f"{DUPLICATE_ROW} line {keys[key]}"))
                continue
            keys[key] = line
        yield item


class _Checks:
    """The checks of a row's amount and day, each made once per distinct text: a file of a
    million gifts holds a few thousand amounts and a few hundred days."""

    def __init__(self, amount_fen_max: int) -> None:
        self.amount_fen_max = amount_fen_max
        self.amounts: dict[str, int | LedgerError] = {}
        self.days: dict[str, date | LedgerError] = {}

    def amount(self, text: str) -> int:
        found = self.amounts.get(text)
        if found is None:
            try:
                found = self._amount(text)
            except LedgerError as error:
                found = error
            self.amounts[text] = found
        if isinstance(found, LedgerError):
            raise found.with_traceback(None)
        return found

    def _amount(self, text: str) -> int:
        amount_fen = parse_yuan(text)
        if amount_fen > self.amount_fen_max:
            raise InvalidInput(
                "amount",
                text,
                f"is over {self.amount_fen_max // 100} yuan: a typo? (not imported)",
            )
        return amount_fen

    def day(self, text: str) -> date:
        found = self.days.get(text)
        if found is None:
            try:
                found = date.fromisoformat(text)
            except ValueError:
                found = InvalidInput("received_on", text, "must be YYYY-MM-DD")
            self.days[text] = found
        if isinstance(found, LedgerError):
            raise found.with_traceback(None)
        return found
