"""The fund's rules, given / when / then: each refusal, its facts, and that nothing was stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from uuid import uuid4

import pytest
from helpers import (
    DAY,
    World,
    aggregate,
    build_world,
    events_named,
    fen,
    refused,
    stored_events,
)

from ledger.app import OPERATOR, Actor, FundLedger, Receipt
from ledger.domain import Meta, Role, month_of, today
from ledger.domain.accounts import DESIGNATION_OFFSET, Posting, postings_for
from ledger.domain.errors import (
    AlreadyApproved,
    DatedTooEarly,
    Duplicate,
    GrantExceeded,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    NotFound,
    NotPermitted,
    PeriodClosed,
    ReversalUncovered,
    SelfApproval,
    WrongState,
)
from ledger.service.kernel import RIGHTS


@pytest.fixture
def w() -> World:
    return build_world(FundLedger("memory://"))


def insufficient(project: str, available: str, requested: str) -> dict[str, str]:
    return {"project": project, "available": available, "requested": requested}


def wrong_state(what: str, key: str, state: str, needed: str) -> dict[str, str]:
    return {"what": what, "key": key, "state": state, "needed": needed}


# == A grant never exceeds what is available ===================================================


def test_given_restricted_money_for_another_project_when_a_grant_asks_for_it_then_refused(
    w: World,
) -> None:
    w.donate("1000.00")
    w.donate("500.00", "noodles")
    w.donate("700.00", "health")  # restricted money only ever pays for its own project

    error = refused(w.app, InsufficientFunds, lambda: w.propose("noodles", "1500.01"))

    assert error.facts == insufficient("noodles", "1500.00", "1500.01")
    assert aggregate(w.app, w.propose("noodles", "1500.00")).status == "proposed"


def test_given_only_another_projects_money_when_proposing_then_nothing_is_available(
    w: World,
) -> None:
    w.donate("700.00", "health")

    error = refused(w.app, InsufficientFunds, lambda: w.propose("noodles", "0.01"))

    assert error.facts == insufficient("noodles", "0.00", "0.01")
    assert aggregate(w.app, w.propose("health", "700.00")).status == "proposed"


def test_given_commitments_when_proposing_then_only_uncommitted_money_counts(w: World) -> None:
    w.donate("1000.00")
    w.donate("500.00", "noodles")
    w.donate("700.00", "health")
    w.grant("noodles", "800.00")  # 500.00 restricted + 300.00 unrestricted

    error = refused(w.app, InsufficientFunds, lambda: w.propose("health", "1400.01"))

    assert error.facts == insufficient("health", "1400.00", "1400.01")
    noodles_error = refused(w.app, InsufficientFunds, lambda: w.propose("noodles", "700.01"))
    assert noodles_error.facts == insufficient("noodles", "700.00", "700.01")


def test_given_two_proposals_that_fit_alone_when_the_second_quorum_approves_then_refused(
    w: World,
) -> None:
    w.donate("1000.00")
    first = w.propose("noodles", "600.00")
    second = w.propose("health", "600.00")  # proposals reserve nothing: both are accepted
    w.approve(first)
    w.approve(second, by=(1, 2))

    error = refused(
        w.app, InsufficientFunds, lambda: w.app.approve_grant(w.committee[3], second, on=DAY)
    )

    assert error.facts == insufficient("health", "400.00", "600.00")
    grant = aggregate(w.app, second)
    assert grant.status == "proposed"
    assert grant.approver_ids == [w.committee[1].id, w.committee[2].id]
    approved_ids = [str(e.originator_id) for e in events_named(w.app, "Grant.Approved")]
    assert approved_ids == [first]


def test_given_money_restricted_elsewhere_arrives_when_the_quorum_approves_then_refused(
    w: World,
) -> None:
    w.donate("600.00")
    noodles = w.propose("noodles", "600.00")
    w.grant("barber", "600.00")  # takes all the unrestricted money
    w.donate("600.00", "health")
    w.approve(noodles, by=(1, 2))

    error = refused(
        w.app, InsufficientFunds, lambda: w.app.approve_grant(w.committee[3], noodles, on=DAY)
    )

    assert error.facts == insufficient("noodles", "0.00", "600.00")
    assert aggregate(w.app, noodles).status == "proposed"


def test_given_in_kind_and_reversed_gifts_when_proposing_then_they_are_not_available(
    w: World,
) -> None:
    w.donate("1000.00", "noodles", channel="in_kind")
    w.donate("1000.00", channel="in_kind")
    w.reverse_donation(w.donate("1000.00"))

    error = refused(w.app, InsufficientFunds, lambda: w.propose("noodles", "0.01"))

    assert error.facts == insufficient("noodles", "0.00", "0.01")


# == An approved grant funds itself from the project's restricted money first ==================


def test_given_restricted_and_unrestricted_money_when_approved_then_restricted_is_used_first(
    w: World,
) -> None:
    w.donate("1000.00")
    w.donate("300.00", "noodles")
    w.donate("800.00", "health")

    w.grant("noodles", "500.00")

    (approved,) = events_named(w.app, "Grant.Approved")
    assert (approved.restricted_fen, approved.unrestricted_fen) == (fen("300.00"), fen("200.00"))
    fund = w.app.fund()
    assert fund.committed_restricted_fen == {w.projects["noodles"]: fen("300.00")}
    assert fund.committed_unrestricted_fen == fen("200.00")
    # Only the unrestricted part is a committee designation; restricted money needs none.
    assert postings_for(approved) == [
        Posting(DESIGNATION_OFFSET, fen("200.00")),
        Posting("Equity:Designations:Noodles", -fen("200.00")),
    ]


def test_given_leftover_restriction_when_a_second_grant_is_approved_then_it_takes_the_rest(
    w: World,
) -> None:
    w.donate("1000.00")
    w.donate("300.00", "noodles")

    w.grant("noodles", "200.00")
    w.grant("noodles", "300.00")
    w.grant("barber", "100.00")  # no money restricted to barber: all unrestricted

    splits = [(e.restricted_fen, e.unrestricted_fen) for e in events_named(w.app, "Grant.Approved")]
    assert splits == [(fen("200.00"), 0), (fen("100.00"), fen("200.00")), (0, fen("100.00"))]


def test_given_a_mixed_grant_when_expenses_are_paid_then_they_release_restriction_first(
    w: World,
) -> None:
    w.donate("1000.00")
    w.donate("300.00", "noodles")
    w.donate("800.00", "health")
    grant = w.grant("noodles", "500.00")
    assert w.app.summary().restricted_balance_fen == fen("1100.00")

    w.spend(grant, "200.00")
    w.spend(grant, "200.00")

    first, second = events_named(w.app, "Expense.Paid")
    assert (first.restricted_fen, first.unrestricted_fen) == (fen("200.00"), 0)
    assert (second.restricted_fen, second.unrestricted_fen) == (fen("100.00"), fen("100.00"))
    assert postings_for(first) == [
        Posting("Expenses:Programme:Noodles", fen("200.00")),
        Posting("Assets:Bank", -fen("200.00")),
        Posting("Income:Restricted:ReleasedFromRestriction:Noodles", fen("200.00")),
        Posting("Income:Unrestricted:ReleasedFromRestriction:Noodles", -fen("200.00")),
    ]
    assert postings_for(second) == [
        Posting("Expenses:Programme:Noodles", fen("200.00")),
        Posting("Assets:Bank", -fen("200.00")),
        Posting("Income:Restricted:ReleasedFromRestriction:Noodles", fen("100.00")),
        Posting("Income:Unrestricted:ReleasedFromRestriction:Noodles", -fen("100.00")),
        Posting("Equity:Designations:Noodles", fen("100.00")),
        Posting(DESIGNATION_OFFSET, -fen("100.00")),
    ]
    assert w.app.summary().restricted_balance_fen == fen("800.00")  # only health's is left


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


# == Donation reversals ========================================================================


def test_given_an_unrestricted_gift_committed_when_reversed_then_reversal_uncovered(
    w: World,
) -> None:
    donation_id = w.donate("1000.00")
    w.donate("5000.00", "noodles")  # restricted elsewhere: cannot cover a health grant
    w.grant("health", "600.00")

    error = refused(w.app, ReversalUncovered, lambda: w.reverse_donation(donation_id))

    assert error.facts == {
        "donation_id": donation_id,
        "available": "400.00",
        "requested": "1000.00",
    }
    assert aggregate(w.app, donation_id).reversed is False
    assert w.app.summary().received_total_fen == fen("6000.00")


def test_given_a_restricted_gift_committed_when_reversed_then_reversal_uncovered(
    w: World,
) -> None:
    donation_id = w.donate("500.00", "noodles")
    w.grant("noodles", "300.00")

    error = refused(w.app, ReversalUncovered, lambda: w.reverse_donation(donation_id))

    assert error.facts == {
        "donation_id": donation_id,
        "available": "200.00",
        "requested": "500.00",
    }
    assert aggregate(w.app, donation_id).reversed is False


def test_given_an_uncommitted_gift_when_reversed_then_it_leaves_the_books_once(
    w: World,
) -> None:
    first = w.donate("1000.00")
    w.donate("700.00")
    w.grant("health", "600.00")

    w.reverse_donation(first)

    summary = w.app.summary()
    assert summary.received_total_fen == fen("700.00")
    assert summary.balance_fen == fen("700.00")
    assert summary.available_for_grants_fen == fen("100.00")
    (reversed_event,) = events_named(w.app, "Donation.Reversed")
    assert reversed_event.reason == "receipt issued in error"
    again = refused(w.app, WrongState, lambda: w.reverse_donation(first))
    assert again.facts == wrong_state("donation", first, "reversed", "standing")
    error = refused(w.app, InsufficientFunds, lambda: w.propose("noodles", "100.01"))
    assert error.facts == insufficient("noodles", "100.00", "100.01")


def test_given_restricted_gift_and_grants_elsewhere_when_reversed_then_allowed(
    w: World,
) -> None:
    w.donate("1000.00")
    donation_id = w.donate("500.00", "noodles")
    w.grant("health", "1000.00")

    w.reverse_donation(donation_id)

    assert aggregate(w.app, donation_id).reversed is True
    assert w.app.summary().restricted_balance_fen == 0
    assert w.available("noodles") == 0


def test_given_an_in_kind_gift_when_reversed_then_only_the_in_kind_total_drops(
    w: World,
) -> None:
    w.donate("1000.00")
    w.grant("noodles", "1000.00")  # every yuan of cash is committed
    gift = w.donate("300.00", "noodles", channel="in_kind")

    w.reverse_donation(gift)

    summary = w.app.summary()
    assert summary.in_kind_total_fen == 0
    assert summary.balance_fen == fen("1000.00")
    assert summary.committed_unspent_fen == fen("1000.00")


# == Expense reversals =========================================================================


def test_given_an_open_grant_when_an_expense_is_reversed_then_the_grant_gets_it_back(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.grant("noodles", "500.00")
    expense_id = w.spend(grant_id, "300.00")
    assert w.app.summary().committed_unspent_fen == fen("200.00")

    w.reverse_expense(expense_id)

    (reversed_event,) = events_named(w.app, "Expense.Reversed")
    assert reversed_event.grant_closed is False
    assert aggregate(w.app, grant_id).remaining_fen == fen("500.00")
    summary = w.app.summary()
    assert summary.spent_total_fen == 0
    assert summary.balance_fen == fen("1000.00")
    assert summary.committed_unspent_fen == fen("500.00")
    assert summary.available_for_grants_fen == fen("500.00")
    assert w.available("health") == fen("500.00")  # the money stays with the grant
    again = refused(w.app, WrongState, lambda: w.reverse_expense(expense_id))
    assert again.facts == wrong_state("expense", expense_id, "reversed", "standing")
    w.spend(grant_id, "500.00")


def test_given_a_closed_grant_when_an_expense_is_reversed_then_the_fund_gets_it_back(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.grant("noodles", "500.00")
    expense_id = w.spend(grant_id, "300.00")
    w.close_grant(grant_id)
    assert w.available("health") == fen("700.00")

    w.reverse_expense(expense_id)

    (reversed_event,) = events_named(w.app, "Expense.Reversed")
    assert reversed_event.grant_closed is True
    assert w.available("health") == fen("1000.00")
    assert w.app.fund().committed_unrestricted_fen == 0
    summary = w.app.summary()
    assert summary.committed_unspent_fen == 0
    assert summary.available_for_grants_fen == fen("1000.00")
    assert summary.balance_fen == fen("1000.00")
    closed = refused(w.app, WrongState, lambda: w.spend(grant_id, "1.00"))
    assert closed.facts == wrong_state("grant", grant_id, "closed", "approved")
    error = refused(w.app, InsufficientFunds, lambda: w.propose("health", "1000.01"))
    assert error.facts == insufficient("health", "1000.00", "1000.01")


def test_given_a_closed_restricted_grant_when_an_expense_is_reversed_then_restriction_returns(
    w: World,
) -> None:
    w.donate("500.00", "noodles")
    grant_id = w.grant("noodles", "500.00")
    expense_id = w.spend(grant_id, "300.00")
    w.close_grant(grant_id)
    assert w.app.summary().restricted_balance_fen == fen("200.00")

    w.reverse_expense(expense_id)

    assert w.app.summary().restricted_balance_fen == fen("500.00")
    assert w.available("noodles") == fen("500.00")
    assert w.available("health") == 0
    assert w.app.fund().committed_restricted_fen[w.projects["noodles"]] == 0


# == Idempotency ===============================================================================


def _donate_with_key(w: World, amount_fen: int, key: str) -> Receipt:
    return w.app.record_donation(
        w.treasurer,
        w.donors["foundation"],
        amount_fen,
        DAY,
        "bank_transfer",
        idempotency_key=key,
    )


def test_given_a_key_when_the_same_command_is_sent_again_then_the_first_result_returns(
    w: World,
) -> None:
    first = _donate_with_key(w, fen("1000.00"), "gift-2025-03-10-1")
    position = w.app.position()

    again = _donate_with_key(w, fen("1000.00"), "gift-2025-03-10-1")

    assert again.id == first.id
    assert (first.replayed, again.replayed) == (False, True)
    assert w.app.position() == position
    assert len(events_named(w.app, "Donation.Received")) == 1
    assert w.app.summary().received_total_fen == fen("1000.00")


def test_given_a_key_when_a_grant_is_proposed_again_then_no_second_grant(w: World) -> None:
    w.donate("1000.00")
    first = w.propose("noodles", "100.00", key="p-1")
    position = w.app.position()

    again = w.propose("noodles", "100.00", key="p-1")

    assert again == first
    assert w.app.position() == position
    assert len(events_named(w.app, "Grant.Proposed")) == 1


def test_given_a_key_when_a_different_command_uses_it_then_idempotency_conflict(
    w: World,
) -> None:
    _donate_with_key(w, fen("1000.00"), "gift-1")

    error = refused(
        w.app, IdempotencyConflict, lambda: _donate_with_key(w, fen("1000.01"), "gift-1")
    )

    assert error.facts == {"idempotency_key": "gift-1"}
    assert w.app.summary().received_total_fen == fen("1000.00")


def test_given_a_key_when_another_kind_of_command_uses_it_then_idempotency_conflict(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.propose("noodles", "100.00", by=1, key="k-1")

    error = refused(
        w.app,
        IdempotencyConflict,
        lambda: w.app.reject_grant(w.committee[1], grant_id, "no", on=DAY, idempotency_key="k-1"),
    )

    assert error.facts == {"idempotency_key": "k-1"}
    assert aggregate(w.app, grant_id).status == "proposed"


def test_given_a_key_used_by_one_member_when_another_uses_it_then_both_commands_count(
    w: World,
) -> None:
    w.donate("1000.00")
    first = w.app.propose_grant(
        w.committee[0], w.projects["noodles"], 100, "lunch", on=DAY, idempotency_key="k"
    )

    second = w.app.propose_grant(
        w.committee[1], w.projects["noodles"], 100, "lunch", on=DAY, idempotency_key="k"
    )

    assert second.id != first.id
    assert (first.replayed, second.replayed) == (False, False)
    assert len(events_named(w.app, "Grant.Proposed")) == 2


def test_given_a_recorded_expense_when_retried_after_the_grant_closed_then_first_result(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.grant("noodles", "500.00")
    expense_id = w.spend(grant_id, "100.00", key="e-1")
    w.close_grant(grant_id)
    position = w.app.position()

    again = w.app.record_expense(
        w.treasurer,
        grant_id,
        fen("100.00"),
        DAY,
        "南湖大酒店",
        "programme",
        "noodles and cake for 23 residents",
        idempotency_key="e-1",
    )

    assert (again.id, again.replayed) == (expense_id, True)
    assert w.app.position() == position


def test_given_a_key_when_the_same_command_is_dated_differently_then_idempotency_conflict(
    w: World,
) -> None:
    w.donate("1000.00")
    w.propose("noodles", "100.00", on=date(2025, 3, 10), key="p-1")

    refused(
        w.app,
        IdempotencyConflict,
        lambda: w.propose("noodles", "100.00", on=date(2025, 4, 10), key="p-1"),
    )


# == Closed months =============================================================================


FEB = date(2025, 2, 10)
MARCH_LAST = date(2025, 3, 31)


def _closed_march(w: World) -> dict[str, Callable[[], object]]:
    """A fund with February business, March closed, and the commands that would touch March."""
    donation_id = w.donate("1000.00", on=FEB)
    approved = w.grant("noodles", "300.00", on=FEB)
    expense_id = w.spend(approved, "100.00", paid_on=FEB)
    proposed = w.propose("health", "100.00", on=FEB)
    w.app.close_period(w.committee[0], "2025-03")
    member = w.committee[4]
    return {
        "record_donation": lambda: w.donate("10.00", on=MARCH_LAST),
        "record_expense": lambda: w.spend(approved, "10.00", paid_on=MARCH_LAST),
        "approve_grant": lambda: w.app.approve_grant(member, proposed, on=MARCH_LAST),
        "propose_grant": lambda: w.propose("health", "10.00", on=MARCH_LAST),
        "reject_grant": lambda: w.app.reject_grant(member, proposed, "no", on=MARCH_LAST),
        "close_grant": lambda: w.close_grant(approved, on=MARCH_LAST),
        "reverse_donation": lambda: w.reverse_donation(donation_id, on=MARCH_LAST),
        "reverse_expense": lambda: w.reverse_expense(expense_id, on=MARCH_LAST),
        "record_opinion": lambda: w.app.record_opinion(
            w.adviser, approved, "well run", on=MARCH_LAST
        ),
    }


@pytest.mark.parametrize(
    "command",
    [
        "record_donation",
        "record_expense",
        "approve_grant",
        "propose_grant",
        "reject_grant",
        "close_grant",
        "reverse_donation",
        "reverse_expense",
        "record_opinion",
    ],
)
def test_given_a_closed_month_when_a_command_is_dated_in_it_then_period_closed(
    w: World, command: str
) -> None:
    commands = _closed_march(w)

    error = refused(w.app, PeriodClosed, commands[command])

    assert error.facts == {"closed_through": "2025-03", "effective_on": "2025-03-31"}


def test_given_a_closed_month_when_dated_in_an_earlier_month_then_period_closed(
    w: World,
) -> None:
    w.app.close_period(w.committee[0], "2025-03")

    error = refused(w.app, PeriodClosed, lambda: w.donate("10.00", on=date(2024, 12, 31)))

    # Books close in order: closing March closes every month before it.
    assert error.facts == {"closed_through": "2025-03", "effective_on": "2024-12-31"}


def test_given_a_closed_month_when_dated_in_the_next_month_then_accepted(w: World) -> None:
    _closed_march(w)

    w.donate("10.00", on=date(2025, 4, 1))

    (closed,) = events_named(w.app, "Fund.PeriodClosed")
    assert closed.month == "2025-03"
    assert w.app.fund().closed_through == "2025-03"
    assert w.app.summary().received_total_fen == fen("1010.00")


def test_given_the_current_month_when_closed_then_wrong_state(w: World) -> None:
    this_month = month_of(today())
    next_month = month_of(today().replace(day=1) + timedelta(days=32))

    error = refused(w.app, WrongState, lambda: w.app.close_period(w.committee[0], this_month))
    later = refused(w.app, WrongState, lambda: w.app.close_period(w.committee[0], next_month))

    assert error.facts == wrong_state("month", this_month, "not yet ended", "ended")
    assert later.facts == wrong_state("month", next_month, "not yet ended", "ended")


@pytest.mark.parametrize("month", ["2025-03", "2025-02", "2024-12"])
def test_given_a_closed_month_when_it_or_an_earlier_one_is_closed_then_wrong_state(
    w: World, month: str
) -> None:
    w.app.close_period(w.committee[0], "2025-03")

    error = refused(w.app, WrongState, lambda: w.app.close_period(w.committee[1], month))

    assert error.facts == wrong_state(
        "month", month, "closed (books closed through 2025-03)", "open"
    )


def test_given_a_closed_month_when_a_later_month_is_closed_then_the_books_close_through_it(
    w: World,
) -> None:
    w.app.close_period(w.committee[0], "2025-03")

    w.app.close_period(w.committee[1], "2025-05")

    assert w.app.fund().closed_through == "2025-05"
    error = refused(w.app, PeriodClosed, lambda: w.donate("10.00", on=date(2025, 4, 30)))
    assert error.facts == {"closed_through": "2025-05", "effective_on": "2025-04-30"}


@pytest.mark.parametrize("month", ["2025-3", "2025-13", "2025-00", "March", "2025/03", "", 202503])
def test_given_a_malformed_month_when_closed_then_invalid_input(w: World, month: object) -> None:
    error = refused(
        w.app,
        InvalidInput,
        lambda: w.app.close_period(w.committee[0], month),  # type: ignore[arg-type]
    )

    assert error.facts == {"field": "month", "value": repr(month)}


def test_given_the_current_month_when_closed_with_a_future_date_then_refused(w: World) -> None:
    this_month = month_of(today())
    position = w.app.position()

    with pytest.raises((WrongState, InvalidInput)):
        w.app.close_period(w.committee[0], this_month, on=today() + timedelta(days=40))

    assert w.app.position() == position


# == Roles =====================================================================================


def _role_commands(w: World) -> dict[str, Callable[[Actor], object]]:
    """One valid call of each command, for any actor."""
    app = w.app
    w.donate("1000.00")
    donation_id = w.donate("100.00")
    approved = w.grant("noodles", "300.00")
    expense_id = w.spend(approved, "10.00")
    proposed = w.propose("health", "100.00")
    return {
        "establish_fund": lambda a: app.establish_fund(a, "另一个基金", 3),
        "add_user": lambda a: app.add_user(a, "新委员", "committee"),
        "revoke_user": lambda a: app.revoke_user(a, w.auditor.name),
        "register_donor": lambda a: app.register_donor(a, "新捐赠人", "individual", "masked"),
        "open_project": lambda a: app.open_project(a, "stage", "幸福舞台 · 展风采"),
        "close_project": lambda a: app.close_project(a, w.projects["barber"]),
        "record_donation": lambda a: app.record_donation(
            a, w.donors["individual"], 100, DAY, "cash", receipt_no="R-roles"
        ),
        "reverse_donation": lambda a: app.reverse_donation(a, donation_id, "error", on=DAY),
        "propose_grant": lambda a: app.propose_grant(
            a, w.projects["noodles"], 100, "lunch", on=DAY
        ),
        "approve_grant": lambda a: app.approve_grant(a, proposed, on=DAY),
        "reject_grant": lambda a: app.reject_grant(a, proposed, "no", on=DAY),
        "close_grant": lambda a: app.close_grant(a, approved, on=DAY),
        "record_expense": lambda a: app.record_expense(
            a, approved, 100, DAY, "南湖大酒店", "programme", "noodles"
        ),
        "reverse_expense": lambda a: app.reverse_expense(a, expense_id, "error", on=DAY),
        "record_opinion": lambda a: app.record_opinion(a, approved, "well run", on=DAY),
        "close_period": lambda a: app.close_period(a, "2025-01"),
        "forget_person": lambda a: app.forget_person(a, w.donors["individual"]),
    }


def _actor_of(w: World, role: Role) -> Actor:
    return {
        Role.TREASURER: w.treasurer,
        Role.COMMITTEE: w.committee[4],  # neither proposer nor approver of any grant
        Role.ADVISER: w.adviser,
        Role.AUDITOR: w.auditor,
        Role.OPERATOR: OPERATOR,
    }[role]


REFUSED_ROLES = [
    (command, role) for command, allowed in RIGHTS.items() for role in Role if role not in allowed
]
ALLOWED_ROLES = [(command, role) for command, allowed in RIGHTS.items() for role in allowed]


def test_every_command_in_the_rights_table_is_exercised(w: World) -> None:
    assert set(_role_commands(w)) == set(RIGHTS)


@pytest.mark.parametrize(("command", "role"), REFUSED_ROLES)
def test_given_a_role_without_the_right_when_it_gives_the_command_then_not_permitted(
    w: World, command: str, role: Role
) -> None:
    call = _role_commands(w)[command]

    error = refused(w.app, NotPermitted, lambda: call(_actor_of(w, role)))

    assert error.facts == {"action": command, "role": role, "allowed": list(RIGHTS[command])}


@pytest.mark.parametrize(("command", "role"), ALLOWED_ROLES)
def test_given_a_role_with_the_right_when_it_gives_the_command_then_accepted(
    w: World, command: str, role: Role
) -> None:
    call = _role_commands(w)[command]
    position = w.app.position()

    if command == "establish_fund":  # there is one fund: the right is checked, then the rule
        refused(w.app, Duplicate, lambda: call(_actor_of(w, role)))
    else:
        call(_actor_of(w, role))
        assert w.app.position() > position


# == Bad input changes nothing =================================================================


@pytest.mark.parametrize(
    "code", ["A", "Noodles", "n", "1abc", "-abc", "no odles", "noodles!", "a" * 33, "", "面条", 7]
)
def test_given_an_invalid_project_code_when_opening_then_invalid_input(
    w: World, code: object
) -> None:
    error = refused(
        w.app,
        InvalidInput,
        lambda: w.app.open_project(w.treasurer, code, "x"),  # type: ignore[arg-type]
    )

    assert error.facts == {"field": "code", "value": repr(code)}


@pytest.mark.parametrize("code", ["ab", "a" * 32, "red-boat", "k9"])
def test_given_a_valid_project_code_when_opening_then_accepted(w: World, code: str) -> None:
    project_id = w.app.open_project(w.treasurer, code, "x").id

    assert aggregate(w.app, project_id).code == code


def _unknown_id_commands(w: World) -> dict[str, tuple[str, Callable[[str], object]]]:
    app = w.app
    w.donate("1000.00")
    member = w.committee[1]
    return {
        "donor": ("donor", lambda x: app.record_donation(w.treasurer, x, 100, DAY, "cash")),
        "donation project": (
            "project",
            lambda x: app.record_donation(
                w.treasurer, w.donors["enterprise"], 100, DAY, "cash", project_id=x
            ),
        ),
        "grant project": ("project", lambda x: app.propose_grant(member, x, 100, "p", on=DAY)),
        "approve": ("grant", lambda x: app.approve_grant(member, x, on=DAY)),
        "reject": ("grant", lambda x: app.reject_grant(member, x, "no", on=DAY)),
        "close": ("grant", lambda x: app.close_grant(member, x, on=DAY)),
        "expense": ("grant", lambda x: w.spend(x, "1.00")),
        "reverse donation": ("donation", lambda x: app.reverse_donation(member, x, "r", on=DAY)),
        "reverse expense": ("expense", lambda x: app.reverse_expense(member, x, "r", on=DAY)),
        "close project": ("project", lambda x: app.close_project(member, x)),
        "opinion": ("grant or project", lambda x: app.record_opinion(w.adviser, x, "t", on=DAY)),
    }


UNKNOWN_ID_CASES = [
    "donor",
    "donation project",
    "grant project",
    "approve",
    "reject",
    "close",
    "expense",
    "reverse donation",
    "reverse expense",
    "close project",
    "opinion",
]


@pytest.mark.parametrize("case", UNKNOWN_ID_CASES)
@pytest.mark.parametrize("kind_of_id", ["random uuid", "not a uuid", "id of another kind"])
def test_given_an_unknown_id_when_used_then_not_found(w: World, case: str, kind_of_id: str) -> None:
    what, call = _unknown_id_commands(w)[case]
    unknown = {
        "random uuid": str(uuid4()),
        "not a uuid": "not-an-id",
        # A donor's id is a real aggregate, but never a project, grant, donation or expense.
        "id of another kind": w.donors["individual"] if what != "donor" else w.projects["noodles"],
    }[kind_of_id]

    error = refused(w.app, NotFound, lambda: call(unknown))

    assert error.facts == {"what": what, "key": unknown}


def _bad_input_commands(w: World) -> dict[str, tuple[Callable[[], object], str, str]]:
    """Each call with one bad field: (call, field, value as the error shows it)."""
    app, t, member = w.app, w.treasurer, w.committee[1]
    w.donate("1000.00")
    grant_id = w.grant("noodles", "500.00")
    donor = w.donors["enterprise"]
    future = today() + timedelta(days=30)
    return {
        "donor kind": (lambda: app.register_donor(t, "x", "company", "named"), "kind", "'company'"),
        "disclosure": (
            lambda: app.register_donor(t, "x", "individual", "public"),
            "disclosure",
            "'public'",
        ),
        "channel": (
            lambda: app.record_donation(t, donor, 100, DAY, "paypal"),
            "channel",
            "'paypal'",
        ),
        "category": (
            lambda: app.record_expense(t, grant_id, 100, DAY, "p", "travel", "d"),
            "category",
            "'travel'",
        ),
        "payee kind": (
            lambda: app.record_expense(
                t, grant_id, 100, DAY, "p", "programme", "d", payee_kind="robot"
            ),
            "payee_kind",
            "'robot'",
        ),
        "user role": (lambda: app.add_user(OPERATOR, "x", "king"), "role", "'king'"),
        "operator role": (lambda: app.add_user(OPERATOR, "x", "operator"), "role", "operator"),
        "empty name": (lambda: app.register_donor(t, "", "individual", "named"), "name", "''"),
        "blank name": (
            lambda: app.register_donor(t, "   ", "individual", "named"),
            "name",
            "'   '",
        ),
        "long name": (
            lambda: app.register_donor(t, "赵" * 201, "individual", "named"),
            "name",
            "201 characters",
        ),
        "control characters": (
            lambda: app.register_donor(t, "赵\x00先生", "individual", "named"),
            "name",
            "'赵\\x00先生'",
        ),
        "empty purpose": (
            lambda: app.propose_grant(member, w.projects["noodles"], 100, "", on=DAY),
            "purpose",
            "''",
        ),
        "long purpose": (
            lambda: app.propose_grant(member, w.projects["noodles"], 100, "x" * 2001, on=DAY),
            "purpose",
            "2001 characters",
        ),
        "empty reason": (
            lambda: app.reject_grant(member, grant_id, " ", on=DAY),
            "reason",
            "' '",
        ),
        "long description": (
            lambda: app.record_expense(t, grant_id, 100, DAY, "p", "programme", "d" * 2001),
            "description",
            "2001 characters",
        ),
        "not a hash": (
            lambda: app.record_expense(
                t, grant_id, 100, DAY, "p", "programme", "d", voucher_sha256="ABC"
            ),
            "voucher_sha256",
            "ABC",
        ),
        "future gift": (
            lambda: app.record_donation(t, donor, 100, future, "cash"),
            "received_on",
            future.isoformat(),
        ),
        "future expense": (
            lambda: app.record_expense(t, grant_id, 100, future, "p", "programme", "d"),
            "paid_on",
            future.isoformat(),
        ),
        "text date": (
            lambda: app.record_donation(t, donor, 100, "2025-03-10", "cash"),  # type: ignore[arg-type]
            "received_on",
            "'2025-03-10'",
        ),
        "datetime": (
            lambda: app.record_donation(t, donor, 100, datetime(2025, 3, 10, 9, 0), "cash"),
            "received_on",
            "datetime.datetime(2025, 3, 10, 9, 0)",
        ),
        "long key": (
            lambda: app.propose_grant(
                member, w.projects["noodles"], 100, "p", on=DAY, idempotency_key="k" * 201
            ),
            "Idempotency-Key",
            "201 characters",
        ),
    }


BAD_INPUT_CASES = [
    "donor kind",
    "disclosure",
    "channel",
    "category",
    "payee kind",
    "user role",
    "operator role",
    "empty name",
    "blank name",
    "long name",
    "control characters",
    "empty purpose",
    "long purpose",
    "empty reason",
    "long description",
    "not a hash",
    "future gift",
    "future expense",
    "text date",
    "datetime",
    "long key",
]


def test_every_bad_input_case_is_listed(w: World) -> None:
    assert set(_bad_input_commands(w)) == set(BAD_INPUT_CASES)


@pytest.mark.parametrize("case", BAD_INPUT_CASES)
def test_given_bad_input_when_commanded_then_invalid_input_and_nothing_stored(
    w: World, case: str
) -> None:
    call, field, shown = _bad_input_commands(w)[case]

    error = refused(w.app, InvalidInput, call)

    assert error.facts == {"field": field, "value": shown}


@pytest.mark.parametrize(
    ("amount_fen", "shown"), [(0, "0.00"), (-100, "-1.00"), (12.5, "12.5"), (True, "True")]
)
def test_given_a_bad_amount_when_commanded_then_invalid_amount_and_nothing_stored(
    w: World, amount_fen: object, shown: str
) -> None:
    w.donate("1000.00")
    grant_id = w.grant("noodles", "500.00")
    calls: list[Callable[[], object]] = [
        lambda: w.app.record_donation(
            w.treasurer,
            w.donors["enterprise"],
            amount_fen,
            DAY,
            "cash",  # type: ignore[arg-type]
        ),
        lambda: w.app.propose_grant(
            w.committee[0],
            w.projects["noodles"],
            amount_fen,
            "p",
            on=DAY,  # type: ignore[arg-type]
        ),
        lambda: w.app.record_expense(
            w.treasurer,
            grant_id,
            amount_fen,
            DAY,
            "p",
            "programme",
            "d",  # type: ignore[arg-type]
        ),
    ]

    for call in calls:
        error = refused(w.app, InvalidAmount, call)
        assert error.facts == {"field": "amount", "value": shown}


@pytest.mark.parametrize("quorum", [0, 100, True, "3", 2.0])
def test_given_a_bad_quorum_when_establishing_then_invalid_input(quorum: object) -> None:
    app = FundLedger("memory://")

    error = refused(app, InvalidInput, lambda: app.establish_fund(OPERATOR, "F", quorum))  # type: ignore[arg-type]

    assert error.facts == {"field": "quorum", "value": repr(quorum)}
    assert app.position() == 0


def test_given_a_closed_project_when_money_is_given_or_granted_then_wrong_state(
    w: World,
) -> None:
    w.donate("1000.00")
    w.app.close_project(w.committee[0], w.projects["barber"])

    gift = refused(w.app, WrongState, lambda: w.donate("10.00", "barber"))
    grant = refused(w.app, WrongState, lambda: w.propose("barber", "10.00"))

    assert gift.facts == wrong_state("project", "barber", "closed", "open")
    assert grant.facts == gift.facts


FUTURE_DATED = [
    "propose",
    "approve",
    "reject",
    "close grant",
    "reverse donation",
    "reverse expense",
    "opinion",
]


@pytest.mark.parametrize("case", FUTURE_DATED)
def test_given_a_future_date_when_any_command_is_dated_then_invalid_input(
    w: World, case: str
) -> None:
    app, member = w.app, w.committee[4]
    w.donate("1000.00")
    donation_id = w.donate("10.00")
    approved = w.grant("noodles", "300.00")
    expense_id = w.spend(approved, "10.00")
    proposed = w.propose("health", "100.00")
    future = today() + timedelta(days=30)
    call = {
        "propose": lambda: w.propose("health", "10.00", on=future),
        "approve": lambda: app.approve_grant(member, proposed, on=future),
        "reject": lambda: app.reject_grant(member, proposed, "no", on=future),
        "close grant": lambda: w.close_grant(approved, on=future),
        "reverse donation": lambda: w.reverse_donation(donation_id, on=future),
        "reverse expense": lambda: w.reverse_expense(expense_id, on=future),
        "opinion": lambda: app.record_opinion(w.adviser, approved, "ok", on=future),
    }[case]

    refused(app, InvalidInput, call)


# == Every event says who, when in the world, and with which key ===============================


def test_given_commands_when_stored_then_every_event_carries_its_meta(w: World) -> None:
    w.donate("1000.00", on=date(2025, 1, 5), key="gift-1")
    grant_id = w.propose("noodles", "100.00", by=0, on=date(2025, 1, 6), key="grant-1")
    w.approve(grant_id, by=(1, 2, 3), on=date(2025, 1, 7))

    events = stored_events(w.app)

    roles = {role.value for role in Role}
    for domain_event in events:
        meta = domain_event.meta
        assert isinstance(meta, Meta), type(domain_event).__qualname__
        assert meta.actor_id
        assert meta.actor_role in roles
        assert isinstance(meta.effective_on, date)
        assert not isinstance(meta.effective_on, datetime)
    (received,) = events_named(w.app, "Donation.Received")
    assert received.meta == Meta(w.treasurer.id, "treasurer", date(2025, 1, 5), "gift-1")
    (proposed,) = events_named(w.app, "Grant.Proposed")
    assert proposed.meta == Meta(w.committee[0].id, "committee", date(2025, 1, 6), "grant-1")
    approvals = events_named(w.app, "Grant.ApprovalGiven")
    assert [e.meta.actor_id for e in approvals] == [m.id for m in w.committee[1:4]]
    assert all(e.meta.idempotency_key is None for e in approvals)
    records = events_named(w.app, "IdempotencyRecord.Recorded")
    assert sorted(e.meta.idempotency_key for e in records) == ["gift-1", "grant-1"]


def test_given_a_backdated_gift_when_stored_then_recorded_time_is_apart_from_effective_date(
    w: World,
) -> None:
    before = datetime.now().astimezone()

    w.donate("1000.00", on=date(2025, 1, 5))

    (received,) = events_named(w.app, "Donation.Received")
    assert received.meta.effective_on == date(2025, 1, 5)
    assert received.timestamp.tzinfo is not None
    assert received.timestamp >= before
    assert received.timestamp.date() != received.meta.effective_on


# == In-kind gifts are kept out of cash ========================================================


@pytest.mark.parametrize("project", [None, "noodles"])
def test_given_cash_when_an_in_kind_gift_arrives_then_only_the_in_kind_total_moves(
    w: World, project: str | None
) -> None:
    w.donate("1000.00")
    w.donate("200.00", "health")
    before = w.app.summary()

    w.donate("5000.00", project, channel="in_kind", donor="community")

    after = w.app.summary()
    assert after.in_kind_total_fen == before.in_kind_total_fen + fen("5000.00")
    assert after.balance_fen == before.balance_fen == fen("1200.00")
    assert after.received_total_fen == before.received_total_fen
    assert after.restricted_balance_fen == before.restricted_balance_fen
    assert after.available_for_grants_fen == before.available_for_grants_fen
    assert w.available("noodles") == fen("1000.00")


# == Duplicates ================================================================================


def test_given_a_receipt_number_when_used_again_then_duplicate(w: World) -> None:
    w.donate("10.00", receipt_no="NH20250310-0001")

    error = refused(
        w.app, Duplicate, lambda: w.donate("20.00", "noodles", receipt_no="NH20250310-0001")
    )
    in_kind = refused(
        w.app,
        Duplicate,
        lambda: w.donate("20.00", channel="in_kind", receipt_no="NH20250310-0001"),
    )

    assert error.facts == {"what": "receipt", "key": "NH20250310-0001"}
    assert in_kind.facts == error.facts


def test_given_a_project_code_when_opened_again_then_duplicate(w: World) -> None:
    error = refused(
        w.app, Duplicate, lambda: w.app.open_project(w.treasurer, "noodles", "另一碗面")
    )

    assert error.facts == {"what": "project", "key": "noodles"}


def test_given_a_user_or_fund_when_added_again_then_duplicate(w: World) -> None:
    user = refused(w.app, Duplicate, lambda: w.app.add_user(OPERATOR, w.adviser.name, "auditor"))
    fund = refused(w.app, Duplicate, lambda: w.app.establish_fund(OPERATOR, "F", 3))

    assert user.facts == {"what": "user", "key": w.adviser.name}
    assert fund.facts == {"what": "fund", "key": w.app.fund().name}


# == summary(as_of=...) ========================================================================


def test_given_a_month_of_business_when_summarised_as_of_a_day_then_later_events_are_left_out(
    w: World,
) -> None:
    w.donate("1000.00", on=date(2025, 3, 1))
    w.donate("500.00", "noodles", on=date(2025, 3, 20))
    grant_id = w.grant("noodles", "600.00", on=date(2025, 3, 21))
    w.donate("300.00", channel="in_kind", on=date(2025, 3, 22))
    w.spend(grant_id, "200.00", paid_on=date(2025, 3, 25))

    def figures(day: date) -> tuple[int, ...]:
        p = w.app.summary(as_of=day)
        return (
            p.received_total_fen,
            p.restricted_balance_fen,
            p.committed_unspent_fen,
            p.in_kind_total_fen,
            p.spent_total_fen,
            p.balance_fen,
        )

    assert figures(date(2025, 2, 28))[:-1] == (0, 0, 0, 0, 0)
    assert figures(date(2025, 3, 10)) == (fen("1000.00"), 0, 0, 0, 0, fen("1000.00"))
    assert figures(date(2025, 3, 20)) == (fen("1500.00"), fen("500.00"), 0, 0, 0, fen("1500.00"))
    assert figures(date(2025, 3, 21)) == (
        fen("1500.00"),
        fen("500.00"),
        fen("600.00"),
        0,
        0,
        fen("1500.00"),
    )
    assert figures(date(2025, 3, 22))[3] == fen("300.00")
    assert figures(date(2025, 3, 25)) == (
        fen("1500.00"),
        fen("300.00"),
        fen("400.00"),
        fen("300.00"),
        fen("200.00"),
        fen("1300.00"),
    )
    # The fund and its people were set up today, long after March 2025.
    assert w.app.summary(as_of=date(2025, 3, 25)).events < w.app.summary().events
    assert w.app.summary(as_of=today()) == w.app.summary()
    assert w.app.summary(as_of=date(2025, 3, 10)).events < w.app.summary().events


def test_given_an_expense_dated_before_its_grants_approval_when_recorded_then_dated_too_early(
    w: World,
) -> None:
    w.donate("1000.00", on=date(2025, 3, 1))
    grant_id = w.grant("noodles", "500.00", on=date(2025, 3, 20))

    error = refused(
        w.app, DatedTooEarly, lambda: w.spend(grant_id, "200.00", paid_on=date(2025, 3, 15))
    )

    assert error.facts == {
        "what": "grant",
        "key": grant_id,
        "earliest": "2025-03-20",
        "given": "2025-03-15",
    }
    # Had it been stored, the figures as of a day between would count the expense but not
    # the commitment: committed_unspent below zero, more available than in the bank.
    position = w.app.summary(as_of=date(2025, 3, 17))
    assert position.committed_unspent_fen == 0
    assert position.available_for_grants_fen == position.balance_fen == fen("1000.00")
    w.spend(grant_id, "200.00", paid_on=date(2025, 3, 20))


def _follow_ups_dated_too_early(w: World) -> dict[str, tuple[str, str, str, Callable[[], object]]]:
    """Follow-ups dated before what they act on: (what, key, earliest date, the call)."""
    member = w.committee[4]
    donation_id = w.donate("1000.00", on=date(2025, 3, 10))
    approved = w.grant("noodles", "300.00", on=date(2025, 3, 12))
    expense_id = w.spend(approved, "10.00", paid_on=date(2025, 3, 18))
    proposed = w.propose("health", "100.00", on=date(2025, 3, 15))
    early = date(2025, 3, 9)
    return {
        "reverse donation": (
            "donation",
            donation_id,
            "2025-03-10",
            lambda: w.reverse_donation(donation_id, on=early),
        ),
        "approve": (
            "grant",
            proposed,
            "2025-03-15",
            lambda: w.app.approve_grant(member, proposed, on=early),
        ),
        "reject": (
            "grant",
            proposed,
            "2025-03-15",
            lambda: w.app.reject_grant(member, proposed, "no", on=early),
        ),
        "close grant": (
            "grant",
            approved,
            "2025-03-18",  # its last expense, not its approval
            lambda: w.close_grant(approved, on=date(2025, 3, 17)),
        ),
        "reverse expense": (
            "expense",
            expense_id,
            "2025-03-18",
            lambda: w.reverse_expense(expense_id, on=date(2025, 3, 17)),
        ),
    }


@pytest.mark.parametrize(
    "case", ["reverse donation", "approve", "reject", "close grant", "reverse expense"]
)
def test_given_a_follow_up_dated_before_what_it_acts_on_when_commanded_then_dated_too_early(
    w: World, case: str
) -> None:
    what, key, earliest, call = _follow_ups_dated_too_early(w)[case]

    error = refused(w.app, DatedTooEarly, call)

    assert error.facts["what"] == what
    assert error.facts["key"] == key
    assert error.facts["earliest"] == earliest


def test_given_the_wrong_role_when_the_input_is_also_bad_then_not_permitted_first() -> None:
    """A caller without the right learns nothing about what input would be accepted."""
    app = FundLedger("memory://")
    w = build_world(app)
    refused(app, NotPermitted, lambda: app.record_donation(w.adviser, "x", 0, DAY, "nope"))
    refused(app, NotPermitted, lambda: app.propose_grant(w.treasurer, "x", -5, ""))
    refused(app, NotPermitted, lambda: app.record_donations(w.auditor, []))
