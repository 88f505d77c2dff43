"""A fund on PostgreSQL for the crash tests, and a connection that watches its processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from helpers import World, build_world

from ledger.app import FundLedger


@pytest.fixture
def admin(postgres_database: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection that watches the processes under test in pg_stat_activity."""
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        yield conn


@pytest.fixture
def world(postgres_url: str) -> Iterator[World]:
    ledger = FundLedger(postgres_url)
    yield build_world(ledger, tag="crash")
    ledger.close()
