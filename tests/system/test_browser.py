"""The public pages in Debian's Chromium, driven by Playwright, against serve --demo."""

from __future__ import annotations

import io
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
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pagecheck import (
    BUTTON_CONTRAST_JS,
    SMALLEST_TEXT_PX_JS,
    day_of,
    decode_qr,
    measure,
)
from pypdf import PdfReader

from ledger.domain import today

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

# The deployment's settings the notice prints (api/config.py).
BASE_URL = "https://nanhu-fund.example.org"
PHONE = "0573-8208 1234"
ADDRESS = "南湖未来社区党群服务中心一楼"
NAMES_ZH = {
    "health": "健康同行",
    "noodles": "一碗长寿面",
    "science": "小小科学家",
    "pairing": "结对连心",
    "redboat": "守护红船",
    "barber": "益剪倾心",
    "stage": "幸福舞台",
}
CODES = tuple(NAMES_ZH)
CJK = re.compile(r"[\u4e00-\u9fff]")
NAMES_ZH |= {"/": "一碗长寿面", "/donations": "一碗长寿面"}
PUBLIC_PAGES = (
    "/",
    "/donations",
    "/corrections",
    *(f"/projects/{code}" for code in CODES),
    "/reports",
    "/reports/2025",
    "/notice/2026-03",
)
STATE_WORDS = {"published": "已公开", "upcoming": "待公开", "overdue": "已逾期"}
# An A4 page less the notice's 14 mm margins, in CSS pixels (96 to the inch).
A4_PRINTED_PX = (688, 1016)


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
    env = {
        **os.environ,
        "FUND_LEDGER_DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}",
        "FUND_LEDGER_BASE_URL": BASE_URL,
        "FUND_LEDGER_SUPERVISION_PHONE": PHONE,
        "FUND_LEDGER_SUPERVISION_ADDRESS": ADDRESS,
    }
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


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_monthly_notice_prints_to_one_a4_page_fit_for_the_board(
    server: str, browser: object, lang: str
) -> None:
    visits = Visits(browser, 1280)
    visits.open(f"{server}/notice/2026-03?lang={lang}")
    pdf = visits.page.pdf(format="A4", print_background=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"notice-2026-03-{lang}.pdf").write_bytes(pdf)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    # The QR code leads to the configured address, whatever address the page was asked on.
    shot = SCREENSHOTS / f"notice-2026-03-{lang}-qr.png"
    visits.page.locator("svg.qr").screenshot(path=str(shot))
    expected = f"{BASE_URL}/notice/2026-03" + ("?lang=en" if lang == "en" else "")
    assert decode_qr(shot) == expected
    field = lambda name: visits.page.inner_text(f'[data-field="{name}"]')  # noqa: E731
    assert field("supervision_phone") == PHONE
    assert field("supervision_address") == ADDRESS
    assert field("committee") == "南湖未来社区共富基金管理委员会"
    issued = today()
    if lang == "zh":
        assert day_of(field("issued_on")) == issued
        first, last = field("display_period").split("至")
        assert (day_of(first), day_of(last)) == (issued, issued + timedelta(days=14))
    else:
        assert issued.strftime("%B %Y") in field("issued_on")
        assert " to " in field("display_period")
    assert visits.page.locator(".seal").count() == 1
    assert visits.page.locator(".signature-line").count() == 1
    # As printed: no text under 12 pt (16 CSS px), and the page filled to its foot.
    width, height = A4_PRINTED_PX
    visits.page.set_viewport_size({"width": width, "height": height})
    visits.page.emulate_media(media="print")
    assert visits.page.evaluate(SMALLEST_TEXT_PX_JS) >= 16
    visits.page.screenshot(path=str(SCREENSHOTS / f"notice-2026-03-{lang}-print.png"))
    bottom = visits.page.evaluate(
        "document.querySelector('.notice-sign').getBoundingClientRect().bottom"
    )
    assert 0.9 * height <= bottom <= height
    visits.context.close()


