"""The HTTP API through TestClient, on SQLite and PostgreSQL: roles, idempotency, problems, reads.

Read-only checks and refusals share one demo per store (a refusal writes nothing); anything that
writes gets a small fund of its own, so no test depends on another's rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import Settings
from ledger.app import OPERATOR, FundLedger
from ledger.demo import ADVISER, AUDITOR, COMMITTEE, TREASURER, load_demo
from ledger.domain import Role, today
from ledger.service.kernel import RIGHTS

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
ONE_OF_EACH_ROLE = {"treasurer": "treasurer", "committee": "committee0"}
ONE_OF_EACH_ROLE |= {"adviser": "adviser", "auditor": "auditor"}

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
    ("/v1/periods/{month}/close", "close_period", None),
    ("/v1/people/{person_id}/forget", "forget_person", None),
]


def concrete(template: str) -> str:
    """A path template with its parameters filled: a month for months, an unknown id for ids."""
    return re.sub(
        r"\{(\w+)\}", lambda m: MONTH_TO_CLOSE if m.group(1) == "month" else NOBODY, template
    )


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
    # No signing key: this module is about the API, not the checkpoints.
    return Settings(
        database_url=store_url, signing_key_file=str(tmp_path / "no-such.key"), **overrides
    )


def new_fund(store_url: str) -> tuple[FundLedger, dict[str, str]]:
    ledger = FundLedger(store_url)
    ledger.establish_fund(OPERATOR, "测试共富基金", quorum=3)
    tokens = {who: ledger.add_user(OPERATOR, name, role)[1] for who, (name, role) in PEOPLE.items()}
    return ledger, tokens


@pytest.fixture
def api(store_url: str, tmp_path: Path) -> Iterator[Api]:
    """A fund of its own: five committee members (quorum three), treasurer, adviser, auditor."""
    ledger, tokens = new_fund(store_url)
    app = create_app(settings_for(store_url, tmp_path), ledger)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, tokens)


@pytest.fixture(scope="module")
def demo(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The Nanhu demo year, shared by the tests that only read or are refused."""
    ledger = FundLedger(module_store_url)
    users = load_demo(ledger)
    names = {name: token for name, (_, token) in users.tokens.items()}
    tokens = {who: names[name] for who, (name, _) in PEOPLE.items()}
    # A treasurer who has left: their token must stop working.
    _, tokens["revoked"] = ledger.add_user(OPERATOR, "离任出纳", "treasurer")
    ledger.revoke_user(OPERATOR, "离任出纳")
    settings = settings_for(module_store_url, tmp_path_factory.mktemp("demo"))
    with TestClient(create_app(settings, ledger), raise_server_exceptions=False) as client:
        yield Api(client, tokens)


# -- each endpoint works for the right role ------------------------------------------------------


