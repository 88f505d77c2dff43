"""Races on PostgreSQL: several ledger instances (as several server processes) act at once.

Each instance has its own connection pool, as a separate server process would. Racers start
together at a barrier; after each race the books are checked whole: nothing committed beyond
the money there is, no grant spent beyond its amount or approved twice, every acknowledged
command's events stored, every event's postings balanced. ``test_stores.py`` has the plain case
(one project's grants, one member, quorum one); these add the other ways money is taken.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any
from uuid import UUID

import pytest
from helpers import DAY, World, aggregate, build_world, fen

from ledger.app import FundLedger, Receipt
from ledger.domain import month_of
from ledger.domain.accounts import BANK, event_name, postings_for
from ledger.domain.books import fold
from ledger.domain.errors import AlreadyApproved, GrantExceeded, LedgerError, WrongState
from ledger.service.kernel import RETRIES_MAX

pytestmark = pytest.mark.postgres

INSTANCES = 4
WAIT_S = 60
# A command retries until it has decided on fresh state, RETRIES_MAX times; each failed try
# means another racer committed, so up to RETRIES_MAX racers always get an answer rather than
# Contention (503, Retry-After). More would test the client's retry, not the ledger's rules.
RACERS_MAX = RETRIES_MAX


@dataclass
class Outcome:
    """What one racer got back: a receipt, or the refusal."""

    receipt: Receipt | None
    error: LedgerError | None

    @property
    def kind(self) -> str:
        return "accepted" if self.error is None else type(self.error).__name__


@dataclass
class Racing:
    world: World  # built on the first instance
    instances: list[FundLedger]

    def on(self, index: int) -> FundLedger:
        return self.instances[index % len(self.instances)]


@pytest.fixture
def racing(postgres_url: str) -> Iterator[Racing]:
    instances = [FundLedger(postgres_url) for _ in range(INSTANCES)]
    try:
        yield Racing(build_world(instances[0], quorum=2), instances)
    finally:
        for ledger in instances:
            ledger.close()


def race(calls: list[Callable[[], Receipt]]) -> list[Outcome]:
    """Run every call in its own thread, all released at once; their outcomes, in order."""
    assert 2 <= len(calls) <= RACERS_MAX
    barrier = threading.Barrier(len(calls))
    outcomes: list[Outcome | None] = [None] * len(calls)
    crashes: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait(timeout=WAIT_S)
        try:
            outcomes[index] = Outcome(calls[index](), None)
        except LedgerError as error:
            outcomes[index] = Outcome(None, error)
        except BaseException as crash:  # shown below, with the racer's traceback
            crashes.append(crash)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_S)
    assert not any(thread.is_alive() for thread in threads), "a racer never finished"
    if crashes:
        raise crashes[0]
    done = [outcome for outcome in outcomes if outcome is not None]
    assert len(done) == len(calls)
    return done


# -- the books, checked whole -------------------------------------------------------------------


def check_books(app: FundLedger, acknowledged: list[Receipt]) -> list[Any]:
    """Every invariant the races could break, checked from the stored events; the events."""
    stored = list(app.iter_events())
    events = [domain_event for _, domain_event in stored]
    positions = {position for position, _ in stored}
    originators_at: defaultdict[UUID, list[int]] = defaultdict(list)
    for position, domain_event in stored:
        originators_at[domain_event.originator_id].append(position)

    # Every acknowledged command's events are in the log, at or before the position it was told.
    for receipt in acknowledged:
        assert receipt.position in positions, f"acknowledged {receipt} is not in the log"
        assert any(p <= receipt.position for p in originators_at[UUID(receipt.id)])

    # The books balance, and no money goes below nothing.
    for domain_event in events:
        assert sum(p.amount_fen for p in postings_for(domain_event)) == 0
    books = fold(events)
    position = books.position()
    assert sum(books.balances_fen.values()) == 0
    assert books.balances_fen[BANK] == position.received_total_fen - position.spent_total_fen
    assert books.balances_fen[BANK] >= 0
    assert position.committed_unspent_fen >= 0
    assert position.available_for_grants_fen >= 0, position

    # Each grant approved once, committed once, and never spent beyond its amount.
    approved = Counter(e.originator_id for e in events if event_name(e) == "Grant.Approved")
    committed = Counter(UUID(e.grant_id) for e in events if event_name(e) == "Fund.Committed")
    assert all(n == 1 for n in approved.values()), approved
    assert committed == approved
    spent_fen: defaultdict[str, int] = defaultdict(int)
    grant_of: dict[UUID, str] = {}
    for domain_event in events:
        if event_name(domain_event) == "Expense.Paid":
            grant_of[domain_event.originator_id] = domain_event.grant_id
            spent_fen[domain_event.grant_id] += domain_event.amount_fen
        elif event_name(domain_event) == "Expense.Reversed":
            spent_fen[grant_of[domain_event.originator_id]] -= domain_event.amount_fen
    grant_ids = {e.originator_id for e in events if event_name(e) == "Grant.Proposed"}
    for grant_id in grant_ids:
        grant = aggregate(app, str(grant_id))
        assert 0 <= spent_fen[str(grant_id)] == grant.spent_fen <= grant.amount_fen
        assert 0 <= grant.spent_restricted_fen <= grant.restricted_fen
        assert 0 <= grant.spent_unrestricted_fen <= grant.unrestricted_fen

    # The fund never commits nor gives back money it does not have, of either kind.
    fund, received = app.fund(), app.tally.current()
    project_ids = {e.originator_id for e in events if event_name(e) == "Project.Opened"}
    for project_id in project_ids:
        restricted_fen, unrestricted_fen = fund.available_fen(str(project_id), received)
        assert restricted_fen >= 0, f"project {project_id} overcommitted: {restricted_fen}"
        assert unrestricted_fen >= 0, f"unrestricted money overcommitted: {unrestricted_fen}"
    check_commitments(app, events)
    return events


def check_commitments(app: FundLedger, events: list[Any]) -> None:
    """The Fund's running commitments equal what its own events add up to (no lost update)."""
    restricted_fen: defaultdict[str, int] = defaultdict(int)
    unrestricted_fen = 0
    for domain_event in events:
        name = event_name(domain_event)
        if name == "Fund.Committed":
            restricted_fen[domain_event.project_id] += domain_event.restricted_fen
            unrestricted_fen += domain_event.unrestricted_fen
        elif name == "Fund.Released":
            restricted_fen[domain_event.project_id] -= domain_event.restricted_fen
            unrestricted_fen -= domain_event.unrestricted_fen
    fund = app.fund()
    assert fund.committed_unrestricted_fen == unrestricted_fen
    for project_id, amount_fen in restricted_fen.items():
        assert fund.committed_restricted_fen.get(project_id, 0) == amount_fen
    # ...and each grant holds its whole amount while open, and what it spent once closed.
    held_fen = 0
    for domain_event in events:
        if event_name(domain_event) == "Grant.Proposed":
            grant = aggregate(app, str(domain_event.originator_id))
            if grant.status == "approved":
                held_fen += grant.amount_fen
            elif grant.status == "closed":
                held_fen += grant.spent_fen
    assert fund.committed_unrestricted_fen + sum(fund.committed_restricted_fen.values()) == (
        held_fen
    )


