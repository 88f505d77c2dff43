"""Properties of effective dates: the statements as of any month end depend only on what is
dated on or before it, whatever order it was recorded in; and restricted money is released by
date, so no project's restricted net assets are ever below zero."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from helpers import build_world, fen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app import FundLedger
from ledger.domain.books import effective_on, fold
from ledger.domain.cashflow import cash_flows
from ledger.domain.errors import LedgerError
from ledger.domain.restrictions import released_fen, settled, spent_fen
from ledger.domain.yuan import format_yuan
from projections.statements.activities import activities
from projections.statements.balance_sheet import balance_sheet
from projections.statements.cash_flows import cash_flows as cash_flow_statement

START = date(2025, 1, 1)
MONTHS = 6
CODES = ("noodles", "health")
GRANT_YUAN = 100_000

days = st.integers(min_value=0, max_value=170).map(lambda n: START + timedelta(days=n))
amounts = st.integers(min_value=1, max_value=20_000).map(lambda n: f"{n}.{n % 100:02d}")
gifts = st.tuples(
    st.just("gift"),
    st.sampled_from((*CODES, None)),
    amounts,
    days,
    st.sampled_from(("enterprise", "government", "individual")),
)
spending = st.tuples(st.just("expense"), st.sampled_from(CODES), amounts, days, st.just(""))
items = st.lists(st.one_of(gifts, spending), min_size=1, max_size=12)


def month_ends() -> list[date]:
    ends = []
    for n in range(MONTHS):
        first = date(START.year, START.month + n, 1)
        ends.append(first.replace(day=calendar.monthrange(first.year, first.month)[1]))
    return ends


def record(order: list[tuple[str, str | None, str, date, str]]) -> list[Any]:
    """A fund with unrestricted money and a grant per project (both dated the first day),
    then the items in the order given; the stored events."""
    w = build_world(FundLedger("memory://"))
    w.donate(f"{2 * GRANT_YUAN}.00", on=START, donor="foundation")
    grants = {code: w.grant(code, f"{GRANT_YUAN}.00", on=START) for code in CODES}
    for kind, code, amount, day, donor in order:
        if kind == "gift":
            w.donate(amount, code, on=day, donor=donor)
        else:
            w.spend(grants[str(code)], amount, paid_on=day)
    return [event for _, event in w.app.iter_events()]


def statements_at_month_ends(events: list[Any]) -> list[dict[str, Any]]:
    found = []
    for end in month_ends():
        first = end.replace(day=1)
        opening = settled(fold(events, first - timedelta(days=1)).balances_fen)
        closing = settled(fold(events, end).balances_fen)
        moves = {a: closing.get(a, 0) - opening.get(a, 0) for a in {*opening, *closing}}
        lines: dict[int, int] = {}
        for event in events:
            if first <= effective_on(event) <= end:
                for line, amount_fen in cash_flows(event):
                    lines[line] = lines.get(line, 0) + amount_fen
        found.append(
            {
                "balance_sheet": balance_sheet(opening, closing, first, end),
                "activities": activities({"month": ("本月数", "month", moves)}),
                "cash_flows": cash_flow_statement({"month": ("本月数", "month", lines)}),
            }
        )
    return found


def within_grants(chosen: list[tuple[str, str | None, str, date, str]]) -> bool:
    return all(
        sum(fen(a) for kind, c, a, _, _ in chosen if kind == "expense" and c == code)
        <= fen(f"{GRANT_YUAN}.00")
        for code in CODES
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chosen=items.filter(within_grants), data=st.data())
def test_the_same_dated_events_in_any_recording_order_give_the_same_statements(
    chosen: list[tuple[str, str | None, str, date, str]], data: st.DataObject
) -> None:
    by_date = sorted(chosen, key=lambda item: item[3])
    shuffled = data.draw(st.permutations(chosen))
    first = statements_at_month_ends(record(by_date))
    again = statements_at_month_ends(record(list(shuffled)))
    assert first == again
    # The figures are not all zero: the comparison compares something.
    assert first[-1]["balance_sheet"]["rows"][2]["values"]["closing"] != "0.00"


# Gifts, grants (dated any day) and expenses (back-dated ones too), some refused by the rules.
steps = st.lists(
    st.one_of(
        gifts,
        spending,
        st.tuples(st.just("grant"), st.sampled_from(CODES), amounts, days, st.just("")),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chosen=steps)
def test_no_project_ever_has_negative_restricted_net_assets(
    chosen: list[tuple[str, str | None, str, date, str]],
) -> None:
    w = build_world(FundLedger("memory://"))
    grants: dict[str, list[str]] = {code: [] for code in CODES}
    for kind, code, amount, day, donor in chosen:
        try:
            if kind == "gift":
                w.donate(amount, code, on=day, donor=donor)
            elif kind == "grant":
                grants[str(code)].append(w.grant(str(code), amount, on=day))
            elif grants[str(code)]:
                w.spend(grants[str(code)][-1], amount, paid_on=day)
        except LedgerError:
            continue  # refused: nothing recorded
    events = [event for _, event in w.app.iter_events()]
    for day in sorted({effective_on(e) for e in events}):
        balances = settled(fold(events, day).balances_fen)
        released = released_fen(balances)
        spent = spent_fen(balances)
        for code in CODES:
            component = code.capitalize()
            received_fen = -sum(
                balances.get(f"Income:Restricted:{line}:{component}", 0)
                for line in ("Donations", "GovernmentGrants")
            )
            restricted_fen = received_fen - released.get(component, 0)
            assert restricted_fen >= 0, (day, code, format_yuan(restricted_fen))
            assert released.get(component, 0) <= received_fen
            assert released.get(component, 0) <= spent.get(component, 0)
