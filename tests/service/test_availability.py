"""The fund's rules on what a grant may take: only what is available, restricted money first."""

from __future__ import annotations

import pytest
from helpers import DAY, World, aggregate, events_named, fen, refused
from refusals import insufficient

from ledger.domain.accounts import DESIGNATION_OFFSET, Posting, postings_for, v1_postings_for
from ledger.domain.books import fold
from ledger.domain.errors import InsufficientFunds
from ledger.domain.restrictions import released_fen

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
    # An expense posts its cost and its designation; the release is the books' (by date).
    assert postings_for(second) == [
        Posting("Expenses:Programme:Noodles", fen("200.00")),
        Posting("Assets:Bank", -fen("200.00")),
        Posting("Equity:Designations:Noodles", fen("100.00")),
        Posting(DESIGNATION_OFFSET, -fen("100.00")),
    ]
    balances_fen = fold(e for _, e in w.app.iter_events()).balances_fen
    assert released_fen(balances_fen) == {"Noodles": fen("300.00")}
    # Leaves of format v1 show the grant's split as a release, as they always did.
    assert v1_postings_for(first) == [
        Posting("Expenses:Programme:Noodles", fen("200.00")),
        Posting("Assets:Bank", -fen("200.00")),
        Posting("Income:Restricted:ReleasedFromRestriction:Noodles", fen("200.00")),
        Posting("Income:Unrestricted:ReleasedFromRestriction:Noodles", -fen("200.00")),
    ]
    assert v1_postings_for(second) == [
        Posting("Expenses:Programme:Noodles", fen("200.00")),
        Posting("Assets:Bank", -fen("200.00")),
        Posting("Income:Restricted:ReleasedFromRestriction:Noodles", fen("100.00")),
        Posting("Income:Unrestricted:ReleasedFromRestriction:Noodles", -fen("100.00")),
        Posting("Equity:Designations:Noodles", fen("100.00")),
        Posting(DESIGNATION_OFFSET, -fen("100.00")),
    ]
    assert w.app.summary().restricted_balance_fen == fen("800.00")  # only health's is left


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
