"""The fund's rules on a grant's life: the quorum, expenses within it, closing it."""

from __future__ import annotations

import pytest
from helpers import DAY, World, aggregate, build_world, events_named, fen, refused
from refusals import insufficient, wrong_state

from ledger.app import FundLedger
from ledger.domain.errors import (
    AlreadyApproved,
    GrantExceeded,
    InsufficientFunds,
    SelfApproval,
    WrongState,
)

# == Quorum ====================================================================================


def test_given_a_proposal_when_fewer_than_quorum_others_approve_then_nothing_is_committed(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.propose("noodles", "500.00")

    w.approve(grant_id, by=(1, 2))

    grant = aggregate(w.app, grant_id)
    assert grant.status == "proposed"
    assert events_named(w.app, "Grant.Approved") == []
    assert w.available("noodles") == fen("1000.00")
    error = refused(w.app, WrongState, lambda: w.spend(grant_id, "1.00"))
    assert error.facts == wrong_state("grant", grant_id, "proposed", "approved")

    w.approve(grant_id, by=(3,))

    assert aggregate(w.app, grant_id).status == "approved"
    assert w.available("noodles") == fen("500.00")


@pytest.mark.parametrize("quorum", [1, 2, 4])
def test_given_a_quorum_when_that_many_others_approve_then_approved_and_not_before(
    quorum: int,
) -> None:
    w = build_world(FundLedger("memory://"), quorum=quorum)
    w.donate("1000.00")
    grant_id = w.propose("noodles", "100.00")

    w.approve(grant_id, by=range(1, quorum))
    assert aggregate(w.app, grant_id).status == "proposed"
    w.approve(grant_id, by=(quorum,))

    assert aggregate(w.app, grant_id).status == "approved"
    (approved,) = events_named(w.app, "Grant.Approved")
    assert approved.meta.actor_id == w.committee[quorum].id


def test_given_two_others_approved_when_the_proposer_approves_then_self_approval(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.propose("noodles", "100.00", by=0)
    w.approve(grant_id, by=(1, 2))

    error = refused(
        w.app, SelfApproval, lambda: w.app.approve_grant(w.committee[0], grant_id, on=DAY)
    )

    assert error.facts == {"grant_id": grant_id, "member_id": w.committee[0].id}
    assert aggregate(w.app, grant_id).status == "proposed"


def test_given_a_members_approval_when_they_approve_again_then_already_approved(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.propose("noodles", "100.00")
    w.approve(grant_id, by=(1, 2))

    error = refused(
        w.app, AlreadyApproved, lambda: w.app.approve_grant(w.committee[2], grant_id, on=DAY)
    )

    assert error.facts == {"grant_id": grant_id, "member_id": w.committee[2].id}
    grant = aggregate(w.app, grant_id)
    assert grant.status == "proposed"
    assert grant.approver_ids == [w.committee[1].id, w.committee[2].id]


def test_given_a_proposal_when_rejected_then_it_takes_no_approval_and_no_expense(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.propose("noodles", "100.00")
    w.approve(grant_id, by=(1,))

    w.app.reject_grant(w.committee[2], grant_id, "the hotel cooks for free", on=DAY)

    assert aggregate(w.app, grant_id).status == "rejected"
    (rejected,) = events_named(w.app, "Grant.Rejected")
    assert rejected.reason == "the hotel cooks for free"
    approve = refused(
        w.app, WrongState, lambda: w.app.approve_grant(w.committee[3], grant_id, on=DAY)
    )
    assert approve.facts == wrong_state("grant", grant_id, "rejected", "proposed")
    spend = refused(w.app, WrongState, lambda: w.spend(grant_id, "1.00"))
    assert spend.facts == wrong_state("grant", grant_id, "rejected", "approved")
    again = refused(
        w.app, WrongState, lambda: w.app.reject_grant(w.committee[3], grant_id, "again", on=DAY)
    )
    assert again.facts == wrong_state("grant", grant_id, "rejected", "proposed")
    assert w.available("noodles") == fen("1000.00")


def test_given_an_approved_grant_when_approved_or_rejected_again_then_wrong_state(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.grant("noodles", "100.00")

    approve = refused(
        w.app, WrongState, lambda: w.app.approve_grant(w.committee[4], grant_id, on=DAY)
    )
    reject = refused(
        w.app, WrongState, lambda: w.app.reject_grant(w.committee[4], grant_id, "no", on=DAY)
    )

    assert approve.facts == wrong_state("grant", grant_id, "approved", "proposed")
    assert reject.facts == approve.facts
    assert w.app.fund().committed_unrestricted_fen == fen("100.00")  # committed once only


# == Expenses ==================================================================================


def test_given_a_grant_when_an_expense_exceeds_what_remains_then_grant_exceeded(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.grant("noodles", "500.00")
    w.spend(grant_id, "300.00")

    error = refused(w.app, GrantExceeded, lambda: w.spend(grant_id, "200.01"))

    assert error.facts == {"grant_id": grant_id, "remaining": "200.00", "requested": "200.01"}
    w.spend(grant_id, "200.00")
    last = refused(w.app, GrantExceeded, lambda: w.spend(grant_id, "0.01"))
    assert last.facts == {"grant_id": grant_id, "remaining": "0.00", "requested": "0.01"}
    assert aggregate(w.app, grant_id).spent_fen == fen("500.00")


@pytest.mark.parametrize("state", ["proposed", "rejected", "closed"])
def test_given_a_grant_not_open_when_an_expense_is_recorded_then_wrong_state(
    w: World, state: str
) -> None:
    w.donate("1000.00")
    if state == "proposed":
        grant_id = w.propose("noodles", "500.00")
    elif state == "rejected":
        grant_id = w.propose("noodles", "500.00")
        w.app.reject_grant(w.committee[1], grant_id, "not now", on=DAY)
    else:
        grant_id = w.grant("noodles", "500.00")
        w.close_grant(grant_id)

    error = refused(w.app, WrongState, lambda: w.spend(grant_id, "1.00"))

    assert error.facts == wrong_state("grant", grant_id, state, "approved")
    assert events_named(w.app, "Expense.Paid") == []


# == Closing a grant releases what is left =====================================================


def test_given_a_partly_spent_grant_when_closed_then_the_rest_goes_back_to_the_fund(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.grant("noodles", "500.00")
    w.spend(grant_id, "200.00")
    before = w.app.summary()
    assert (before.committed_unspent_fen, before.available_for_grants_fen) == (
        fen("300.00"),
        fen("500.00"),
    )

    w.close_grant(grant_id)

    (closed,) = events_named(w.app, "Grant.Closed")
    assert (closed.released_restricted_fen, closed.released_unrestricted_fen) == (0, fen("300.00"))
    after = w.app.summary()
    assert after.committed_unspent_fen == 0
    assert after.available_for_grants_fen == fen("800.00")
    assert after.balance_fen == fen("800.00")
    assert w.app.fund().committed_unrestricted_fen == fen("200.00")  # what was spent
    assert w.available("health") == fen("800.00")
    error = refused(w.app, InsufficientFunds, lambda: w.propose("health", "800.01"))
    assert error.facts == insufficient("health", "800.00", "800.01")


def test_given_a_restricted_grant_when_closed_then_the_rest_stays_restricted_to_its_project(
    w: World,
) -> None:
    w.donate("500.00", "noodles")
    grant_id = w.grant("noodles", "500.00")
    w.spend(grant_id, "100.00")

    w.close_grant(grant_id)

    (closed,) = events_named(w.app, "Grant.Closed")
    assert (closed.released_restricted_fen, closed.released_unrestricted_fen) == (fen("400.00"), 0)
    assert w.available("noodles") == fen("400.00")
    assert w.app.summary().restricted_balance_fen == fen("400.00")
    error = refused(w.app, InsufficientFunds, lambda: w.propose("health", "0.01"))
    assert error.facts == insufficient("health", "0.00", "0.01")


def test_given_a_closed_grant_when_closed_again_then_wrong_state(w: World) -> None:
    w.donate("1000.00")
    grant_id = w.grant("noodles", "500.00")
    w.close_grant(grant_id)

    error = refused(w.app, WrongState, lambda: w.close_grant(grant_id))

    assert error.facts == wrong_state("grant", grant_id, "closed", "approved")
    assert w.available("noodles") == fen("1000.00")  # released once, not twice


def test_given_a_proposed_grant_when_closed_then_wrong_state(w: World) -> None:
    w.donate("1000.00")
    grant_id = w.propose("noodles", "500.00")

    error = refused(w.app, WrongState, lambda: w.close_grant(grant_id))

    assert error.facts == wrong_state("grant", grant_id, "proposed", "approved")
