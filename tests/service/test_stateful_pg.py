"""The property state machine on PostgreSQL, over three ledger instances, with races.

``test_properties.FundMachine`` predicts every command's outcome from a small model of the rules
and checks the books after each step, in memory. Here the same machine runs on a fresh PostgreSQL
schema per example and adds what only a shared database has: commands served by different
instances (as different server processes), months closed, and steps in which several commands
race. A race's outcome is not one answer but any serial order of its commands; the log says
which order happened, so the model replays the accepted commands in that order and checks that
each refused one could not have fitted either.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import psycopg
import pytest
from databases import new_postgres_url
from fund_machine import FundMachine
from fund_model import CODES, MEMBERS, QUORUM, ExpenseModel, gifts_fen, picks, projects
from helpers import DAY, aggregate, build_world, stored_events
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule, run_state_machine_as_test

from ledger.app import FundLedger, Receipt
from ledger.domain import month_of
from ledger.domain.accounts import event_name
from ledger.domain.errors import (
    GrantExceeded,
    InsufficientFunds,
    LedgerError,
    PeriodClosed,
    ReversalUncovered,
    WrongState,
)

pytestmark = pytest.mark.postgres

INSTANCES = 3
RACERS_MAX = 4
WAIT_S = 60
# The machine's commands are dated in 2025-03; closing it ends most rules, so it comes up less.
MONTHS = ["2025-01", "2025-02"] * 3 + ["2025-03"]
CLOSED_ON = date(2025, 4, 1)

racer_picks = st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=RACERS_MAX)


def race(calls: list[Callable[[], Receipt]]) -> list[Receipt | LedgerError]:
    """Every call in its own thread, released together; each one's receipt or refusal."""
    barrier = threading.Barrier(len(calls))
    results: list[Receipt | LedgerError | None] = [None] * len(calls)
    crashes: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait(timeout=WAIT_S)
        try:
            results[index] = calls[index]()
        except LedgerError as error:
            results[index] = error
        except BaseException as crash:  # re-raised below
            crashes.append(crash)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_S)
    assert not any(thread.is_alive() for thread in threads), "a racer never finished"
    if crashes:
        raise crashes[0]
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