def test_each_command_works_for_its_role_and_reads_show_yuan_strings(api: Api) -> None:
    donor_id = api.donor("顾阿姨", "individual", "masked")
    project_id = api.project("noodles")
    restricted = api.donate(donor_id, "1280.50", project_id)
    unrestricted = api.donate(donor_id, "5000.00")

    gifts = api.get("/v1/donations", "auditor").json()["items"]
    assert {g["id"]: g["amount"] for g in gifts} == {restricted: "1280.50", unrestricted: "5000.00"}
    assert {g["id"]: g["project_code"] for g in gifts}[restricted] == "noodles"

    grant_id = api.grant(project_id, "3000.00")
    (grant,) = api.get("/v1/grants", "auditor", project="noodles").json()["items"]
    assert (grant["id"], grant["status"], grant["amount"]) == (grant_id, "approved", "3000.00")
    assert len(grant["approvals_by"]) == 3

    expense = api.expense(grant_id, "1000.25")
    assert expense.status_code == 201, expense.text
    expense_id = expense.json()["id"]
    (paid,) = api.get("/v1/expenses", "auditor", grant_id=grant_id).json()["items"]
    assert (paid["id"], paid["amount"], paid["reversed"]) == (expense_id, "1000.25", False)
    (grant,) = api.get("/v1/grants", "auditor", project="noodles").json()["items"]
    assert (grant["spent"], grant["remaining"]) == ("1000.25", "1999.75")

    body = {"reason": "重复录入 / entered twice"}
    assert api.ok("committee0", f"/v1/expenses/{expense_id}/reverse", body, 200) == expense_id
    (paid,) = api.get("/v1/expenses", "auditor", grant_id=grant_id).json()["items"]
    assert paid["reversed"] is True

    opinion = {"subject_id": grant_id, "text": "建议增加慢病随访。"}
    opinion_id = api.ok("adviser", "/v1/opinions", opinion)
    (said,) = api.get("/v1/opinions", subject_id=grant_id).json()["items"]
    assert (said["id"], said["text"]) == (opinion_id, opinion["text"])

    turned_down = api.propose(project_id, "100.00", proposer="committee1")
    body = {"reason": "暂缓 / not now"}
    assert api.ok("committee0", f"/v1/grants/{turned_down}/reject", body, 200) == turned_down
    assert api.ok("committee0", f"/v1/grants/{grant_id}/close", None, 200) == grant_id
    statuses = {g["id"]: g["status"] for g in api.get("/v1/grants").json()["items"]}
    assert statuses == {grant_id: "closed", turned_down: "rejected"}

    body = {"reason": "金额录入错误 / keyed wrongly"}
    assert api.ok("committee0", f"/v1/donations/{unrestricted}/reverse", body, 200) == unrestricted
    reversals = {c["id"]: c for c in api.get("/v1/corrections").json()}
    assert reversals[unrestricted]["amount"] == "5000.00"
    assert reversals[expense_id]["reason"] == "重复录入 / entered twice"

    batch = [
        {"donor_id": donor_id, "amount": amount, "received_on": DAY, "channel": "wechat_pay"}
        for amount in ("100.00", "0.01")
    ]
    response = api.post("treasurer", "/v1/donations/batch", {"donations": batch})
    assert response.status_code == 201, response.text
    written = response.json()
    assert len(written["ids"]) == 2
    assert written["id"] == written["ids"][0]

    fund_id = api.ok("committee0", f"/v1/periods/{MONTH_TO_CLOSE}/close", None, 200)
    assert fund_id

    summary = api.get("/v1/summary").json()
    # 1280.50 restricted, 100.01 in the batch; the 5000.00 was reversed, the expense too.
    assert summary["received_total"] == "1380.51"
    assert summary["spent_total"] == "0.00"
    assert all(YUAN.match(summary[k]) for k in summary if k not in {"currency", "events", "as_of"})

    by_code = api.get("/v1/projects/noodles").json()
    assert api.get(f"/v1/projects/{project_id}").json()["id"] == by_code["id"] == project_id

    public = api.get(f"/v1/donors/{donor_id}/statement").json()
    private = api.get(f"/v1/donors/{donor_id}/statement", "auditor").json()
    assert (public["donor"]["name"], private["donor"]["name"]) == ("顾**", "顾阿姨")
    assert public["given_total"] == private["given_total"] == "1380.51"


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


# -- never twice -----------------------------------------------------------------------------------


def test_the_same_key_and_body_return_the_first_answer_and_write_nothing(api: Api) -> None:
    body = {"name": "嘉兴慈善基金会", "kind": "foundation", "disclosure": "named"}
    first = api.post("treasurer", "/v1/donors", body, key="donor-1")
    assert first.status_code == 201, first.text
    position = api.log_position()

    again = api.post("treasurer", "/v1/donors", body, key="donor-1")
    assert again.status_code == first.status_code
    assert again.json()["id"] == first.json()["id"]
    assert (first.json()["replayed"], again.json()["replayed"]) == (False, True)
    assert api.log_position() == position


