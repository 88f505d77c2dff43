"""Stores for the tests: SQLite in a temporary folder, and the real PostgreSQL server.

Each test run makes its own PostgreSQL database and drops it at the end; each test gets its own
schema in it. With FUND_LEDGER_REQUIRE_POSTGRES=1 (as CI sets it) a PostgreSQL test that cannot
connect fails instead of skipping.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from databases import PG_ADMIN_URL, REQUIRE_POSTGRES, new_postgres_url

# The API's throttle on failed authentications is tested on its own; the many deliberate bad
# tokens of the other tests all come from one test client.
os.environ.setdefault("FUND_LEDGER_AUTH_FAILURES_MAX", "1000000")
# The per-person keys are wrapped under a key-encryption key: one for the whole test run (its
# processes inherit it); the tests of a missing or another KEK set their own.
os.environ.setdefault("FUND_LEDGER_KEK", base64.b64encode(os.urandom(32)).decode())


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database for this test run; its URL without a schema."""
    name = f"fund_ledger_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable at {PG_ADMIN_URL}: {error}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    return new_postgres_url(postgres_database)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fund-ledger.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A store shared by the tests of one module that only read (loading the demo once)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store') / 'fund-ledger.sqlite3'}"
    return new_postgres_url(str(request.getfixturevalue("postgres_database")))
