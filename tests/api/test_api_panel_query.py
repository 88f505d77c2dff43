"""The expert panel's questions, each one request to /v1/query on the demo year, checked
against figures added up here from the event log itself (not from the views), and each read
back from its XLSX download with openpyxl."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from api_calls import Api, assert_problem
from openpyxl import load_workbook

from ledger.domain.accounts import event_name

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Books:
    """What the event log says, added up without the views."""

    expenses: dict[str, dict[str, Any]] = field(default_factory=dict)
    gifts: dict[str, dict[str, Any]] = field(default_factory=dict)
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)
    donor_names: dict[str, str] = field(default_factory=dict)


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


@pytest.fixture(scope="module")
def books(demo: Api) -> Books:
    ledger = demo.client.app.state.services.ledger  # type: ignore[attr-defined]
    out = Books()
    for _, event in ledger.iter_events():
        name, key = event_name(event), str(event.originator_id)
        day = event.meta.effective_on if hasattr(event, "meta") else None
        if name == "Expense.Paid":
            out.expenses[key] = {
                "project": event.project_code,
                "category": event.category,
                "day": day,
                "amount": event.amount_fen,
                "restricted": event.restricted_fen,
                "payee": event.payee,
                "kind": event.payee_kind,
            }
        elif name == "Expense.Reversed":
            del out.expenses[key]
        elif name == "Donation.Received" and not event.in_kind:
            out.gifts[key] = {"donor": event.donor_id, "amount": event.amount_fen, "day": day}
            out.gifts[key] |= {"channel": event.channel, "kind": event.donor_kind}
        elif name == "Donation.Reversed":
            out.gifts.pop(key, None)
        elif name == "Grant.Proposed":
            out.grants[key] = {"project": event.project_code, "amount": event.amount_fen}
            out.grants[key] |= {"status": "proposed", "spent": 0}
        elif name in {"Grant.Approved", "Grant.Rejected", "Grant.Closed"}:
            out.grants[key]["status"] = name.removeprefix("Grant.").lower()
        elif name in {"Grant.Charged", "Grant.ChargeReversed"}:
            sign = 1 if name == "Grant.Charged" else -1
            out.grants[key]["spent"] += sign * (event.restricted_fen + event.unrestricted_fen)
    people = [x for x in out.expenses.values() if x["kind"] != "organisation"]
    for x, name in zip(people, ledger.keyring.reveal([x["payee"] for x in people]), strict=True):
        x["payee"] = name
    return out


def xlsx_rows(demo: Api, who: str | None, **params: Any) -> list[list[Any]]:
    response = demo.get("/v1/query", who, format="xlsx", **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_spending_per_project_month_and_category_as_a_pivot(demo: Api, books: Books) -> None:
    """Q1: one request, Chinese project names beside the codes, months across."""
    params = {"group_by": "project,category,month", "pivot": "month"}
    answer = demo.get("/v1/query", "adviser", **params).json()
    expected: Counter[tuple[str, str, str]] = Counter()
    for x in books.expenses.values():
        expected[x["project"], x["category"], x["day"].strftime("%Y-%m")] += x["amount"]
    got = {(r["project"], r["category"], r["month"]): r["expenses"] for r in answer["rows"]}
    assert got == {k: _yuan(v) for k, v in expected.items()}
    labels = {r["project"]: r["project_label"] for r in answer["rows"]}
    assert labels["noodles"] == "一碗长寿面 · 邻里伙伴计划"
    assert {r["category_label"] for r in answer["rows"]} >= {"业务活动成本"}
    pivot = answer["pivot"]
    assert pivot["column"] == "month"
    assert pivot["rows"] == ["project", "category"]
    line = next(
        p for p in pivot["lines"] if p["keys"] == {"project": "noodles", "category": "programme"}
    )
    noodles = {m: v for (p, c, m), v in expected.items() if (p, c) == ("noodles", "programme")}
    assert line["cells"] == {m: _yuan(v) for m, v in noodles.items()}
    assert line["total"] == _yuan(sum(noodles.values()))

    sheet = xlsx_rows(demo, "adviser", **params)
    assert sheet[0][:4] == [
        "项目 / project",
        "项目 / project（名称）",
        "费用类别 / category",
        "费用类别 / category（名称）",
    ]
    row = next(r for r in sheet if r[0] == "noodles" and r[2] == "programme")
    assert row[1] == "一碗长寿面 · 邻里伙伴计划"
    assert row[3] == "业务活动成本"
    assert Decimal(str(row[-1])) == Decimal(line["total"])

    # The same as CSV, by the Accept header: a BOM, Chinese headers and values.
    csv = demo.client.get("/v1/query", params=params, headers={"Accept": "text/csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith(b"\xef\xbb\xbf")
    text = csv.content.decode("utf-8-sig")
    assert "业务活动成本" in text
    assert "一碗长寿面 · 邻里伙伴计划" in text


def test_granted_spent_remaining_and_the_restricted_share(demo: Api, books: Books) -> None:
    """Q2: per project, approved grants, spending split restricted / unrestricted, and what is
    committed and unspent; a rejected or pending grant commits nothing."""
    measures = "grants,expenses,restricted_expenses,unrestricted_expenses,commitments"
    answer = demo.get("/v1/query", "adviser", group_by="project", measure=measures).json()
    got = {r["project"]: r for r in answer["rows"]}
    for project in {g["project"] for g in books.grants.values()}:
        grants = [g for g in books.grants.values() if g["project"] == project]
        given = [g for g in grants if g["status"] in {"approved", "closed"}]
        spent = [x for x in books.expenses.values() if x["project"] == project]
        row = got[project]
        assert row["grants"] == _yuan(sum(g["amount"] for g in given))
        assert row["commitments"] == _yuan(
            sum(g["amount"] - g["spent"] for g in given if g["status"] == "approved")
        )
        assert row["expenses"] == _yuan(sum(x["amount"] for x in spent))
        assert row["restricted_expenses"] == _yuan(sum(x["restricted"] for x in spent))
        assert row["unrestricted_expenses"] == _yuan(
            sum(x["amount"] - x["restricted"] for x in spent)
        )
    assert any(g["status"] in {"rejected", "proposed"} for g in books.grants.values())
    sheet = xlsx_rows(demo, "adviser", group_by="project", measure=measures)
    assert sheet[0][2:7] == [
        "已批准资助（元） / grants",
        "支出（元） / expenses",
        "限定性支出（元） / restricted_expenses",
        "非限定性支出（元） / unrestricted_expenses",
        "已批未支（元） / commitments",
    ]
    assert sheet[-1][0] == "合计 / total"
    assert Decimal(str(sheet[-1][2])) == Decimal(answer["totals"]["grants"])


def test_overhead_per_quarter_against_the_ten_percent_rule(demo: Api, books: Books) -> None:
    """Q3: management and fundraising together, as a share of spending, per quarter."""
    params = {"group_by": "quarter", "measure": "overhead_ratio,overhead,expenses"}
    answer = demo.get("/v1/query", "adviser", **params).json()
    spent: Counter[str] = Counter()
    overhead: Counter[str] = Counter()
    for x in books.expenses.values():
        quarter = f"{x['day'].year}-Q{(x['day'].month - 1) // 3 + 1}"
        spent[quarter] += x["amount"]
        if x["category"] in {"management", "fundraising"}:
            overhead[quarter] += x["amount"]
    assert {r["quarter"] for r in answer["rows"]} == set(spent)
    for row in answer["rows"]:
        q = row["quarter"]
        assert row["overhead"] == _yuan(overhead[q])
        ratio = (Decimal(100 * overhead[q]) / spent[q]).quantize(Decimal("0.1"))
        assert Decimal(row["overhead_ratio"]) == ratio
        assert ratio < 10
    assert answer["rows"][0]["quarter_label"].endswith("季度")
    sheet = xlsx_rows(demo, "adviser", **params)
    assert sheet[0][2] == "管理及筹资费用占比（%） / overhead_ratio"
    assert [Decimal(str(r[2])) for r in sheet[1:-1]] == [
        Decimal(r["overhead_ratio"]) for r in answer["rows"]
    ]


def test_top_payees_one_person_one_row_as_each_role_may_see(demo: Api, books: Books) -> None:
    """Q4: payees by who they are. The committee sees the person's name; the panel a number
    per person; the public every individual in one row."""
    by_payee: Counter[str] = Counter()
    for x in books.expenses.values():
        by_payee[x["payee"]] += x["amount"]
    people = {x["payee"] for x in books.expenses.values() if x["kind"] != "organisation"}
    params = {"group_by": "payee", "sort": "value", "limit": 5}
    committee = demo.get("/v1/query", "committee0", **params).json()
    top = by_payee.most_common(5)
    assert [(r["payee_label"], r["expenses"]) for r in committee["rows"]] == [
        (name, _yuan(fen)) for name, fen in top
    ]
    assert committee["groups"] == len(by_payee)
    whole = sum(by_payee.values())
    assert committee["shown_share"] == str(
        (Decimal(100 * sum(f for _, f in top)) / whole).quantize(Decimal("0.1"))
    )
    adviser = demo.get("/v1/query", "adviser", group_by="payee").json()
    numbered = [r for r in adviser["rows"] if r["payee"].startswith("individual:")]
    assert sorted(r["expenses"] for r in numbered) == sorted(_yuan(by_payee[p]) for p in people)
    assert not {r["payee_label"] for r in adviser["rows"]} & people
    public = demo.get("/v1/query", group_by="payee").json()
    pooled = [r for r in public["rows"] if r["payee"] == "(individuals)"]
    assert [r["expenses"] for r in pooled] == [_yuan(sum(by_payee[p] for p in people))]
    sheet = xlsx_rows(demo, "adviser", group_by="payee", sort="value")
    assert len(sheet) == len(by_payee) + 2  # header, a row per payee, the total
    assert not {str(c) for r in sheet for c in r} & people


def test_donations_by_donor_and_their_concentration(demo: Api, books: Books) -> None:
    """Q6: totals per donor, largest first, and the top five's share of all gifts."""
    by_donor: Counter[str] = Counter()
    for g in books.gifts.values():
        by_donor[g["donor"]] += g["amount"]
    answer = demo.get("/v1/query", "adviser", group_by="donor", sort="value", limit=5).json()
    top = by_donor.most_common(5)
    assert [(r["donor"], r["donations"]) for r in answer["rows"]] == [(d, _yuan(f)) for d, f in top]
    share = (Decimal(100 * sum(f for _, f in top)) / sum(by_donor.values())).quantize(
        Decimal("0.1")
    )
    assert answer["shown_share"] == str(share)
    assert answer["total"] == _yuan(sum(by_donor.values()))
    sheet = xlsx_rows(demo, "adviser", group_by="donor", sort="value", limit=5)
    assert [Decimal(str(r[2])) for r in sheet[1:6]] == [Decimal(f) / 100 for _, f in top]


