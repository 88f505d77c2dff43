"""Incremental views equal a rebuild: for any accepted commands, when rebuilt in processes, and
when a view's tables change.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from databases import new_postgres_url
from helpers import snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app import OPERATOR, FundLedger
from ledger.demo import load_demo
from ledger.domain.accounts import postings_for
from ledger.domain.books import fold
from ledger.domain.errors import LedgerError
from projections.reader import Reader
from projections.runner import VIEWS, Views

# -- property: random command sequences ----------------------------------------------------------

COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "donate",
                "donate_restricted",
                "in_kind",
                "propose",
                "approve",
                "reject",
                "expense",
                "reverse_donation",
                "reverse_expense",
                "close_grant",
            ]
        ),
        st.integers(min_value=1, max_value=500_000),
        st.integers(min_value=0, max_value=10),
    ),
    min_size=1,
    max_size=25,
)


def _run(ledger: FundLedger, commands: list[tuple[str, int, int]], after_each: Any = None) -> None:
    ledger.establish_fund(OPERATOR, "property fund", quorum=2)
    members = []
    for name in ("m1", "m2", "m3"):
        ledger.add_user(OPERATOR, name, "committee")
        members.append(ledger.actor_named(name))
    ledger.add_user(OPERATOR, "t", "treasurer")
    treasurer = ledger.actor_named("t")
    projects = [ledger.open_project(treasurer, code, code).id for code in ("aa", "bb")]
    donor = ledger.register_donor(treasurer, "某人", "individual", "masked").id
    donations: list[str] = []
    grants: list[str] = []
    expenses: list[str] = []
    day = date(2026, 1, 1)
    for command, amount_fen, pick in commands:
        try:
            if command.startswith("donate") or command == "in_kind":
                project = projects[pick % 2] if command != "donate" else None
                channel = "in_kind" if command == "in_kind" else "bank_transfer"
                donations.append(
                    ledger.record_donation(
                        treasurer, donor, amount_fen, day, channel, project_id=project
                    ).id
                )
            elif command == "propose":
                grants.append(
                    ledger.propose_grant(
                        members[pick % 3], projects[pick % 2], amount_fen, "purpose", on=day
                    ).id
                )
            elif command == "approve" and grants:
                ledger.approve_grant(members[pick % 3], grants[pick % len(grants)], on=day)
            elif command == "reject" and grants:
                ledger.reject_grant(members[pick % 3], grants[pick % len(grants)], "no", on=day)
            elif command == "expense" and grants:
                expenses.append(
                    ledger.record_expense(
                        treasurer,
                        grants[pick % len(grants)],
                        amount_fen,
                        day,
                        "供应商",
                        ["programme", "management", "fundraising"][pick % 3],
                        "spend",
                    ).id
                )
            elif command == "reverse_donation" and donations:
                ledger.reverse_donation(
                    members[0], donations[pick % len(donations)], "wrong", on=day
                )
            elif command == "reverse_expense" and expenses:
                ledger.reverse_expense(members[0], expenses[pick % len(expenses)], "wrong", on=day)
            elif command == "close_grant" and grants:
                ledger.close_grant(members[0], grants[pick % len(grants)], on=day)
        except LedgerError:
            pass
        day += timedelta(days=pick)
        if after_each is not None:
            after_each()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commands=COMMANDS)
@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_incremental_views_equal_a_rebuild_for_any_accepted_commands(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    store: str,
    commands: list[tuple[str, int, int]],
) -> None:
    if store == "sqlite":
        url = f"sqlite:///{tmp_path / uuid.uuid4().hex}.sqlite3"
    else:  # a fresh schema for every example
        url = new_postgres_url(str(request.getfixturevalue("postgres_database")))
    ledger = FundLedger(url)
    views = Views(ledger)
    # Incrementally, in small batches after each command, as a running service would.
    _run(ledger, commands, after_each=lambda: views.catch_up(batch_size=3))
    assert all(status.lag == 0 for status in views.status())
    incremental = snapshot(views)
    reader = Reader(views)
    events = [e for _, e in ledger.iter_events()]
    assert reader.summary() == fold(events).position()
    for event in events:
        assert sum(p.amount_fen for p in postings_for(event)) == 0
    assert_day_sums_match_the_listings(views)
    views.rebuild()
    assert snapshot(views) == incremental
    views.close()
    ledger.close()


def assert_day_sums_match_the_listings(views: Views) -> None:
    """The day tables the groupings read hold the listings' sums, net of reversals."""
    view = views.view("registers")
    for days, listing, day, key, listed_key in (
        (
            "fl_donation_days",
            "fl_donations",
            "received_on",
            "project_code, donor_kind, in_kind",
            "COALESCE(project_code, ''), donor_kind, in_kind",
        ),
        ("fl_expense_days", "fl_expenses", "paid_on", "project_code, category", None),
    ):
        counted = days.removeprefix("fl_").removesuffix("_days") + "s"
        summed = {
            tuple(str(v) for v in list(row.values())[:-2]): (int(row["a"]), int(row["n"]))
            for row in view.query(
                f"SELECT {day}, {listed_key or key}, SUM(amount_fen) AS a, COUNT(*) AS n"
                f" FROM {{t}}{listing} WHERE reversed_position IS NULL"
                f" GROUP BY {day}, {listed_key or key}"
            )
        }
        kept = {
            tuple(str(v) for v in list(row.values())[:-2]): (int(row["a"]), int(row["n"]))
            for row in view.query(
                f"SELECT {day}, {key}, amount_fen AS a, {counted} AS n FROM {{t}}{days}"
            )
        }
        assert {k: v for k, v in kept.items() if v[1]} == summed
        assert all(v == (0, 0) for v in kept.values() if not v[1])


