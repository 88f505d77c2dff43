"""The fund's rules on dates: none in the future, none before what it acts on; as-of figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from helpers import World, events_named, fen, refused, stored_events

from ledger.domain import Meta, Role, today
from ledger.domain.errors import DatedTooEarly, InvalidInput

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
