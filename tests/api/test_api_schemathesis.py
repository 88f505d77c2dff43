"""Schemathesis against the app's own OpenAPI document: the document tells the truth.

``schemathesis run --checks all`` over all four phases (examples, coverage, fuzzing, stateful)
as the treasurer, against the app served on a small fund of the module's own, on SQLite and
PostgreSQL: no 5xx, every answer fits the document, every request the document allows is
taken (but for the rules between parameters that schemathesis.toml names) and every one it
refuses is refused, the Allow header names what the path takes, and the links lead somewhere.
The public's reads get in-process generated requests too.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
import schemathesis.config
import uvicorn
from hypothesis import HealthCheck, settings

from api.app import create_app
from api.config import Settings
from api.models import dates_through
from ledger.app import OPERATOR, FundLedger
from ledger.domain import today
from ledger.domain.money import parse_yuan

# Generated requests per operation in the fuzzing phase, and the public's per operation. With
# the coverage phase's boundary cases and the stateful phase, 10 cost about a minute of CPU a
# store (client and server; 190 s wall on two cores shared with four other test runs).
# FUND_LEDGER_FUZZ_EXAMPLES sets another bound for a longer run.
EXAMPLES_PER_OPERATION = int(os.environ.get("FUND_LEDGER_FUZZ_EXAMPLES", "10"))
SEED = 20261129
CONFIG = Path(__file__).with_name("schemathesis.toml")
PHASES = ("examples", "coverage", "fuzzing", "stateful")
DAY = date(2026, 3, 10)

# The document is built from the code alone: no store is opened to load it.
DOCUMENT = create_app().openapi()
SCHEMA = schemathesis.openapi.from_dict(
    DOCUMENT, config=schemathesis.config.SchemathesisConfig.from_path(CONFIG)
)
# For the public's reads: examples and fuzzing (the treasurer's run sends the coverage
# phase's boundary cases to the same reads).
PUBLIC_READS = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.config.SchemathesisConfig.from_dict(
        {**tomllib.loads(CONFIG.read_text()), "phases": {"coverage": {"enabled": False}}}
    ),
).include(method="GET")
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


def fuzz_settings(store: FuzzStore, keys: Path) -> Settings:
    return Settings(database_url=store.url, signing_key_file=str(keys / "no-such.key"))


@pytest.fixture(scope="module")
def served(fuzz_store: FuzzStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a port of its own, as ``fund-ledger serve`` runs it: the base URL."""
    app = create_app(fuzz_settings(fuzz_store, tmp_path_factory.mktemp("keys")))
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listening.close()


def test_schemathesis_all_checks_all_phases_as_the_treasurer_finds_nothing(
    served: str, fuzz_store: FuzzStore, tmp_path: Path
) -> None:
    report = tmp_path / "schemathesis.json"
    command = [
        *(sys.executable, "-m", "schemathesis.cli"),
        *("--config-file", str(CONFIG), "run", f"{served}/openapi.json"),
        *("--checks", "all", "--phases", ",".join(PHASES)),
        *("--header", f"Authorization: Bearer {fuzz_store.treasurer_token}"),
        *("--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED)),
        *("--workers", "1", "--no-color", "--generation-database", "none"),
        *("--report", "json", "--report-json-path", str(report)),
    ]
    # In a folder of its own: the CLI keeps a cache of what it found in its working folder.
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path
    )
    output = (run.stdout + run.stderr)[-8000:]
    assert report.exists(), output
    assert outcome(json.loads(report.read_text())) == {
        "exit_code": 0,
        "failures": [],
        "errors": [],
        "phases": dict.fromkeys(PHASES, "success"),
        "operations untested": 0,
    }, output
    assert run.returncode == 0, output


# The public's reads, generated in-process against the same server, every check but the
# stateful ones (a read makes no id to follow). Writes refuse the public (401) before reading
# their body (test_api_access.py), so generating write bodies for it would only measure that.
@PUBLIC_READS.parametrize()
@BOUNDED
def test_a_public_caller_gets_answers_that_fit_the_document(case: Any, served: str) -> None:
    case.call_and_validate(base_url=served)


