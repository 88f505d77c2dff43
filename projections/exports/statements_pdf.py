"""The statements as a PDF: their HTML page printed by Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
from typing import Any

from projections.exports.statements_html import statements_html

CHROMIUM_DEFAULT = "/usr/bin/chromium"
# The page is static and local: a print that takes longer than this has gone wrong.
PRINT_TIMEOUT_MS = 60_000


class PdfUnavailable(Exception):
    """Printing needs Playwright and a Chromium; says which is missing."""


def chromium_path() -> str:
    return os.environ.get("FUND_LEDGER_CHROMIUM") or shutil.which("chromium") or CHROMIUM_DEFAULT


def export_statements_pdf(statements: dict[str, Any]) -> bytes:
    """A4 landscape, one statement a page."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise PdfUnavailable(
            "printing a PDF needs Playwright: pip install 'fund-ledger[pdf]'"
        ) from None
    executable = chromium_path()
    if not os.path.exists(executable):
        raise PdfUnavailable(
            f"printing a PDF needs Chromium at {executable} (apt-get install chromium)"
        )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=executable, args=["--no-sandbox"], headless=True
            )
            try:
                page = browser.new_page()
                page.set_default_timeout(PRINT_TIMEOUT_MS)
                page.set_content(statements_html(statements), wait_until="load")
                pdf: bytes = page.pdf(format="A4", landscape=True, print_background=True)
            finally:
                browser.close()
    except Error as error:
        raise PdfUnavailable(f"Chromium could not print the statements: {error}") from None
    return pdf
