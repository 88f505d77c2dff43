"""Reading donations from a CSV file (a bank statement or a spreadsheet export), row by row.

Every bad row is reported with its line number and what is wrong; nothing is imported while
any row is bad, unless the caller asks for the good rows alone.
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
ROWS_MAX = 10_000_000
# A single gift above this is far more likely a typo (an extra zero) than a real donation.
SUSPICIOUS_AMOUNT_FEN = 1_000_000 * 100


@dataclass(frozen=True)
class BadRow:
    line: int
    problem: str


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


def parse_donations(text: str, *, amount_fen_max: int = SUSPICIOUS_AMOUNT_FEN) -> Parsed:
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidInput("file", ",".join(columns), f"lacks the columns {', '.join(missing)}")
    parsed = Parsed([], [])
    receipts: dict[str, int] = {}
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
