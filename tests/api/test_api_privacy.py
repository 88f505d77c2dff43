"""A public caller never sees what the fund must keep private: every public response of the demo.

The sweep asks every GET route the app serves, without a token, with every id, code and month
the demo has, paging to the end. It then looks in each answer for the real names of masked and
anonymous donors, donors' contact details, individual payees and voucher hashes. The same
search over an auditor's answers must find every one of them, or the search proves nothing.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi.testclient import TestClient
from helpers import opened

from api.app import create_app
from api.config import Settings
from ledger.app import FundLedger
from ledger.demo import AUDITOR, load_demo
from ledger.demo.canteen import demo_roster
from ledger.domain.disclosure import public_donor_id
from ledger.log.notes import Signer
from projections.reader import Reader

# Documentation is built from the code, not from the books; its examples are made up (the
# phone number in DonorCreate's example happens to be the demo's first resident's).
NOT_DATA = {"/openapi.json", "/docs", "/docs/init.js"}
DEMO_MONTHS = [f"{y}-{m:02d}" for y, m in [(2025, 11), (2025, 12)]] + [
    f"2026-{m:02d}" for m in range(1, 13)
]
YEAR = {"from": "2025-12-01", "to": "2026-11-30"}
PERIODS: list[dict[str, str]] = [{}, YEAR, {"from": "2026-04-01", "to": "2026-04-30"}]
AS_OF: list[dict[str, str]] = [{}, {"as_of": "2025-12-31"}, {"as_of": "2026-06-30"}]
GROUPINGS = [
    "project",
    "donor_kind",
    "month",
    "category",
    "donor_kind,project",
    "project,category",
    "month,project",
    "donor_kind,month",
    # one person one row: the public sees individuals pooled, never by name
    "payee",
    "donor",
    "donor,channel",
    "payee,month",
]
# Routes that answer nobody without a token.
FOR_TOKEN_HOLDERS = {
    "/v1/events",
    "/v1/reports/statements/{year}",
    "/v1/checks",
    "/v1/reconciliation/{account}/months/{month}",
}
CHECKPOINT_WAIT_POLLS_MAX = 200
CHECKPOINT_POLL_S = 0.05
PAGES_MAX = 100


@dataclass
class Secrets:
    """What the fund keeps private, read from the registers view (not from any answer)."""

    kinds: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, reader: Reader) -> Secrets:
        view, app = reader.registers_view, reader.views.ledger
        donors = opened(app, view.query("SELECT donor_id, name, disclosure FROM {t}fl_donors"))
        contacts = opened(app, view.query("SELECT contact_json FROM {t}fl_donor_contacts"))
        payees = opened(
            app, view.query("SELECT payee FROM {t}fl_expenses WHERE payee_kind = 'individual'")
        )
        vouchers = view.query(
            "SELECT voucher_sha256 FROM {t}fl_expenses WHERE voucher_sha256 IS NOT NULL"
        )
        return cls(
            {
                "names of masked and anonymous donors": sorted(
                    {d["name"] for d in donors if d["disclosure"] != "named"}
                ),
                "contact details": sorted(
                    {v for row in contacts for v in json.loads(row["contact_json"]).values()}
                ),
                "individual payees": sorted({row["payee"] for row in payees}),
                "voucher hashes": sorted({row["voucher_sha256"] for row in vouchers}),
            }
        )

    def found_in(self, kind: str, bodies: dict[str, str]) -> dict[str, list[str]]:
        """Each secret of a kind, with the URLs whose answers show it."""
        return {
            secret: urls
            for secret in self.kinds[kind]
            if (urls := [url for url, text in bodies.items() if secret in text])
        }


def readable(content_type: str, text: str) -> str:
    """An answer as a person reads it: JSON without escapes, HTML without entities."""
    if "json" in content_type:
        try:
            return text + "\n" + json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            return text
    if "html" in content_type:
        return html.unescape(text)
    return text


@dataclass
class Sweep:
    """Every answer given, by URL, and which route templates were asked."""

    client: TestClient
    headers: dict[str, str] = field(default_factory=dict)
    bodies: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)

    def get(self, template: str, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.client.get(path, params=params, headers=self.headers)
        url = str(response.request.url)
        self.templates[url] = template
        self.statuses[url] = response.status_code
        content_type = response.headers.get("content-type", "")
        self.bodies[url] = readable(content_type, response.text)
        if "json" in content_type:
            return response.json()
        return response.text

    def pages(self, template: str, path: str, params: dict[str, Any] | None = None) -> None:
        """Follow ``next_after`` (JSON) or ``after=`` links (HTML) to the last page."""
        params = dict(params or {})
        for _ in range(PAGES_MAX):
            body = self.get(template, path, params)
            if isinstance(body, dict):
                after = body.get("next_after")
            else:
                here = int(params.get("after", 0))
                later = [int(a) for a in re.findall(r"after=(\d+)", str(body)) if int(a) > here]
                after = min(later) if later else None
            if after is None:
                return
            params["after"] = after
        pytest.fail(f"{path} did not reach its last page in {PAGES_MAX} pages")


@dataclass
class Demo:
    secrets: Secrets
    public: Sweep
    auditor: Sweep
    routes: set[str]
    donors: list[dict[str, Any]]  # each donor's id, kind and disclosure
    beneficiaries: dict[str, list[str]]  # the people the projects serve, by kind of datum


def beneficiaries_of(ledger: FundLedger) -> dict[str, list[str]]:
    """What the demo knows of the people its projects serve: names, card numbers (from the
    demo's roster, as the store keeps only their keyed hashes), those hashes (opened from the
    sealed events) and birth dates, in every form a page could print them."""
    registered = [
        e for _, e in ledger.iter_events() if type(e).__qualname__ == "Beneficiary.Registered"
    ]
    opened = ledger.keyring.reveal([e.card for e in registered])
    roster = demo_roster()
    return {
        "names": sorted(p.name for p in roster),
        "card numbers": sorted(p.card_number for p in roster),
        "card hashes": sorted(str(h).removeprefix("hmac-sha256:") for h in opened),
        "birth dates": sorted(
            form
            for p in roster
            for form in (
                p.birth_date.isoformat(),
                f"{p.birth_date.year}年{p.birth_date.month}月{p.birth_date.day}日",
                p.birth_date.strftime("%Y%m%d"),
            )
        ),
    }


def get_routes(app: Any) -> set[str]:
    """Every GET route the app serves, documented or not, but for documentation and files."""
    # FastAPI 0.120 and later nest included routers; older versions list every route flat.
    flatten = getattr(fastapi.routing, "iter_route_contexts", list)
    found = {
        route.path
        for route in flatten(app.routes)
        if "GET" in (getattr(route, "methods", None) or set())
    }
    return found - NOT_DATA


def wait_for_checkpoint(client: TestClient) -> int:
    """The size of a signed checkpoint that covers the whole log (bounded wait)."""
    size = int(client.get("/healthz").json()["log_position"])
    for _ in range(CHECKPOINT_WAIT_POLLS_MAX):
        note = client.get("/v1/log/checkpoint")
        if note.status_code == 200 and int(note.text.splitlines()[1]) >= size:
            return size
        time.sleep(CHECKPOINT_POLL_S)
    pytest.fail("no checkpoint covered the demo's log")


Ask = dict[str, Callable[[str], None]]


def _ask_the_api(
    sweep: Sweep, codes: list[str], project_ids: list[str], donor_ids: list[str], gifts: list[Any]
) -> Ask:
    """How to ask each route of the JSON API, its reports and exports."""
    return {
        "/healthz": lambda t: sweep.get(t, t),
        "/metrics": lambda t: sweep.get(t, t),
        "/problems/{code}": lambda t: [
            sweep.get(t, f"/problems/{c}") for c in ("not-found", "insufficient-funds")
        ],
        "/v1/summary": lambda t: [sweep.get(t, t, p) for p in AS_OF],
        "/v1/projects": lambda t: sweep.get(t, t),
        "/v1/projects/{project}": lambda t: [
            sweep.get(t, f"/v1/projects/{p}") for p in codes + project_ids
        ],
        "/v1/donations": lambda t: sweep.pages(t, t),
        "/v1/grants": lambda t: sweep.pages(t, t),
        "/v1/expenses": lambda t: sweep.pages(t, t),
        "/v1/opinions": lambda t: sweep.pages(t, t),
        "/v1/corrections": lambda t: sweep.get(t, t),
        "/v1/events": lambda t: sweep.get(t, t),
        "/v1/reconciliation/{account}/months/{month}": lambda t: [
            sweep.get(t, f"/v1/reconciliation/bank/months/{m}") for m in DEMO_MONTHS
        ],
        "/v1/checks": lambda t: sweep.get(t, t),
        "/v1/donors/{donor_id}/statement": lambda t: [
            sweep.get(t, f"/v1/donors/{d}/statement") for d in donor_ids
        ],
        "/v1/donations/{donation_id}/receipt": lambda t: [
            sweep.get(t, f"/v1/donations/{g['donation_id']}/receipt") for g in gifts
        ],
        "/v1/reports/monthly/{month}": lambda t: [
            sweep.get(t, f"/v1/reports/monthly/{m}") for m in DEMO_MONTHS
        ],
        "/v1/reports/statements/{year}": lambda t: [
            sweep.get(t, f"/v1/reports/statements/{y}", m)
            for y in (2025, 2026)
            for m in ({}, {"month": 3})
        ],
        "/v1/reports/trial-balance": lambda t: [sweep.get(t, t, p) for p in AS_OF],
        "/v1/reports/balance-sheet": lambda t: [sweep.get(t, t, p) for p in AS_OF],
        "/v1/reports/activities": lambda t: [sweep.get(t, t, p) for p in PERIODS],
        "/v1/reports/functional-expenses": lambda t: [sweep.get(t, t, p) for p in PERIODS],
        "/v1/reports/restricted-funds": lambda t: [sweep.get(t, t, p) for p in PERIODS],
        "/v1/query": lambda t: [
            *(
                sweep.get(t, t, {"group_by": g, **period, **measure})
                for g in GROUPINGS
                for period in PERIODS[:2]
                for measure in ({}, {"measure": "donations"}, {"measure": "expenses"})
            ),
            *(
                sweep.get(t, t, {"group_by": g, "measure": "meals"})
                for g in ("age_band", "month,age_band", "project,month,age_band")
            ),
        ],
        "/v1/exports/{name}": lambda t: [
            sweep.get(t, f"/v1/exports/{n}")
            for n in (
                "beancount",
                "360giving",
                "donations.csv",
                "grants.csv",
                "expenses.csv",
                "corrections.csv",
                "opinions.csv",
            )
        ],
    }


def _ask_the_log(sweep: Sweep, size: int) -> Ask:
    """How to ask each route of the signed log, up to ``size`` entries."""
    return {
        "/v1/log/checkpoint": lambda t: sweep.get(t, t),
        "/v1/log/checkpoints/{size}": lambda t: sweep.get(t, f"/v1/log/checkpoints/{size}"),
        "/v1/log/key": lambda t: sweep.get(t, t),
        "/v1/log/entries": lambda t: [
            sweep.get(t, t, {"start": start}) for start in range(0, size, 1000)
        ],
        "/v1/log/proof/inclusion": lambda t: sweep.get(t, t, {"index": 0, "tree_size": size}),
        "/v1/log/proof/consistency": lambda t: sweep.get(t, t, {"first": 1, "second": size}),
    }


def _ask_the_pages(sweep: Sweep, codes: list[str], gifts: list[Any]) -> Ask:
    """How to ask each public page, in both languages."""
    return {
        "/": lambda t: [sweep.get(t, t, {"lang": lang}) for lang in ("zh", "en")],
        "/projects/{code}": lambda t: [
            sweep.get(t, f"/projects/{c}", {"lang": lang}) for c in codes for lang in ("zh", "en")
        ],
        "/donations": lambda t: [
            *(sweep.pages(t, t, {"lang": lang}) for lang in ("zh", "en")),
            *(sweep.get(t, t, {"receipt": g["receipt_no"]}) for g in gifts),
        ],
        "/corrections": lambda t: [sweep.get(t, t, {"lang": lang}) for lang in ("zh", "en")],
        "/reports": lambda t: [sweep.get(t, t, {"lang": lang}) for lang in ("zh", "en")],
        "/reports/{year}": lambda t: [
            sweep.get(t, f"/reports/{y}", {"lang": lang})
            for y in (2025, 2026)
            for lang in ("zh", "en")
        ],
        "/notice/{month}": lambda t: [
            sweep.get(t, f"/notice/{m}", {"lang": lang})
            for m in DEMO_MONTHS
            for lang in ("zh", "en")
        ],
    }


def sweep_public(sweep: Sweep, reader: Reader, size: int) -> None:
    """Ask every route, with every value the demo gives its parameters."""
    registers = reader.registers_view
    projects = registers.query("SELECT code, project_id FROM {t}fl_projects")
    codes, project_ids = [p["code"] for p in projects], [p["project_id"] for p in projects]
    donor_ids = [d["donor_id"] for d in registers.query("SELECT donor_id FROM {t}fl_donors")]
    gifts = registers.query("SELECT donation_id, receipt_no FROM {t}fl_donations")
    ask: Ask = {
        **_ask_the_api(sweep, codes, project_ids, donor_ids, gifts),
        **_ask_the_log(sweep, size),
        **_ask_the_pages(sweep, codes, gifts),
    }
    for template in sorted(get_routes(sweep.client.app)):
        if template not in ask:
            pytest.fail(
                f"GET {template} is new: add it to the privacy sweep in {Path(__file__).name}"
            )
        ask[template](template)


def sweep_auditor(sweep: Sweep) -> None:
    """The full answers that hold every secret: the only point is that the search finds them."""
    for template in ("/v1/donations", "/v1/expenses", "/v1/events"):
        sweep.pages(template, template, {"limit": 500})


@pytest.fixture(scope="module")
def demo(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    ledger = FundLedger(module_store_url)
    users = load_demo(ledger)
    key_file = tmp_path_factory.mktemp("keys") / "signing.key"
    key_file.write_text(Signer.generate("fund-ledger.test").encode())
    settings = Settings(
        database_url=module_store_url,
        signing_key_file=str(key_file),
        checkpoint_interval_s=0.1,
    )
    with TestClient(create_app(settings, ledger), raise_server_exceptions=False) as client:
        reader = client.app.state.services.reader  # type: ignore[attr-defined]
        size = wait_for_checkpoint(client)
        public = Sweep(client)
        sweep_public(public, reader, size)
        auditor = Sweep(client, {"Authorization": f"Bearer {users.tokens[AUDITOR][1]}"})
        sweep_auditor(auditor)
        donors = reader.registers_view.query("SELECT donor_id, kind, disclosure FROM {t}fl_donors")
        yield Demo(
            Secrets.of(reader),
            public,
            auditor,
            get_routes(client.app),
            donors,
            beneficiaries_of(ledger),
        )


KINDS = [
    "names of masked and anonymous donors",
    "contact details",
    "individual payees",
    "voucher hashes",
]


def test_the_sweep_asked_every_route_and_got_no_server_error(demo: Demo) -> None:
    public = demo.public
    assert set(public.templates.values()) == demo.routes
    errors = {url: status for url, status in public.statuses.items() if status >= 500}
    assert errors == {}
    answered = {public.templates[url] for url, status in public.statuses.items() if status == 200}
    assert answered == demo.routes - FOR_TOKEN_HOLDERS
    # Every gift's receipt was there to be read, and the statement of every donor whose id is
    # public; a person's statement (it links all their gifts) is not the public's: 404.
    template = "/v1/donations/{donation_id}/receipt"
    assert {s for url, s in public.statuses.items() if public.templates[url] == template} == {200}
    statements = {
        url: status
        for url, status in public.statuses.items()
        if public.templates[url] == "/v1/donors/{donor_id}/statement"
    }
    assert statements == {
        f"http://testserver/v1/donors/{d['donor_id']}/statement": (
            200 if public_donor_id(d["kind"], d["disclosure"]) else 404
        )
        for d in demo.donors
    }


def test_the_secrets_are_real(demo: Demo) -> None:
    kinds = demo.secrets.kinds
    assert all(kinds.values()), kinds
    assert {"欧阳明华", "王建华", "David Chen", "禾城科技有限公司"} <= set(kinds[KINDS[0]])
    assert "王桂英" in kinds["individual payees"]
    # The public sees masked donors as masked, so the sweep did reach them.
    shown = "\n".join(demo.public.bodies.values())
    assert "欧阳**" in shown
    assert "爱心人士" in shown


@pytest.mark.parametrize("kind", KINDS)
def test_a_public_caller_never_sees_them(demo: Demo, kind: str) -> None:
    leaks = demo.secrets.found_in(kind, demo.public.bodies)
    assert leaks == {}, {secret: urls[:3] for secret, urls in leaks.items()}


@pytest.mark.parametrize("kind", [k if isinstance(k, str) else k.values[0] for k in KINDS])
def test_the_same_search_finds_every_one_in_an_auditors_answers(demo: Demo, kind: str) -> None:
    found = demo.secrets.found_in(kind, demo.auditor.bodies)
    assert sorted(found) == demo.secrets.kinds[kind]


BENEFICIARY_KINDS = ["names", "card numbers", "card hashes", "birth dates"]


def test_the_people_served_are_real_and_the_sweep_reached_their_counts(demo: Demo) -> None:
    kinds = demo.beneficiaries
    assert len(kinds["names"]) == len(kinds["card numbers"]) == len(kinds["card hashes"]) == 320
    assert all(len(h) == 64 for h in kinds["card hashes"])
    shown = "\n".join(demo.public.bodies.values())
    # The canteen's page, notices and the panel's query were asked, and answered in counts.
    assert "社区食堂" in shown
    assert "90+" in shown
    canteen = [
        text
        for url, text in demo.public.bodies.items()
        if url.startswith("http://testserver/projects/canteen")
    ]
    assert canteen
    assert all("<5" in text for text in canteen)
    # Partners' hours are on their project's page, as hours.
    health = demo.public.bodies["http://testserver/projects/health?lang=zh"]
    assert "志愿服务时长" in health
    assert '<td class="num">9</td>' in health


@pytest.mark.parametrize("kind", BENEFICIARY_KINDS)
def test_no_public_page_export_leaf_or_receipt_shows_a_person_served(demo: Demo, kind: str) -> None:
    """Every public page, export, log entry (leaf) and receipt, after the demo's canteen."""
    secrets = demo.beneficiaries[kind]
    leaks = {
        secret: urls
        for secret in secrets
        if (urls := [url for url, text in demo.public.bodies.items() if secret in text])
    }
    assert leaks == {}, {secret: urls[:3] for secret, urls in list(leaks.items())[:5]}
