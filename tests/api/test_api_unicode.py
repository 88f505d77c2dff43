"""Any text a person may type comes back exactly as written, through every field of every command.

Chinese, emoji and other characters beyond the Basic Multilingual Plane, right-to-left Arabic
and Hebrew with their direction marks, combining marks (never normalised: a decomposed "é"
stays decomposed), zero-width joiners, a byte-order mark inside the text, tabs and newlines, and
HTML's special characters: each is written through the API into every free-text field the
commands take, then read back from the JSON reads, the public pages (escaped, never raw) and
the CSV exports (UTF-8 with a BOM), on SQLite and PostgreSQL. Control characters and NUL stay
refused (``tests/test_api.py``).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from api.app import create_app
from api.config import Settings
from api.models import (
    TEXT_PATTERN,
    DonationCreate,
    DonorCreate,
    ExpenseCreate,
    GrantCreate,
    OpinionCreate,
    ProjectCreate,
    Reason,
)
from ledger.app import OPERATOR, FundLedger
from ledger.domain import today

EXAMPLES_GENERATED = 6
SAMPLES = {
    "chinese": "南湖未来社区共富基金·一碗长寿面（邻里伙伴计划）",
    # A family (four emoji joined by zero-width joiners), CJK Extension B, a flag.
    "astral": "\U0001f469\u200d\U0001f469\u200d\U0001f467家庭 🍜🎂 𠮷野家 𝄞 \U0001f1e8\U0001f1f3",
    # Arabic and Hebrew, with right-to-left and left-to-right marks and an override.
    "right to left": "مؤسسة الخير \u200fשלום עליכם\u200e \u202eRTL\u202c",
    "combining": "Cafe\u0301 A\u030a Z\u0335\u0321a\u0338 \u1100\u1161\u11a8 e\u0301\u0301",
    "zero width and markup": "a\u200db\u200bc\ufeffd\u2060 <b>&amp;</b> \"q\" 'r'\tt\nn  ",
}
# Every character a person may type: any but controls (refused) and lone surrogates (not text).
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]),
    min_size=1,
    max_size=30,
).filter(str.strip)
# The free-text fields of the command bodies; a test below checks none is left out.
FIELDS = {
    "DonorCreate": {"name", "contact"},
    "ProjectCreate": {"name", "name_en", "description", "organisation"},
    "DonationCreate": {"receipt_no", "note"},
    "Reason": {"reason"},
    "GrantCreate": {"purpose"},
    "ExpenseCreate": {"payee", "description", "voucher_no"},
    "OpinionCreate": {"text"},
}
PEOPLE = {
    "treasurer": "treasurer",
    "committee0": "committee",
    "committee1": "committee",
    "adviser": "adviser",
    "auditor": "auditor",
}


@dataclass
class Fund:
    client: TestClient
    tokens: dict[str, str]
    serial: Iterator[int] = field(default_factory=itertools.count)

    def post(self, who: str, path: str, body: Any = None, status: int = 201) -> str:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        response = self.client.post(path, json=body, headers=headers)
        assert response.status_code == status, response.text
        return str(response.json()["id"])

    def get(self, path: str, who: str | None = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        response = self.client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response


@pytest.fixture
def fund(store_url: str, tmp_path: Path) -> Iterator[Fund]:
    ledger = FundLedger(store_url)
    ledger.establish_fund(OPERATOR, "统一码基金", quorum=1)
    tokens = {who: ledger.add_user(OPERATOR, who, role)[1] for who, role in PEOPLE.items()}
    settings = Settings(database_url=store_url, signing_key_file=str(tmp_path / "no-such.key"))
    with TestClient(create_app(settings, ledger), raise_server_exceptions=False) as client:
        yield Fund(client, tokens)


@dataclass(frozen=True)
class Written:
    code: str
    receipt: str
    donor_id: str
    grant_id: str
    ids: dict[str, str]


def write_everywhere(fund: Fund, text: str) -> Written:
    """Every command with a free-text field, with ``text`` in each such field."""
    n = next(fund.serial)
    code, receipt, day = f"u{n}", f"{text}-{n}", today().isoformat()
    contact = {text: text}
    donor = {"name": text, "kind": "enterprise", "disclosure": "named", "contact": contact}
    donor_id = fund.post("treasurer", "/v1/donors", donor)
    project = {"code": code, "name": text, "name_en": text}
    project |= {"description": text, "organisation": text}
    project_id = fund.post("treasurer", "/v1/projects", project)
    gift = {"donor_id": donor_id, "amount": "500.00", "received_on": day, "channel": "cash"}
    fund.post("treasurer", "/v1/donations", gift | {"receipt_no": receipt, "note": text})
    wrong = fund.post("treasurer", "/v1/donations", gift | {"project_id": project_id})
    fund.post("committee0", f"/v1/donations/{wrong}/reverse", {"reason": text}, 200)

    grant = {"project_id": project_id, "amount": "300.00", "purpose": text}
    grant_id = fund.post("committee0", "/v1/grants", grant)
    fund.post("committee1", f"/v1/grants/{grant_id}/approve", None, 200)
    refused = fund.post("committee0", "/v1/grants", grant | {"amount": "10.00"})
    fund.post("committee1", f"/v1/grants/{refused}/reject", {"reason": text}, 200)
    expense = {"grant_id": grant_id, "amount": "100.00", "paid_on": day, "payee": text}
    expense |= {"category": "programme", "description": text, "voucher_no": text}
    fund.post("treasurer", "/v1/expenses", expense)
    # Voucher numbers are unique in a year: the mistaken payment gets the next one assigned.
    mistaken = fund.post(
        "treasurer", "/v1/expenses", expense | {"amount": "1.00", "voucher_no": None}
    )
    fund.post("committee0", f"/v1/expenses/{mistaken}/reverse", {"reason": text}, 200)
    fund.post("adviser", "/v1/opinions", {"subject_id": grant_id, "text": text})
    return Written(code, receipt, donor_id, grant_id, {"wrong": wrong, "mistaken": mistaken})


def read_json(fund: Fund, text: str, w: Written) -> dict[str, Any]:
    """Each field as the JSON reads give it back, by where it was read."""
    project = fund.get(f"/v1/projects/{w.code}").json()
    (gift,) = fund.get("/v1/donations", receipt_no=w.receipt).json()["items"]
    (full_gift,) = fund.get("/v1/donations", "auditor", receipt_no=w.receipt).json()["items"]
    grants = fund.get("/v1/grants", project=w.code).json()["items"]
    expenses = fund.get("/v1/expenses", "auditor", project=w.code).json()["items"]
    corrections = {c["id"]: c["reason"] for c in fund.get("/v1/corrections").json()}
    (opinion,) = fund.get("/v1/opinions", subject_id=w.grant_id).json()["items"]
    statement = fund.get(f"/v1/donors/{w.donor_id}/statement", "auditor").json()
    registered = [
        e["data"]
        for e in fund.get("/v1/events", "auditor", limit=500).json()["items"]
        if e["aggregate_id"] == w.donor_id
    ]
    return {
        "donor name (statement)": statement["donor"]["name"],
        "donor name (public list)": gift["donor"],
        "contact (event log)": registered[0].get("contact"),
        "project name": project["name"],
        "project name_en": project["name_en"],
        "project description": project["description"],
        "project organisation": project["organisation"],
        "receipt_no": gift["receipt_no"],
        "note": full_gift["note"],
        "donation reversal reason": corrections[w.ids["wrong"]],
        "purpose": {g["purpose"] for g in grants},
        "rejection reason": {g["decision_reason"] for g in grants if g["status"] == "rejected"},
        "payee": {x["payee"] for x in expenses},
        "expense description": {x["description"] for x in expenses},
        "voucher_no": {x["voucher_no"] for x in expenses if x["id"] != w.ids["mistaken"]},
        "expense reversal reason": corrections[w.ids["mistaken"]],
        "opinion": opinion["text"],
    }


def csv_rows(fund: Fund, name: str, who: str | None = None) -> list[dict[str, str]]:
    data = fund.get(f"/v1/exports/{name}", who).content
    assert data.startswith(b"\xef\xbb\xbf")
    rows = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    # Headers read "收据编号 / receipt_no": the English name is the key.
    keys = [header.rsplit(" / ", 1)[-1] for header in next(rows)]
    return [dict(zip(keys, row, strict=True)) for row in rows]


def cell(text: str) -> str:
    """How the CSV export writes free text: a leading formula character is quoted (by design)."""
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def check_round_trip(fund: Fund, text: str) -> None:
    w = write_everywhere(fund, text)
    read = read_json(fund, text, w)
    expected = {key: {text} if isinstance(got, set) else text for key, got in read.items()}
    expected["receipt_no"] = w.receipt
    expected["contact (event log)"] = {text: text}
    assert read == expected

    # The pages: escaped once, never raw, never mangled.
    shown = escape(text)
    project_page = fund.get(f"/projects/{w.code}").text
    corrections_page = fund.get("/corrections").text
    lookup = fund.get("/donations", receipt=w.receipt).text
    assert shown in project_page
    assert shown in corrections_page
    assert escape(w.receipt) in lookup
    if shown != text:
        assert text not in project_page + corrections_page

    # The CSV exports: UTF-8 with a BOM, each field back in its column.
    by_receipt = {row["receipt_no"]: row for row in csv_rows(fund, "donations.csv", "auditor")}
    gift = by_receipt[cell(w.receipt)]
    assert (gift["donor"], gift["note"]) == (cell(text), cell(text))
    assert text in gift["contact"]
    public = {row["receipt_no"]: row for row in csv_rows(fund, "donations.csv")}
    assert public[cell(w.receipt)]["donor"] == cell(text)
    grants = [r for r in csv_rows(fund, "grants.csv") if r["project"] == w.code]
    assert {r["purpose"] for r in grants} == {cell(text)}
    expenses = [r for r in csv_rows(fund, "expenses.csv", "auditor") if r["project"] == w.code]
    for column in ("payee", "description"):
        assert {r[column] for r in expenses} == {cell(text)}, column
    assert cell(text) in {r["voucher_no"] for r in expenses}


@pytest.mark.parametrize("sample", SAMPLES.values(), ids=SAMPLES.keys())
def test_hostile_text_round_trips_through_every_field(fund: Fund, sample: str) -> None:
    check_round_trip(fund, sample)


@settings(
    max_examples=EXAMPLES_GENERATED,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=TEXT)
@example(text="\u0301")  # a combining mark with nothing to combine with
@example(text="\U0010fffd\uffff")  # the last private-use character, a noncharacter
def test_any_text_round_trips_through_every_field(fund: Fund, text: str) -> None:
    check_round_trip(fund, text)


def is_free_text(name: str, schema: dict[str, Any]) -> bool:
    """A string field that is not an id, a choice, a pattern or a format such as a date.

    The pattern every free text carries (not blank, no control character) shapes nothing."""
    text = json.dumps(schema).replace(f'"pattern": {json.dumps(TEXT_PATTERN)}', "")
    shaped = any(f'"{key}"' in text for key in ("enum", "const", "pattern", "format"))
    return '"string"' in text and not shaped and not name.endswith("_id")


def test_the_fields_written_are_every_free_text_field_of_the_commands() -> None:
    models = [DonorCreate, ProjectCreate, DonationCreate, Reason, GrantCreate]
    models += [ExpenseCreate, OpinionCreate]
    free_text = {
        model.__name__: {
            name
            for name, schema in model.model_json_schema()["properties"].items()
            if is_free_text(name, schema)
        }
        for model in models
    }
    assert free_text == FIELDS
