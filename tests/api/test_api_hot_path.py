"""The single-donation path (the payment platforms' webhooks): asynchronous, let in on the token
table the service last read, and checked again against the Directory when the gift is written.

A token revoked or reissued by another process (the console, a second API process) after the
service read its table must write nothing; the tests revoke through a second ``FundLedger`` on
the same store, which is what another process is to this one.
"""

from __future__ import annotations

from api_calls import DAY, TREASURER, Api, assert_problem

from ledger.app import OPERATOR, FundLedger


def _gift(api: Api, donor_id: str, receipt_no: str) -> dict[str, str]:
    return {
        "donor_id": donor_id,
        "amount": "88.00",
        "received_on": DAY,
        "channel": "wechat_pay",
        "receipt_no": receipt_no,
    }


def _donations(api: Api) -> int:
    response = api.get("/v1/donations", "auditor", limit=200)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


def test_a_token_revoked_by_another_process_writes_no_gift(api: Api, store_url: str) -> None:
    donor_id = api.donor()
    # The first gift lets the treasurer's token into the service's table.
    api.ok("treasurer", "/v1/donations", _gift(api, donor_id, "W-1"))
    before = _donations(api)
    console = FundLedger(store_url)
    console.revoke_user(OPERATOR, TREASURER)
    console.close()

    refused = api.post("treasurer", "/v1/donations", _gift(api, donor_id, "W-2"), key="after")
    assert_problem(refused, 401, "bad-token")
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert "user_id" not in refused.json()  # whose token it was is not told
    assert _donations(api) == before
    # The same key with the same body, once the token is gone, is still refused: no record
    # of it was kept for a replay to find.
    again = api.post("treasurer", "/v1/donations", _gift(api, donor_id, "W-2"), key="after")
    assert_problem(again, 401, "bad-token")
    assert _donations(api) == before


def test_a_reissued_token_writes_and_the_old_one_does_not(api: Api, store_url: str) -> None:
    donor_id = api.donor()
    api.ok("treasurer", "/v1/donations", _gift(api, donor_id, "R-1"))
    console = FundLedger(store_url)
    _, new_token = console.reissue_token(OPERATOR, TREASURER)
    console.close()

    old = api.post("treasurer", "/v1/donations", _gift(api, donor_id, "R-2"))
    assert_problem(old, 401, "bad-token")
    new = api.client.post(
        "/v1/donations",
        json=_gift(api, donor_id, "R-3"),
        headers={"Authorization": f"Bearer {new_token}"},
    )
    assert new.status_code == 201, new.text
    receipts = {
        item["receipt_no"]
        for item in api.get("/v1/donations", "auditor", limit=200).json()["items"]
    }
    assert {"R-1", "R-3"} <= receipts
    assert "R-2" not in receipts


def test_an_unknown_or_missing_token_on_the_hot_path_is_refused(api: Api) -> None:
    donor_id = api.donor()
    before = _donations(api)
    bad = {"Authorization": "Bearer not-a-token"}
    refused = api.client.post("/v1/donations", json=_gift(api, donor_id, "U-1"), headers=bad)
    assert_problem(refused, 401, "bad-token")
    assert_problem(
        api.client.post("/v1/donations", json=_gift(api, donor_id, "U-2")), 401, "token-required"
    )
    assert _donations(api) == before


def test_a_gift_is_in_the_views_when_it_is_answered(api: Api) -> None:
    donor_id = api.donor()
    for i in range(5):
        api.ok("treasurer", "/v1/donations", _gift(api, donor_id, f"V-{i}"))
        # Read-your-writes: the answer came after the views had the gift.
        listed = api.get("/v1/donations", "auditor", limit=200).json()["items"]
        assert f"V-{i}" in {item["receipt_no"] for item in listed}
