"""The public pages name the configured address only, never the request's Host, and bound their
paging parameters; the words they use for months and periods."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from api_calls import assert_problem, new_fund, settings_for
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from api.config import Settings
from api.i18n import date_words, period_words
from api.routes.pages import _qr_svg
from api.routes.parameters import POSITION_MAX

BASE = "https://fund.example.org"
FORGED = {"host": "evil.example.net", "x-forwarded-host": "evil.example.net"}
MONTH = "2026-03"


def _client(store_url: str, tmp_path: Path, **settings: object) -> Iterator[TestClient]:
    ledger, _tokens = new_fund(store_url)
    app = create_app(settings_for(store_url, tmp_path, **settings), ledger)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def configured(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """A fund whose public address is configured, as a deployment's must be."""
    yield from _client(store_url, tmp_path, base_url=BASE + "/", supervision_phone="0573-8208 1234")


@pytest.fixture
def unconfigured(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(store_url, tmp_path)


def _qr(html: str) -> str:
    found = re.findall(r"<svg [^>]*class=\"qr\".*?</svg>", html, flags=re.S)
    assert len(found) == 1, html
    return str(found[0])


def test_a_forged_host_changes_neither_the_notices_qr_code_nor_its_links(
    configured: TestClient,
) -> None:
    honest = configured.get(f"/notice/{MONTH}")
    forged = configured.get(f"/notice/{MONTH}", headers=FORGED)
    assert honest.status_code == forged.status_code == 200
    assert "evil.example" not in forged.text
    # The code drawn is the one of the configured address (a trailing slash in it is dropped).
    assert _qr(forged.text) == _qr(honest.text) == _qr(_qr_svg(f"{BASE}/notice/{MONTH}"))
    assert f"{BASE}/notice/{MONTH}" in forged.text
    english = configured.get(f"/notice/{MONTH}?lang=en", headers=FORGED)
    assert _qr(english.text) == _qr(_qr_svg(f"{BASE}/notice/{MONTH}?lang=en"))
    assert "0573-8208 1234" in forged.text


@pytest.mark.parametrize("path", ["/", "/?lang=en", "/donations", "/reports", "/corrections"])
def test_no_public_page_repeats_a_forged_host(configured: TestClient, path: str) -> None:
    response = configured.get(path, headers=FORGED)
    assert response.status_code == 200
    assert "evil.example" not in response.text
    if path.startswith("/?"):
        assert f"--url {BASE} " in response.text  # the verify command names the fund's address


def test_without_a_base_url_the_notice_says_so_and_draws_no_qr_code(
    unconfigured: TestClient,
) -> None:
    response = unconfigured.get(f"/notice/{MONTH}", headers=FORGED)
    assert response.status_code == 200
    assert 'class="qr"' not in response.text
    assert "未设置本站公开网址（FUND_LEDGER_BASE_URL）" in response.text
    assert "evil.example" not in response.text
    assert "testserver" not in response.text
    english = unconfigured.get(f"/notice/{MONTH}?lang=en")
    assert "the public address (FUND_LEDGER_BASE_URL) is not set" in english.text
    assert "not set (FUND_LEDGER_SUPERVISION_PHONE)" in english.text


@pytest.mark.parametrize("value", ["fund.example.org", "ftp://fund.example.org", "https://"])
def test_a_base_url_that_is_no_http_address_is_refused_at_start(value: str) -> None:
    with pytest.raises(ValidationError, match="FUND_LEDGER_BASE_URL must be an http"):
        Settings(base_url=value)


@pytest.mark.parametrize(
    "path",
    [
        f"/donations?after={POSITION_MAX + 1}",
        f"/donations?after={10**30}",
        "/donations?after=-1",
        "/donations?after=x",
        "/reports/1999",
        "/reports/10000",
        "/notice/2026-13",
        "/notice/26-03",
    ],
)
def test_paging_and_periods_out_of_range_are_a_clear_422(configured: TestClient, path: str) -> None:
    body = assert_problem(configured.get(path), 422)
    # The problem names what is wrong in words, never a database driver's message.
    assert "SQLite" not in body["detail"]
    assert "psycopg" not in body["detail"].lower()


def test_the_last_position_there_can_be_is_an_empty_page_not_an_error(
    configured: TestClient,
) -> None:
    response = configured.get(f"/donations?after={POSITION_MAX}")
    assert response.status_code == 200
    assert 'rel="next"' not in response.text


def test_months_and_periods_are_said_in_words() -> None:
    assert period_words("2026-06", "2026-08", "zh") == "2026年6月至8月"
    assert period_words("2025-12", "2026-02", "zh") == "2025年12月至2026年2月"
    assert period_words("2026-06", "2026-08", "en") == "June to August 2026"
    assert period_words("2025-12", "2026-02", "en") == "December 2025 to February 2026"
    assert date_words(date(2026, 12, 31), "zh") == "2026年12月31日"
    assert date_words(date(2026, 12, 31), "en") == "31 December 2026"
