"""The expert panel's downloads hold no contact detail, no name behind an anonymous or masked
gift and no individual payee: every export, query and warning list the adviser can download,
as CSV and XLSX, searched for each of them. The same search finds them in the auditor's
downloads, or it would prove nothing."""

from __future__ import annotations

import io
import json

import pytest
from api_calls import Api
from helpers import opened
from openpyxl import load_workbook

DOWNLOADS = [
    ("/v1/exports/donations.csv", {}),
    ("/v1/exports/grants.csv", {}),
    ("/v1/exports/expenses.csv", {}),
    ("/v1/exports/360giving", {}),
    ("/v1/exports/beancount", {}),
    *[
        ("/v1/query", {"group_by": keys, "format": fmt, **extra})
        for keys, extra in [
            ("donor", {}),
            ("donor,channel", {"measure": "donations,donation_count"}),
            ("payee", {}),
            ("payee,month", {"pivot": "month"}),
            ("grant,category", {}),
        ]
        for fmt in ("csv", "xlsx")
    ],
    ("/v1/checks", {"format": "csv"}),
    ("/v1/checks", {"format": "xlsx"}),
    ("/v1/checks", {}),
]


def text_of(content_type: str, content: bytes) -> str:
    if content_type.startswith("application/vnd.openxmlformats"):
        sheet = load_workbook(io.BytesIO(content)).active
        assert sheet is not None
        return "\n".join(
            "\t".join("" if c is None else str(c) for c in row)
            for row in sheet.iter_rows(values_only=True)
        )
    text = content.decode("utf-8-sig")
    if "json" in content_type:
        text += "\n" + json.dumps(json.loads(text), ensure_ascii=False)
    return text


def downloads(demo: Api, who: str) -> dict[str, str]:
    out = {}
    for path, params in DOWNLOADS:
        response = demo.get(path, who, **params)
        assert response.status_code == 200, (path, params, response.text)
        out[f"{path} {params}"] = text_of(response.headers["content-type"], response.content)
    return out


@pytest.fixture(scope="module")
def secrets(demo: Api) -> dict[str, set[str]]:
    services = demo.client.app.state.services  # type: ignore[attr-defined]
    view, ledger = services.reader.registers_view, services.ledger
    donors = opened(ledger, view.query("SELECT name, kind, disclosure FROM {t}fl_donors"))
    contacts = opened(ledger, view.query("SELECT contact_json FROM {t}fl_donor_contacts"))
    payees = opened(
        ledger, view.query("SELECT payee FROM {t}fl_expenses WHERE payee_kind = 'individual'")
    )
    return {
        "contact details": {
            str(v) for row in contacts for v in json.loads(row["contact_json"]).values() if v
        },
        "names behind anonymous gifts": {
            d["name"] for d in donors if d["disclosure"] == "anonymous"
        },
        "names behind masked gifts": {
            d["name"] for d in donors if d["disclosure"] == "masked" and d["kind"] == "individual"
        },
        "individual payees": {row["payee"] for row in payees},
    }


def test_the_advisers_downloads_hold_no_personal_data(
    demo: Api, secrets: dict[str, set[str]]
) -> None:
    assert all(secrets.values()), secrets  # the demo has some of each
    bodies = downloads(demo, "adviser")
    leaks = {
        kind: {s: [u for u, text in bodies.items() if s in text] for s in found}
        for kind, found in secrets.items()
    }
    assert {k: {s: u for s, u in v.items() if u} for k, v in leaks.items()} == {
        kind: {} for kind in secrets
    }
    # Nor a sealed value left unopened in place of a masked name.
    assert [url for url, text in bodies.items() if "sealed:" in text] == []


def test_the_same_search_finds_them_in_the_auditors_downloads(
    demo: Api, secrets: dict[str, set[str]]
) -> None:
    text = "\n".join(downloads(demo, "auditor").values())
    for kind, found in secrets.items():
        assert any(s in text for s in found), kind
