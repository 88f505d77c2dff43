"""The HTTP API's commands, on SQLite and PostgreSQL: each works for its role, a retry is applied
once, a batch is all or nothing, and the next read shows the write.
"""

from __future__ import annotations

import pytest
from api_calls import DAY, DONATION_BODY, MONTH_TO_CLOSE, NOBODY, YUAN, Api, assert_problem

# -- each endpoint works for the right role ------------------------------------------------------


def _gifts_then_a_grant(api: Api) -> tuple[str, str, str, str]:
    """A donor, a project, a restricted and an unrestricted gift, an approved grant."""
    donor_id = api.donor("顾阿姨", "individual", "masked")
    project_id = api.project("noodles")
    restricted = api.donate(donor_id, "1280.50", project_id)
    unrestricted = api.donate(donor_id, "5000.00")

    gifts = api.get("/v1/donations", "auditor").json()["items"]
    assert {g["id"]: g["amount"] for g in gifts} == {restricted: "1280.50", unrestricted: "5000.00"}
    assert {g["id"]: g["project_code"] for g in gifts}[restricted] == "noodles"

    grant_id = api.grant(project_id, "3000.00")
    (grant,) = api.get("/v1/grants", "auditor", project="noodles").json()["items"]
    assert (grant["id"], grant["status"], grant["amount"]) == (grant_id, "approved", "3000.00")
    assert len(grant["approvals_by"]) == 3
    return donor_id, project_id, unrestricted, grant_id


def _an_expense_then_its_reversal(api: Api, grant_id: str) -> str:
    expense = api.expense(grant_id, "1000.25")
    assert expense.status_code == 201, expense.text
    expense_id = expense.json()["id"]
    (paid,) = api.get("/v1/expenses", "auditor", grant_id=grant_id).json()["items"]
    assert (paid["id"], paid["amount"], paid["reversed"]) == (expense_id, "1000.25", False)
    (grant,) = api.get("/v1/grants", "auditor", project="noodles").json()["items"]
    assert (grant["spent"], grant["remaining"]) == ("1000.25", "1999.75")

    body = {"reason": "重复录入 / entered twice"}
    assert api.ok("committee0", f"/v1/expenses/{expense_id}/reverse", body, 200) == expense_id
    (paid,) = api.get("/v1/expenses", "auditor", grant_id=grant_id).json()["items"]
    assert paid["reversed"] is True
    return expense_id


def _an_opinion_a_rejection_and_a_close(api: Api, project_id: str, grant_id: str) -> None:
    opinion = {"subject_id": grant_id, "text": "建议增加慢病随访。"}
    opinion_id = api.ok("adviser", "/v1/opinions", opinion)
    (said,) = api.get("/v1/opinions", subject_id=grant_id).json()["items"]
    assert (said["id"], said["text"]) == (opinion_id, opinion["text"])

    turned_down = api.propose(project_id, "100.00", proposer="committee1")
    body = {"reason": "暂缓 / not now"}
    assert api.ok("committee0", f"/v1/grants/{turned_down}/reject", body, 200) == turned_down
    assert api.ok("committee0", f"/v1/grants/{grant_id}/close", None, 200) == grant_id
    statuses = {g["id"]: g["status"] for g in api.get("/v1/grants").json()["items"]}
    assert statuses == {grant_id: "closed", turned_down: "rejected"}


def _a_reversal_a_batch_and_a_closed_month(
    api: Api, donor_id: str, unrestricted: str, expense_id: str
) -> None:
    body = {"reason": "金额录入错误 / keyed wrongly"}
    assert api.ok("committee0", f"/v1/donations/{unrestricted}/reverse", body, 200) == unrestricted
    reversals = {c["id"]: c for c in api.get("/v1/corrections").json()}
    assert reversals[unrestricted]["amount"] == "5000.00"
    assert reversals[expense_id]["reason"] == "重复录入 / entered twice"

    batch = [
        {"donor_id": donor_id, "amount": amount, "received_on": DAY, "channel": "wechat_pay"}
        for amount in ("100.00", "0.01")
    ]
    response = api.post("treasurer", "/v1/donations/batch", {"donations": batch})
    assert response.status_code == 201, response.text
    written = response.json()
    assert len(written["ids"]) == 2
    assert written["id"] == written["ids"][0]

    fund_id = api.ok("committee0", f"/v1/periods/{MONTH_TO_CLOSE}/close", None, 200)
    assert fund_id