def accepted(outcomes: list[Outcome]) -> list[Receipt]:
    return [o.receipt for o in outcomes if o.receipt is not None]


def proposed_and_half_approved(w: World, project: str, amount: str, count: int) -> list[str]:
    """Grants proposed by member 0 with member 1's approval: the next approval commits."""
    grant_ids = [w.propose(project, amount) for _ in range(count)]
    for grant_id in grant_ids:
        w.approve(grant_id, by=[1])
    return grant_ids


# -- the races ----------------------------------------------------------------------------------


def test_final_approvals_racing_for_shared_money_commit_no_more_than_there_is(
    racing: Racing,
) -> None:
    """Eight grants on two projects, 3,200.00 wanted of 1,800.00: the unrestricted money is
    shared, so every approval contends with every other, whichever project it is for."""
    w = racing.world
    w.donate("1000.00")
    w.donate("500.00", "noodles")
    w.donate("300.00", "health")
    grants = {
        grant_id: project
        for project in ("noodles", "health")
        for grant_id in proposed_and_half_approved(w, project, "400.00", 4)
    }
    calls = [
        # Members 2, 3 and 4 give the approvals that reach the quorum, on four instances.
        partial(racing.on(i).approve_grant, w.committee[2 + i % 3], g, on=DAY)
        for i, g in enumerate(grants)
    ]
    outcomes = race(calls)

    assert {o.kind for o in outcomes} <= {"accepted", "InsufficientFunds"}
    check_books(w.app, accepted(outcomes))
    approved = [g for g, o in zip(grants, outcomes, strict=True) if o.error is None]
    assert len(approved) * fen("400.00") <= fen("1800.00")
    # No refusal was spurious: a refused grant does not fit in what is left now.
    for (grant_id, project), outcome in zip(grants.items(), outcomes, strict=True):
        if outcome.error is not None:
            assert w.available(project) < fen("400.00"), (grant_id, w.available(project))
    assert len(approved) == 4  # 1,800.00 holds four grants of 400.00 whatever the order
    # Restricted money was used first, and no more of it than each project was given.
    fund = w.app.fund()
    assert fund.committed_restricted_fen.get(w.projects["noodles"], 0) <= fen("500.00")
    assert fund.committed_restricted_fen.get(w.projects["health"], 0) <= fen("300.00")


