"""记账凭证: a voucher number is used once a year, given or assigned in sequence; from the
committee's threshold a voucher needs an attachment's SHA-256."""

from __future__ import annotations

import hashlib
from datetime import date

from helpers import DAY, World, aggregate, events_named, fen, refused

from ledger.domain import VoucherYear
from ledger.domain.errors import AttachmentMissing, NotPermitted, NumberTaken
from ledger.domain.vouchers import gaps

INVOICE_SHA256 = hashlib.sha256(b"fapiao 0001").hexdigest()


def pay(w: World, grant_id: str, voucher_no: str | None = None, **kwargs: object) -> str:
    return w.app.record_expense(
        w.treasurer,
        grant_id,
        fen("100.00"),
        DAY,
        "南湖大酒店",
        "programme",
        "寿宴",
        voucher_no=voucher_no,
        **kwargs,  # type: ignore[arg-type]
    ).id


def test_numbers_are_assigned_in_sequence_and_a_given_one_is_kept(w: World) -> None:
    w.donate("5000.00")
    grant_id = w.grant("noodles", "1000.00")
    pay(w, grant_id)
    pay(w, grant_id, "PZ202503-0007")
    pay(w, grant_id)
    w.app.record_transfer(w.treasurer, "bank", "cash", fen("10.00"), DAY)
    numbers = [e.voucher_no for e in events_named(w.app, "Expense.Paid")]
    assert numbers == ["2025-0001", "PZ202503-0007", "2025-0002"]
    assert [e.voucher_no for e in events_named(w.app, "Transfer.Made")] == ["2025-0003"]


def test_a_duplicate_voucher_number_is_refused_naming_the_earlier_record(w: World) -> None:
    w.donate("5000.00")
    grant_id = w.grant("noodles", "1000.00")
    first_id = pay(w, grant_id, "PZ-1")
    error = refused(w.app, NumberTaken, lambda: pay(w, grant_id, "PZ-1"))
    assert error.facts == {
        "what": "voucher",
        "number": "PZ-1",
        "earlier_kind": "expense",
        "earlier_id": first_id,
    }
    refused(
        w.app,
        NumberTaken,
        lambda: w.app.record_transfer(w.treasurer, "bank", "cash", 100, DAY, voucher=("PZ-1", ())),
    )
    # Another year has numbers of its own.
    w.donate("10.00", on=date(2026, 1, 5))
    w.app.record_transfer(w.treasurer, "bank", "cash", 100, date(2026, 1, 5), voucher=("PZ-1", ()))


def test_a_reversal_has_a_voucher_of_its_own(w: World) -> None:
    w.donate("5000.00")
    grant_id = w.grant("noodles", "1000.00")
    expense_id = pay(w, grant_id)
    w.reverse_expense(expense_id)
    [reversed_] = events_named(w.app, "Expense.Reversed")
    assert reversed_.voucher_no == "2025-0002"
    year = aggregate(w.app, str(VoucherYear.create_id(2025)))
    assert year.numbers["2025-0002"][:2] == ["expense reversal", expense_id]


def test_from_the_committees_threshold_an_attachment_is_needed(w: World) -> None:
    w.donate("5000.00")
    grant_id = w.grant("noodles", "1000.00")
    refused(w.app, NotPermitted, lambda: w.app.set_attachment_threshold(w.treasurer, fen("50.00")))
    w.app.set_attachment_threshold(w.committee[0], fen("50.00"))
    error = refused(w.app, AttachmentMissing, lambda: pay(w, grant_id))
    assert error.facts == {"amount": "100.00", "threshold": "50.00"}
    pay(w, grant_id, voucher_sha256=INVOICE_SHA256)
    year = aggregate(w.app, str(VoucherYear.create_id(2025)))
    assert year.numbers["2025-0001"][3:] == [INVOICE_SHA256]


def test_gaps_are_found_in_each_series() -> None:
    assert gaps(["2025-0001", "2025-0004", "PZ-7", "PZ-9", "no digits"]) == [
        "2025-0002",
        "2025-0003",
        "PZ-8",
    ]


def test_a_gift_reversed_has_a_voucher_too(w: World) -> None:
    gift_id = w.donate("300.00", channel="cash")
    w.reverse_donation(gift_id)
    [reversed_] = events_named(w.app, "Donation.Reversed")
    assert reversed_.voucher_no == "2025-0001"
    year = aggregate(w.app, str(VoucherYear.create_id(2025)))
    assert year.numbers["2025-0001"][:2] == ["donation reversal", gift_id]
