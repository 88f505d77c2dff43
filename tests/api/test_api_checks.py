"""The panel's warnings on the demo year: the related parties and the restricted money found
again from the event log, a duplicate voucher inserted here, and an explanation recorded as an
event and shown; each list downloadable as XLSX."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date
from typing import Any

import holidays
from api_calls import PEOPLE, Api, assert_problem
from openpyxl import load_workbook

from ledger.domain.accounts import event_name


def _log(demo: Api) -> list[tuple[int, Any]]:
    ledger = demo.client.app.state.services.ledger  # type: ignore[attr-defined]
    return list(ledger.iter_events())


def warnings(demo: Api, who: str = "adviser", **params: Any) -> list[dict[str, Any]]:
    response = demo.get("/v1/checks", who, **params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_payees_who_also_gave_are_related_parties(demo: Api) -> None:
    events = _log(demo)
    donors = {e.name for _, e in events if event_name(e) == "Donor.Registered"}
    paid: dict[str, int] = defaultdict(int)
    reversed_ids = {str(e.originator_id) for _, e in events if event_name(e) == "Expense.Reversed"}
    for _, e in events:
        kept = str(e.originator_id) not in reversed_ids
        if event_name(e) == "Expense.Paid" and e.payee_kind == "organisation" and kept:
            paid[e.payee] += 1
    expected = {name for name in paid if name in donors}
    assert {"南湖宾馆", "嘉兴市第一医院"} <= expected
    found = warnings(demo, kind="related_party")
    named = {w["detail"].split("：")[0]: w for w in found}
    assert set(named) == expected
    for name, warning in named.items():
        assert f"收款{paid[name]}笔" in warning["detail"]
        assert len(warning["records"]) == paid[name]
        assert all(r["href"].startswith("/v1/expenses?") for r in warning["records"])


def test_restricted_money_below_zero_is_found_where_the_log_puts_it(demo: Api) -> None:
    """From the log: restricted gifts by day, less the restricted part of each payment."""
    events = _log(demo)
    moves: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    gone = {
        str(e.originator_id)
        for _, e in events
        if event_name(e) in {"Expense.Reversed", "Donation.Reversed"}
    }
    for _, e in events:
        day = e.meta.effective_on.isoformat() if hasattr(e, "meta") else ""
        if str(e.originator_id) in gone:
            continue
        if event_name(e) == "Donation.Received" and e.project_code:
            moves[e.project_code][day] += e.amount_fen
        elif event_name(e) == "Expense.Paid":
            moves[e.project_code][day] -= e.restricted_fen
    below = set()
    for project, days in moves.items():
        balance = 0
        for day in sorted(days):
            balance += days[day]
            if balance < 0:
                below.add(project)
    found = {w["records"][0]["id"] for w in warnings(demo, kind="negative_restricted")}
    assert found == below
    assert "science" in found


def test_payments_on_public_holidays_follow_the_calendar(demo: Api) -> None:
    events = _log(demo)
    gone = {str(e.originator_id) for _, e in events if event_name(e) == "Expense.Reversed"}
    days = [
        e.meta.effective_on
        for _, e in events
        if event_name(e) == "Expense.Paid" and str(e.originator_id) not in gone
    ]
    calendar = holidays.country_holidays("CN", years={d.year for d in days})
    found = warnings(demo, kind="holiday")
    assert sorted(w["on"] for w in found) == sorted(d.isoformat() for d in days if d in calendar)
    weekend = warnings(demo, kind="weekend")
    assert all(w["on"] not in calendar and holidays_weekday(w["on"]) >= 6 for w in weekend)


def holidays_weekday(day: str) -> int:
    return date.fromisoformat(day).isoweekday()


def test_a_voucher_used_twice_is_warned_and_explaining_it_is_an_event(demo: Api) -> None:
    first = demo.get("/v1/expenses", "treasurer", limit=1).json()["items"][0]
    assert first["voucher_no"]
    assert first["voucher_sha256"]
    grants = demo.get("/v1/grants", "treasurer", status="approved", limit=50).json()["items"]
    grant = max(grants, key=lambda g: float(g["amount"]) - float(g["spent"]))
    body = {
        "grant_id": grant["id"],
        "amount": "123.45",
        "paid_on": "2026-11-02",
        "payee": "南湖区文具店",
        "category": "programme",
        "description": "重复凭证测试 / duplicate voucher test",
        # A voucher number is refused a second time in its year (tests/service/test_vouchers.py);
        # the same attachment on a new voucher is recorded, and warned.
        "voucher_sha256": first["voucher_sha256"],
    }
    second = demo.ok("treasurer", "/v1/expenses", body)
    twice = [
        w
        for w in warnings(demo, kind="duplicate_voucher")
        if {r["id"] for r in w["records"]} == {first["id"], second}
    ]
    assert len(twice) == 1
    warning = twice[0]
    assert warning["explained"] is False
    assert first["voucher_sha256"][:12] in warning["detail"]

    path = f"/v1/checks/{warning['id']}/explain"
    reason = {"reason": "同一发票分两次付款 / one invoice paid in two parts"}
    assert_problem(demo.post("adviser", path, reason), 403)
    assert_problem(demo.post("committee0", "/v1/checks/duplicate_voucher:0/explain", reason), 404)
    before = demo.log_position()
    explanation = demo.ok("committee0", path, reason)
    logged = [e for p, e in _log(demo) if p > before]
    assert [event_name(e) for e in logged] == ["Explanation.Recorded"]
    assert str(logged[0].originator_id) == explanation
    assert logged[0].warning_id == warning["id"]

    shown = next(w for w in warnings(demo, "committee0") if w["id"] == warning["id"])
    assert shown["explained"] is True
    assert shown["explanations"][0]["reason"] == reason["reason"]
    assert shown["explanations"][0]["by"] == demo_name(demo, "committee0")

    response = demo.get("/v1/checks", "adviser", format="xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:3] == ["编号 / id", "类型 / kind", "说明 / detail"]
    row = next(r for r in rows if r[0] == warning["id"])
    assert row[1] == "凭证重复使用 / Voucher used twice"
    assert reason["reason"] in row[-1]
    assert_problem(demo.client.get("/v1/checks"), 401)


def demo_name(demo: Api, who: str) -> str:
    assert who in demo.tokens
    return PEOPLE[who][0]


def test_decisions_one_member_took_alone_are_listed_with_who(demo: Api) -> None:
    events = _log(demo)
    names = {e.user_id: e.name for _, e in events if event_name(e) == "Directory.UserAdded"}
    alone = {
        (str(e.originator_id), names[e.meta.actor_id])
        for _, e in events
        if event_name(e) in {"Grant.Rejected", "Donation.Reversed", "Expense.Reversed"}
    }
    found = warnings(demo, "committee0", kind="single_member")
    assert {(w["records"][0]["id"], w["by"]) for w in found} == alone
    assert alone