def test_expenses_racing_on_one_grant_never_spend_more_than_it_holds(racing: Racing) -> None:
    """Eight payments of 300.00 from a grant of 1,000.00 (400.00 of it restricted money)."""
    w = racing.world
    w.donate("400.00", "noodles")
    w.donate("5000.00")
    grant_id = w.grant("noodles", "1000.00")
    calls = [
        partial(
            racing.on(i).record_expense,
            *(w.treasurer, grant_id, fen("300.00"), DAY, f"payee {i}", "programme", "lunch"),
        )
        for i in range(8)
    ]
    outcomes = race(calls)

    assert sorted(o.kind for o in outcomes) == ["GrantExceeded"] * 5 + ["accepted"] * 3
    events = check_books(w.app, accepted(outcomes))
    grant = aggregate(w.app, grant_id)
    assert (grant.spent_restricted_fen, grant.spent_unrestricted_fen) == (
        fen("400.00"),
        fen("500.00"),
    )
    # Each payment's split was decided on the grant as it stood: restricted money used once.
    paid = [e for e in events if event_name(e) == "Expense.Paid"]
    assert sum(e.restricted_fen for e in paid) == fen("400.00")
    assert sum(e.unrestricted_fen for e in paid) == fen("500.00")
    for outcome in outcomes:
        if isinstance(outcome.error, GrantExceeded):
            assert outcome.error.facts["remaining"] in {"700.00", "400.00", "100.00"}


def test_donation_reversals_racing_approvals_never_commit_money_taken_back(
    racing: Racing,
) -> None:
    """Gifts taken back while grants that need them are approved, for both kinds of money."""
    w = racing.world
    unrestricted = [w.donate("250.00") for _ in range(3)]
    restricted = [w.donate("300.00", "noodles") for _ in range(2)]
    health_grants = proposed_and_half_approved(w, "health", "300.00", 2)  # unrestricted only
    (noodles_grant,) = proposed_and_half_approved(w, "noodles", "500.00", 1)
    # (which money it needs, how much, the command), in a shuffled order
    racers: list[tuple[str, int, Callable[[], Receipt]]] = []
    for i, donation_id in enumerate(unrestricted + restricted):
        needs = "unrestricted" if donation_id in unrestricted else "noodles restricted"
        command = racing.on(i).reverse_donation
        racers.append(
            (
                needs,
                fen("250.00") if needs == "unrestricted" else fen("300.00"),
                partial(command, w.committee[3], donation_id, "bounced", on=DAY),
            )
        )
    for i, (needs, grant_id, amount) in enumerate(
        [("health", g, "300.00") for g in health_grants] + [("noodles", noodles_grant, "500.00")]
    ):
        command = racing.on(i + 1).approve_grant
        racers.append((needs, fen(amount), partial(command, w.committee[2], grant_id, on=DAY)))
    random.Random(8).shuffle(racers)
    outcomes = race([call for _, _, call in racers])

    assert {o.kind for o in outcomes} <= {"accepted", "InsufficientFunds", "ReversalUncovered"}
    events = check_books(w.app, accepted(outcomes))
    reversed_ = [e for e in events if event_name(e) == "Fund.DonationReversed"]
    committed = [e for e in events if event_name(e) == "Fund.Committed"]
    assert sum(e.amount_fen for e in reversed_) + sum(
        e.restricted_fen + e.unrestricted_fen for e in committed
    ) <= fen("1350.00")
    assert sum(e.amount_fen for e in reversed_ if e.project_id is not None) + sum(
        e.restricted_fen for e in committed
    ) <= fen("600.00")
    # No refusal was spurious: whatever was refused does not fit in what is free now.
    fund, received = w.app.fund(), w.app.tally.current()
    noodles_fen, unrestricted_fen = fund.available_fen(w.projects["noodles"], received)
    health_fen, _ = fund.available_fen(w.projects["health"], received)
    free_fen = {
        "unrestricted": unrestricted_fen,
        "noodles restricted": noodles_fen,
        "noodles": noodles_fen + unrestricted_fen,
        "health": health_fen + unrestricted_fen,
    }
    for (needs, amount_fen, _), outcome in zip(racers, outcomes, strict=True):
        if outcome.error is not None:
            assert amount_fen > free_fen[needs], (needs, amount_fen, free_fen)


