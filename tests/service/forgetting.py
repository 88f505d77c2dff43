"""A fund holding one person to forget and one to remember, and ways to look for their data
in every table, export and answer.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from helpers import World

from ledger.app import FundLedger
from ledger.log.notes import Signer
from projections.log.queries import Log
from projections.reader import Reader
from projections.runner import Views

NAME = "司马青云"
PHONE = "13987654321"
NOTE = "纪念先母司马氏"
PAYEE = "柳如烟阿婆"
# Another person, who is not forgotten: their data must survive everything below.
OTHER_NAME = "欧阳明华"
OTHER_PHONE = "13800001111"
SECRETS = (NAME, PHONE, NOTE, PAYEE)
NOBODY = "00000000-0000-4000-8000-000000000000"


def forms(secret: str) -> list[str]:
    """A secret as text and as JSON with ASCII escapes, as either could be stored."""
    return [secret, json.dumps(secret)[1:-1]]


def holding(text: str, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    return [s for s in secrets if any(form in text for form in forms(s))]


@dataclass
class Fund:
    world: World
    views: Views
    log: Log
    reader: Reader
    signer: Signer
    donor_id: str
    other_id: str
    expense_id: str

    @property
    def app(self) -> FundLedger:
        return self.world.app


def store_text(app: FundLedger) -> str:
    """Every row of every table of the store (events, views, log, keys) as text."""
    datastore: Any = app.recorder.datastore  # type: ignore[attr-defined]
    schema = getattr(datastore, "schema", None)
    with datastore.transaction(commit=False) as c:
        if schema:
            c.execute(
                "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        else:
            c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = [row["name"] for row in c.fetchall()]
        assert "fl_person_keys" in tables
        parts = []
        for table in tables:
            c.execute(
                f'SELECT * FROM "{schema}"."{table}"' if schema else f'SELECT * FROM "{table}"'
            )
            for row in c.fetchall():
                for value in dict(row).values():
                    raw = bytes(value) if isinstance(value, bytes | memoryview) else None
                    parts.append(raw.decode("utf-8", "replace") if raw else str(value))
    text = "\n".join(parts)
    # A sealed value's body, decoded: it must be ciphertext, not an encoding of the plaintext.
    bodies = re.findall(r"sealed:v1:[0-9a-f-]+:([A-Za-z0-9_=-]+)", text)
    assert bodies
    opened = [base64.urlsafe_b64decode(body).decode("utf-8", "replace") for body in bodies]
    return "\n".join([text, *opened])
