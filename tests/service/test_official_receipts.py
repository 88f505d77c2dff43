"""公益事业捐赠票据: each number used once, issued for a gift or voided with a reason."""

from __future__ import annotations

from helpers import DAY, World, aggregate, refused

from ledger.domain import OfficialReceipt
from ledger.domain.errors import NotFound, NumberTaken, WrongState


def test_a_receipt_number_is_used_once_and_the_refusal_names_the_gift(w: World) -> None:
    gift_id = w.donate("200.00")
    other_id = w.donate("300.00")
    w.app.issue_official_receipt(w.treasurer, gift_id, "浙财0001", DAY)
    error = refused(
        w.app,
        NumberTaken,
        lambda: w.app.issue_official_receipt(w.treasurer, other_id, "浙财0001", DAY),
    )
    assert error.facts["earlier_kind"] == "donation"
    assert error.facts["earlier_id"] == gift_id
    refused(
        w.app,
        NotFound,
        lambda: w.app.issue_official_receipt(w.treasurer, "no-such-gift", "浙财0002", DAY),
    )


def test_a_voided_number_stays_used(w: World) -> None:
    gift_id = w.donate("200.00")
    w.app.issue_official_receipt(w.treasurer, gift_id, "浙财0001", DAY)
    w.app.void_official_receipt(w.treasurer, "浙财0001", "抬头写错 wrong payer name", DAY)
    w.app.void_official_receipt(w.treasurer, "浙财0002", "空白票据作废 spoiled blank form", DAY)
    receipt = aggregate(w.app, str(OfficialReceipt.create_id("浙财0001")))
    assert (receipt.voided, receipt.donation_id) == (True, gift_id)
    for number in ("浙财0001", "浙财0002"):
        refused(
            w.app,
            NumberTaken,
            lambda n=number: w.app.issue_official_receipt(w.treasurer, gift_id, n, DAY),
        )
    refused(
        w.app,
        WrongState,
        lambda: w.app.void_official_receipt(w.treasurer, "浙财0002", "again", DAY),
    )