@pytest.mark.parametrize("command", ["batch", "approve", "close period"])
def test_replays_of_other_commands_give_the_same_status_and_ids(api: Api, command: str) -> None:
    donor_id = api.donor()
    if command == "batch":
        gifts = [
            {"donor_id": donor_id, "amount": a, "received_on": DAY, "channel": "cash"}
            for a in ("10.00", "20.00", "30.00")
        ]
        path, body, status = "/v1/donations/batch", {"donations": gifts}, 201
        who = "treasurer"
    elif command == "approve":
        project_id = api.project("health")
        api.donate(donor_id, "500.00", project_id)
        grant_id = api.propose(project_id, "500.00")
        path, body, status, who = f"/v1/grants/{grant_id}/approve", None, 200, "committee1"
    else:
        path, body, status = f"/v1/periods/{MONTH_TO_CLOSE}/close", None, 200
        who = "committee0"

    first = api.post(who, path, body, key=f"key-{command}")
    assert first.status_code == status, first.text
    position = api.log_position()
    again = api.post(who, path, body, key=f"key-{command}")
    assert again.status_code == status, again.text
    assert (again.json()["id"], again.json()["ids"]) == (first.json()["id"], first.json()["ids"])
    assert again.json()["replayed"] is True
    assert api.log_position() == position
    if command == "batch":
        assert len(api.get("/v1/donations").json()["items"]) == 3


def test_the_same_key_with_another_body_is_409(api: Api) -> None:
    body = {"name": "南湖宾馆", "kind": "enterprise", "disclosure": "named"}
    assert api.post("treasurer", "/v1/donors", body, key="k-2026-01").status_code == 201
    position = api.log_position()

    other = body | {"name": "南湖大酒店"}
    response = api.post("treasurer", "/v1/donors", other, key="k-2026-01")
    assert_problem(response, 409, "idempotency-key-reused", idempotency_key="k-2026-01")
    # Another command under the same key is another body too.
    response = api.post(
        "treasurer", "/v1/projects", {"code": "stage", "name": "幸福舞台"}, "k-2026-01"
    )
    assert_problem(response, 409, idempotency_key="k-2026-01")
    assert api.log_position() == position


def test_keys_belong_to_their_caller(api: Api) -> None:
    project_id = api.project("science")
    api.donate(api.donor(), "900.00", project_id)
    body = {"project_id": project_id, "amount": "100.00", "purpose": "同一个键 / one key"}
    mine = api.post("committee0", "/v1/grants", body, key="shared")
    theirs = api.post("committee1", "/v1/grants", body, key="shared")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


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


# -- all or nothing --------------------------------------------------------------------------------


def test_a_batch_with_one_bad_item_stores_nothing_and_names_the_item(api: Api) -> None:
    donor_id = api.donor()
    gifts = [
        {"donor_id": donor_id, "amount": "10.00", "received_on": DAY, "channel": "cash"}
        for _ in range(3)
    ]
    position = api.log_position()

    zero = [*gifts[:2], gifts[2] | {"amount": "0.00"}]
    response = api.post("treasurer", "/v1/donations/batch", {"donations": zero})
    assert_problem(response, 422, field="donations[2].amount")

    future = [gifts[0], gifts[1] | {"received_on": "2999-01-01"}, gifts[2]]
    response = api.post("treasurer", "/v1/donations/batch", {"donations": future})
    assert_problem(response, 422, field="donations[1].received_on")

    stranger = [gifts[0], gifts[1] | {"donor_id": NOBODY}, gifts[2]]
    assert_problem(api.post("treasurer", "/v1/donations/batch", {"donations": stranger}), 404)

    twice = [g | {"receipt_no": "DUP-1"} for g in gifts[:2]]
    assert_problem(api.post("treasurer", "/v1/donations/batch", {"donations": twice}), 409)

    assert api.log_position() == position
    assert api.get("/v1/donations", "auditor").json()["items"] == []
    assert api.get("/v1/summary").json()["received_total"] == "0.00"

    response = api.post("treasurer", "/v1/donations/batch", {"donations": gifts})
    assert response.status_code == 201, response.text
    listed = [g["id"] for g in api.get("/v1/donations").json()["items"]]
    assert listed == response.json()["ids"]


