"""One demo store with its views, its log and its key, opened as someone with the
database password would, and ways to record and change what it holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from fund_ledger import cli
from ledger.app import FundLedger
from ledger.demo import TREASURER, DemoUsers
from ledger.domain import today
from ledger.log.notes import Checkpoint, Signer, Verifier, open_checkpoint
from projections.audit import check_store
from projections.log.queries import Log
from projections.runner import Views

ORIGIN = "test.example/fund"


Row = dict[str, Any]


@dataclass
class Store:
    """One demo store with its views, its log and the key that signs it."""

    url: str
    ledger: FundLedger
    views: Views
    log: Log
    signer: Signer
    users: DemoUsers
    first_note: str  # the checkpoint signed right after the demo

    @property
    def verifier(self) -> Verifier:
        return self.signer.verifier

    @property
    def sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    # Raw access to the tables, as someone with the database password has it.
    @property
    def events_table(self) -> str:
        return "stored_events" if self.sqlite else "{t}fundledger_events"

    @property
    def position_column(self) -> str:
        return "rowid" if self.sqlite else "notification_id"

    def query(self, statement: str, params: tuple[Any, ...] = ()) -> list[Row]:
        return self.views.view("log").query(statement, params)

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        with self.views.view("log").cursor(commit=True) as c:
            c.execute(statement, params)

    def event_row(self, position: int) -> Row:
        [row] = self.query(
            f"SELECT {self.position_column} AS position, originator_id, originator_version,"
            f" topic, state FROM {self.events_table} WHERE {self.position_column} = %s",
            (position,),
        )
        row["state"] = bytes(row["state"])
        return row

    def set_event_state(self, position: int, state: bytes) -> None:
        self.execute(
            f"UPDATE {self.events_table} SET state = %s WHERE {self.position_column} = %s",
            (state, position),
        )

    def delete_event(self, position: int) -> Row:
        row = self.event_row(position)
        self.execute(
            f"DELETE FROM {self.events_table} WHERE {self.position_column} = %s", (position,)
        )
        return row

    def insert_event(self, row: Row) -> None:
        self.execute(
            f"INSERT INTO {self.events_table} ({self.position_column}, originator_id,"
            " originator_version, topic, state) VALUES (%s, %s, %s, %s, %s)",
            (
                row["position"],
                row["originator_id"],
                row["originator_version"],
                row["topic"],
                row["state"],
            ),
        )

    def leaves(self) -> list[Row]:
        return self.query(
            "SELECT leaf_index, position, leaf_hash, data FROM {t}fl_log_leaves ORDER BY leaf_index"
        )

    def leaf(self, index: int) -> Row:
        [row] = self.query(
            "SELECT leaf_index, position, leaf_hash, data FROM {t}fl_log_leaves"
            " WHERE leaf_index = %s",
            (index,),
        )
        return row

    def set_leaf_data(self, index: int, data: str) -> None:
        self.execute("UPDATE {t}fl_log_leaves SET data = %s WHERE leaf_index = %s", (data, index))

    def insert_leaf(self, row: Row) -> None:
        self.execute(
            "INSERT INTO {t}fl_log_leaves (leaf_index, position, leaf_hash, data)"
            " VALUES (%s, %s, %s, %s)",
            (row["leaf_index"], row["position"], row["leaf_hash"], row["data"]),
        )

    def salt(self, subject: str) -> bytes:
        [row] = self.query("SELECT salt FROM {t}fl_log_salts WHERE subject = %s", (subject,))
        return bytes.fromhex(row["salt"])

    def first_donation(self) -> Row:
        """The first gift of the demo (the 街道办事处's ¥1,200,000.00), with its leaf index."""
        [row] = self.views.view("registers").query(
            "SELECT donation_id, position, amount_fen FROM {t}fl_donations"
            " ORDER BY position LIMIT 1"
        )
        [leaf] = self.query(
            "SELECT leaf_index FROM {t}fl_log_leaves WHERE position = %s", (row["position"],)
        )
        return {**row, "leaf_index": int(leaf["leaf_index"])}

    def self_check(self) -> int:
        return check_store(self.ledger, self.log, self.verifier)

    def signed(self) -> Checkpoint:
        """A checkpoint of the whole log as it stands, signed now if the log grew."""
        self.views.catch_up()
        self.log.sign(self.signer)
        stored = self.log.checkpoint()
        assert stored is not None
        checkpoint = open_checkpoint(stored.note, self.verifier)
        assert checkpoint.size == self.log.size()
        return checkpoint


def record_gifts(ledger: FundLedger, views: Views, count: int, **extra: Any) -> list[str]:
    """Some new gifts by a resident, applied to the views; their donation ids."""
    treasurer = ledger.actor_named(TREASURER)
    [donor] = views.view("registers").query(
        "SELECT donor_id FROM {t}fl_donors WHERE kind = 'individual' ORDER BY position LIMIT 1"
    )
    ids = [
        ledger.record_donation(
            treasurer, donor["donor_id"], 52000 + i, today(), "wechat_pay", **extra
        ).id
        for i in range(count)
    ]
    views.catch_up()
    return ids


def change_amount_digit(text: str, field: str = "amount") -> str:
    """The text with the first digit of the first ``"field":"..."`` value changed."""
    match = re.search(rf'"{field}":"?(\d)', text)
    assert match is not None, f"no {field} in {text[:200]}"
    digit = "2" if match[1] == "1" else "1"
    return text[: match.start(1)] + digit + text[match.end(1) :]


def change_last_digit(state: bytes, field: bytes = b'"amount_fen":') -> bytes:
    """One byte of a stored event changed: the last digit of its amount."""
    start = state.index(field) + len(field)
    end = start
    while state[end : end + 1].isdigit():
        end += 1
    digit = b"1" if state[end - 1 : end] != b"1" else b"2"
    return state[: end - 1] + digit + state[end:]


def verify(*args: str | Path) -> tuple[int, str]:
    """`fund-ledger verify ...`: its exit code and its output, with the line wrapping undone."""
    result = CliRunner().invoke(cli.app, ["verify", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, " ".join((result.stdout + result.stderr).split())
