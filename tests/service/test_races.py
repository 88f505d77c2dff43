"""Races on PostgreSQL for money and approvals: final approvals for shared money, expenses on one
grant, donation reversals against approvals, members approving one grant at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from uuid import UUID

import pytest
from helpers import DAY, aggregate, fen
from racing import Racing, accepted, check_books, proposed_and_half_approved, race

from ledger.app import Receipt
from ledger.domain.accounts import event_name
from ledger.domain.errors import AlreadyApproved, GrantExceeded, WrongState

pytestmark = pytest.mark.postgres


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
