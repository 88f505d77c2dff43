"""The demo year on each store, with its views and a signed log, loaded once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from logstore import ORIGIN, Store

from ledger.app import FundLedger
from ledger.demo import load_demo
from ledger.log.notes import Signer
from projections.log.queries import Log
from projections.runner import Views


@pytest.fixture(scope="module")
def store(module_store_url: str) -> Iterator[Store]:
    ledger = FundLedger(module_store_url)
    try:
        users = load_demo(ledger)
        views = Views(ledger)
        views.catch_up()
        signer = Signer.generate(ORIGIN)
        log = Log(views.view("log"), origin=signer.name)
        first = log.sign(signer)
        assert first is not None
        assert first.size == len(list(ledger.iter_events()))
        yield Store(module_store_url, ledger, views, log, signer, users, first.note)
    finally:
        ledger.close()
