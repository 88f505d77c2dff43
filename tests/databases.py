"""The PostgreSQL server the tests use: where it is, whether it must be there, a fresh schema."""

from __future__ import annotations

import os
import uuid

import psycopg

PG_ADMIN_URL = os.environ.get(
    "FUND_LEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("FUND_LEDGER_REQUIRE_POSTGRES") == "1"


def new_postgres_url(database_url: str) -> str:
    """A new, empty schema in the test database, as a store URL."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    # Small pools: a test run holds many stores at once, and the server allows 100 connections.
    return f"{database_url}?schema={schema}&pool_size=1&max_overflow=4"
