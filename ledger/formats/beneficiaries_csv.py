"""Reading the residents a project serves from a CSV file: ``name, birth_date, card_number[,
address]``. Every field is personal data: a bad row is reported by its line and the field's
name, never its value."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from ledger.domain.canteen import NewBeneficiary
from ledger.domain.errors import InvalidInput

COLUMNS = ("name", "birth_date", "card_number")
ROWS_MAX = 100_000


@dataclass
class ParsedPeople:
    people: list[NewBeneficiary] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


def parse_beneficiaries(text: str) -> ParsedPeople:
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise InvalidInput("file", ",".join(columns), f"lacks the columns {', '.join(missing)}")
    parsed = ParsedPeople()
    for index, row in enumerate(reader):
        if index >= ROWS_MAX:
            raise InvalidInput("file", f"over {ROWS_MAX} rows", "is too long; split it")
        cells = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            born = date.fromisoformat(cells["birth_date"])
        except ValueError:
            parsed.bad.append(f"line {reader.line_num}: birth_date must be YYYY-MM-DD")
            continue
        person = NewBeneficiary(
            cells["name"], born, cells["card_number"], cells.get("address") or None
        )
        parsed.people.append(person)
        parsed.lines.append(reader.line_num)
    return parsed
