"""The funds the service tests start from: one on the memory store for each test of the fund's
rules, one holding a person to forget, and one served by several ledger instances to race.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from forgetting import NAME, NOTE, OTHER_NAME, OTHER_PHONE, PAYEE, PHONE, Fund
from helpers import DAY, World, build_world, fen
from racing import INSTANCES, Racing

from ledger.app import FundLedger
from ledger.log.notes import Signer
from projections.log.queries import Log
from projections.reader import Reader
from projections.runner import Views


@pytest.fixture
def w() -> World:
    return build_world(FundLedger("memory://"))


@pytest.fixture
def fund(store_url: str) -> Iterator[Fund]:
    app = FundLedger(store_url)
    world = build_world(app)
    treasurer = world.treasurer
    donor_id = app.register_donor(treasurer, NAME, "individual", "masked", {"phone": PHONE}).id
    other_id = app.register_donor(
        treasurer, OTHER_NAME, "individual", "named", {"phone": OTHER_PHONE}
    ).id
    app.record_donation(treasurer, donor_id, fen("5000.00"), DAY, "bank_transfer", "F-1", note=NOTE)
    app.record_donation(treasurer, other_id, fen("800.00"), DAY, "cash", "F-2")
    world.donate("20000.00", "noodles")
    grant_id = world.grant("noodles", "3000.00")
    expense_id = app.record_expense(
        treasurer,
        grant_id,
        fen("300.00"),
        DAY,
        PAYEE,
        "programme",
        "home visits, transport",
        payee_kind="individual",
    ).id
    world.spend(grant_id, "500.00")
    views = Views(app)
    views.catch_up()
    signer = Signer.generate("test.example/forget")
    log = Log(views.view("log"), signer.name)
    yield Fund(world, views, log, Reader(views), signer, donor_id, other_id, expense_id)
    app.close()


@pytest.fixture
def racing(postgres_url: str) -> Iterator[Racing]:
    instances = [FundLedger(postgres_url) for _ in range(INSTANCES)]
    try:
        yield Racing(build_world(instances[0], quorum=2), instances)
    finally:
        for ledger in instances:
            ledger.close()
