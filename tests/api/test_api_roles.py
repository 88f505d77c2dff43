"""Who may call what through the HTTP API: 403 for a role without the right, 401 without a valid
token, and failed authentications throttled per client.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from api_calls import MUTATIONS, Api, assert_problem, concrete
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import Settings
from ledger.app import OPERATOR, FundLedger
from ledger.domain import Role
from ledger.service.kernel import RIGHTS

ONE_OF_EACH_ROLE = {"treasurer": "treasurer", "committee": "committee0"}
ONE_OF_EACH_ROLE |= {"adviser": "adviser", "auditor": "auditor"}


def roles_refused(command: str) -> list[str]:
    allowed = RIGHTS[command]
    return [role for role in ONE_OF_EACH_ROLE if Role(role) not in allowed]


REFUSALS = [
    pytest.param(template, command, body, role, id=f"{template} as {role}")
    for template, command, body in MUTATIONS
    for role in roles_refused(command)
]
# Callers without a usable token: none, a made-up one, a revoked one, and another scheme.
STRANGERS = ["anonymous", "made-up token", "revoked token", "basic scheme"]
UNAUTHENTICATED = [
    pytest.param(template, body, stranger, id=f"{template} as {stranger}")
    for template, _, body in MUTATIONS
    for stranger in STRANGERS
]


# -- who may do what: one table, every refusal ---------------------------------------------------


def test_the_table_names_every_post_and_every_command_in_rights(demo: Api) -> None:
    paths = demo.get("/openapi.json").json()["paths"]
    posts = {path for path, operations in paths.items() if "post" in operations}
    assert posts == {template for template, _, _ in MUTATIONS}
    assert {command for _, command, _ in MUTATIONS} <= set(RIGHTS)
    # Each row refuses someone: a role table that allowed every role would test nothing.
    assert all(roles_refused(command) for _, command, _ in MUTATIONS)


@pytest.mark.parametrize(("template", "command", "body", "role"), REFUSALS)
def test_a_role_that_must_not_is_refused_with_403(
    demo: Api, template: str, command: str, body: dict[str, Any] | None, role: str
) -> None:
    before = demo.log_position()
    response = demo.post(ONE_OF_EACH_ROLE[role], concrete(template), body)
    problem = assert_problem(response, 403, "not-permitted", role=role)
    assert set(problem["allowed"]) == {r.value for r in RIGHTS[command]}
    assert demo.log_position() == before


@pytest.mark.parametrize(("template", "body", "stranger"), UNAUTHENTICATED)
def test_a_caller_without_a_valid_token_is_refused_with_401(
    demo: Api, template: str, body: dict[str, Any] | None, stranger: str
) -> None:
    headers = {
        "anonymous": {},
        "made-up token": {"Authorization": "Bearer not-a-token-anyone-was-given"},
        "revoked token": {"Authorization": f"Bearer {demo.tokens['revoked']}"},
        "basic scheme": {"Authorization": f"Basic {demo.tokens['treasurer']}"},
    }[stranger]
    response = demo.client.post(concrete(template), json=body, headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("auditor", 200),
        ("committee0", 200),
        ("adviser", 200),
        ("treasurer", 403),
        (None, 401),
        ("revoked", 401),
    ],
)
def test_the_event_log_is_for_auditors_committee_and_advisers(
    demo: Api, who: str | None, status: int
) -> None:
    response = demo.client.get("/v1/events", params={"limit": 5}, headers=demo.headers(who))
    if status != 200:
        assert_problem(response, status)
        return
    assert response.status_code == 200, response.text
    page = response.json()
    assert [e["position"] for e in page["items"]] == [1, 2, 3, 4, 5]
    assert page["next_after"] == 5
    # The store's first event says which format its log's leaves take; then the fund.
    assert page["items"][0]["type"] == "LeafFormat.Adopted"
    assert page["items"][1]["type"] == "Fund.Established"


def test_a_bad_token_on_a_public_read_is_refused_not_ignored(demo: Api) -> None:
    response = demo.client.get("/v1/donations", headers={"Authorization": "Bearer nonsense"})
    assert_problem(response, 401, "bad-token")


def _throttled_app(tmp_path: Path, **settings: Any) -> tuple[Any, str]:
    url = f"sqlite:///{tmp_path / 'throttle.sqlite3'}"
    ledger = FundLedger(url)
    ledger.establish_fund(OPERATOR, "throttle fund")
    _, token = ledger.add_user(OPERATOR, "出纳", "treasurer")
    config = Settings(database_url=url, signing_key_file=str(tmp_path / "k"), **settings)
    return create_app(config, ledger), token


def _bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def test_a_thousand_bad_tokens_never_lock_out_a_valid_one_from_the_same_address(
    tmp_path: Path,
) -> None:
    app, token = _throttled_app(tmp_path, auth_failures_max=10)
    with TestClient(app, client=("203.0.113.7", 40000)) as client:
        statuses = [
            client.get("/v1/summary", headers=_bearer(f"guess{n}")).status_code for n in range(1000)
        ]
        assert statuses[:10] == [401] * 10
        assert set(statuses[10:]) == {429}  # the failures are throttled...
        refused = client.get("/v1/summary", headers=_bearer("guess"))
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.headers["content-type"] == "application/problem+json"
        # ... and never the address's valid users.
        assert client.get("/v1/summary", headers=_bearer(token)).status_code == 200
        assert client.get("/v1/donations", headers=_bearer(token)).status_code == 200
        assert client.get("/v1/summary").status_code == 200  # the public reads on


def test_forwarded_headers_are_ignored_unless_the_peer_is_a_configured_proxy(
    tmp_path: Path,
) -> None:
    app, _token = _throttled_app(tmp_path, auth_failures_max=3)
    # No proxy configured: a client on this machine cannot dodge the throttle by naming
    # another address in X-Forwarded-For.
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        statuses = [
            client.get(
                "/v1/summary", headers=_bearer("guess", **{"X-Forwarded-For": f"198.51.100.{n}"})
            ).status_code
            for n in range(6)
        ]
        assert statuses == [401, 401, 401, 429, 429, 429]


def test_behind_a_configured_proxy_each_client_is_counted_apart_and_cannot_pose_as_another(
    tmp_path: Path,
) -> None:
    app, _token = _throttled_app(tmp_path, auth_failures_max=3, trusted_proxies="127.0.0.1")
    with TestClient(app, client=("127.0.0.1", 40000)) as proxy:
        # The proxy appends the address it saw; what the client wrote before it is not trusted.
        attacker = [
            proxy.get(
                "/v1/summary",
                headers=_bearer("guess", **{"X-Forwarded-For": f"192.0.2.{n}, 198.51.100.9"}),
            ).status_code
            for n in range(5)
        ]
        assert attacker == [401, 401, 401, 429, 429]
        other = proxy.get(
            "/v1/summary", headers=_bearer("guess", **{"X-Forwarded-For": "198.51.100.10"})
        )
        assert other.status_code == 401  # another client behind the proxy is not held up


# -- who sees which personal field (api/access.py, FIELD_READERS) -------------------------------

PHONE = re.compile(r"1390573\d{4}")
INDIVIDUAL_PAYEE = "王桂英"


def _hidden_names() -> list[str]:
    from ledger.demo import RESIDENTS

    return [name for name, disclosure in RESIDENTS if disclosure != "named"]


@pytest.mark.parametrize(
    ("who", "names", "contacts", "payees"),
    [
        ("treasurer", True, True, True),
        ("auditor", True, True, True),
        ("committee0", True, False, True),
        ("adviser", False, False, False),
    ],
)
def test_each_role_sees_the_personal_fields_its_work_needs_and_no_more(
    demo: Api, who: str, names: bool, contacts: bool, payees: bool
) -> None:
    csv_text = demo.get("/v1/exports/donations.csv", who).content.decode("utf-8-sig")
    donations = json.dumps(demo.get("/v1/donations", who, limit=500).json(), ensure_ascii=False)
    expenses = json.dumps(demo.get("/v1/expenses", who, limit=500).json(), ensure_ascii=False)
    expenses_csv = demo.get("/v1/exports/expenses.csv", who).content.decode("utf-8-sig")
    for text in (csv_text, donations):
        assert any(name in text for name in _hidden_names()) == names, who
    assert bool(PHONE.search(csv_text)) == contacts, who
    assert ("联系方式" in csv_text) == contacts
    assert (INDIVIDUAL_PAYEE in expenses) == payees
    assert (INDIVIDUAL_PAYEE in expenses_csv) == payees


@pytest.mark.parametrize("who", ["auditor", "committee0", "adviser"])
def test_the_raw_log_shows_no_token_hash_and_withholds_what_the_role_may_not_see(
    demo: Api, who: str
) -> None:
    body = ""
    after = 0
    while after is not None:
        page = demo.get("/v1/events", who, after=after, limit=500).json()
        body += json.dumps(page, ensure_ascii=False)
        after = page["next_after"]
    assert "token_sha256" not in body
    for token in demo.tokens.values():
        assert hashlib.sha256(token.encode()).hexdigest() not in body
    sees_names = who != "adviser"
    assert any(name in body for name in _hidden_names()) == sees_names
    assert bool(PHONE.search(body)) == (who == "auditor")
    assert (INDIVIDUAL_PAYEE in body) == sees_names
    assert ("withheld" in body) == (who != "auditor")