def test_a_batch_item_refused_by_the_schema_is_named_like_one_refused_by_the_ledger(
    demo: Api,
) -> None:
    gifts = [DONATION_BODY, DONATION_BODY | {"amount": "abc"}]
    response = demo.post("treasurer", "/v1/donations/batch", {"donations": gifts})
    assert_problem(response, 422, field="donations[1].amount")


# -- read your writes ------------------------------------------------------------------------------


def test_the_next_read_shows_the_write(api: Api) -> None:
    donor_id = api.donor("南湖区慈善基金会", "foundation")
    project_id = api.project("health")
    for n in range(5):
        receipt = f"RYW-{n}"
        body = {"donor_id": donor_id, "amount": f"{n + 1}00.00", "received_on": DAY}
        body |= {"channel": "bank_transfer", "receipt_no": receipt, "project_id": project_id}
        created = api.post("treasurer", "/v1/donations", body)
        assert created.status_code == 201, created.text
        (gift,) = api.get("/v1/donations", receipt_no=receipt).json()["items"]
        assert (gift["id"], gift["amount"]) == (created.json()["id"], f"{n + 1}00.00")
        total = sum(range(1, n + 2)) * 100
        assert api.get("/v1/summary").json()["received_total"] == f"{total}.00"
        assert api.get("/v1/projects/health").json()["restricted_received"] == f"{total}.00"

    grant_id = api.grant(project_id, "1500.00")
    (grant,) = api.get("/v1/grants", project="health").json()["items"]
    assert (grant["id"], grant["status"]) == (grant_id, "approved")
    assert api.get("/v1/summary").json()["committed_unspent"] == "1500.00"


# -- limits, health, metrics, documentation ------------------------------------------------------


def small_app(
    store_url: str, tmp_path: Path, **overrides: Any
) -> tuple[TestClient, dict[str, str]]:
    ledger, tokens = new_fund(store_url)
    app = create_app(settings_for(store_url, tmp_path, **overrides), ledger)
    return TestClient(app, raise_server_exceptions=False), tokens


def big_donor_body() -> bytes:
    contact = {f"k{i}": "南" * 60 for i in range(10)}
    body = {"name": "大", "kind": "individual", "disclosure": "named", "contact": contact}
    return json.dumps(body, ensure_ascii=False).encode()


def test_a_body_over_the_limit_is_413(store_url: str, tmp_path: Path) -> None:
    client, tokens = small_app(store_url, tmp_path, request_body_bytes_max=1024)
    headers = {"Authorization": f"Bearer {tokens['treasurer']}"}
    content = big_donor_body()
    assert len(content) > 1024
    with client:
        response = client.post("/v1/donors", content=content, headers=headers)
        assert_problem(response, 413, "body-too-large", limit_bytes=1024)
        small = {"name": "小", "kind": "individual", "disclosure": "named"}
        assert client.post("/v1/donors", json=small, headers=headers).status_code == 201


def test_a_chunked_body_over_the_limit_is_413_too(sqlite_url: str, tmp_path: Path) -> None:
    client, tokens = small_app(sqlite_url, tmp_path, request_body_bytes_max=1024)
    headers = {"Authorization": f"Bearer {tokens['treasurer']}"}
    headers["Content-Type"] = "application/json"
    with client:
        response = client.post("/v1/donors", content=iter([big_donor_body()]), headers=headers)
    assert response.status_code == 413, response.text


def test_healthz_reports_the_store_and_the_views(demo: Api) -> None:
    health = demo.get("/healthz").json()
    assert health["status"] == "ok"
    events = demo.get("/v1/events", "auditor", after=health["log_position"] - 1).json()
    assert [e["position"] for e in events["items"]] == [health["log_position"]]
    assert health["views"]
    assert all(view["lag"] == 0 for view in health["views"].values())


