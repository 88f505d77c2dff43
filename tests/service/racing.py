"""Races on PostgreSQL: several ledger instances (as several server processes) act at once.

Each instance has its own connection pool, as a separate server process would. Racers start
together at a barrier; after each race the books are checked whole: nothing committed beyond
the money there is, no grant spent beyond its amount or approved twice, every acknowledged
command's events stored, every event's postings balanced. ``store/test_stores.py`` has the plain
case (one project's grants, one member, quorum one); test_races.py and test_races_mixed.py add
the other ways money is taken.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from helpers import World, aggregate

from ledger.app import FundLedger, Receipt
from ledger.domain.accounts import CASH, event_name, is_cash_equivalent, postings_for
from ledger.domain.books import fold
from ledger.domain.errors import LedgerError
from ledger.service.kernel import RETRIES_MAX

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
    # Money sits in the bank, the cash box and on the platforms (the money's path).
    money_fen = sum(f for a, f in books.balances_fen.items() if is_cash_equivalent(a))
    assert money_fen == position.received_total_fen - position.spent_total_fen
    assert books.balances_fen.get(CASH, 0) >= 0
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
