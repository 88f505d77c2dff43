"""The baselines: a FastAPI endpoint that INSERTs one row per donation, and one that does nothing.

Same framework, same server, same pool size as fund-ledger: the only difference is the work.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from fastapi import FastAPI
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

DDL = """
CREATE TABLE IF NOT EXISTS crud_donations (
    id BIGSERIAL PRIMARY KEY,
    donor_id TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    received_on DATE NOT NULL,
    channel TEXT NOT NULL,
    receipt_no TEXT UNIQUE,
    project_id TEXT,
    note TEXT
)
"""


class DonationIn(BaseModel):
    donor_id: str
    amount: str
    received_on: date
    channel: str
    receipt_no: str | None = None
    project_id: str | None = None
    note: str | None = None


def _fen(amount: str) -> int:
    whole, _, frac = amount.partition(".")
    return int(whole) * 100 + int((frac or "0").ljust(2, "0"))


def crud_app() -> FastAPI:
    pool = ConnectionPool(
        os.environ["BENCH_DATABASE_URL"],
        min_size=int(os.environ.get("BENCH_POOL_SIZE", "5")),
        max_size=int(os.environ.get("BENCH_POOL_SIZE", "5")),
        open=False,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool.open()
        with pool.connection() as conn:
            conn.execute(DDL)
        yield
        pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/donations", status_code=201)
    def create(body: DonationIn) -> dict[str, object]:
        with pool.connection() as conn:  # commits on leaving the block
            row = conn.execute(
                "INSERT INTO crud_donations (donor_id, amount_fen, received_on, channel,"
                " receipt_no, project_id, note) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    body.donor_id,
                    _fen(body.amount),
                    body.received_on,
                    body.channel,
                    body.receipt_no,
                    body.project_id,
                    body.note,
                ),
            ).fetchone()
        assert row is not None
        return {"id": str(row[0])}

    return app


def noop_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/donations", status_code=201)
    def create(body: DonationIn) -> dict[str, object]:
        return {"id": body.donor_id}

    return app