def test_gifts_by_channel_and_kind_in_chinese(demo: Api, books: Books) -> None:
    """Q9: the codes come with their Chinese names, in the JSON and the spreadsheet."""
    expected: Counter[tuple[str, str]] = Counter()
    for g in books.gifts.values():
        expected[g["kind"], g["channel"]] += g["amount"]
    params = {"group_by": "donor_kind,channel", "measure": "donations,donation_count"}
    answer = demo.get("/v1/query", "adviser", **params).json()
    assert {(r["donor_kind"], r["channel"]): r["donations"] for r in answer["rows"]} == {
        k: _yuan(v) for k, v in expected.items()
    }
    assert sum(r["donation_count"] for r in answer["rows"]) == len(books.gifts)
    sheet = xlsx_rows(demo, "adviser", **params)
    values = {c for r in sheet for c in r}
    assert {"银行转账", "政府", "爱心企业"} <= values


def test_bad_questions_are_refused_with_the_field(demo: Api) -> None:
    for params, field_name in [
        ({"group_by": "colour"}, "group_by"),
        ({"group_by": "payee", "measure": "donations"}, "group_by"),
        ({"group_by": "project", "measure": "happiness"}, "measure"),
        ({"group_by": "project", "pivot": "project"}, "pivot"),
    ]:
        assert_problem(demo.client.get("/v1/query", params=params), 422, field=field_name)


