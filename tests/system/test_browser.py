"""The public pages in Debian's Chromium, driven by Playwright, against serve --demo."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`fund-ledger serve --demo` in an empty folder, as a newcomer would run it."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") or os.environ.get("FUND_LEDGER_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required for the browser tests (apt-get install chromium)")
        pytest.skip("no Chromium here")
    folder = tmp_path_factory.mktemp("serve")
    port = _free_port()
    env = {**os.environ, "FUND_LEDGER_DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}"}
    # As on a fresh machine: no key-encryption key set; the demo makes its own.
    env.pop("FUND_LEDGER_KEK", None)
    env.pop("FUND_LEDGER_KEK_FILE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "fund_ledger", "serve", "--demo", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.25)
    else:
        process.kill()
        pytest.fail(f"serve --demo did not come up: {process.stderr.read().decode()[-2000:]}")
    kek = folder / "fund-ledger.kek"
    assert kek.stat().st_mode & 0o777 == 0o600
    assert (folder / "demo.sqlite3").stat().st_mode & 0o777 == 0o600
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


class Visits:
    """Every page opened, every request the browser made, and the rendered text."""

    def __init__(self, browser: object, width: int) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.texts: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))

    def open(self, url: str, shot: str | None = None) -> str:
        response = self.page.goto(url)
        assert response is not None
        assert response.status == 200, url
        html = self.page.content()
        self.texts.append(html)
        self.texts.append(self.page.inner_text("body"))
        if shot:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)
        return html


@pytest.mark.parametrize("width", [360, 1280])
def test_home_page_shows_the_demo_totals_on_a_phone_and_a_desktop(
    server: str, browser: object, width: int
) -> None:
    visits = Visits(browser, width)
    visits.open(f"{server}/", shot=f"home-{width}")
    summary = _get_json(f"{server}/v1/summary")
    for key in (
        "received_total",
        "spent_total",
        "balance",
        "restricted_balance",
        "unrestricted_balance",
        "committed_unspent",
        "available_for_grants",
    ):
        shown = visits.page.inner_text(f'[data-figure="{key}"]')
        assert shown.replace("¥", "").replace(",", "") == summary[key], key
    assert "3,000,000.00" in visits.page.inner_text('[data-figure="received_total"]')
    # Readable without sideways scrolling on a phone.
    page_width = visits.page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= width + 1
    # Every chart has a title for screen readers and a data table behind it.
    assert visits.page.locator("svg.chart title").count() == 3
    assert visits.page.locator("figure details table").count() == 3
    visits.open(f"{server}/?lang=en", shot=f"home-{width}-en")
    assert "Received" in visits.page.inner_text("h1 ~ section dl")
    assert all(urlsplit(url).hostname == "127.0.0.1" for url in visits.requests), visits.requests
    visits.context.close()


def test_no_page_sends_a_request_away_or_shows_a_masked_donor(server: str, browser: object) -> None:
    visits = Visits(browser, 1280)
    visits.open(f"{server}/", shot="home")
    visits.open(f"{server}/donations", shot="donations")
    next_links = visits.page.locator("a[rel=next]")
    while next_links.count():
        visits.open(server + (next_links.first.get_attribute("href") or ""))
        next_links = visits.page.locator("a[rel=next]")
    visits.open(f"{server}/donations?receipt=NH2025-00003", shot="donation-receipt")
    for code in ("health", "noodles", "science", "pairing", "redboat", "barber", "stage"):
        visits.open(f"{server}/projects/{code}", shot=f"project-{code}")
    visits.open(f"{server}/corrections", shot="corrections")
    visits.open(f"{server}/reports", shot="reports")
    visits.open(f"{server}/notice/2025-12", shot="notice-2025-12")
    visits.open(f"{server}/notice/2026-03?lang=en", shot="notice-2026-03-en")

    hosts = {urlsplit(url).hostname for url in visits.requests}
    assert hosts == {"127.0.0.1"}, hosts
    from ledger.demo import INSTITUTIONS, RESIDENTS

    hidden = [name for name, disclosure in RESIDENTS if disclosure != "named"]
    hidden += [name for name, _k, disclosure, _c, _g in INSTITUTIONS if disclosure != "named"]
    rendered = "\n".join(visits.texts)
    assert "顾阿姨" in rendered  # a named donor is shown, so the search below can find names
    leaked = [name for name in hidden if name in rendered]
    assert leaked == []
    assert not re.search(r"1390573\d{4}", rendered)  # no resident's phone number
    assert "王桂英" not in rendered  # an individual payee
    visits.context.close()


def test_the_monthly_notice_prints_to_one_a4_page(server: str, browser: object) -> None:
    visits = Visits(browser, 1280)
    visits.open(f"{server}/notice/2026-03")
    pdf = visits.page.pdf(format="A4", print_background=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "notice-2026-03.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
    assert pages == 1
    assert visits.page.locator("svg.qr").count() == 1
    visits.context.close()


def test_the_api_docs_work_offline_under_their_policy(server: str, browser: object) -> None:
    """Swagger UI draws every operation from files the service serves, with no CSP refusal."""
    visits = Visits(browser, 1280)
    refused: list[str] = []
    visits.page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    visits.open(f"{server}/docs")
    visits.page.wait_for_selector(".opblock", timeout=20_000)
    assert visits.page.locator(".opblock").count() > 40
    visits.page.screenshot(path=str(SCREENSHOTS / "api-docs.png"))
    assert refused == []
    assert {urlsplit(url).hostname for url in visits.requests} == {"127.0.0.1"}
    visits.context.close()
