"""The donations CSV reader: any file reads as the row-by-row ``csv.DictReader`` reading did,
every bad row by its line, while each amount and day is checked once per distinct text."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.errors import InvalidInput, LedgerError
from ledger.domain.money import parse_yuan
from ledger.formats.donations_csv import (
    DUPLICATE_ROW,
    SUSPICIOUS_AMOUNT_FEN,
    BadRow,
    Unclean,
    natural_key,
    parse_donations,
    stream_donations,
)

DONOR = "0f0e0d0c-0b0a-4909-8807-060504030201"


def _reference(text: str, amount_fen_max: int, allow_duplicates: bool) -> tuple[Any, Any]:
    """The reading before it was made fast: a dict per row, every check made every time."""
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    if any(c not in columns for c in ("donor_id", "amount", "received_on", "channel")):
        return "missing", None
    items: list[dict[str, Any]] = []
    bad: list[BadRow] = []
    receipts: dict[str, int] = {}
    keys: dict[Any, int] = {}
    for row in reader:
        line = reader.line_num
        values = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        try:
            amount_fen = parse_yuan(values.get("amount", ""))
            if amount_fen > amount_fen_max:
                raise InvalidInput(
                    "amount",
                    values["amount"],
                    f"is over {amount_fen_max // 100} yuan: a typo? (not imported)",
                )
            try:
                received_on = date.fromisoformat(values.get("received_on", ""))
            except ValueError:
                raise InvalidInput(
                    "received_on", values.get("received_on", ""), "must be YYYY-MM-DD"
                ) from None
            if not values.get("donor_id"):
                raise InvalidInput("donor_id", "", "is empty")
        except LedgerError as error:
            bad.append(BadRow(line, error.detail))
            continue
        item = {
            "donor_id": values["donor_id"],
            "amount_fen": amount_fen,
            "received_on": received_on,
            "channel": values.get("channel", ""),
            "receipt_no": values.get("receipt_no") or None,
            "project_id": values.get("project_id") or None,
            "note": values.get("note") or None,
            "line": line,
        }
        receipt = item["receipt_no"]
        if receipt is not None:
            if receipt in receipts:
                bad.append(BadRow(line, f"receipt {receipt} is also on line {receipts[receipt]}"))
                continue
            receipts[receipt] = line
        elif not allow_duplicates:
            key = natural_key(item)
            if key in keys:
                bad.append(BadRow(line, f"{DUPLICATE_ROW} line {keys[key]}"))
                continue
            keys[key] = line
        items.append(item)
    return items, bad


def _read(text: str, amount_fen_max: int, allow_duplicates: bool) -> tuple[Any, Any]:
    try:
        parsed = parse_donations(
            text, amount_fen_max=amount_fen_max, allow_duplicates=allow_duplicates
        )
    except InvalidInput as error:
        return ("missing" if "lacks the columns" in error.detail else error.detail), None
    return parsed.items, parsed.bad


cells = st.sampled_from(
    [
        "",
        " ",
        DONOR,
        f" {DONOR} ",
        "12.50",
        " 12.5 ",
        "1e6",
        "3000000.00",
        "-5.00",
        "0.00",
        "2026-01-05",
        " 2026-01-05",
        "2026-01-05 ",
        "2026-13-01",
        "cash",
        "wechat_pay",
        "cash ",
        "R1",
        "R1 ",
        "R2",
        "a,b",
        'say "hi"',
        "two\nlines",
        "备注",
    ]
)
headers = st.permutations(
    ["donor_id", "amount", "received_on", "channel", "receipt_no", "project_id", "note"]
).flatmap(lambda names: st.integers(3, 7).map(lambda n: list(names[:n])))


@settings(max_examples=300, deadline=None)
@given(
    header=headers,
    rows=st.lists(st.lists(cells, min_size=0, max_size=9), max_size=12),
    extra=st.sampled_from(["", " amount", "donor_id"]),
    amount_fen_max=st.sampled_from([SUSPICIOUS_AMOUNT_FEN, 1000]),
    allow_duplicates=st.booleans(),
)
def test_any_file_reads_as_the_row_by_row_reading_did(
    header: list[str],
    rows: list[list[str]],
    extra: str,
    amount_fen_max: int,
    allow_duplicates: bool,
) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header + ([extra] if extra else []))  # a name twice, or padded
    for row in rows:
        writer.writerow(row)  # short, long and empty rows too
    text = out.getvalue()
    assert _read(text, amount_fen_max, allow_duplicates) == _reference(
        text, amount_fen_max, allow_duplicates
    )


def test_a_bad_amount_met_again_is_reported_again_on_its_own_line() -> None:
    rows = [f"{DONOR},1e6,2026-01-05,cash,R{i}" for i in range(3)]
    text = "donor_id,amount,received_on,channel,receipt_no\n" + "\n".join(rows) + "\n"
    parsed = parse_donations(text)
    assert [bad.line for bad in parsed.bad] == [2, 3, 4]
    assert len({bad.problem for bad in parsed.bad}) == 1
    assert "1e6" in parsed.bad[0].problem
    assert parsed.items == []


def test_a_stream_of_rows_stops_at_the_first_bad_row_or_the_first_without_a_receipt() -> None:
    header = "donor_id,amount,received_on,channel,receipt_no\n"
    good = [f"{DONOR},1.00,2026-01-05,cash,S{i}" for i in range(3)]
    text = header + "\n".join([*good, f"{DONOR},1.001,2026-01-05,cash,S9"]) + "\n"
    read: list[int] = []
    with pytest.raises(Unclean, match="line 5: "):
        read.extend(item["line"] for item in stream_donations(text))
    assert read == [2, 3, 4]  # the good rows came first, as they were read
    unnumbered = header + f"{good[0]}\n{DONOR},1.00,2026-01-05,cash,\n"
    with pytest.raises(Unclean, match="line 3: no receipt number"):
        list(stream_donations(unnumbered))
    assert [i["line"] for i in stream_donations(unnumbered, allow_duplicates=True)] == [2, 3]
