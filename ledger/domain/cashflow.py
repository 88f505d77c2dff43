"""What moved the cash: each event's change in cash and cash equivalents, by the line of the
cash-flow statement (现金流量表, 会民非03表, direct method) it belongs on.

The amount is always the event's own postings on the cash accounts
(``accounts.CASH_AND_EQUIVALENTS``), so the lines add up to the change in cash by construction;
only the line is a choice, made here from what the event is.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.accounts import Posting, event_name, is_cash_equivalent, postings_for

# The form's lines that an event of this fund can reach (line numbers of 会民非03表).
DONATIONS_RECEIVED = 1  # 接受捐赠收到的现金
GOVERNMENT_RECEIVED = 5  # 政府补助收到的现金
OTHER_RECEIVED = 8  # 收到的其他与业务活动有关的现金
AID_PAID = 14  # 提供捐赠或者资助支付的现金
STAFF_PAID = 15  # 支付给员工以及为员工支付的现金
PURCHASES_PAID = 16  # 购买商品、接受服务支付的现金
OTHER_PAID = 19  # 支付的其他与业务活动有关的现金


def _paid_to(e: Any) -> int:
    # Money handed to a person (a household helped) is aid; to an organisation, a purchase.
    return AID_PAID if getattr(e, "payee_kind", "organisation") == "individual" else PURCHASES_PAID


def cash_line(domain_event: Any, change_fen: int) -> int:
    """The line an event's change in cash belongs on."""
    name = event_name(domain_event)
    if name in {"Donation.Received", "Donation.Reversed"}:
        # A gift refunded or keyed wrongly comes off the line it came in on.
        return (
            GOVERNMENT_RECEIVED if domain_event.donor_kind == "government" else DONATIONS_RECEIVED
        )
    if name in {"Expense.Paid", "Bill.Paid", "Advance.Paid"}:
        return _paid_to(domain_event)
    # A payment reversed is money that came back; anything else falls on the "other" lines.
    return OTHER_RECEIVED if change_fen > 0 else OTHER_PAID


def cash_flows(
    domain_event: object, postings: list[Posting] | None = None
) -> list[tuple[int, int]]:
    """(line, change in cash in fen: inflows positive) for one event; none if no cash moved.
    ``postings``: the event's own, when the caller has them already."""
    if postings is None:
        postings = postings_for(domain_event)
    change_fen = sum(p.amount_fen for p in postings if is_cash_equivalent(p.account))
    return [(cash_line(domain_event, change_fen), change_fen)] if change_fen else []
