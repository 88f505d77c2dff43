"""The fund's rules on reversing a donation or an expense: nothing taken back twice or uncovered."""

from __future__ import annotations

from helpers import World, aggregate, events_named, fen, refused
from refusals import insufficient, wrong_state

from ledger.domain.errors import InsufficientFunds, ReversalUncovered, WrongState

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
