"""The reports and the expert panel's questions through the HTTP API, on the demo year."""

from __future__ import annotations

from decimal import Decimal

from api_calls import YUAN, Api, assert_problem

# -- the reports and the panel's questions, on the demo ------------------------------------------


def test_monthly_reports_answer_in_yuan(demo: Api) -> None:
    closed = demo.get("/v1/reports/monthly/2025-12").json()
    assert closed["month"] == "2025-12"
    assert closed["frozen"] is True
    report = demo.get("/v1/reports/monthly/2026-01").json()
    assert report["frozen"] is False
    assert YUAN.match(report["spending_total"])
    assert report["opening"]["balance"] == closed["closing"]["balance"]
    spent = sum(Decimal(v) for v in report["spending_by_category"].values())
    assert spent == Decimal(report["spending_total"])
    assert_problem(demo.client.get("/v1/reports/monthly/2026-13"), 422)


def test_the_trial_balance_balances(demo: Api) -> None:
    rows = demo.get("/v1/reports/trial-balance").json()
    assert rows
    debits = sum(Decimal(r["debit"]) for r in rows)
    credits = sum(Decimal(r["credit"]) for r in rows)
    assert debits == credits > 0
    earlier = demo.get("/v1/reports/trial-balance", as_of="2025-12-31").json()
    assert sum(Decimal(r["debit"]) for r in earlier) == sum(Decimal(r["credit"]) for r in earlier)
    assert earlier != rows


def test_the_statement_of_activities_adds_up(demo: Api) -> None:
    year = demo.get("/v1/reports/activities", **{"from": "2025-12-01", "to": "2026-11-30"}).json()
    income = sum(Decimal(v) for column in year["income"].values() for v in column.values())
    spent = sum(Decimal(v) for v in year["expenses"].values())
    change = year["change_in_net_assets"]
    assert Decimal(change["restricted"]) + Decimal(change["unrestricted"]) == Decimal(
        change["total"]
    )
    assert income - spent == Decimal(change["total"])
    sheet = demo.get("/v1/reports/balance-sheet").json()
    # The demo owes a bill and holds money for others: assets are liabilities and net assets.
    assert sheet["liabilities_total"] == "12400.00"
    assert Decimal(sheet["assets_total"]) == Decimal(sheet["liabilities_total"]) + Decimal(
        sheet["net_assets_total"]
    )
    response = demo.client.get(
        "/v1/reports/activities", params={"from": "2026-02-01", "to": "2026-01-01"}
    )
    assert_problem(response, 422, field="from")


def test_the_panels_questions_add_up_to_the_summary(demo: Api) -> None:
    summary = demo.get("/v1/summary").json()
    by_kind = demo.get("/v1/query", group_by="donor_kind,project").json()
    assert by_kind["measure"] == "donations"
    assert by_kind["group_by"] == ["donor_kind", "project"]
    rows = by_kind["rows"]
    assert {"donor_kind", "project", "amount"} <= set(rows[0])
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal(by_kind["total"])
    # Cash that came in and stayed: reversals and gifts in kind are not in either figure.
    assert by_kind["total"] == summary["received_total"]
    enterprise = {r["project"]: r["amount"] for r in rows if r["donor_kind"] == "enterprise"}
    assert enterprise["noodles"] == "200000.00"

    spending = demo.get("/v1/query", group_by="project,category").json()
    assert spending["measure"] == "expenses"
    # The expenses register holds payments; the grants also paid the demo's two bills
    # (3,200.00 and 2,400.00) and its settled advance (8,000.00).
    assert Decimal(spending["total"]) + Decimal("13600.00") == Decimal(summary["spent_total"])
    by_month = demo.get("/v1/query", group_by="month", measure="donations").json()
    assert by_month["total"] == summary["received_total"]
    assert_problem(demo.client.get("/v1/query", params={"group_by": "colour"}), 422)
    mixed = demo.client.get("/v1/query", params={"group_by": "donor_kind,category"})
    assert_problem(mixed, 422, field="group_by")


def test_paging_walks_every_donation_once(demo: Api) -> None:
    seen: list[str] = []
    after = 0
    while True:
        page = demo.get("/v1/donations", after=after, limit=37).json()
        seen += [g["id"] for g in page["items"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    everything = demo.get("/v1/donations", limit=500).json()
    assert everything["next_after"] is None
    assert seen == [g["id"] for g in everything["items"]]
    assert len(seen) == len(set(seen)) > 37
