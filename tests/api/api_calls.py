"""What the API tests share: the table of mutating endpoints, a client with named callers,
the check of a problem answer, and a small fund to serve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.config import Settings
from ledger.app import OPERATOR, FundLedger
from ledger.demo import ADVISER, AUDITOR, COMMITTEE, TREASURER
from ledger.demo.year import DemoUsers
from ledger.domain import today

PROBLEM_JSON = "application/problem+json"
YUAN = re.compile(r"^-?\d+\.\d{2}$")
# An ordinary day in a month long ended, which no test closes.
DAY = "2026-03-10"
# A well-formed id that names nothing.
NOBODY = "00000000-0000-4000-8000-000000000000"
MONTH_TO_CLOSE = "2025-01"

# Who is who: the demo's people, and the same names in each small fund.
PEOPLE: dict[str, tuple[str, str]] = {
    "treasurer": (TREASURER, "treasurer"),
    **{f"committee{i}": (name, "committee") for i, name in enumerate(COMMITTEE)},
    "adviser": (ADVISER, "adviser"),
    "auditor": (AUDITOR, "auditor"),
}


# -- the one table of mutating endpoints --------------------------------------------------------
# Each POST under /v1 with the ledger command whose RIGHTS guard it, and a body that passes
# validation, so that only the caller's role can decide the answer.
DONATION_BODY = {"donor_id": NOBODY, "amount": "100.00", "received_on": DAY, "channel": "cash"}
MUTATIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    (
        "/v1/donors",
        "register_donor",
        {"name": "矩阵", "kind": "individual", "disclosure": "masked"},
    ),
    ("/v1/projects", "open_project", {"code": "matrix", "name": "矩阵项目"}),
    ("/v1/donations", "record_donation", DONATION_BODY),
    ("/v1/donations/batch", "record_donation", {"donations": [DONATION_BODY]}),
    ("/v1/donations/{donation_id}/reverse", "reverse_donation", {"reason": "矩阵"}),
    ("/v1/grants", "propose_grant", {"project_id": NOBODY, "amount": "100.00", "purpose": "矩阵"}),
    ("/v1/grants/{grant_id}/approve", "approve_grant", None),
    ("/v1/grants/{grant_id}/reject", "reject_grant", {"reason": "矩阵"}),
    ("/v1/grants/{grant_id}/close", "close_grant", None),
    (
        "/v1/expenses",
        "record_expense",
        {
            "grant_id": NOBODY,
            "amount": "100.00",
            "paid_on": DAY,
            "payee": "南湖宾馆",
            "category": "programme",
            "description": "矩阵",
        },
    ),
    ("/v1/expenses/{expense_id}/reverse", "reverse_expense", {"reason": "矩阵"}),
    ("/v1/opinions", "record_opinion", {"subject_id": NOBODY, "text": "矩阵"}),
    ("/v1/checks/{warning_id}/explain", "explain_warning", {"reason": "矩阵"}),
    ("/v1/opinions/{opinion_id}/answer", "answer_opinion", {"text": "矩阵"}),
    ("/v1/opinions/{opinion_id}/supersede", "supersede_opinion", {"text": "矩阵"}),
    ("/v1/periods/{month}/close", "close_period", None),
    ("/v1/people/{person_id}/forget", "forget_person", None),
    (
        "/v1/official-receipts",
        "issue_official_receipt",
        {"donation_id": NOBODY, "receipt_no": "矩阵-1", "issued_on": DAY},
    ),
    (
        "/v1/official-receipts/{receipt_no}/void",
        "void_official_receipt",
        {"reason": "矩阵", "voided_on": DAY},
    ),
    (
        "/v1/reconciliation/{account}/match",
        "reconcile_match",
        {"key": "矩阵", "entry_ids": [NOBODY]},
    ),
    ("/v1/reconciliation/{account}/unmatch", "reconcile_unmatch", {"key": "矩阵"}),
]


def concrete(template: str) -> str:
    """A path template with its parameters filled: a month for months, an unknown id for ids."""
    return re.sub(
        r"\{(\w+)\}", lambda m: MONTH_TO_CLOSE if m.group(1) == "month" else NOBODY, template
    )


# -- a client with named callers -----------------------------------------------------------------


@dataclass
class Api:
    """A TestClient and the bearer tokens of the fund's people, by who they are."""

    client: TestClient
    tokens: dict[str, str]
    _serial: int = field(default=0, repr=False)

    def headers(self, who: str | None, key: str | None = None) -> dict[str, str]:
        headers = {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def post(
        self, who: str | None, path: str, body: Any = None, key: str | None = None
    ) -> httpx.Response:
        return self.client.post(path, json=body, headers=self.headers(who, key))

    def get(self, path: str, who: str | None = None, **params: Any) -> httpx.Response:
        response = self.client.get(path, params=params or None, headers=self.headers(who))
        assert response.status_code < 500, response.text
        return response

    def ok(self, who: str | None, path: str, body: Any = None, status: int = 201) -> str:
        response = self.post(who, path, body)
        assert response.status_code == status, response.text
        written = response.json()
        assert written["replayed"] is False
        assert written["position"] > 0
        return str(written["id"])

    def serial(self) -> int:
        self._serial += 1
        return self._serial

    def log_position(self) -> int:
        return int(self.get("/healthz").json()["log_position"])

    # -- building a small world through the API ------------------------------------------------

    def donor(
        self, name: str = "南湖宾馆", kind: str = "enterprise", disclosure: str = "named"
    ) -> str:
        body = {"name": name, "kind": kind, "disclosure": disclosure}
        return self.ok("treasurer", "/v1/donors", body)

    def project(self, code: str) -> str:
        return self.ok("treasurer", "/v1/projects", {"code": code, "name": f"项目 {code}"})

    def donate(self, donor_id: str, amount: str, project_id: str | None = None) -> str:
        body = {"donor_id": donor_id, "amount": amount, "received_on": DAY, "channel": "cash"}
        body |= {"receipt_no": f"T-{self.serial():05d}", "project_id": project_id}
        return self.ok("treasurer", "/v1/donations", body)

    def propose(self, project_id: str, amount: str, proposer: str = "committee0") -> str:
        body = {"project_id": project_id, "amount": amount, "purpose": "测试资助 / test grant"}
        return self.ok(proposer, "/v1/grants", body)

    def grant(self, project_id: str, amount: str) -> str:
        """A grant proposed by the first member and approved by the next three (the quorum)."""
        grant_id = self.propose(project_id, amount)
        for member in ("committee1", "committee2", "committee3"):
            self.ok(member, f"/v1/grants/{grant_id}/approve", status=200)
        return grant_id

    def expense(self, grant_id: str, amount: str, **extra: str) -> httpx.Response:
        body = {
            "grant_id": grant_id,
            "amount": amount,
            # A grant takes effect the day the quorum approves it: today.
            "paid_on": today().isoformat(),
            "payee": "南湖宾馆",
            "category": "programme",
            "description": "长寿面 / noodles",
        } | extra
        return self.post("treasurer", "/v1/expenses", body)


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None, **facts: Any
) -> dict[str, Any]:
    """An RFC 9457 problem with this status, type and facts."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    for member in ("type", "title", "status", "detail"):
        assert body.get(member), f"problem without {member}: {body}"
    assert body["status"] == status
    if code is not None:
        assert body["type"] == f"/problems/{code}", body
    for name, value in facts.items():
        assert body.get(name) == value, f"{name}: {body.get(name)!r} != {value!r} in {body}"
    return body


def settings_for(store_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    # No signing key: this module is about the API, not the checkpoints. Gifts answered
    # before their views, as `serve` runs one API process: the reads then hold
    # read-your-writes, which these tests check.
    fields: dict[str, Any] = {"answer_gifts_before_views": True, **overrides}
    return Settings(
        database_url=store_url, signing_key_file=str(tmp_path / "no-such.key"), **fields
    )


def demo_tokens(users: DemoUsers) -> dict[str, str]:
    """The demo users' tokens, by who they are in ``PEOPLE``."""
    names = {name: token for name, (_, token) in users.tokens.items()}
    return {who: names[name] for who, (name, _) in PEOPLE.items()}


def new_fund(store_url: str) -> tuple[FundLedger, dict[str, str]]:
    ledger = FundLedger(store_url)
    ledger.establish_fund(OPERATOR, "测试共富基金", quorum=3)
    tokens = {who: ledger.add_user(OPERATOR, name, role)[1] for who, (name, role) in PEOPLE.items()}
    return ledger, tokens
