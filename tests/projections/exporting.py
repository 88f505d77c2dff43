"""What the export tests share: the publication date, the registers as an auditor reads them,
and a CSV export read back as Excel would.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from helpers import opened

from projections.reader import Reader

PUBLISHED_ON = date(2026, 11, 30)
BOM = "\ufeff".encode()


def registers(reader: Reader, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return opened(reader.views.ledger, reader.registers_view.query(sql, params or []))


# -- CSV ---------------------------------------------------------------------------------------


def read_csv(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(BOM)
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))