def outcome(report: dict[str, Any]) -> dict[str, Any]:
    """What a JSON run report says of the run: its failures, errors, phases and reach."""
    operations = report["operations"]
    return {
        "exit_code": report["exit_code"],
        "failures": report["failures"],
        "errors": report["errors"],
        "phases": {name: phase["status"] for name, phase in report["phases"].items()},
        "operations untested": operations["selected"] - operations["tested"],
    }


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
    ("POST /v1/donors", "ForgetDonor", "POST /v1/people/{person_id}/forget"),
    ("POST /v1/projects", "RestrictDonation", "POST /v1/donations"),
    ("POST /v1/projects", "RecordProjectOpinion", "POST /v1/opinions"),
    (
        "POST /v1/donations/batch",
        "ReverseFirstDonation",
        "POST /v1/donations/{donation_id}/reverse",
    ),
    ("POST /v1/donations/batch", "ReadFirstReceipt", "GET /v1/donations/{donation_id}/receipt"),
    ("POST /v1/expenses", "ForgetPayee", "POST /v1/people/{person_id}/forget"),
    ("GET /v1/donations", "ReadFirstReceipt", "GET /v1/donations/{donation_id}/receipt"),
    ("GET /v1/grants", "ChargeFirstGrant", "POST /v1/expenses"),
    ("POST /v1/opinions", "AnswerOpinion", "POST /v1/opinions/{opinion_id}/answer"),
    ("POST /v1/opinions", "SupersedeOpinion", "POST /v1/opinions/{opinion_id}/supersede"),
    ("POST /v1/official-receipts", "VoidReceipt", "POST /v1/official-receipts/{receipt_no}/void"),
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


def test_each_create_links_to_the_operations_that_use_its_id() -> None:
    """A create is a POST that answers 201 at a path of its own (not an act on an id)."""
    creates = {
        f"POST {path}"
        for path, operations in SCHEMA.raw_schema["paths"].items()
        if "201" in operations.get("post", {}).get("responses", {}) and "{" not in path
    }
    linked = {source for source, _, _ in LINKS if source.startswith("POST")}
    assert creates == linked


def parameter_schema(method: str, path: str, name: str) -> dict[str, Any]:
    operation = SCHEMA.raw_schema["paths"][path][method]
    (found,) = [p["schema"] for p in operation["parameters"] if p["name"] == name]
    return dict(found)


def body_member_schema(model: str, member: str) -> dict[str, Any]:
    return dict(SCHEMA.raw_schema["components"]["schemas"][model]["properties"][member])


def document_takes(schema: dict[str, Any], value: object) -> bool:
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return validator.is_valid(value)


TOMORROW = today() + timedelta(days=1)
# (what, the member's schema, a value the document refuses, one it takes)
EDGES = [
    ("amount", body_member_schema("DonationCreate", "amount"), "0.00", "0.01"),
    (
        "amount",
        body_member_schema("DonationCreate", "amount"),
        "1000000000000.01",
        "1000000000000.00",
    ),
    ("amount", body_member_schema("DonationCreate", "amount"), "١٢", "12"),
    (
        "received_on",
        body_member_schema("DonationCreate", "received_on"),
        (TOMORROW + timedelta(days=1)).isoformat(),
        TOMORROW.isoformat(),
    ),
    (
        "received_on",
        body_member_schema("DonationCreate", "received_on"),
        "1999-12-31",
        "2000-01-01",
    ),
    ("reason", body_member_schema("Reason", "reason"), " \u3000\x85\n", "x"),
    ("reason", body_member_schema("Reason", "reason"), "a\rb", "a\nb"),
    ("Idempotency-Key", parameter_schema("post", "/v1/donors", "Idempotency-Key"), "", "k"),
    ("Idempotency-Key", parameter_schema("post", "/v1/donors", "Idempotency-Key"), " k", "k k"),
    ("max_amount", parameter_schema("get", "/v1/donations", "max_amount"), "1000000000000.01", "0"),
    ("to", parameter_schema("get", "/v1/donations", "to"), "0", "2026-03-10"),
    ("as_of", parameter_schema("get", "/v1/summary", "as_of"), "0", "2026-03-10"),
    ("limit", parameter_schema("get", "/v1/events", "limit"), 501, 500),
    ("limit", parameter_schema("get", "/v1/grants", "limit"), 0, 1),
    ("first", parameter_schema("get", "/v1/log/proof/consistency", "first"), 0, 1),
]