def test_cost_per_person_served_reads_the_attendance_seam(demo: Api, books: Books) -> None:
    """Q10: the demo records no attendance yet (the canteen's records will write
    fl_people_served); rows put there as those records would make cost per person a query."""
    view = demo.client.app.state.services.reader.registers_view  # type: ignore[attr-defined]
    served = [("test-clinic-1", 1, "health", "2026-03-14", 40)]
    served += [("test-clinic-2", 2, "health", "2026-04-11", 60)]
    with view.cursor(commit=True) as cursor:
        for row in served:
            cursor.execute(
                "INSERT INTO {t}fl_people_served (activity_id, position, project_code,"
                " served_on, people) VALUES (%s, %s, %s, %s, %s)",
                row,
            )
    params = {"group_by": "project", "measure": "cost_per_person,expenses,people_served"}
    answer = demo.get("/v1/query", "adviser", project="health", **params).json()
    [row] = answer["rows"]
    spent = sum(x["amount"] for x in books.expenses.values() if x["project"] == "health")
    assert row["people_served"] == 100
    assert row["expenses"] == _yuan(spent)
    assert Decimal(row["cost_per_person"]) == (Decimal(spent) / 100 / 100).quantize(Decimal("0.01"))
    sheet = xlsx_rows(demo, "adviser", project="health", **params)
    assert Decimal(str(sheet[1][2])) == Decimal(row["cost_per_person"])
    assert sheet[1][4] == 100
