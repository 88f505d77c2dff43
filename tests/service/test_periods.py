"""The fund's rules on closed months: nothing dated in them, and closing in order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from helpers import World, events_named, fen, refused
from refusals import wrong_state

from ledger.domain import month_of, today
from ledger.domain.errors import InvalidInput, PeriodClosed, WrongState

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