class PostgresFundMachine(FundMachine):
    """FundMachine on PostgreSQL: any instance may serve any step, and some steps race."""

    database_url = ""  # set by the test below

    def __init__(self) -> None:
        super().__init__()
        self.instances: list[FundLedger] = []
        self.schema = ""
        self.closed_through: str | None = None

    @initialize(unrestricted_fen=gifts_fen, restricted_fen=gifts_fen, code=projects)
    def establish(self, unrestricted_fen: int, restricted_fen: int, code: str) -> None:
        url = new_postgres_url(self.database_url)
        self.schema = url.split("schema=")[1].split("&")[0]
        self.instances = [FundLedger(url) for _ in range(INSTANCES)]
        self.w = build_world(self.instances[0], quorum=QUORUM)
        self.donate(unrestricted_fen, None, in_kind=False)
        self.donate(restricted_fen, code, in_kind=False)

    def teardown(self) -> None:
        for ledger in self.instances:
            ledger.close()
        if self.schema:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')

    # -- closed months ---------------------------------------------------------------------------

    @rule(month=st.sampled_from(MONTHS), member=st.integers(0, MEMBERS - 1))
    def close_month(self, month: str, member: int) -> None:
        closed = self.closed_through is not None and month <= self.closed_through
        w = self.w
        receipt = FundMachine.run(
            self,
            WrongState if closed else None,
            lambda: w.app.close_period(w.committee[member], month, on=CLOSED_ON),
        )
        if receipt is not None:
            self.closed_through = month

    @precondition(lambda self: not self.month_open())
    @rule(kind=st.sampled_from(["donate", "propose", "approve", "spend", "reverse"]), pick=picks)
    def refused_in_a_closed_month(self, kind: str, pick: int) -> None:
        """Once the machine's month is closed, whatever is dated in it is refused."""
        w = self.w
        grant_id = list(self.grants)[pick % len(self.grants)] if self.grants else None
        donation_id = list(self.donations)[pick % len(self.donations)]
        commands: dict[str, Callable[[], Any]] = {
            "donate": lambda: w.app.record_donation(
                w.treasurer, w.donors["individual"], 100, DAY, "cash"
            ),
            "propose": lambda: w.app.propose_grant(
                w.committee[0], w.projects[CODES[pick % len(CODES)]], 1, "lunch", on=DAY
            ),
            "reverse": lambda: w.app.reverse_donation(w.committee[0], donation_id, "x", on=DAY),
        }
        if grant_id is not None:
            commands["approve"] = lambda: w.app.approve_grant(w.committee[1], grant_id, on=DAY)
            commands["spend"] = lambda: w.app.record_expense(
                w.treasurer, grant_id, 1, DAY, "南湖大酒店", "programme", "lunch"
            )
        self.run(
            PeriodClosed,
            commands.get(kind, commands["donate"]),
            {"closed_through": str(self.closed_through), "effective_on": DAY.isoformat()},
        )

    # -- any instance may serve the next step --------------------------------------------------

    @rule(instance=st.integers(0, INSTANCES - 1))
    def switch_instance(self, instance: int) -> None:
        """The next steps go to another server process, with its own pool and tally."""
        self.w.app = self.instances[instance]

    # -- races ---------------------------------------------------------------------------------

    def month_open(self) -> bool:
        return self.closed_through is None or month_of(DAY) > self.closed_through

    @precondition(lambda self: self.month_open())
    @rule(
        grants=st.lists(st.tuples(projects, st.integers(20, 70)), min_size=1, max_size=3),
        reversals=st.lists(st.integers(0, 10_000), max_size=2),
    )
    def race_money_takers(self, grants: list[tuple[str, int]], reversals: list[int]) -> None:
        """Final approvals of new grants, each for a share of what its project has, race each
        other and the reversal of gifts: together they usually want more than there is."""
        w, takers = self.w, []
        for code, percent in grants:
            amount_fen = max(1, self.available_fen(code) * percent // 100)
            before = set(self.grants)
            self.propose(code, amount_fen, proposer=0)
            for grant_id in set(self.grants) - before:  # the approval that leaves one to go
                self.approve_grant(grant_id, 1)
                takers.append(("approve", grant_id))
        standing = [
            d for d, model in self.donations.items() if not model.reversed and not model.in_kind
        ]
        for pick in reversals:
            if standing and ("reverse", standing[pick % len(standing)]) not in takers:
                takers.append(("reverse", standing[pick % len(standing)]))
        if len(takers) < 2:
            return
        calls: list[Callable[[], Receipt]] = []
        for i, (what, key) in enumerate(takers):
            ledger, member = self.instances[i % INSTANCES], w.committee[2 + i % 2]
            if what == "approve":
                calls.append(
                    lambda ledger=ledger, m=member, g=key: ledger.approve_grant(m, g, on=DAY)
                )
            else:
                calls.append(
                    lambda ledger=ledger, m=member, d=key: ledger.reverse_donation(
                        m, d, "x", on=DAY
                    )
                )
        results = race(calls)
        # The model replays the accepted ones in the order the log recorded them: each must
        # have fitted at its turn.
        done = sorted(
            (r.position, what, key)
            for (what, key), r in zip(takers, results, strict=True)
            if isinstance(r, Receipt)
        )
        for _, what, key in done:
            if what == "approve":
                grant = self.grants[key]
                assert grant.amount_fen <= self.available_fen(grant.code), grant
                self.approve_model(key, 2, reaches=True)
            else:
                assert self.donation_fits(key), self.donations[key]
                self.reverse_model(key)
        # Each refused one was refused when no less was free than now, so it must not fit now.
        for (what, key), result in zip(takers, results, strict=True):
            if not isinstance(result, LedgerError):
                continue
            if what == "approve":
                assert isinstance(result, InsufficientFunds), result
                grant = self.grants[key]
                assert grant.amount_fen > self.available_fen(grant.code)
            else:
                assert isinstance(result, ReversalUncovered), result
                assert not self.donation_fits(key)

    def donation_fits(self, donation_id: str) -> bool:
        donation = self.donations[donation_id]
        free_fen = (
            self.free_unrestricted_fen()
            if donation.code is None
            else self.free_restricted_fen(donation.code)
        )
        return donation.amount_fen <= free_fen

    def reverse_model(self, donation_id: str) -> None:
        donation = self.donations[donation_id]
        donation.reversed = True
        if donation.code is None:
            self.received_unrestricted_fen -= donation.amount_fen
        else:
            self.received_restricted_fen[donation.code] -= donation.amount_fen

    def approve_model(self, grant_id: str, member: int, reaches: bool) -> None:
        grant = self.grants[grant_id]
        grant.approvers.add(member)
        if reaches:
            grant.restricted_fen = min(
                grant.amount_fen, max(self.free_restricted_fen(grant.code), 0)
            )
            grant.unrestricted_fen = grant.amount_fen - grant.restricted_fen
            grant.status = "approved"
            self.committed_restricted_fen[grant.code] += grant.restricted_fen
            self.committed_unrestricted_fen += grant.unrestricted_fen

    @precondition(
        lambda self: self.month_open() and any(g.status == "approved" for g in self.grants.values())
    )
    @rule(pick=st.integers(0, 10_000), percents=racer_picks)
    def race_expenses(self, pick: int, percents: list[int]) -> None:
        """Payments from one grant at once, together often more than it holds."""
        approved = [g for g, model in self.grants.items() if model.status == "approved"]
        grant_id = approved[pick % len(approved)]
        grant = self.grants[grant_id]
        amounts_fen = [max(1, grant.remaining_fen * (p % 61 + 20) // 100) for p in percents]
        w = self.w
        results = race(
            [
                (
                    lambda i=i, a=a: self.instances[i % INSTANCES].record_expense(
                        w.treasurer, grant_id, a, DAY, "南湖大酒店", "programme", "lunch"
                    )
                )
                for i, a in enumerate(amounts_fen)
            ]
        )
        done = sorted(
            (r.position, r.id, a)
            for a, r in zip(amounts_fen, results, strict=True)
            if isinstance(r, Receipt)
        )
        for _, expense_id, amount_fen in done:
            assert amount_fen <= grant.remaining_fen
            restricted_fen = min(amount_fen, grant.restricted_fen - grant.spent_restricted_fen)
            grant.spent_restricted_fen += restricted_fen
            grant.spent_unrestricted_fen += amount_fen - restricted_fen
            self.expenses[expense_id] = ExpenseModel(
                grant_id, amount_fen, restricted_fen, amount_fen - restricted_fen
            )
        for amount_fen, result in zip(amounts_fen, results, strict=True):
            if isinstance(result, LedgerError):
                assert isinstance(result, GrantExceeded), result
                assert amount_fen > grant.remaining_fen

    # -- one more invariant --------------------------------------------------------------------

    @invariant()  # replaces the inherited one by name, so it calls it
    def invariants_hold(self) -> None:
        super().invariants_hold()
        if not hasattr(self, "w"):
            return
        events = stored_events(self.w.app)
        # A closed month stays closed: nothing dated in it is recorded after it closed.
        closed_through: str | None = None
        for domain_event in events:
            if event_name(domain_event) == "Fund.PeriodClosed":
                closed_through = domain_event.month
                continue
            meta = getattr(domain_event, "meta", None)
            if closed_through is not None and meta is not None:
                assert month_of(meta.effective_on) > closed_through, domain_event
        # Every grant the model knows is in the store with the model's status.
        for grant_id, model in self.grants.items():
            assert aggregate(self.w.app, grant_id).status == model.status


# The in-memory machine's commands are all dated in the machine's month: once that month is
# closed they are refused, which ``refused_in_a_closed_month`` checks instead.
for _name in (
    "donate",
    "propose",
    "propose_and_approve",
    "approve",
    "reject",
    "spend",
    "close_grant",
    "reverse_donation",
    "reverse_expense",
):
    setattr(
        PostgresFundMachine,
        _name,
        precondition(lambda self: self.month_open())(getattr(FundMachine, _name)),
    )


@pytest.mark.postgres
def test_the_model_and_the_ledger_agree_on_postgres_with_races(postgres_database: str) -> None:
    PostgresFundMachine.database_url = postgres_database
    run_state_machine_as_test(
        PostgresFundMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=20,
            deadline=None,
            # Shrinking replays examples on a new schema each time: minutes, not seconds.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