@pytest.mark.parametrize("rounds", [3])
def test_members_approving_one_grant_at_once_reach_the_quorum_once(
    racing: Racing, rounds: int
) -> None:
    """Four members and a duplicate click race to approve; the quorum (two) commits once."""
    w = racing.world
    w.donate("10000.00")
    for _ in range(rounds):
        grant_id = w.propose("barber", "1000.00")
        members = [1, 2, 3, 4, 1]  # member 1 clicks twice, on two servers
        calls = [
            partial(racing.on(i).approve_grant, w.committee[m], grant_id, on=DAY)
            for i, m in enumerate(members)
        ]
        outcomes = race(calls)

        events = check_books(w.app, accepted(outcomes))
        mine = [e for e in events if getattr(e, "originator_id", None) == UUID(grant_id)]
        given = [e.member_id for e in mine if event_name(e) == "Grant.ApprovalGiven"]
        assert len(given) == len(set(given)) == 2, given
        assert [event_name(e) for e in mine].count("Grant.Approved") == 1
        # Exactly the acknowledged approvals are stored: none lost, none extra.
        acknowledged = [
            w.committee[m].id for m, o in zip(members, outcomes, strict=True) if o.error is None
        ]
        assert sorted(acknowledged) == sorted(given)
        refusals = {type(o.error) for o in outcomes if o.error is not None}
        assert refusals <= {AlreadyApproved, WrongState}
        assert aggregate(w.app, grant_id).status == "approved"


def test_two_members_approving_at_once_both_count(racing: Racing) -> None:
    """With a quorum of two, two approvals at once: the one that retries completes the grant."""
    w = racing.world
    w.donate("10000.00")
    for _ in range(3):
        grant_id = w.propose("noodles", "100.00")
        outcomes = race(
            [
                partial(racing.on(0).approve_grant, w.committee[1], grant_id, on=DAY),
                partial(racing.on(1).approve_grant, w.committee[2], grant_id, on=DAY),
            ]
        )
        assert [o.kind for o in outcomes] == ["accepted", "accepted"]
        check_books(w.app, accepted(outcomes))
        assert aggregate(w.app, grant_id).status == "approved"


def test_updates_to_the_fund_and_a_grant_at_once_lose_nothing(racing: Racing) -> None:
    """Commitments from different grants, payments, a close and a reversal all at once: each
    acknowledged change is in the aggregate it changed, none overwritten by another."""
    w = racing.world
    w.donate("100000.00")
    w.donate("2000.00", "noodles")
    fitting = proposed_and_half_approved(w, "health", "1000.00", 3)
    open_grant = w.grant("noodles", "3000.00")
    closing_grant = w.grant("barber", "3000.00")
    (paid,) = [w.spend(closing_grant, "100.00")]
    calls: list[Callable[[], Receipt]] = [
        partial(racing.on(i).approve_grant, w.committee[2 + i % 3], g, on=DAY)
        for i, g in enumerate(fitting)
    ]
    calls += [
        partial(
            racing.on(i).record_expense,
            *(w.treasurer, open_grant, fen("250.00"), DAY, f"payee {i}", "programme", "lunch"),
        )
        for i in range(2)
    ]
    calls.append(
        partial(
            racing.on(1).record_expense,
            *(w.treasurer, closing_grant, fen("200.00"), DAY, "payee", "programme", "lunch"),
        )
    )
    calls.append(partial(racing.on(2).close_grant, w.committee[4], closing_grant, on=DAY))
    calls.append(partial(racing.on(3).reverse_expense, w.committee[3], paid, "wrong", on=DAY))
    outcomes = race(calls)

    kinds = [o.kind for o in outcomes]
    assert kinds[:5] == ["accepted"] * 5, kinds  # approvals that fit, payments that fit
    assert kinds[5] in {"accepted", "WrongState"}, kinds  # paid before the close, or refused
    assert kinds[6:] == ["accepted"] * 2, kinds  # the close; the reversal, before or after it
    check_books(w.app, accepted(outcomes))
    assert aggregate(w.app, open_grant).spent_fen == fen("500.00")
    assert all(aggregate(w.app, g).status == "approved" for g in fitting)
    closed = aggregate(w.app, closing_grant)
    assert closed.status == "closed"
    assert closed.spent_fen == (fen("200.00") if kinds[5] == "accepted" else 0)