def test_views_are_grouped_for_processes_heaviest_alone() -> None:
    from projections.rebuilding import groups_for

    every = list(VIEWS)
    assert groups_for(every, 1) == [every]
    assert groups_for(every, 2) == [["log"], ["books", "registers", "monthly", "canteen"]]
    assert groups_for(["books", "log"], 4) == [["log"], ["books"]]
    assert groups_for(["books"], 2) == [["books"]]
    assert sorted(n for g in groups_for(every, 8) for n in g) == sorted(every)


@pytest.mark.postgres
def test_a_rebuild_in_processes_equals_one_in_this_process(postgres_url: str) -> None:
    from projections.rebuilding import rebuild_in_processes

    ledger = FundLedger(postgres_url)
    load_demo(ledger)
    views = Views(ledger)
    views.rebuild()
    before = snapshot(views)
    for spec in views.specs:
        views.view(spec.name).truncate()
    assert snapshot(views) != before
    applied: dict[str, int] = {}
    rebuild_in_processes(
        postgres_url,
        [["log"], ["books", "registers", "monthly", "canteen"]],
        lambda name, n: applied.__setitem__(name, applied.get(name, 0) + n),
    )
    assert snapshot(views) == before
    assert applied == dict.fromkeys(VIEWS, ledger.position())
    views.close()
    ledger.close()


@pytest.mark.postgres
def test_a_failed_worker_fails_the_rebuild(postgres_url: str) -> None:
    from projections.rebuilding import RebuildFailed, rebuild_in_processes

    nowhere = (
        postgres_url.split("?", maxsplit=1)[0].rsplit("/", 1)[0] + "/no_such_database?pool_size=1"
    )
    with pytest.raises(RebuildFailed, match="log: OperationalError"):
        rebuild_in_processes(nowhere, [["log"], ["books"]], lambda name, n: None)


def test_a_view_whose_tables_changed_is_made_anew_and_caught_up(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgrade that changes a view's tables (a new table, a new column) must not leave the
    old ones in place, silently incomplete: the view starts again from the first event."""
    from projections.registers.tables import RegistersTables

    ledger = FundLedger(store_url)
    load_demo(ledger)
    views = Views(ledger)
    views.catch_up()
    before = snapshot(views)
    assert views.position("registers") == ledger.position()
    # The same code again: nothing is made anew.
    again = Views(ledger)
    assert again.position("registers") == ledger.position()
    # Code whose registers view has one more table: the view is made anew, then caught up.
    extra = "CREATE TABLE IF NOT EXISTS {t}fl_extra (x TEXT PRIMARY KEY)"
    monkeypatch.setattr(RegistersTables, "ddl", (*RegistersTables.ddl, extra))
    upgraded = Views(ledger)
    assert upgraded.position("registers") == 0
    assert upgraded.position("books") == ledger.position()
    upgraded.catch_up()
    after = snapshot(upgraded)
    assert after.pop("{t}fl_extra") == []
    assert after == before
    ledger.close()
