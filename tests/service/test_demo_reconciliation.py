"""The Nanhu demo's bank statements, imported month by month, reconcile every month (March 2026
with a deposit in transit); one line one fen off and its month neither reconciles nor closes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from databases import new_postgres_url
from helpers import refused

from ledger.app import FundLedger
from ledger.demo import load_demo
from ledger.demo.cast import COMMITTEE, TREASURER
from ledger.demo.money import IN_TRANSIT_MONTH, demo_movements, demo_statements
from ledger.domain.reconciliation import NotReconciled
from ledger.formats.bank_statement import decode_statement, parse_bank_statement

TAMPERED_MONTH = "2026-06"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The demo year in a store of the test's own, to import statements into."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    else:
        url = new_postgres_url(str(request.getfixturevalue("postgres_database")))
    ledger = FundLedger(url)
    load_demo(ledger)
    ledger.close()
    return url


def import_all(app: FundLedger, statements: dict[str, str]) -> None:
    for text in statements.values():
        statement = parse_bank_statement(decode_statement(text.encode("gbk")))
        app.import_bank_statement(app.actor_named(TREASURER), "bank", statement)


def test_every_month_of_the_demo_reconciles_and_one_has_a_deposit_in_transit(
    demo_url: str,
) -> None:
    app = FundLedger(demo_url)
    statements = demo_statements(app)
    assert len(statements) == 12
    import_all(app, statements)
    for month in statements:
        table = app.bank_reconciliation("bank", month)
        assert table.reconciled, (month, table.reasons())
        assert table.book_adjusted_fen == table.bank_adjusted_fen
        in_transit = table.booked_in_not_banked + table.booked_out_not_banked
        assert len(in_transit) == (1 if month == IN_TRANSIT_MONTH else 0), month
    march = app.bank_reconciliation("bank", IN_TRANSIT_MONTH)
    [deposit] = march.booked_in_not_banked
    assert march.bank_balance_fen + deposit.change_fen == march.book_balance_fen
    # A month whose statement reconciles closes.
    app.close_period(app.actor_named(COMMITTEE[0]), "2026-02", on=date(2026, 3, 5))
    app.close()


def test_a_line_one_fen_off_and_its_month_refuses_to_reconcile_and_to_close(
    demo_url: str,
) -> None:
    app = FundLedger(demo_url)
    movements = demo_movements(app)
    first = movements[TAMPERED_MONTH][0]
    movements[TAMPERED_MONTH][0] = replace(first, change_fen=first.change_fen + 1)
    import_all(app, demo_statements(app, movements))
    assert app.bank_reconciliation("bank", "2026-05").reconciled
    table = app.bank_reconciliation("bank", TAMPERED_MONTH)
    assert not table.reconciled
    assert [li.change_fen for li in table.bank_in_not_booked + table.bank_out_not_booked] == [
        first.change_fen + 1
    ]
    member = app.actor_named(COMMITTEE[0])
    error = refused(
        app, NotReconciled, lambda: app.close_period(member, TAMPERED_MONTH, on=date(2026, 7, 5))
    )
    assert error.facts["month"] == TAMPERED_MONTH
    app.close_period(member, "2026-05", on=date(2026, 7, 5))  # the months before still close
    app.close()