def test_each_command_works_for_its_role_and_reads_show_yuan_strings(api: Api) -> None:
    donor_id, project_id, unrestricted, grant_id = _gifts_then_a_grant(api)
    expense_id = _an_expense_then_its_reversal(api, grant_id)
    _an_opinion_a_rejection_and_a_close(api, project_id, grant_id)
    _a_reversal_a_batch_and_a_closed_month(api, donor_id, unrestricted, expense_id)

    summary = api.get("/v1/summary").json()
    # 1280.50 restricted, 100.01 in the batch; the 5000.00 was reversed, the expense too.
    assert summary["received_total"] == "1380.51"
    assert summary["spent_total"] == "0.00"
    assert all(YUAN.match(summary[k]) for k in summary if k not in {"currency", "events", "as_of"})

    by_code = api.get("/v1/projects/noodles").json()
    assert api.get(f"/v1/projects/{project_id}").json()["id"] == by_code["id"] == project_id

    # A person's statement links all their gifts: not for the public, who get the same 404 as
    # for no donor at all; token holders read it, the treasurer with the donor's secret.
    assert api.get(f"/v1/donors/{donor_id}/statement").status_code == 404
    private = api.get(f"/v1/donors/{donor_id}/statement", "auditor").json()
    assert private["donor"]["name"] == "顾阿姨"
    assert private["given_total"] == "1380.51"
    assert "donor_secret" not in private
    treasurers = api.get(f"/v1/donors/{donor_id}/statement", "treasurer").json()
    assert len(bytes.fromhex(treasurers["donor_secret"])) == 32


# -- never twice -----------------------------------------------------------------------------------


def test_the_same_key_and_body_return_the_first_answer_and_write_nothing(api: Api) -> None:
    body = {"name": "嘉兴慈善基金会", "kind": "foundation", "disclosure": "named"}
    first = api.post("treasurer", "/v1/donors", body, key="donor-1")
    assert first.status_code == 201, first.text
    position = api.log_position()

    again = api.post("treasurer", "/v1/donors", body, key="donor-1")
    assert again.status_code == first.status_code
    assert again.json()["id"] == first.json()["id"]
    assert (first.json()["replayed"], again.json()["replayed"]) == (False, True)
    assert api.log_position() == position


@pytest.mark.parametrize("command", ["batch", "approve", "close period"])
def test_replays_of_other_commands_give_the_same_status_and_ids(api: Api, command: str) -> None:
    donor_id = api.donor()
    if command == "batch":
        gifts = [
            {"donor_id": donor_id, "amount": a, "received_on": DAY, "channel": "cash"}
            for a in ("10.00", "20.00", "30.00")
        ]
        path, body, status = "/v1/donations/batch", {"donations": gifts}, 201
        who = "treasurer"
    elif command == "approve":
        project_id = api.project("health")
        api.donate(donor_id, "500.00", project_id)
        grant_id = api.propose(project_id, "500.00")
        path, body, status, who = f"/v1/grants/{grant_id}/approve", None, 200, "committee1"
    else:
        path, body, status = f"/v1/periods/{MONTH_TO_CLOSE}/close", None, 200
        who = "committee0"

    first = api.post(who, path, body, key=f"key-{command}")
    assert first.status_code == status, first.text
    position = api.log_position()
    again = api.post(who, path, body, key=f"key-{command}")
    assert again.status_code == status, again.text
    assert (again.json()["id"], again.json()["ids"]) == (first.json()["id"], first.json()["ids"])
    assert again.json()["replayed"] is True
    assert api.log_position() == position
    if command == "batch":
        assert len(api.get("/v1/donations").json()["items"]) == 3