@pytest.mark.parametrize("width", [360, 1280])
def test_every_public_page_fits_the_screen_with_every_amount_whole(
    server: str, browser: object, width: int
) -> None:
    """Each page in both languages: no sideways scrolling, no amount cut off or off screen,
    no chart text cut or over another; a screenshot of each in build/screenshots/."""
    visits = Visits(browser, width)
    problems: list[str] = []
    shown: set[str] = set()
    for lang in ("zh", "en"):
        for path in PUBLIC_PAGES:
            name = path.strip("/").replace("/", "-") or "home"
            visits.open(f"{server}{path}?lang={lang}", shot=f"{name}-{lang}-{width}")
            found = measure(visits.page)
            if found["scroll_width"] > width:
                problems.append(f"{path} {lang}: {found['scroll_width']} px wide")
            if not found["amounts"] and path != "/reports":
                problems.append(f"{path} {lang}: no amount found to check")
            problems += [f"{path} {lang}: {bad}" for bad in found["bad"]]
            for chart in found["charts"]:
                if chart["smallest_px"] < 14 or chart["largest_px"] > 20:
                    problems.append(f"{path} {lang}: chart text at {chart}")
                if width > 1000 and chart["width"] > 0.6 * width:
                    problems.append(f"{path} {lang}: a chart {chart['width']} px wide")
            shown.update(found["amounts"])
    assert problems == []
    assert {"1,200,000.00", "3,000,000.00"} <= shown  # the government's gift; the total
    visits.context.close()


def test_the_chinese_pages_name_projects_and_list_by_date(server: str, browser: object) -> None:
    visits = Visits(browser, 360)
    for path in ("/", "/donations", "/corrections", *(f"/projects/{code}" for code in CODES)):
        visits.open(f"{server}{path}")
        text = visits.page.inner_text("main")
        # Every link to a project says its Chinese name, never its code ("noodles").
        links = [
            link.strip()
            for link in visits.page.locator("main a[href^='/projects/']").all_inner_texts()
            if link.strip()  # a link in a closed data table shows no text
        ]
        assert links or path == "/corrections", path
        codes = [link for link in links if link in CODES or not CJK.search(link)]
        assert codes == [], f"{path} names projects {codes}"
        if path != "/corrections":  # the gifts and bills name their projects in Chinese
            assert NAMES_ZH[path.removeprefix("/projects/")] in text, path
        for table in visits.page.locator("table:has(td[data-label='日期'])").all():
            dates = [cell.inner_text() for cell in table.locator("td[data-label='日期']").all()]
            assert dates in (sorted(dates), sorted(dates, reverse=True)), (path, dates)
    visits.open(f"{server}/")
    latest = visits.page.locator("#latest-e-h ~ table td[data-label='日期']").all_inner_texts()
    assert len(latest) == 10
    assert latest == sorted(latest, reverse=True)
    visits.open(f"{server}/donations")
    contrasts = visits.page.evaluate(BUTTON_CONTRAST_JS)
    assert len(contrasts) >= 2  # the button and its English word
    assert min(contrasts) >= 4.5
    visits.context.close()


def test_the_disclosure_calendar_says_what_is_published_due_and_overdue(
    server: str, browser: object
) -> None:
    visits = Visits(browser, 360)
    visits.open(f"{server}/reports")
    rows = visits.page.locator("tr[class^='due-']").all()
    assert rows
    day = today()
    states = set()
    for row in rows:
        state = (row.get_attribute("class") or "").removeprefix("due-")
        states.add(state)
        period = row.locator("td[data-label='月份']").inner_text()
        assert ".." not in period
        assert re.fullmatch(r"\d{4}年度|\d{4}年\d{1,2}月至(\d{4}年)?\d{1,2}月", period), period
        due_on = day_of(row.locator("td[data-label='应公开日期']").inner_text())
        shown = row.locator("strong").inner_text()
        assert shown.endswith(STATE_WORDS[state])
        if state == "overdue":
            assert due_on < day
        if state == "upcoming":
            assert due_on >= day
    # The demo closed 2025 on time (its annual report is published) and a quarter is under way.
    assert {"published", "upcoming"} <= states
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
