"""An amount the API's model refuses is explained in words, as the ledger explains it, not with
the regular expression it failed (the pattern stays in the OpenAPI document)."""

from __future__ import annotations

import pytest
from api_calls import Api

MEANING = 'must be yuan with at most two decimals, digits only, such as "1280.50"'


@pytest.mark.parametrize("amount", ["1,000", "¥1000", "1000.001"])
def test_a_malformed_amount_in_a_body_is_refused_in_words(api: Api, amount: str) -> None:
    donor = api.donor("某企业", "enterprise", "named")
    body = {"donor_id": donor, "amount": amount, "received_on": "2026-01-05", "channel": "cash"}

    response = api.post("treasurer", "/v1/donations", body, key=f"words-{amount.encode().hex()}")

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["detail"] == f"amount: {MEANING} (given: {amount})"
    assert problem["errors"] == [{"field": "amount", "message": f"{MEANING} (given: {amount})"}]
    assert "pattern" not in response.text
    assert api.get("/v1/donations", "treasurer").json()["items"] == []


def test_a_malformed_amount_in_a_query_is_refused_in_words(api: Api) -> None:
    response = api.get("/v1/donations", "treasurer", min_amount="1,000")
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == f"query.min_amount: {MEANING} (given: 1,000)"