def test_the_same_key_with_another_body_is_409(api: Api) -> None:
    body = {"name": "南湖宾馆", "kind": "enterprise", "disclosure": "named"}
    assert api.post("treasurer", "/v1/donors", body, key="k-2026-01").status_code == 201
    position = api.log_position()

    other = body | {"name": "南湖大酒店"}
    response = api.post("treasurer", "/v1/donors", other, key="k-2026-01")
    assert_problem(response, 409, "idempotency-key-reused", idempotency_key="k-2026-01")
    # Another command under the same key is another body too.
    response = api.post(
        "treasurer", "/v1/projects", {"code": "stage", "name": "幸福舞台"}, "k-2026-01"
    )
    assert_problem(response, 409, idempotency_key="k-2026-01")
    assert api.log_position() == position


def test_keys_belong_to_their_caller(api: Api) -> None:
    project_id = api.project("science")
    api.donate(api.donor(), "900.00", project_id)
    body = {"project_id": project_id, "amount": "100.00", "purpose": "同一个键 / one key"}
    mine = api.post("committee0", "/v1/grants", body, key="shared")
    theirs = api.post("committee1", "/v1/grants", body, key="shared")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


# -- all or nothing --------------------------------------------------------------------------------


def test_a_batch_with_one_bad_item_stores_nothing_and_names_the_item(api: Api) -> None:
    donor_id = api.donor()
    gifts = [
        {"donor_id": donor_id, "amount": "10.00", "received_on": DAY, "channel": "cash"}
        for _ in range(3)
    ]
    position = api.log_position()

    zero = [*gifts[:2], gifts[2] | {"amount": "0.00"}]
    response = api.post("treasurer", "/v1/donations/batch", {"donations": zero})
    assert_problem(response, 422, field="donations[2].amount")

    future = [gifts[0], gifts[1] | {"received_on": "2999-01-01"}, gifts[2]]
    response = api.post("treasurer", "/v1/donations/batch", {"donations": future})
    assert_problem(response, 422, field="donations[1].received_on")

    stranger = [gifts[0], gifts[1] | {"donor_id": NOBODY}, gifts[2]]
    assert_problem(api.post("treasurer", "/v1/donations/batch", {"donations": stranger}), 404)

    twice = [g | {"receipt_no": "DUP-1"} for g in gifts[:2]]
    assert_problem(api.post("treasurer", "/v1/donations/batch", {"donations": twice}), 409)

    assert api.log_position() == position
    assert api.get("/v1/donations", "auditor").json()["items"] == []
    assert api.get("/v1/summary").json()["received_total"] == "0.00"

    response = api.post("treasurer", "/v1/donations/batch", {"donations": gifts})
    assert response.status_code == 201, response.text
    listed = [g["id"] for g in api.get("/v1/donations").json()["items"]]
    assert listed == response.json()["ids"]


def test_a_batch_item_refused_by_the_schema_is_named_like_one_refused_by_the_ledger(
    demo: Api,
) -> None:
    gifts = [DONATION_BODY, DONATION_BODY | {"amount": "abc"}]
    response = demo.post("treasurer", "/v1/donations/batch", {"donations": gifts})
    assert_problem(response, 422, field="donations[1].amount")


# -- read your writes ------------------------------------------------------------------------------


def test_the_next_read_shows_the_write(api: Api) -> None:
    donor_id = api.donor("南湖区慈善基金会", "foundation")
    project_id = api.project("health")
    for n in range(5):
        receipt = f"RYW-{n}"
        body = {"donor_id": donor_id, "amount": f"{n + 1}00.00", "received_on": DAY}
        body |= {"channel": "bank_transfer", "receipt_no": receipt, "project_id": project_id}
        created = api.post("treasurer", "/v1/donations", body)
        assert created.status_code == 201, created.text
        (gift,) = api.get("/v1/donations", receipt_no=receipt).json()["items"]
        assert (gift["id"], gift["amount"]) == (created.json()["id"], f"{n + 1}00.00")
        total = sum(range(1, n + 2)) * 100
        assert api.get("/v1/summary").json()["received_total"] == f"{total}.00"
        assert api.get("/v1/projects/health").json()["restricted_received"] == f"{total}.00"

    grant_id = api.grant(project_id, "1500.00")
    (grant,) = api.get("/v1/grants", project="health").json()["items"]
    assert (grant["id"], grant["status"]) == (grant_id, "approved")
    assert api.get("/v1/summary").json()["committed_unspent"] == "1500.00"