def test_metrics_are_prometheus_text(demo: Api) -> None:
    demo.get("/v1/summary")
    demo.get("/v1/projects/health")
    response = demo.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE fund_ledger_requests_total counter" in text
    counted = re.search(
        r'^fund_ledger_requests_total\{method="GET",route="/v1/summary",status="200"\} (\d+)$',
        text,
        re.MULTILINE,
    )
    assert counted is not None
    assert int(counted.group(1)) >= 1
    # Routes are counted by template, so ids and codes cannot blow up the label set.
    assert 'route="/v1/projects/{project}"' in text
    assert 'route="/v1/projects/health"' not in text
    lags = re.findall(r'^fund_ledger_projection_lag\{view="(\w+)"\} (\d+)$', text, re.MULTILINE)
    assert {"books", "registers"} <= {view for view, _ in lags}


def test_every_response_carries_the_security_headers(demo: Api) -> None:
    answers = [
        demo.client.get("/v1/summary"),
        demo.client.get("/no/such/page"),
        demo.client.post("/v1/donations", content=b"x" * (9 * 1024 * 1024)),
    ]
    assert [a.status_code for a in answers] == [200, 404, 413]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "script-src 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"


# The paths that issue 4 names, as it writes them.
ISSUE_PATHS = [
    ("post", "/v1/donors"),
    ("post", "/v1/projects"),
    ("post", "/v1/donations"),
    ("post", "/v1/donations/{id}/reverse"),
    ("post", "/v1/donations/batch"),
    ("post", "/v1/grants"),
    ("post", "/v1/grants/{id}/approve"),
    ("post", "/v1/grants/{id}/reject"),
    ("post", "/v1/grants/{id}/close"),
    ("post", "/v1/expenses"),
    ("post", "/v1/expenses/{id}/reverse"),
    ("post", "/v1/opinions"),
    ("post", "/v1/periods/{YYYY-MM}/close"),
    ("get", "/v1/summary"),
    ("get", "/v1/projects"),
    ("get", "/v1/projects/{id}"),
    ("get", "/v1/donations"),
    ("get", "/v1/grants"),
    ("get", "/v1/expenses"),
    ("get", "/v1/donors/{id}/statement"),
    ("get", "/v1/reports/monthly/{YYYY-MM}"),
    ("get", "/v1/reports/trial-balance"),
    ("get", "/v1/reports/activities"),
    ("get", "/v1/events"),
    ("get", "/v1/exports/beancount"),
    ("get", "/v1/exports/360giving"),
    ("get", "/v1/exports/donations.csv"),
    ("get", "/v1/exports/grants.csv"),
    ("get", "/v1/exports/expenses.csv"),
    ("get", "/v1/query"),
    ("get", "/healthz"),
    ("get", "/metrics"),
]


def _matches(template: str, path: str) -> bool:
    """Whether an OpenAPI path template serves a path of the issue (whose {x} is any segment)."""
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    concrete_path = re.sub(r"\{[^}]+\}", "x", path)
    return re.fullmatch(pattern, concrete_path) is not None


def test_openapi_lists_every_path_the_issue_names(demo: Api) -> None:
    spec = demo.get("/openapi.json").json()
    missing = [
        f"{method.upper()} {path}"
        for method, path in ISSUE_PATHS
        if not any(method in ops and _matches(t, path) for t, ops in spec["paths"].items())
    ]
    assert missing == []
    assert demo.get("/docs").status_code == 200


def test_every_field_of_every_request_body_is_described(demo: Api) -> None:
    schemas = demo.get("/openapi.json").json()["components"]["schemas"]
    bare = [
        f"{name}.{prop}"
        for name, schema in schemas.items()
        if name.endswith(("Create", "Batch")) or name == "Reason"
        for prop, definition in schema.get("properties", {}).items()
        if not definition.get("description")
    ]
    assert bare == []


