"""Every route × every caller, checked against the one table of rights in ``api/access.py``.

Each route is asked by each role, by the public, with a made-up token and with a revoked one.
A caller the table names must be served (200 for a read; for a write anything but 401 or 403,
since the bodies name things that do not exist); anyone else must get 401 without a usable token
and 403 with one. A route the app serves without a row in the table fails the run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fastapi.routing
import pytest
from api_calls import MUTATIONS, concrete
from fastapi.testclient import TestClient
from starlette.routing import Mount

from api.access import PUBLIC, ROUTE_ACCESS, TOKEN_ROLES, Access
from api.app import create_app
from api.config import Settings
from ledger.app import OPERATOR, FundLedger
from ledger.domain import today
from ledger.domain.money import parse_yuan
from ledger.log.notes import Signer
from ledger.service.kernel import RIGHTS

# Grants take effect the day the quorum approves them: everything here is dated today.
DAY = today()
MONTH = DAY.isoformat()[:7]
CHECKPOINT_POLLS_MAX = 200
CHECKPOINT_POLL_S = 0.05
# Callers without a usable token, beside the public.
MADE_UP = "made-up token"
REVOKED = "revoked token"
CALLERS = [*TOKEN_ROLES, PUBLIC, MADE_UP, REVOKED]
BODIES: dict[str, dict[str, Any] | None] = {template: body for template, _, body in MUTATIONS}


@dataclass(frozen=True)
class Fund:
    client: TestClient
    tokens: dict[str, str]
    values: dict[str, str]  # path parameter -> a value that names something real
    tree_size: int


def app_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, template) the app serves; a mount as ``{prefix}/{path}``."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", list)
    found = set()
    for route in flatten(app.routes):
        # FastAPI 0.120 and later wrap each route in a context; older versions list it bare.
        if isinstance(getattr(route, "route", route), Mount):
            found.add(("GET", f"{route.path}/{{path}}"))
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


def template_of(path: str, templates: set[tuple[str, str]], method: str) -> list[str]:
    """The app's templates that serve a row's path."""
    return [
        template
        for m, template in templates
        if m == method
        and re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path)
    ]


@pytest.fixture(scope="module")
def fund(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fund]:
    """A small fund with one of everything, a signed checkpoint over it, a token per role."""
    ledger = FundLedger(module_store_url)
    ledger.establish_fund(OPERATOR, "权限测试基金", quorum=1)
    tokens = {role.value: ledger.add_user(OPERATOR, f"{role}-1", role)[1] for role in TOKEN_ROLES}
    ledger.add_user(OPERATOR, "委员-2", "committee")
    _, tokens[REVOKED] = ledger.add_user(OPERATOR, "离任出纳", "treasurer")
    ledger.revoke_user(OPERATOR, "离任出纳")
    tokens[MADE_UP] = "not-a-token-anyone-was-given"
    treasurer, member = ledger.actor_named("treasurer-1"), ledger.actor_named("委员-2")
    project_id = ledger.open_project(treasurer, "access", "权限项目").id
    donor_id = ledger.register_donor(treasurer, "南湖宾馆", "enterprise", "named").id
    donation_id = ledger.record_donation(
        treasurer, donor_id, parse_yuan("900.00"), DAY, "cash", project_id=project_id
    ).id
    grant_id = ledger.propose_grant(member, project_id, parse_yuan("300.00"), "权限").id
    ledger.approve_grant(ledger.actor_named("committee-1"), grant_id)
    ledger.record_expense(
        treasurer, grant_id, parse_yuan("100.00"), DAY, "南湖宾馆", "programme", "面"
    )
    key_file = tmp_path_factory.mktemp("keys") / "signing.key"
    key_file.write_text(Signer.generate("fund-ledger.test").encode())
    settings = Settings(
        database_url=module_store_url, signing_key_file=str(key_file), checkpoint_interval_s=0.1
    )
    with TestClient(create_app(settings, ledger), raise_server_exceptions=False) as client:
        size = int(client.get("/healthz").json()["log_position"])
        for _ in range(CHECKPOINT_POLLS_MAX):
            note = client.get("/v1/log/checkpoint")
            if note.status_code == 200 and int(note.text.splitlines()[1]) >= size:
                break
            time.sleep(CHECKPOINT_POLL_S)
        else:
            pytest.fail("no checkpoint covered the fund's log")
        tree_size = int(client.get("/v1/log/checkpoint").text.splitlines()[1])
        values = {
            "project": "access",
            "code": "access",
            "donor_id": donor_id,
            "donation_id": donation_id,
            "month": MONTH,
            "year": str(DAY.year),
            "size": str(tree_size),
            "path": "site.css",
            "account": "bank",
        }
        yield Fund(client, tokens, values, tree_size)


def query(template: str, tree_size: int) -> dict[str, Any]:
    """The required query parameters of the routes that have them."""
    return {
        "/v1/query": {"group_by": "project"},
        "/v1/log/proof/inclusion": {"index": 0, "tree_size": tree_size},
        "/v1/log/proof/consistency": {"first": 1, "second": tree_size},
    }.get(template, {})


def ask(fund: Fund, method: str, template: str, caller: str) -> tuple[int, str]:
    headers = {} if caller == PUBLIC else {"Authorization": f"Bearer {fund.tokens[caller]}"}
    if method == "POST":
        response = fund.client.post(concrete(template), json=BODIES[template], headers=headers)
    else:
        problem = {"code": "not-found"} if template.startswith("/problems/") else {}
        asset = {"path": "swagger-ui.css"} if template.startswith("/docs/") else {}
        values = fund.values | problem | asset
        path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
        response = fund.client.get(path, params=query(template, fund.tree_size), headers=headers)
    return response.status_code, response.headers.get("content-type", "")


def expected(access: Access, method: str, caller: str) -> set[int] | None:
    """The statuses the table allows for a caller; None for "served": anything but 401/403."""
    no_token = caller in {PUBLIC, MADE_UP, REVOKED}
    if caller in {MADE_UP, REVOKED} and access.checks_token:
        return {401}
    who = PUBLIC if no_token else caller
    if who in access.callers:
        return {200} if method == "GET" else None
    return {401} if no_token else {403}


ROWS = [
    pytest.param(method, path, access, id=f"{method} {path}")
    for (method, path), access in ROUTE_ACCESS.items()
]


@pytest.mark.parametrize(("method", "path", "access"), ROWS)
def test_each_caller_gets_what_the_table_says(
    fund: Fund, method: str, path: str, access: Access
) -> None:
    wrong = {}
    for caller in CALLERS:
        status, content_type = ask(fund, method, path, caller)
        allowed = expected(access, method, caller)
        served = allowed is None and status not in {401, 403} and status < 500
        if not (served or (allowed is not None and status in allowed)):
            wrong[str(caller)] = (status, sorted(allowed) if allowed else "served")
        elif status in {401, 403}:
            assert content_type.startswith("application/problem+json"), (caller, content_type)
    assert wrong == {}


def test_every_route_of_the_app_has_one_row_and_every_row_a_route(fund: Fund) -> None:
    served = app_routes(fund.client.app)
    rows = {(m, p): template_of(p, served, m) for m, p in ROUTE_ACCESS}
    assert {row: found for row, found in rows.items() if len(found) != 1} == {}
    covered = {(m, found[0]) for (m, _), found in rows.items()}
    assert sorted(served - covered) == [], "a route without a row in api/access.py"


def test_the_writes_rows_restate_the_ledgers_rights() -> None:
    writes = {path: a for (m, path), a in ROUTE_ACCESS.items() if m == "POST"}
    assert set(writes) == set(BODIES)
    assert all(a.command is not None for a in writes.values())
    differ = {
        path: (sorted(a.callers), sorted(RIGHTS[a.command]))
        for path, a in writes.items()
        if a.command is not None and a.callers != frozenset(RIGHTS[a.command])
    }
    assert differ == {}


def test_the_table_refuses_someone_and_serves_someone_on_each_kind_of_route() -> None:
    # A table that let everyone do everything, or no one anything, would test nothing.
    callers = [a.callers for a in ROUTE_ACCESS.values()]
    assert any(PUBLIC not in c for c in callers)
    assert any(c and not (set(TOKEN_ROLES) <= c) for c in callers)
    assert all(c for c in callers)
