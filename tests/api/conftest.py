"""A small fund of its own for each test, and the demo year shared by a module's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_calls import Api, demo_tokens, new_fund, settings_for
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.app import OPERATOR, FundLedger
from ledger.demo import load_demo


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
    tokens = demo_tokens(load_demo(ledger))
    # A treasurer who has left: their token must stop working.
    _, tokens["revoked"] = ledger.add_user(OPERATOR, "离任出纳", "treasurer")
    ledger.revoke_user(OPERATOR, "离任出纳")
    settings = settings_for(module_store_url, tmp_path_factory.mktemp("demo"))
    with TestClient(create_app(settings, ledger), raise_server_exceptions=False) as client:
        yield Api(client, tokens)
