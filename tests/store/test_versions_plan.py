"""The newest versions of a batch's aggregates are read down the primary key, never by a scan.

A group commit asks for the versions of every aggregate it writes. On a store that grows under
a stream of gifts, PostgreSQL has not analysed the events table yet; the earlier statement
(``originator_id = ANY(...) GROUP BY``) was then planned as a parallel scan of the whole
table, and single donations slowed as the log grew (1,470 → 670 a second over four 10 s runs).
"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from ledger.app import FundLedger
from ledger.store.sql import dialect_of, postgres_versions_statement, versions

pytestmark = pytest.mark.postgres

ROWS = 50_000


def test_versions_are_read_by_the_primary_key_on_a_table_never_analysed(
    postgres_url: str, postgres_database: str
) -> None:
    ledger = FundLedger(postgres_url)
    dialect = dialect_of(ledger.recorder)
    assert dialect is not None
    stored = [uuid.uuid4() for _ in range(ROWS)]
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        with conn.cursor().copy(
            f"COPY {dialect.table} (originator_id, originator_version, topic, state) FROM STDIN"
        ) as copy:
            for i, originator_id in enumerate(stored):
                copy.write_row((originator_id, 1 + i % 3, "test:Made", b"{}"))
        assert conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (dialect.table,)
        ).fetchone() == (-1.0,)  # never analysed, as a store growing under load
        asked = [*stored[:100], *(uuid.uuid4() for _ in range(20))]
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN " + postgres_versions_statement(dialect.table), [asked]
            ).fetchall()
        )
    assert "Seq Scan" not in plan, plan
    assert "Index" in plan, plan

    found = versions(ledger.recorder, asked)
    assert found == {originator_id: 1 + i % 3 for i, originator_id in enumerate(stored[:100])}
    ledger.close()
