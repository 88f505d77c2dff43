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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
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
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidInput("file", ",".join(columns), f"lacks the columns {', '.join(missing)}")
    parsed = Parsed([], [])
    receipts: dict[str, int] = {}
    keys: dict[NaturalKey, int] = {}
    for line, row in _rows(reader):
        try:
            item = _item(
                {k.strip(): (v or "").strip() for k, v in row.items() if k}, amount_fen_max
            )
        except LedgerError as error:
            parsed.bad.append(BadRow(line, error.detail))
            continue
        receipt = item["receipt_no"]
        if receipt is not None:
            if receipt in receipts:
                parsed.bad.append(
                    BadRow(line, f"receipt {receipt} is also on line {receipts[receipt]}")
                )
                continue
            receipts[receipt] = line
        elif not allow_duplicates:
            key = natural_key(item)
            if key in keys:
                parsed.bad.append(BadRow(line, f"{DUPLICATE_ROW} line {keys[key]}"))
                continue
            keys[key] = line
        parsed.items.append(item | {"line": line})
    return parsed


def _rows(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for index, row in enumerate(reader):
        if index >= ROWS_MAX:
            raise InvalidInput("file", f"over {ROWS_MAX} rows", "is too long; split it")
        yield reader.line_num, row


def _item(row: dict[str, str], amount_fen_max: int) -> dict[str, Any]:
    amount_fen = parse_yuan(row.get("amount", ""))
    if amount_fen > amount_fen_max:
        raise InvalidInput(
            "amount", row["amount"], f"is over {amount_fen_max // 100} yuan: a typo? (not imported)"
        )
    try:
        received_on = date.fromisoformat(row.get("received_on", ""))
    except ValueError:
        raise InvalidInput(
            "received_on", row.get("received_on", ""), "must be YYYY-MM-DD"
        ) from None
    if not row.get("donor_id"):
        raise InvalidInput("donor_id", "", "is empty")
    return {
        "donor_id": row["donor_id"],
        "amount_fen": amount_fen,
        "received_on": received_on,
        "channel": row.get("channel", ""),
        "receipt_no": row.get("receipt_no") or None,
        "project_id": row.get("project_id") or None,
        "note": row.get("note") or None,
    }