# -- the reports and the panel's questions, on the demo ------------------------------------------


def test_monthly_reports_answer_in_yuan(demo: Api) -> None:
    closed = demo.get("/v1/reports/monthly/2025-12").json()
    assert closed["month"] == "2025-12"
    assert closed["frozen"] is True
    report = demo.get("/v1/reports/monthly/2026-01").json()
    assert report["frozen"] is False
    assert YUAN.match(report["spending_total"])
    assert report["opening"]["balance"] == closed["closing"]["balance"]
    spent = sum(Decimal(v) for v in report["spending_by_category"].values())
    assert spent == Decimal(report["spending_total"])
    assert_problem(demo.client.get("/v1/reports/monthly/2026-13"), 422)


def test_the_trial_balance_balances(demo: Api) -> None:
    rows = demo.get("/v1/reports/trial-balance").json()
    assert rows
    debits = sum(Decimal(r["debit"]) for r in rows)
    credits = sum(Decimal(r["credit"]) for r in rows)
    assert debits == credits > 0
    earlier = demo.get("/v1/reports/trial-balance", as_of="2025-12-31").json()
    assert sum(Decimal(r["debit"]) for r in earlier) == sum(Decimal(r["credit"]) for r in earlier)
    assert earlier != rows


def test_the_statement_of_activities_adds_up(demo: Api) -> None:
    year = demo.get("/v1/reports/activities", **{"from": "2025-12-01", "to": "2026-11-30"}).json()
    income = sum(Decimal(v) for column in year["income"].values() for v in column.values())
    spent = sum(Decimal(v) for v in year["expenses"].values())
    change = year["change_in_net_assets"]
    assert Decimal(change["restricted"]) + Decimal(change["unrestricted"]) == Decimal(
        change["total"]
    )
    assert income - spent == Decimal(change["total"])
    sheet = demo.get("/v1/reports/balance-sheet").json()
    assert sheet["assets_total"] == sheet["net_assets_total"]
    response = demo.client.get(
        "/v1/reports/activities", params={"from": "2026-02-01", "to": "2026-01-01"}
    )
    assert_problem(response, 422, field="from")


def test_the_panels_questions_add_up_to_the_summary(demo: Api) -> None:
    summary = demo.get("/v1/summary").json()
    by_kind = demo.get("/v1/query", group_by="donor_kind,project").json()
    assert by_kind["measure"] == "donations"
    assert by_kind["group_by"] == ["donor_kind", "project"]
    rows = by_kind["rows"]
    assert {"donor_kind", "project", "amount"} == set(rows[0])
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal(by_kind["total"])
    # Cash that came in and stayed: reversals and gifts in kind are not in either figure.
    assert by_kind["total"] == summary["received_total"]
    enterprise = {r["project"]: r["amount"] for r in rows if r["donor_kind"] == "enterprise"}
    assert enterprise["noodles"] == "200000.00"

    spending = demo.get("/v1/query", group_by="project,category").json()
    assert spending["measure"] == "expenses"
    assert spending["total"] == summary["spent_total"]
    by_month = demo.get("/v1/query", group_by="month", measure="donations").json()
    assert by_month["total"] == summary["received_total"]
    assert_problem(demo.client.get("/v1/query", params={"group_by": "colour"}), 422)
    mixed = demo.client.get("/v1/query", params={"group_by": "donor_kind,category"})
    assert_problem(mixed, 422, field="group_by")


def test_paging_walks_every_donation_once(demo: Api) -> None:
    seen: list[str] = []
    after = 0
    while True:
        page = demo.get("/v1/donations", after=after, limit=37).json()
        seen += [g["id"] for g in page["items"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    everything = demo.get("/v1/donations", limit=500).json()
    assert everything["next_after"] is None
    assert seen == [g["id"] for g in everything["items"]]
    assert len(seen) == len(set(seen)) > 37


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
