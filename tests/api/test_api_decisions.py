"""The decision trail: who proposed, approved, rejected, closed and reversed, by name for token
holders; a grant's record with its opinions and their threads; nothing remaining on a grant
that holds no money; opinions answered by the committee and superseded by their author."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from api_calls import PEOPLE, Api, assert_problem
from openpyxl import load_workbook

from ledger.app import OPERATOR
from ledger.domain.accounts import event_name


def name(who: str) -> str:
    return PEOPLE[who][0]


def _grant(api: Api, grant_id: str, who: str | None = "adviser") -> dict[str, Any]:
    items = api.get("/v1/grants", who, limit=500).json()["items"]
    return next(g for g in items if g["id"] == grant_id)


def test_a_grants_record_names_who_decided_and_holds_back_only_approved_money(
    api: Api,
) -> None:
    donor = api.donor()
    project = api.project("trail")
    api.donate(donor, "50000.00", project)
    approved = api.grant(project, "20000.00")
    pending = api.propose(project, "3000.00")
    rejected = api.propose(project, "8000.00", proposer="committee1")
    reason = {"reason": "预算过高 / budget too high"}
    api.ok("committee2", f"/v1/grants/{rejected}/reject", reason, status=200)
    paid = api.expense(approved, "1200.00")
    assert paid.status_code == 201, paid.text
    api.ok("committee3", f"/v1/expenses/{paid.json()['id']}/reverse", reason, status=200)

    record = _grant(api, approved)
    assert record["proposer_name"] == name("committee0")
    assert [a["member"] for a in record["approvals_by"]] == [
        name(m) for m in ("committee1", "committee2", "committee3")
    ]
    assert record["remaining"] == "20000.00"
    turned_down = _grant(api, rejected)
    assert turned_down["status"] == "rejected"
    assert turned_down["decided_by_name"] == name("committee2")
    assert turned_down["decision_reason"] == reason["reason"]
    assert turned_down["remaining"] == "0.00"
    assert _grant(api, pending)["remaining"] == "0.00"
    public = _grant(api, rejected, None)
    assert "decided_by_name" not in public
    assert "proposer_name" not in public

    corrections = api.get("/v1/corrections", "adviser").json()
    assert [(c["kind"], c["decided_by"]) for c in corrections] == [("expense", name("committee3"))]
    assert "decided_by" not in api.get("/v1/corrections").json()[0]


def test_an_opinion_is_a_conversation_of_events_shown_in_the_grants_record(api: Api) -> None:
    donor = api.donor()
    project = api.project("talk")
    api.donate(donor, "50000.00", project)
    grant = api.grant(project, "10000.00")
    opinion = api.ok("adviser", "/v1/opinions", {"subject_id": grant, "text": "建议增加随访"})
    before = api.log_position()
    answer = {"text": "已采纳 / adopted"}
    assert_problem(api.post("adviser", f"/v1/opinions/{opinion}/answer", answer), 403)
    assert api.ok("committee0", f"/v1/opinions/{opinion}/answer", answer) == opinion
    later = {"text": "建议每月随访一次"}
    assert_problem(api.post("committee0", f"/v1/opinions/{opinion}/supersede", later), 403)
    api.ok("adviser", f"/v1/opinions/{opinion}/supersede", later)
    ledger = api.client.app.state.services.ledger  # type: ignore[attr-defined]
    turns = [event_name(e) for p, e in ledger.read_events(before) if p > before]
    assert turns == ["Opinion.Answered", "Opinion.Superseded"]

    record = _grant(api, grant)
    [shown] = record["opinions"]
    assert shown["text"] == later["text"]
    assert shown["first_text"] == "建议增加随访"
    assert shown["superseded"] is True
    assert shown["author"] == name("adviser")
    assert [(n["kind"], n["author"], n["text"]) for n in shown["thread"]] == [
        ("answer", name("committee0"), answer["text"]),
        ("superseded", name("adviser"), later["text"]),
    ]
    public = _grant(api, grant, None)["opinions"][0]
    assert "author" not in public
    assert [n["author"] for n in public["thread"]] == [
        "基金管理委员会 / committee",
        "专家 / panel member",
    ]
    page = api.get("/v1/projects/talk", "adviser").json()
    assert [o["id"] for o in page["opinions"]] == [opinion]
    assert [n["kind"] for n in page["opinions"][0]["thread"]] == ["answer", "superseded"]
    listed = api.get("/v1/opinions", "committee0").json()["items"]
    assert [o["thread"][0]["text"] for o in listed] == [answer["text"]]


def test_only_the_author_supersedes_an_opinion(api: Api) -> None:
    project = api.project("solo")
    opinion = api.ok("adviser", "/v1/opinions", {"subject_id": project, "text": "意见"})
    ledger = api.client.app.state.services.ledger  # type: ignore[attr-defined]
    _, token = ledger.add_user(OPERATOR, "另一位专家", "adviser")
    response = api.client.post(
        f"/v1/opinions/{opinion}/supersede",
        json={"text": "改"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert_problem(response, 403, "not-the-author", opinion_id=opinion)


def sheet_of(api: Api, name: str, who: str | None = "adviser") -> list[list[Any]]:
    response = api.get(f"/v1/exports/{name}", who)
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def test_every_list_downloads_with_chinese_headers_and_values(api: Api) -> None:
    """The decision trail as spreadsheets: corrections, grants, opinions, and the registers,
    each with Chinese headers and Chinese names beside the codes."""
    donor = api.donor()
    project = api.project("sheet")
    api.donate(donor, "30000.00", project)
    grant = api.grant(project, "10000.00")
    rejected = api.propose(project, "5000.00")
    api.ok("committee1", f"/v1/grants/{rejected}/reject", {"reason": "重复申请"}, status=200)
    paid = api.expense(grant, "800.00")
    api.ok("committee2", f"/v1/expenses/{paid.json()['id']}/reverse", {"reason": "录错"}, 200)
    opinion = api.ok("adviser", "/v1/opinions", {"subject_id": grant, "text": "可行"})
    api.ok("committee0", f"/v1/opinions/{opinion}/answer", {"text": "谢谢"})

    corrections = sheet_of(api, "corrections.xlsx")
    head = corrections[0]
    row = dict(zip(head, corrections[1], strict=True))
    assert row["对象（中文） / kind_zh"] == "支出"
    assert row["决定人 / decided_by"] == name("committee2")
    assert row["原因 / reason"] == "录错"
    assert row["金额（元） / amount_yuan"] == Decimal("800.00")
    public = sheet_of(api, "corrections.xlsx", None)
    assert "决定人 / decided_by" not in public[0]

    grants = [
        dict(zip(g[0], r, strict=True)) for g in [sheet_of(api, "grants.xlsx")] for r in g[1:]
    ]
    turned_down = next(g for g in grants if g["资助编号 / grant_id"] == rejected)
    assert turned_down["状态（中文） / status_zh"] == "未通过"
    assert turned_down["否决人 / rejected_by"] == name("committee1")
    assert turned_down["项目名称 / project_name"] == "项目 sheet"

    opinions = sheet_of(api, "opinions.xlsx")
    line = dict(zip(opinions[0], opinions[1], strict=True))
    assert line["专家 / author"] == name("adviser")
    assert f"{name('committee0')}答复: 谢谢" in line["答复与修订 / thread"]
    assert line["对象（中文） / subject_kind_zh"] == "资助"

    expenses = sheet_of(api, "expenses.xlsx")
    spent = dict(zip(expenses[0], expenses[1], strict=True))
    assert spent["类别（中文） / category_zh"] == "业务活动成本"
    assert spent["冲销决定人 / reversed_by"] == name("committee2")
    donations = sheet_of(api, "donations.xlsx")
    gift = dict(zip(donations[0], donations[1], strict=True))
    assert gift["渠道（中文） / channel_zh"] == "现金"
    assert gift["捐赠人类型（中文） / donor_kind_zh"] == "爱心企业"