def test_one_idempotency_key_sent_to_two_servers_at_once_is_applied_once(racing: Racing) -> None:
    w = racing.world
    w.donate("10000.00")
    grant_id = w.grant("noodles", "1000.00")
    for round_no in range(3):
        key = f"pay-{round_no}"
        outcomes = race(
            [
                partial(
                    racing.on(i).record_expense,
                    *(w.treasurer, grant_id, fen("100.00"), DAY, "南湖大酒店", "programme", "x"),
                    idempotency_key=key,
                )
                for i in range(4)
            ]
        )
        assert [o.kind for o in outcomes] == ["accepted"] * 4
        assert len({o.receipt.id for o in outcomes if o.receipt}) == 1
        check_books(w.app, [o.receipt for o in outcomes if o.receipt and not o.receipt.replayed])
    assert aggregate(w.app, grant_id).spent_fen == fen("300.00")


def test_a_storm_of_every_command_keeps_the_books(racing: Racing) -> None:
    """Rounds of eight random commands at once over few grants and gifts."""
    w = racing.world
    rng = random.Random(2026)
    donations = [w.donate("500.00", rng.choice([None, "noodles", "health"])) for _ in range(8)]
    grants: list[str] = []
    expenses: list[str] = []
    acknowledged: list[Receipt] = []
    for round_no in range(6):
        grants += proposed_and_half_approved(w, rng.choice(["noodles", "health"]), "600.00", 2)
        calls: list[Callable[[], Receipt]] = []
        for i in range(RACERS_MAX):
            ledger, member = racing.on(i), w.committee[2 + i % 3]
            what = rng.choice(["approve", "spend", "spend", "reverse", "unspend", "close", "give"])
            grant_id = rng.choice(grants)
            if what == "approve":
                calls.append(partial(ledger.approve_grant, member, grant_id, on=DAY))
            elif what == "spend":
                amount_fen = rng.randint(1, 400) * 100
                calls.append(
                    partial(
                        ledger.record_expense,
                        *(w.treasurer, grant_id, amount_fen, DAY, "payee", "programme", "lunch"),
                    )
                )
            elif what == "reverse":
                donation_id = rng.choice(donations)
                calls.append(partial(ledger.reverse_donation, member, donation_id, "x", on=DAY))
            elif what == "unspend" and expenses:
                expense_id = rng.choice(expenses)
                calls.append(partial(ledger.reverse_expense, member, expense_id, "x", on=DAY))
            elif what == "close":
                calls.append(partial(ledger.close_grant, member, grant_id, on=DAY))
            else:
                project_id = w.projects[rng.choice(["noodles", "health"])]
                calls.append(
                    partial(
                        ledger.record_donation,
                        *(w.treasurer, w.donors["individual"], fen("200.00"), DAY, "cash"),
                        receipt_no=f"S{round_no}-{i}",
                        project_id=project_id,
                    )
                )
        outcomes = race(calls)
        for outcome in outcomes:
            assert outcome.kind != "Contention", outcome.error
        acknowledged += accepted(outcomes)
        events = check_books(w.app, acknowledged)
        expenses = [str(e.originator_id) for e in events if event_name(e) == "Expense.Paid"]
        donations = [str(e.originator_id) for e in events if event_name(e) == "Donation.Received"]


def test_a_month_closing_while_late_entries_arrive_stays_closed(racing: Racing) -> None:
    """The treasurer enters last month's vouchers while the committee closes that month: each
    entry lands before the close or is refused; none is recorded in the closed month after."""
    w = racing.world
    w.donate("100000.00", on=date(2025, 1, 1))
    grant_id = w.grant("noodles", "50000.00", on=date(2025, 1, 2))
    for month_no in range(1, 6):
        month, day = f"2025-{month_no:02d}", date(2025, month_no, 20)
        calls: list[Callable[[], Receipt]] = [
            partial(
                racing.on(i).record_expense,
                *(w.treasurer, grant_id, fen("1.00"), day, f"payee {i}", "programme", "x"),
            )
            for i in range(6)
        ]
        closing = racing.on(3).close_period
        calls.insert(3, partial(closing, w.committee[1], month, on=date(2025, month_no + 1, 1)))
        outcomes = race(calls)
        assert {o.kind for o in outcomes} <= {"accepted", "PeriodClosed"}
        events = check_books(w.app, accepted(outcomes))
        closed_through: str | None = None
        for domain_event in events:
            if event_name(domain_event) == "Fund.PeriodClosed":
                closed_through = domain_event.month
            elif closed_through is not None and hasattr(domain_event, "meta"):
                assert month_of(domain_event.meta.effective_on) > closed_through, domain_event
