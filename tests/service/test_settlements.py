"""A platform's settlement imported: its gifts, the fee, the transfer to the bank; twice,
nothing more; a gift the treasurer recorded by hand is found, not doubled."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from helpers import World, events_named, fen

from ledger.domain.accounts import postings_for
from ledger.formats.bank_statement import StatementRefused, decode_statement
from ledger.formats.platform_settlement import parse_settlement

SAMPLE = Path(__file__).parent.parent / "fixtures" / "platform" / "wechat-2025-03.csv"
SETTLED_ON = date(2025, 3, 13)


def settlement_text() -> str:
    return decode_statement(SAMPLE.read_bytes())


def imported(w: World, text: str) -> object:
    return w.app.import_platform_settlement(
        w.treasurer, "wechat_pay", parse_settlement(text), w.donors["individual"], SETTLED_ON
    )


def test_the_settlement_records_gifts_fee_and_transfer_and_twice_nothing(w: World) -> None:
    outcome = imported(w, settlement_text())
    assert (outcome.recorded, outcome.linked, outcome.settled) == (3, 0, True)  # type: ignore[attr-defined]
    gifts = events_named(w.app, "Donation.Received")
    assert sorted(g.amount_fen for g in gifts) == [fen("50.00"), fen("88.88"), fen("200.00")]
    assert {g.receipt_no for g in gifts} == {
        "WX-4200002025031000000000000001",
        "WX-4200002025031100000000000002",
        "WX-4200002025031200000000000003",
    }
    [transfer] = events_named(w.app, "Transfer.Made")
    assert [(p.account, p.amount_fen) for p in postings_for(transfer)] == [
        ("Assets:Bank", fen("336.85")),
        ("Expenses:Fundraising:Fees", fen("2.03")),
        ("Assets:Platforms:WechatPay", -fen("338.88")),
    ]
    position = w.app.position()
    again = imported(w, settlement_text())
    assert (again.recorded, again.linked, again.settled) == (0, 0, False)  # type: ignore[attr-defined]
    assert w.app.position() == position


def test_a_gift_recorded_by_hand_is_matched_not_doubled(w: World) -> None:
    by_hand = w.donate("50.00", channel="wechat_pay", on=date(2025, 3, 11), donor="individual")
    outcome = imported(w, settlement_text())
    assert (outcome.recorded, outcome.linked) == (2, 1)  # type: ignore[attr-defined]
    gifts = events_named(w.app, "Donation.Received")
    assert len(gifts) == 3
    assert str(gifts[0].originator_id) == by_hand
    assert sum(g.amount_fen for g in gifts) == fen("338.88")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda t: t.replace("`338.88,`0.00,`0.00,`2.03000", "`338.89,`0.00,`0.00,`2.03000"),
            "应结订单总金额 says 33889, the lines add up to 33888",
        ),
        (lambda t: t[: t.index("总交易单数")], "the file ends before its totals"),
        (lambda t: t.replace("微信订单号", "订单号"), "no header with 微信订单号"),
        (lambda t: t.replace("`50.00,", "`50.001,", 1), "line 3: amount must have at most two"),
    ],
)
def test_a_bad_settlement_file_is_refused_whole(w: World, change, problem) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StatementRefused) as caught:
        parse_settlement(change(settlement_text()))
    assert any(p.startswith(problem) or problem in p for p in caught.value.problems), (
        caught.value.problems
    )
    assert events_named(w.app, "Donation.Received") == []
