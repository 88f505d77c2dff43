"""Where money sits: gifts into the account their channel names, transfers between cash, bank
and platforms with balanced postings, and a cash box that never goes below zero on any day."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from helpers import DAY, World, build_world, events_named, fen, refused, stored_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app import FundLedger
from ledger.domain.accounts import CASH, postings_for
from ledger.domain.errors import CashShort, InvalidInput, NotFound

FIRST = date(2025, 3, 1)


def balances_by_day(app: FundLedger, account: str) -> list[tuple[date, int]]:
    """The account's balance at the end of each day anything moved it, from the stored events."""
    changes: defaultdict[date, int] = defaultdict(int)
    for domain_event in stored_events(app):
        for posting in postings_for(domain_event):
            if posting.account == account:
                changes[domain_event.meta.effective_on] += posting.amount_fen
    running, balances = 0, []
    for day in sorted(changes):
        running += changes[day]
        balances.append((day, running))
    return balances


def test_gifts_go_where_their_channel_puts_them(w: World) -> None:
    cash_id = w.donate("300.00", channel="cash")
    wechat_id = w.donate("50.00", channel="wechat_pay")
    bank_id = w.donate("1000.00")
    accounts = {
        e.originator_id.hex: postings_for(e)[0].account
        for e in events_named(w.app, "Donation.Received")
    }
    assert [accounts[i.replace("-", "")] for i in (cash_id, wechat_id, bank_id)] == [
        CASH,
        "Assets:Platforms:WechatPay",
        "Assets:Bank",
    ]


def test_a_deposit_moves_cash_to_the_bank_and_a_settlement_books_its_fee(w: World) -> None:
    w.donate("300.00", channel="cash")
    w.donate("100.00", channel="alipay")
    w.app.record_transfer(
        w.treasurer, "cash", "bank", fen("250.00"), DAY, ("deposit", 0, "management")
    )
    w.app.record_transfer(
        w.treasurer,
        "alipay",
        "bank",
        fen("100.00"),
        DAY,
        ("settlement", fen("0.60"), "fundraising"),
        reference="ALI-2025-03",
    )
    [deposit, settlement] = events_named(w.app, "Transfer.Made")
    assert [(p.account, p.amount_fen) for p in postings_for(deposit)] == [
        ("Assets:Bank", 25000),
        (CASH, -25000),
    ]
    assert [(p.account, p.amount_fen) for p in postings_for(settlement)] == [
        ("Assets:Bank", 9940),
        ("Expenses:Fundraising:Fees", 60),
        ("Assets:Platforms:Alipay", -10000),
    ]
    assert balances_by_day(w.app, CASH)[-1] == (DAY, fen("50.00"))


def test_cash_cannot_leave_a_box_that_does_not_hold_it_on_a_later_day(w: World) -> None:
    w.donate("100.00", channel="cash", on=DAY)
    w.app.record_transfer(w.treasurer, "cash", "bank", fen("100.00"), DAY + timedelta(days=5))
    # Dated before the deposit: on the deposit's day the box would be 40 yuan short.
    error = refused(
        w.app,
        CashShort,
        lambda: w.app.record_transfer(w.treasurer, "cash", "bank", fen("40.00"), DAY),
    )
    assert error.facts == {
        "account": CASH,
        "on": "2025-03-10",
        "available": "0.00",
        "requested": "40.00",
    }
    grant_id = w.grant("noodles", "500.00") if w.donate("1000.00", "noodles") else ""
    refused(
        w.app,
        CashShort,
        lambda: w.app.record_expense(
            w.treasurer,
            grant_id,
            fen("1.00"),
            DAY,
            "南湖大酒店",
            "programme",
            "cake",
            account="cash",
        ),
    )


def test_an_unknown_account_or_a_transfer_to_itself_is_refused(w: World) -> None:
    refused(w.app, NotFound, lambda: w.app.record_transfer(w.treasurer, "safe", "bank", 100, DAY))
    refused(
        w.app, InvalidInput, lambda: w.app.record_transfer(w.treasurer, "bank", "bank", 100, DAY)
    )
    refused(
        w.app,
        InvalidInput,
        lambda: w.app.record_transfer(
            w.treasurer, "cash", "bank", 100, DAY, ("settlement", 100, "fundraising")
        ),
    )


def test_a_second_cash_box_is_opened_and_used(w: World) -> None:
    account = w.app.open_money_account(
        w.treasurer, "tea-room", "cash", "茶室零钱 Tea room float"
    ).id
    assert account == "Assets:Cash:Tea-room"
    w.app.record_transfer(
        w.treasurer, "bank", "tea-room", fen("20.00"), DAY, ("withdrawal", 0, "management")
    )
    refused(
        w.app,
        CashShort,
        lambda: w.app.record_transfer(w.treasurer, "tea-room", "bank", fen("20.01"), DAY),
    )


# Each step: (what, amount in yuan, day offset from FIRST).
STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["gift", "deposit", "withdrawal", "expense", "reverse_gift", "reverse_expense"]
        ),
        st.integers(min_value=1, max_value=500),
        st.integers(min_value=0, max_value=27),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_no_sequence_of_accepted_commands_takes_cash_below_zero_on_any_day(
    steps: list[tuple[str, int, int]],
) -> None:
    w = build_world(FundLedger("memory://"))
    w.donate("100000.00", "noodles", on=FIRST)
    grant_id = w.grant("noodles", "50000.00", on=FIRST)
    gifts: list[tuple[str, date]] = []
    expenses: list[tuple[str, date]] = []
    for what, yuan, offset in steps:
        day, amount_fen = FIRST + timedelta(days=offset), yuan * 100
        app, treasurer = w.app, w.treasurer
        try:
            if what == "gift":
                gifts.append((w.donate(f"{yuan}.00", channel="cash", on=day), day))
            elif what == "deposit":
                app.record_transfer(treasurer, "cash", "bank", amount_fen, day)
            elif what == "withdrawal":
                app.record_transfer(treasurer, "bank", "cash", amount_fen, day)
            elif what == "expense":
                paid = app.record_expense(
                    treasurer,
                    grant_id,
                    amount_fen,
                    day,
                    "南湖大酒店",
                    "programme",
                    "x",
                    account="cash",
                )
                expenses.append((paid.id, day))
            elif what == "reverse_gift" and gifts:
                gift_id, given_on = gifts.pop()
                w.reverse_donation(gift_id, on=max(day, given_on))
            elif what == "reverse_expense" and expenses:
                expense_id, paid_on = expenses.pop()
                w.reverse_expense(expense_id, on=max(day, paid_on))
        except CashShort:
            continue
    assert all(balance >= 0 for _, balance in balances_by_day(w.app, CASH))
