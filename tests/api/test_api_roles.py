"""Who may call what through the HTTP API: 403 for a role without the right, 401 without a valid
token, and failed authentications throttled per client.
"""

from __future__ import annotations

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
    assert page["items"][0]["type"] == "Fund.Established"


def test_a_bad_token_on_a_public_read_is_refused_not_ignored(demo: Api) -> None:
    response = demo.client.get("/v1/donations", headers={"Authorization": "Bearer nonsense"})
    assert_problem(response, 401, "bad-token")


def test_failed_authentications_are_throttled_per_client(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'throttle.sqlite3'}"
    ledger = FundLedger(url)
    ledger.establish_fund(OPERATOR, "throttle fund")
    _, token = ledger.add_user(OPERATOR, "出纳", "treasurer")
    settings = Settings(database_url=url, auth_failures_max=3, signing_key_file=str(tmp_path / "k"))
    with TestClient(create_app(settings, ledger)) as client:
        for _ in range(3):
            assert (
                client.get("/v1/summary", headers={"Authorization": "Bearer guess"}).status_code
                == 401
            )
        refused = client.get("/v1/summary", headers={"Authorization": "Bearer guess"})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.headers["content-type"] == "application/problem+json"
        # Even the right token waits: the limit is on the client, not on the guess.
        right = client.get("/v1/summary", headers={"Authorization": f"Bearer {token}"})
        assert right.status_code == 429
        assert client.get("/v1/summary").status_code == 200  # the public reads on
