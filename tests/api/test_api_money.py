"""The money path over HTTP: a number used twice is a problem naming the earlier record; a gift
is found by its official receipt's number; the reconciliation is for token holders."""

from __future__ import annotations

from api_calls import DAY, Api, assert_problem


def test_a_duplicate_voucher_number_is_a_problem_naming_the_earlier_expense(api: Api) -> None:
    project_id = api.project("noodles")
    api.donate(api.donor(), "5000.00")
    grant_id = api.grant(project_id, "1000.00")
    first = api.expense(grant_id, "100.00", voucher_no="PZ202603-0001")
    assert first.status_code == 201, first.text
    again = api.expense(grant_id, "120.00", voucher_no="PZ202603-0001")
    assert_problem(
        again,
        409,
        "number-taken",
        what="voucher",
        number="PZ202603-0001",
        earlier_kind="expense",
        earlier_id=first.json()["id"],
    )


def test_a_gift_is_found_by_its_official_receipt_and_a_number_is_used_once(api: Api) -> None:
    donor_id = api.donor()
    gift_id = api.donate(donor_id, "800.00")
    other_id = api.donate(donor_id, "300.00")
    body = {"donation_id": gift_id, "receipt_no": "33012025000011", "issued_on": DAY}
    api.ok("treasurer", "/v1/official-receipts", body)
    (found,) = api.get("/v1/donations", "auditor", receipt_no="33012025000011").json()["items"]
    assert found["id"] == gift_id
    again = api.post("treasurer", "/v1/official-receipts", body | {"donation_id": other_id})
    assert_problem(again, 409, "number-taken", earlier_kind="donation", earlier_id=gift_id)
    void = {"reason": "抬头写错 / wrong payer", "voided_on": DAY}
    api.ok("treasurer", "/v1/official-receipts/33012025000011/void", void, 200)
    refused = api.post("treasurer", "/v1/official-receipts", body)
    assert_problem(refused, 409, "number-taken")


def test_the_reconciliation_is_read_by_token_holders_not_the_public(api: Api) -> None:
    api.donate(api.donor(), "800.00")
    table = api.get("/v1/reconciliation/bank/months/2026-01", "treasurer")
    assert table.status_code == 200, table.text
    assert table.json()["account"] == "Assets:Bank"
    assert api.get("/v1/reconciliation/bank/months/2026-01").status_code == 401
    assert_problem(
        api.get("/v1/reconciliation/cash/months/2026-01", "auditor"), 422, "invalid-input"
    )
