"""Many funds from one process (api/district.py): each under /f/{fund}/ with its own tokens,
data and signing key; funds closed beyond the bound and reopened keep their data and answers;
the connections held stay within the bound."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from api_calls import assert_problem
from databases import new_postgres_url
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import Settings
from api.district import Directory, District, DistrictAccess, FundSource
from fund_ledger.trust import write_key_pair
from ledger.app import OPERATOR, FundLedger
from ledger.log.notes import Signer

FUNDS = ("nanhu", "beihu", "xihu")
DAY = "2026-03-02"


def _fund(url: str, name: str) -> tuple[str, str]:
    """A fund with a treasurer: its token and a donor."""
    ledger = FundLedger(url)
    try:
        ledger.establish_fund(OPERATOR, f"{name} 共富基金")
        _, token = ledger.add_user(OPERATOR, "出纳", "treasurer")
        donor = ledger.register_donor(ledger.actor_named("出纳"), "某企业", "enterprise", "named")
    finally:
        ledger.close()
    return token, str(donor.id)


def _urls(store_url: str, tmp_path: Path) -> dict[str, str]:
    if store_url.startswith("sqlite"):
        return {name: f"sqlite:///{tmp_path / name}.sqlite3" for name in FUNDS}
    database = store_url.split("?", 1)[0]
    return {name: new_postgres_url(database) for name in FUNDS}


class Funds:
    def __init__(self, client: TestClient, district: District, people: dict[str, tuple[str, str]]):
        self.client = client
        self.district = district
        self.people = people

    def auth(self, fund: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.people[fund][0]}"}
        return headers | ({"Idempotency-Key": key} if key else {})

    def donate(self, fund: str, amount: str, key: str) -> dict[str, object]:
        body = {"donor_id": self.people[fund][1], "amount": amount, "received_on": DAY}
        body |= {"channel": "cash", "receipt_no": f"R-{key}"}
        response = self.client.post(
            f"/f/{fund}/v1/donations", json=body, headers=self.auth(fund, key)
        )
        assert response.status_code in {200, 201}, response.text
        return dict(response.json())

    def income(self, fund: str) -> str:
        response = self.client.get(f"/f/{fund}/v1/summary")
        assert response.status_code == 200, response.text
        return str(response.json()["received_total"])


@pytest.fixture(params=[1, 2], ids=["open_max=1", "open_max=2"])
def funds(request: pytest.FixtureRequest, store_url: str, tmp_path: Path) -> Iterator[Funds]:
    urls = _urls(store_url, tmp_path)
    people = {name: _fund(url, name) for name, url in urls.items()}
    for name in FUNDS:
        write_key_pair(tmp_path / f"{name}.key", Signer.generate(f"district.example/{name}"))
    directory = Directory(
        {n: FundSource(n, u, str(tmp_path / f"{n}.key")) for n, u in urls.items()}
    )
    settings = Settings(checkpoint_interval_s=0.2)
    district = District(directory, settings, open_max=request.param, pool_max=3)
    with TestClient(district, raise_server_exceptions=False) as client:
        yield Funds(client, district, people)


def test_each_fund_answers_under_its_prefix_with_its_own_data(funds: Funds) -> None:
    for amount, name in zip(("10.00", "20.00", "30.00"), FUNDS, strict=True):
        funds.donate(name, amount, f"{name}-1")
    assert [funds.income(name) for name in FUNDS] == ["10.00", "20.00", "30.00"]
    assert funds.district.stats.opens >= len(FUNDS)
    assert len(funds.district.open_names()) <= funds.district.open_max


def test_a_token_of_one_fund_is_refused_by_another(funds: Funds) -> None:
    body = {"donor_id": funds.people["beihu"][1], "amount": "1.00", "received_on": DAY}
    body |= {"channel": "cash"}
    headers = funds.auth("nanhu", "cross-1")
    refused = funds.client.post("/f/beihu/v1/donations", json=body, headers=headers)
    assert_problem(refused, 401, "bad-token")
    assert funds.income("beihu") == "0.00"


def test_a_closed_fund_reopens_with_its_data_and_its_answers(funds: Funds) -> None:
    first = funds.donate("nanhu", "12.50", "same-key")
    for name in ("beihu", "xihu"):  # opening two others closes nanhu at either bound
        funds.income(name)
    assert "nanhu" not in funds.district.open_names()
    assert funds.district.stats.closes >= 1
    replayed = funds.donate("nanhu", "12.50", "same-key")
    assert replayed["id"] == first["id"]
    assert replayed["replayed"] is True
    assert funds.income("nanhu") == "12.50"  # read-your-writes after reopening, once


def test_each_fund_signs_its_own_log(funds: Funds) -> None:
    keys = {name: funds.client.get(f"/f/{name}/v1/log/key").text for name in FUNDS}
    assert len(set(keys.values())) == len(FUNDS)
    assert all(keys[name].startswith(f"district.example/{name}+") for name in FUNDS), keys


def test_pages_link_within_their_fund(funds: Funds) -> None:
    page = funds.client.get("/f/xihu/donations")
    assert page.status_code == 200
    assert 'href="/f/xihu/' in page.text
    assert 'href="/donations' not in page.text
    assert 'href="/static' not in page.text
    assert funds.client.get("/f/xihu", follow_redirects=False).headers["location"] == "/f/xihu/"
    docs = funds.client.get("/f/xihu/docs")
    assert 'src="/f/xihu/docs/init.js"' in docs.text
    assert '"url": "/f/xihu/openapi.json"' in funds.client.get("/f/xihu/docs/init.js").text
    document = funds.client.get("/f/xihu/openapi.json").json()
    assert document["servers"] == [{"url": "/f/xihu"}]


def test_the_access_log_names_the_fund_and_the_route_never_what_was_typed() -> None:
    access = DistrictAccess(create_app(Settings()).routes)
    assert access.template("/f/nanhu/donations?receipt=R-00042") == "/f/nanhu/donations"
    donor = "/f/nanhu/v1/donations/0b5e2c3a-1111-4222-8333-944445555666/receipt"
    assert access.template(donor) == "/f/nanhu/v1/donations/{donation_id}/receipt"
    assert access.template("/f/张三/v1/summary") == "(unmatched)"
    assert access.template("/13800138000") == "(unmatched)"


def test_an_unknown_fund_is_not_found(funds: Funds) -> None:
    assert_problem(funds.client.get("/f/nosuch/v1/summary"), 404, "no-such-fund")
    assert_problem(funds.client.get("/f/Bad-Name/v1/summary"), 404, "no-such-fund")
    assert funds.district.stats.open_failures == 0


@pytest.mark.postgres
def test_connections_held_stay_within_the_bound(postgres_database: str, tmp_path: Path) -> None:
    """Ten funds, each schema found by the district itself, served with at most two open."""
    names = [f"d{uuid.uuid4().hex[:8]}" for _ in range(10)]
    people = {}
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE SCHEMA "{name}"')
    for name in names:
        people[name] = _fund(f"{postgres_database}?schema={name}", name)

    def held() -> int:
        with psycopg.connect(postgres_database, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            ).fetchone()
        assert row is not None
        return int(row[0])

    before = held()
    district = District(Directory.read(postgres_database, tmp_path), open_max=2, pool_max=3)
    peak = 0
    with TestClient(district, raise_server_exceptions=False) as client:
        api = Funds(client, district, people)
        for round_ in range(2):
            for name in names:
                api.donate(name, "1.00", f"{name}-{round_}")
                peak = max(peak, held() - before, district.connections_held())
        assert [api.income(name) for name in names] == ["2.00"] * len(names)
        assert district.stats.opens >= len(names)
        assert 0 < peak <= district.connections_max == 6
        # A district nobody asks anything of holds no connection: idle funds are closed.
        assert client.portal.call(district.close_idle, 0.0) == 2  # type: ignore[union-attr]
        assert district.open_names() == []
        assert district.connections_held() == 0
        # A closed connection's backend leaves pg_stat_activity a moment after it is closed.
        deadline = time.monotonic() + 5
        while held() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert held() <= before
        api.donate(names[0], "1.00", "after-idle")  # and the fund opens again when asked
        assert api.income(names[0]) == "3.00"
