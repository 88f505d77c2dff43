"""The demo year with its views, loaded once per store for each module of export tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from databases import new_postgres_url

from ledger.app import FundLedger
from ledger.demo import load_demo
from projections.reader import Reader
from projections.runner import Views


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def reader(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Reader]:
    """The demo year, loaded once per store for the whole module: the exports only read."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('exports') / 'demo.sqlite3'}"
    else:
        url = new_postgres_url(str(request.getfixturevalue("postgres_database")))
    ledger = FundLedger(url)
    load_demo(ledger)
    views = Views(ledger)
    views.catch_up()
    yield Reader(views)
    views.close()
    ledger.close()
