"""银行余额调节表: a month's statement imported and matched to the books reconciles; one line
one fen off does not, and the month will not close until a committee member says why."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import World, events_named, fen, refused

from ledger.demo.statements import Movement, icbc_statement
from ledger.domain.errors import InvalidInput
from ledger.domain.reconciliation import NotReconciled
from ledger.formats.bank_statement import decode_statement, parse_bank_statement
from ledger.log.leaves import leaf_record

MARCH = "2025-03"
OPENING = date(2025, 2, 20)


def march_books(w: World) -> dict[str, str]:
    """A month of the fund's bank account: a gift, cash deposited, a platform's settlement net
    of its fee, a payment, and a payment on the last day the bank clears in April."""
    w.donate("1000000.00", on=OPENING, donor="foundation")
    grant_id = w.grant("noodles", "30000.00", on=date(2025, 3, 1))
    ids = {"gift": w.donate("50000.00", on=date(2025, 3, 5))}
    w.donate("3200.00", channel="cash", on=date(2025, 3, 8))
    w.app.record_transfer(
        w.treasurer, "cash", "bank", fen("3200.00"), date(2025, 3, 8), ("deposit", 0, "management")
    )
    w.donate("1200.00", channel="wechat_pay", on=date(2025, 3, 12))
    w.app.record_transfer(
        w.treasurer,
        "wechat_pay",
        "bank",
        fen("1200.00"),
        date(2025, 3, 15),
        ("settlement", fen("7.20"), "fundraising"),
        reference="WX202503",
    )
    ids["paid"] = w.spend(grant_id, "12800.00", paid_on=date(2025, 3, 20))
    ids["in transit"] = w.spend(grant_id, "600.00", paid_on=date(2025, 3, 31))
    return ids


def march_statement(gift: str = "50000.00") -> str:
    movements = [
        Movement(date(2025, 3, 5), fen(gift), "南湖大酒店"),
        Movement(date(2025, 3, 8), fen("3200.00"), memo="现金存入"),
        Movement(date(2025, 3, 15), fen("1192.80"), "财付通支付科技有限公司", "WX202503"),
        Movement(date(2025, 3, 21), -fen("12800.00"), "南湖大酒店"),
    ]
    return icbc_statement(
        "1204 0600 0920 0123 456", "南湖未来社区共富基金", MARCH, fen("1000000.00"), movements
    )


def imported(w: World, text: str) -> None:
    statement = parse_bank_statement(decode_statement(text.encode("gbk")))
    w.app.import_bank_statement(w.treasurer, "bank", statement)


def test_a_month_matched_line_by_line_reconciles_with_an_item_in_transit(w: World) -> None:
    march_books(w)
    imported(w, march_statement())
    table = w.app.bank_reconciliation("bank", MARCH)
    assert table.reconciled, table.reasons()
    assert table.book_balance_fen == fen("1040992.80")
    assert table.bank_balance_fen == fen("1041592.80")
    assert [e.change_fen for e in table.booked_out_not_banked] == [-fen("600.00")]
    assert table.book_adjusted_fen == table.bank_adjusted_fen == fen("1040992.80")
    w.app.close_period(w.committee[0], MARCH, on=date(2025, 4, 2))


def test_the_same_statement_imported_twice_adds_nothing(w: World) -> None:
    march_books(w)
    imported(w, march_statement())
    position = w.app.position()
    imported(w, march_statement())
    assert w.app.position() == position
    lines, matches = w.app.statement_lines("bank")
    assert (len(lines), len(matches)) == (4, 4)


def test_one_line_one_fen_off_does_not_reconcile_and_the_month_does_not_close(w: World) -> None:
    march_books(w)
    imported(w, march_statement(gift="50000.01"))
    table = w.app.bank_reconciliation("bank", MARCH)
    assert not table.reconciled
    assert [li.change_fen for li in table.bank_in_not_booked] == [fen("50000.01")]
    assert [e.change_fen for e in table.booked_in_not_banked] == [fen("50000.00")]
    error = refused(
        w.app, NotReconciled, lambda: w.app.close_period(w.committee[0], MARCH, on=date(2025, 4, 2))
    )
    assert error.facts["account"] == "Assets:Bank"
    assert "2025-03-05" in error.facts["reasons"][0]  # type: ignore[index]
    w.app.accept_reconciliation_difference(
        w.committee[1], "bank", MARCH, "银行多记1分，已致函银行更正 bank error, letter sent"
    )
    w.app.close_period(w.committee[0], MARCH, on=date(2025, 4, 2))


def test_the_treasurer_matches_what_the_import_could_not(w: World) -> None:
    march_books(w)
    imported(w, march_statement(gift="50000.01"))
    lines, matches = w.app.statement_lines("bank")
    [unmatched] = [li for li in lines if li.key not in matches]
    entries = {e.change_fen: e.entry_id for e in w.app.book_entries("Assets:Bank")}
    refused(
        w.app,
        InvalidInput,
        lambda: w.app.reconcile_match(
            w.treasurer, "bank", unmatched.key, [entries[fen("50000.00")]]
        ),
    )
    matched_key = next(iter(matches))
    w.app.reconcile_unmatch(w.treasurer, "bank", matched_key)
    assert matched_key not in w.app.statement_lines("bank")[1]


def test_the_public_leaf_of_a_statement_shows_no_counterpart(w: World) -> None:
    w.donate("1000000.00", on=OPENING, donor="foundation")
    text = icbc_statement(
        "1204", "南湖", MARCH, fen("1000000.00"), [Movement(date(2025, 3, 5), 500, "张三丰")]
    )
    imported(w, text)
    [lines] = events_named(w.app, "BankStatementBook.LinesImported")
    leaf = leaf_record(1, lines, lambda _: b"salt", "fund-ledger/leaf/v2")
    assert "张三丰" not in str(leaf)
    assert leaf["data"]["lines"].startswith("sha256:")


def test_a_month_out_of_the_fund_s_range_is_invalid_input(w: World) -> None:
    for month in ("0000-01", "1999-12", "2025-13"):
        with pytest.raises(InvalidInput):
            w.app.bank_reconciliation("bank", month)
