"""Every refusal of the HTTP API explained as a problem: 404, 409, 422 naming the field, no 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_calls import DONATION_BODY, NOBODY, Api, assert_problem

# -- every refusal explained ---------------------------------------------------------------------


def test_a_grant_beyond_the_money_is_409_with_available_and_requested(api: Api) -> None:
    project_id = api.project("pairing")
    donor_id = api.donor()
    api.donate(donor_id, "1000.00", project_id)
    api.donate(donor_id, "250.50")
    body = {"project_id": project_id, "amount": "1250.51", "purpose": "太多 / too much"}
    response = api.post("committee0", "/v1/grants", body)
    assert_problem(response, 409, "insufficient-funds", available="1250.50", requested="1250.51")


def test_an_expense_beyond_its_grant_is_409_with_remaining(api: Api) -> None:
    project_id = api.project("barber")
    api.donate(api.donor(), "800.00", project_id)
    grant_id = api.grant(project_id, "600.00")
    assert api.expense(grant_id, "450.00").status_code == 201
    response = api.expense(grant_id, "150.01")
    assert_problem(response, 409, "grant-exceeded", remaining="150.00", requested="150.01")


def test_approving_ones_own_proposal_is_403(api: Api) -> None:
    project_id = api.project("redboat")
    api.donate(api.donor(), "300.00", project_id)
    grant_id = api.propose(project_id, "300.00", proposer="committee2")
    response = api.post("committee2", f"/v1/grants/{grant_id}/approve")
    assert_problem(response, 403, "self-approval", grant_id=grant_id)


def test_forgetting_an_organisation_is_409_organisations_are_not_people(api: Api) -> None:
    organisation = api.donor(kind="enterprise")
    response = api.post("committee0", f"/v1/people/{organisation}/forget")
    assert_problem(response, 409, "not-a-person", what="donor", key=organisation)
    assert "organisations are not people" in response.json()["detail"]
    # Nothing was recorded: it goes on giving.
    api.donate(organisation, "10.00")


@pytest.mark.parametrize(
    ("who", "path", "body", "what"),
    [
        ("committee0", f"/v1/grants/{NOBODY}/approve", None, "grant"),
        ("committee0", f"/v1/donations/{NOBODY}/reverse", {"reason": "x"}, "donation"),
        ("committee0", "/v1/grants/not-an-id/close", None, "grant"),
        ("treasurer", "/v1/donations", DONATION_BODY, "donor"),
        ("adviser", "/v1/opinions", {"subject_id": NOBODY, "text": "好"}, "grant or project"),
    ],
)
def test_an_unknown_id_is_404(
    demo: Api, who: str, path: str, body: dict[str, Any] | None, what: str
) -> None:
    assert_problem(demo.post(who, path, body), 404, "not-found", what=what)


@pytest.mark.parametrize(
    "path", [f"/v1/donors/{NOBODY}/statement", "/v1/projects/nosuch", f"/v1/projects/{NOBODY}"]
)
def test_an_unknown_thing_to_read_is_404(demo: Api, path: str) -> None:
    assert_problem(demo.client.get(path), 404, "not-found")


def test_unknown_routes_and_methods_are_problems_too(demo: Api) -> None:
    assert_problem(demo.client.get("/v1/nothing-here"), 404)
    assert_problem(demo.client.get("/v1/donors"), 405)


def test_every_problem_type_names_a_page_that_explains_it(demo: Api) -> None:
    seen = [
        demo.post("committee0", "/v1/donors", {"name": "x", "kind": "individual"}),
        demo.post("treasurer", "/v1/grants/x/approve"),
        demo.post(None, "/v1/donors", {}),
        demo.post("committee0", f"/v1/grants/{NOBODY}/approve"),
    ]
    for response in seen:
        kind = response.json()["type"]
        page = demo.get(kind)
        assert page.status_code == 200, f"{kind}: {page.text}"
        assert page.json()["title"]


AMOUNTS_MALFORMED = [
    100.5,
    100,
    True,
    None,
    "1.234",
    "-5",
    "abc",
    "",
    " 1.00",
    "1,000.00",
    "1e3",
    "0",
    "0.00",
    "10000000000000.00",
    "１００.００",
    "١٠٠",
]


@pytest.mark.parametrize("amount", AMOUNTS_MALFORMED)
def test_a_malformed_amount_is_422_naming_the_field(demo: Api, amount: object) -> None:
    body = DONATION_BODY | {"amount": amount}
    assert_problem(demo.post("treasurer", "/v1/donations", body), 422, field="amount")


@pytest.mark.parametrize(
    "received_on", ["2025-02-30", "2025/03/10", "yesterday", "", 20250310, "2999-01-01"]
)
def test_a_malformed_or_future_date_is_422_naming_the_field(demo: Api, received_on: object) -> None:
    body = DONATION_BODY | {"received_on": received_on}
    assert_problem(demo.post("treasurer", "/v1/donations", body), 422, field="received_on")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/donations", DONATION_BODY | {"colour": "red"}, "colour"),
        ("/v1/donors", {"name": "x", "kind": "individual", "disclosure": "named", "tel": 1}, "tel"),
        ("/v1/donations", DONATION_BODY | {"channel": "cheque"}, "channel"),
        ("/v1/donations", {k: v for k, v in DONATION_BODY.items() if k != "donor_id"}, "donor_id"),
    ],
)
def test_unknown_or_missing_fields_are_422_naming_them(
    demo: Api, path: str, body: dict[str, Any], field: str
) -> None:
    assert_problem(demo.post("treasurer", path, body), 422, "invalid-input", field=field)


HOSTILE = {
    "empty body": (b"", "application/json"),
    "not JSON": (b"this is not json {", "application/json"),
    "invalid UTF-8": (b'{"name": "\xff\xfe"}', "application/json"),
    "a JSON list": (b"[1, 2, 3]", "application/json"),
    "a JSON string": (b'"donor"', "application/json"),
    "a JSON number": (b"42", "application/json"),
    "null": (b"null", "application/json"),
    "wrong types": (b'{"name": 1, "kind": [], "disclosure": {}}', "application/json"),
    "nested junk": (
        json.dumps({"name": {"a": [[{"b": None}] * 50] * 20}, "kind": "x"}).encode(),
        "application/json",
    ),
    "deep nesting": (b"[" * 50_000 + b"]" * 50_000, "application/json"),
    "a huge string": (
        json.dumps({"name": "捐" * 300_000, "kind": "individual", "disclosure": "named"}).encode(),
        "application/json",
    ),
    "a huge number": (b'{"amount": 1' + b"0" * 5000 + b"}", "application/json"),
    "control characters": (
        json.dumps(
            {"name": "a\u0000b\u001b", "kind": "individual", "disclosure": "named"}
        ).encode(),
        "application/json",
    ),
    "form-encoded": (b"name=x&kind=individual", "application/x-www-form-urlencoded"),
    "plain text": (b"name: x", "text/plain"),
    "binary": (bytes(range(256)), "application/octet-stream"),
}


@pytest.mark.parametrize("path", ["/v1/donors", "/v1/donations", "/v1/donations/batch"])
@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_hostile_bodies_are_refused_with_a_problem_never_a_500(
    demo: Api, path: str, hostile: str
) -> None:
    content, media_type = HOSTILE[hostile]
    headers = demo.headers("treasurer") | {"Content-Type": media_type}
    before = demo.log_position()
    response = demo.client.post(path, content=content, headers=headers)
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert_problem(response, response.status_code)
    assert demo.log_position() == before


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 501},
        {"after": -1},
        {"limit": "ten"},
        {"min_amount": "1.234"},
        {"from": "2025-13-01"},
        {"received_on": "x", "from": "x"},
    ],
)
def test_malformed_query_parameters_are_422(demo: Api, query: dict[str, Any]) -> None:
    assert_problem(demo.client.get("/v1/donations", params=query), 422, "invalid-input")


@pytest.mark.parametrize(
    "path", ["/v1/donations", "/v1/grants", "/v1/expenses", "/v1/opinions", "/v1/events"]
)
def test_a_position_beyond_bigint_is_not_a_500(
    demo: Api, module_store_url: str, request: pytest.FixtureRequest, path: str
) -> None:
    response = demo.client.get(path, params={"after": 2**63}, headers=demo.headers("auditor"))
    assert response.status_code in {200, 422}, response.text


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/log/entries?start={2**63 - 1000}",
        f"/v1/log/entries?start={2**63}",
        f"/v1/log/checkpoints/{2**63}",
    ],
)
def test_a_log_size_beyond_bigint_is_not_a_500(
    demo: Api, module_store_url: str, request: pytest.FixtureRequest, path: str
) -> None:
    assert demo.client.get(path).status_code < 500


@pytest.mark.parametrize(
    "path",
    [
        "/v1/donations?receipt_no=%00",
        "/v1/donations?donor_kind=%00",
        "/v1/grants?status=%00",
        "/v1/expenses?category=%00",
        "/v1/donors/%00/statement",
        "/v1/projects/%00",
    ],
)
def test_a_nul_character_in_a_read_is_not_a_500(
    demo: Api, module_store_url: str, request: pytest.FixtureRequest, path: str
) -> None:
    assert demo.client.get(path).status_code < 500


def test_restricted_funds_from_the_first_day_of_the_calendar_is_not_a_500(demo: Api) -> None:
    response = demo.client.get("/v1/reports/restricted-funds", params={"from": "0001-01-01"})
    assert response.status_code < 500, response.text
