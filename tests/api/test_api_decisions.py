"""The decision trail: who proposed, approved, rejected, closed and reversed, by name for token
holders; a grant's record with its opinions and their threads; nothing remaining on a grant
that holds no money; opinions answered by the committee and superseded by their author."""

from __future__ import annotations

from typing import Any

from api_calls import PEOPLE, Api, assert_problem

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
