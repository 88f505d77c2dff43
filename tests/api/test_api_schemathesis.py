"""Schemathesis against the app's own OpenAPI document: no 5xx, and answers that fit the schema.

Each operation gets a bounded number of generated requests (valid and invalid ones) as the
treasurer, and each read as the public too, on SQLite and PostgreSQL. The app runs in-process
over ASGI on a small fund of the module's own.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import schemathesis
import schemathesis.checks
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from api.app import create_app
from api.config import Settings
from ledger.app import OPERATOR, FundLedger
from ledger.domain.money import parse_yuan

# Generated requests per operation, per caller, per store; each operation reaches it. 50 cost
# about a minute of CPU (57 s wall on two shared cores; 20 took 27 s, 100 took 146 s).
# FUND_LEDGER_FUZZ_EXAMPLES sets another bound for a longer run.
EXAMPLES_PER_OPERATION = int(os.environ.get("FUND_LEDGER_FUZZ_EXAMPLES", "50"))
DAY = date(2026, 3, 10)

# The document is built from the code alone: no store is opened to load it.
SCHEMA = schemathesis.openapi.from_dict(
    create_app().openapi(),
    config=schemathesis.config.SchemathesisConfig.from_dict(
        # The coverage phase sends every boundary case of every parameter, far more than a
        # bounded run can afford; examples and fuzzing stay.
        {"phases": {"coverage": {"enabled": False}}}
    ),
)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
]
BOUNDED = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class FuzzStore:
    url: str
    treasurer_token: str


@pytest.fixture(scope="module")
def fuzz_store(module_store_url: str) -> FuzzStore:
    """A small fund with a little of everything, and the treasurer's token."""
    ledger = FundLedger(module_store_url)
    try:
        ledger.establish_fund(OPERATOR, "测试共富基金", quorum=1)
        _, token = ledger.add_user(OPERATOR, "徐佳怡", "treasurer")
        ledger.add_user(OPERATOR, "苗宇浩", "committee")
        ledger.add_user(OPERATOR, "沈建国", "committee")
        treasurer, member = ledger.actor_named("徐佳怡"), ledger.actor_named("苗宇浩")
        project_id = ledger.open_project(treasurer, "noodles", "一碗长寿面").id
        donor_id = ledger.register_donor(treasurer, "赵先生", "individual", "masked").id
        ledger.record_donation(treasurer, donor_id, parse_yuan("5000.00"), DAY, "cash")
        grant_id = ledger.propose_grant(member, project_id, parse_yuan("800.00"), "长寿面").id
        ledger.approve_grant(ledger.actor_named("沈建国"), grant_id)
    finally:
        ledger.close()
    return FuzzStore(module_store_url, token)


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def lifespan_run_elsewhere(app: FastAPI) -> Callable[..., Awaitable[None]]:
    """The app, with the lifespan protocol answered but not run.

    Schemathesis starts an app's lifespan for each test and ends it after; starting the views,
    runners and store again for each operation would cost more than the fuzzing. The fixture
    runs the real lifespan once, and Schemathesis' start and stop become no-ops.
    """

    async def asgi(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    return asgi


@pytest.fixture(scope="module")
def fuzz_app(
    fuzz_store: FuzzStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Awaitable[None]]]:
    no_key = str(tmp_path_factory.mktemp("keys") / "no-such.key")
    app = create_app(Settings(database_url=fuzz_store.url, signing_key_file=no_key))
    with TestClient(app) as client:
        assert client.get("/openapi.json").json() == SCHEMA.raw_schema
        yield lifespan_run_elsewhere(app)


def call(
    case: Any, app: Callable[..., Awaitable[None]], store_url: str, headers: dict[str, str]
) -> None:
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)


# A write refuses the public (401) before it validates the body's fields (test_api.py's
# matrix shows it), so generating write bodies for the public would only measure that again.
@SCHEMA.include(method="GET").parametrize()
@BOUNDED
def test_a_public_caller_gets_no_5xx_and_answers_that_fit(
    case: Any, fuzz_app: Callable[..., Awaitable[None]], fuzz_store: FuzzStore
) -> None:
    call(case, fuzz_app, fuzz_store.url, {})


@SCHEMA.parametrize()
@BOUNDED
def test_the_treasurer_gets_no_5xx_and_answers_that_fit(
    case: Any, fuzz_app: Callable[..., Awaitable[None]], fuzz_store: FuzzStore
) -> None:
    headers = {"Authorization": f"Bearer {fuzz_store.treasurer_token}"}
    call(case, fuzz_app, fuzz_store.url, headers)


# What a write's id leads to, as the OpenAPI links say: (from, link name, to).
LINKS = {
    ("POST /v1/donors", "RecordDonation", "POST /v1/donations"),
    ("POST /v1/donors", "ReadStatement", "GET /v1/donors/{donor_id}/statement"),
    ("POST /v1/projects", "ProposeGrant", "POST /v1/grants"),
    ("POST /v1/projects", "ReadProject", "GET /v1/projects/{project}"),
    ("POST /v1/donations", "ReverseDonation", "POST /v1/donations/{donation_id}/reverse"),
    ("POST /v1/donations", "ReadReceipt", "GET /v1/donations/{donation_id}/receipt"),
    ("POST /v1/grants", "ApproveGrant", "POST /v1/grants/{grant_id}/approve"),
    ("POST /v1/grants", "RejectGrant", "POST /v1/grants/{grant_id}/reject"),
    ("POST /v1/grants", "CloseGrant", "POST /v1/grants/{grant_id}/close"),
    ("POST /v1/grants", "RecordExpense", "POST /v1/expenses"),
    ("POST /v1/grants", "RecordOpinion", "POST /v1/opinions"),
    ("POST /v1/expenses", "ReverseExpense", "POST /v1/expenses/{expense_id}/reverse"),
}


def test_every_link_leads_to_an_operation_schemathesis_can_follow() -> None:
    spec = SCHEMA.raw_schema
    found = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for response in operation["responses"].values():
                for name, link in response.get("links", {}).items():
                    pointer = link["operationRef"].removeprefix("#/paths/").split("/")
                    target_path = pointer[0].replace("~1", "/").replace("~0", "~")
                    target = spec["paths"][target_path][pointer[1]]
                    in_path = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
                    assert set(link.get("parameters", {})) <= in_path, (name, target_path)
                    if "requestBody" in link:
                        body = target["requestBody"]["content"]["application/json"]["schema"]
                        members = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
                        assert set(link["requestBody"]) <= set(members["properties"]), name
                    found.add(
                        (f"{method.upper()} {path}", name, f"{pointer[1].upper()} {target_path}")
                    )
    assert found == LINKS
    # Schemathesis' stateful mode makes a step of each (``schemathesis run --phases stateful``).
    steps = [rule for rule in dir(SCHEMA.as_state_machine()) if "__" in rule.strip("_")]
    assert all(any(f"_{name}__" in step for step in steps) for _, name, _ in LINKS)


PROBLEM_STATUSES = {"401", "403", "404", "409", "422"}


def test_every_write_documents_its_problem_answers() -> None:
    undocumented = {}
    for path, operations in create_app().openapi()["paths"].items():
        post = operations.get("post")
        if post is None:
            continue
        responses = post["responses"]
        missing = PROBLEM_STATUSES - set(responses)
        wrong_type = [
            status
            for status in PROBLEM_STATUSES & set(responses)
            if "application/problem+json" not in responses[status].get("content", {})
        ]
        if missing or wrong_type:
            undocumented[path] = sorted(missing | set(wrong_type))
    assert undocumented == {}