@pytest.mark.parametrize(("what", "schema", "refused", "taken"), EDGES, ids=[e[0] for e in EDGES])
def test_the_document_draws_each_edge_where_the_ledger_does(
    what: str, schema: dict[str, Any], refused: object, taken: object
) -> None:
    assert (document_takes(schema, refused), document_takes(schema, taken)) == (False, True)


def test_dates_through_takes_exactly_the_window() -> None:
    pattern = re.compile(dates_through(date(2026, 3, 2)))
    taken = ["2000-01-01", "2025-12-31", "2026-02-28", "2026-03-01", "2026-03-02"]
    refused = ["1999-12-31", "2026-03-03", "2026-04-01", "2027-01-01", "0", "2026-3-1"]
    assert [bool(pattern.fullmatch(d)) for d in taken + refused] == [True] * 5 + [False] * 6
    january = re.compile(dates_through(date(2030, 1, 1)))
    assert [bool(january.fullmatch(d)) for d in ("2029-12-31", "2030-01-01", "2030-01-02")] == [
        True,
        True,
        False,
    ]


def test_the_api_refuses_what_the_document_refuses(served: str, fuzz_store: FuzzStore) -> None:
    treasurer = {"Authorization": f"Bearer {fuzz_store.treasurer_token}"}
    gift = {"donor_id": "x", "amount": "1.00", "received_on": "2026-03-10", "channel": "cash"}
    with httpx.Client(base_url=served, headers=treasurer, timeout=30) as client:
        answers = {
            "amount 0.00": client.post("/v1/donations", json={**gift, "amount": "0.00"}),
            "received the day after tomorrow": client.post(
                "/v1/donations",
                # The fund's day now, not when the module was read: a run may cross midnight.
                json={**gift, "received_on": (today() + timedelta(days=2)).isoformat()},
            ),
            "an empty Idempotency-Key": client.post(
                "/v1/donations", json=gift, headers={"Idempotency-Key": ""}
            ),
            "max_amount beyond the limit": client.get(
                "/v1/donations", params={"max_amount": "1000000000000.01"}
            ),
            "to=0": client.get("/v1/donations", params={"to": "0"}),
            "as_of=0": client.get("/v1/summary", params={"as_of": "0"}),
            "limit=501": client.get("/v1/grants", params={"limit": "501"}),
        }
        # And what it takes: an unknown donor is looked for (404), not refused as malformed.
        unknown_donor = client.post("/v1/donations", json={**gift, "amount": "0.01"})
    assert {what: answer.status_code for what, answer in answers.items()} == dict.fromkeys(
        answers, 422
    )
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers.values())
    # Each says what is wrong in words, not with the pattern it failed.
    assert [what for what, a in answers.items() if "pattern" in a.text] == []
    assert "more than zero" in answers["amount 0.00"].json()["detail"]
    assert unknown_donor.status_code == 404


def test_options_and_405_allow_what_the_document_documents(served: str) -> None:
    wrong = {}
    with httpx.Client(base_url=served, timeout=30) as client:
        for path, operations in SCHEMA.raw_schema["paths"].items():
            concrete = re.sub(r"\{[^}]+\}", "x1", path).replace("/monthly/x1", "/monthly/2026-01")
            answer = client.options(concrete)
            allowed = {m.strip() for m in answer.headers.get("allow", "").split(",") if m.strip()}
            documented = {m.upper() for m in operations}
            if answer.status_code != 405 or allowed != documented:
                wrong[path] = (answer.status_code, sorted(allowed), sorted(documented))
    assert wrong == {}


def test_a_problem_type_answers_only_documented_statuses(served: str) -> None:
    responses = SCHEMA.raw_schema["paths"]["/problems/{code}"]["get"]["responses"]
    with httpx.Client(base_url=served, timeout=30) as client:
        known = client.get("/problems/insufficient-funds")
        unknown = client.get("/problems/no-such-problem")
        malformed = client.get("/problems/NOT_A_CODE")
    assert (known.status_code, unknown.status_code, malformed.status_code) == (200, 404, 422)
    assert {"200", "404", "422"} <= set(responses)
    assert "application/problem+json" in responses["404"]["content"]
    assert unknown.headers["content-type"] == "application/problem+json"
