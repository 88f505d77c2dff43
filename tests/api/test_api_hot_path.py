"""The single-donation path (the payment platforms' webhooks): asynchronous, let in on the token
table the service last read, and checked again against the Directory when the gift is written.

A token revoked or reissued by another process (the console, a second API process) after the
service read its table must write nothing; the tests revoke through a second ``FundLedger`` on
the same store, which is what another process is to this one.
"""

from __future__ import annotations

import threading
import time
from typing import Any

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


def test_the_common_gift_takes_the_hot_route_and_the_rest_the_declared_one(api: Api) -> None:
    hot = api.client.app.state.hot_donations  # type: ignore[attr-defined]
    donor_id = api.donor()
    api.ok("treasurer", "/v1/donations", _gift(api, donor_id, "H-0"))  # lets the token in
    answered, handed_on = hot.answered, hot.handed_on

    written = api.post("treasurer", "/v1/donations", _gift(api, donor_id, "H-1"), key="h-1")
    assert written.status_code == 201, written.text
    assert set(written.json()) == {"id", "ids", "position", "replayed"}
    assert written.json()["ids"] is None
    assert written.json()["replayed"] is False
    replayed = api.post("treasurer", "/v1/donations", _gift(api, donor_id, "H-1"), key="h-1")
    assert replayed.status_code == 201, replayed.text
    assert replayed.json()["id"] == written.json()["id"]
    assert replayed.json()["replayed"] is True
    assert (hot.answered, hot.handed_on) == (answered + 2, handed_on)

    # What the model refuses is answered by the declared route: the document's own words.
    bad_amount = _gift(api, donor_id, "H-2") | {"amount": "1,000"}
    refused = api.post("treasurer", "/v1/donations", bad_amount)
    assert_problem(refused, 422, field="amount")
    unknown_field = _gift(api, donor_id, "H-3") | {"colour": "red"}
    assert_problem(api.post("treasurer", "/v1/donations", unknown_field), 422)
    bad_key = api.post("treasurer", "/v1/donations", _gift(api, donor_id, "H-4"), key="a\tb")
    assert_problem(bad_key, 422, field="header.Idempotency-Key")
    as_form = api.client.post(
        "/v1/donations", content="donor_id=x", headers=api.headers("treasurer")
    )
    assert as_form.status_code == 422, as_form.text
    assert hot.handed_on == handed_on + 4
    # The ledger's own refusals come from the hot route, as the same problems.
    unknown_donor = api.post("treasurer", "/v1/donations", _gift(api, "no-such-donor", "H-5"))
    assert_problem(unknown_donor, 404, "not-found")
    adviser = api.post("adviser", "/v1/donations", _gift(api, donor_id, "H-6"))
    assert adviser.status_code in {401, 403}, adviser.text
    assert {"H-2", "H-3", "H-4", "H-5", "H-6"}.isdisjoint(
        item["receipt_no"]
        for item in api.get("/v1/donations", "auditor", limit=200).json()["items"]
    )


def test_a_gift_is_answered_once_durable_and_the_next_read_waits_for_its_views(api: Api) -> None:
    """One API process answers a gift before its views show it; every other request then
    waits until they do, so read-your-writes holds where it is read."""
    services = api.client.app.state.services  # type: ignore[attr-defined]
    donor_id = api.donor()
    lags_before = _view_waits(services)
    services.runner.stop()  # the views stand still until the catch-up below
    started = time.perf_counter()
    written = api.post("treasurer", "/v1/donations", _gift(api, donor_id, "A-1"))
    assert written.status_code == 201, written.text
    assert time.perf_counter() - started < services.wait_s  # answered without the views
    position = written.json()["position"]
    assert services.views.known_position < position
    assert services.answered_position == position

    catch_up = threading.Timer(0.3, services.views.catch_up)
    catch_up.start()
    listed = api.get("/v1/donations", "auditor", limit=200).json()["items"]
    catch_up.join()
    assert "A-1" in {item["receipt_no"] for item in listed}
    # The time until the views showed the gift is the projection lag, observed once.
    assert _view_waits(services) == lags_before + 1


def test_with_several_api_processes_a_gift_waits_for_its_views(api: Api) -> None:
    """Another API process's reads know nothing of this one's answers: each gift's answer
    waits for its views (within the bound) as before."""
    services = api.client.app.state.services  # type: ignore[attr-defined]
    donor_id = api.donor()
    services.answer_before_views = False
    services.wait_s = 0.5
    services.runner.stop()
    started = time.perf_counter()
    written = api.post("treasurer", "/v1/donations", _gift(api, donor_id, "S-1"))
    assert written.status_code == 201, written.text
    assert time.perf_counter() - started >= 0.5
    assert services.answered_position < written.json()["position"]


def _view_waits(services: Any) -> float:
    return float(services.metrics.registry.get_sample_value("fund_ledger_view_wait_seconds_count"))


def test_a_replayed_gift_and_a_restart_keep_the_reads_waiting_for_the_head(api: Api) -> None:
    """A replay's answer names no new position; a process that starts knows nothing of the
    gifts its last run answered. Both leave the reads waiting for the log's head."""
    services = api.client.app.state.services  # type: ignore[attr-defined]
    donor_id = api.donor()
    # The service started on the fund's store: its reads wait for the head it found.
    assert services.answered_position > 0
    gift = _gift(api, donor_id, "RP-1")
    first = api.post("treasurer", "/v1/donations", gift, key="rp-1")
    assert first.status_code == 201, first.text
    position = first.json()["position"]
    services.answered_position = 0  # as a process restarted since
    replayed = api.post("treasurer", "/v1/donations", gift, key="rp-1")
    assert replayed.status_code == 201, replayed.text
    assert replayed.json()["replayed"] is True
    assert services.answered_position >= position
