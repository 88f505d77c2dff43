"""Races on PostgreSQL of different commands at once: updates to the fund and a grant, one key
sent to two servers, a storm of every command, and a month closing while late entries arrive.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from functools import partial

import pytest
from helpers import DAY, aggregate, fen
from racing import RACERS_MAX, Racing, accepted, check_books, proposed_and_half_approved, race

from ledger.app import Receipt
from ledger.domain import month_of
from ledger.domain.accounts import event_name

pytestmark = pytest.mark.postgres


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
