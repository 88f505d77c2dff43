"""The chart of accounts and the balanced postings that every event maps to.

The chart follows 民间非营利组织会计制度 (the accounting system for non-profit organisations):
income is split restricted / unrestricted (限定性 / 非限定性), and when a restriction is met the
amount is released (限定性净资产转为非限定性净资产). Net assets are not stored in their own
accounts: restricted net assets are the credit balance of ``Income:Restricted``, unrestricted
net assets that of ``Income:Unrestricted`` less ``Expenses``. A committee designation of
unrestricted money to a project is a memo pair under ``Equity:Designations``, apart from donor
restrictions, as the accounting standards ask.

The release from restriction is not an event's own posting: money restricted to a project is
released as the project spends it, in the order of the days things happened, whatever order they
were recorded in (``ledger.domain.restrictions``). An event posts only what it itself moves.

Amounts are fen; a positive amount is a debit and a negative one a credit (Beancount's signs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BANK = "Assets:Bank"
# The cash box (库存现金) and money held on payment platforms until they settle it to the bank
# (其他货币资金); a second bank account or cash box is a sub-account (``Assets:Bank:Icbc``).
CASH = "Assets:Cash"
PLATFORMS = "Assets:Platforms"
# What the cash-flow statement counts as cash and cash equivalents (现金及现金等价物): these
# accounts and their sub-accounts (``is_cash_equivalent``).
CASH_AND_EQUIVALENTS = (BANK, CASH, PLATFORMS)
# Fees a platform or the bank keeps, by the cost line they fall on (筹资费用 / 管理费用).
FEE_ACCOUNTS = {
    "fundraising": "Expenses:Fundraising:Fees",
    "management": "Expenses:Management:Fees",
}
PREPAYMENTS = "Assets:Prepayments"
IN_KIND_ASSETS = "Assets:InKind"
# Goods given in kind and used or handed out, per project: the stock's credit side.
IN_KIND_USED = "Assets:InKind:UsedFor"
FIXED_ASSETS = "Assets:FixedAssets"
# Accumulated depreciation (累计折旧), per project the asset serves.
DEPRECIATION = "Assets:FixedAssets:Depreciation"
CUSTODY_ASSETS = "Assets:Custody"
PAYABLES = "Liabilities:Payables"
CUSTODY_LIABILITIES = "Liabilities:Custody"
NET_ASSETS_UNRESTRICTED = "Equity:NetAssets:Unrestricted"
NET_ASSETS_RESTRICTED = "Equity:NetAssets:Restricted"
DESIGNATION_OFFSET = "Equity:Designations:Offset"

# Chinese names of the top accounts, for statements and the Beancount journal's comments.
ACCOUNT_NAMES_ZH = {
    BANK: "银行存款",
    CASH: "库存现金",
    PLATFORMS: "其他货币资金",
    PREPAYMENTS: "预付账款",
    IN_KIND_ASSETS: "存货（受赠实物）",
    IN_KIND_USED: "存货（受赠实物）已领用",
    FIXED_ASSETS: "固定资产",
    DEPRECIATION: "累计折旧",
    CUSTODY_ASSETS: "受托代理资产",
    PAYABLES: "应付款项",
    CUSTODY_LIABILITIES: "受托代理负债",
    NET_ASSETS_UNRESTRICTED: "非限定性净资产",
    NET_ASSETS_RESTRICTED: "限定性净资产",
    "Income:Unrestricted": "收入-非限定性",
    "Income:Restricted": "收入-限定性",
    "Expenses:Programme": "业务活动成本",
    "Expenses:Management": "管理费用",
    "Expenses:Fundraising": "筹资费用",
    "Equity:Designations": "理事会指定用途（非限定性）",
}


def is_cash_equivalent(account: str) -> bool:
    """Cash, bank and platform money, each account or any sub-account of one."""
    return any(account == top or account.startswith(top + ":") for top in CASH_AND_EQUIVALENTS)


def money_account(domain_event: Any) -> str:
    """Where an event's money sits: its ``account``, or the bank for events recorded before
    events said which (their postings, and so their leaves, stay as signed)."""
    return getattr(domain_event, "account", None) or BANK


def project_component(project_code: str) -> str:
    """A project code as a Beancount account component: ``red-boat`` -> ``Red-boat``."""
    return project_code[:1].upper() + project_code[1:]


def income_account(
    restricted: bool, donor_kind: str, in_kind: bool, project_code: str | None
) -> str:
    """捐赠收入 or 政府补助收入, restricted ones per project so the roll-forward is exact."""
    line = (
        "InKind" if in_kind else "GovernmentGrants" if donor_kind == "government" else "Donations"
    )
    if restricted:
        assert project_code is not None
        return f"Income:Restricted:{line}:{project_component(project_code)}"
    return f"Income:Unrestricted:{line}"


def release_accounts(project_code: str) -> tuple[str, str]:
    """(restricted side, unrestricted side) of a release from restriction for a project."""
    component = project_component(project_code)
    return (
        f"Income:Restricted:ReleasedFromRestriction:{component}",
        f"Income:Unrestricted:ReleasedFromRestriction:{component}",
    )


def expense_account(category: str, project_code: str) -> str:
    return f"Expenses:{category.capitalize()}:{project_component(project_code)}"


def designation_account(project_code: str) -> str:
    return f"Equity:Designations:{project_component(project_code)}"


def per_project(account: str, project_code: str) -> str:
    return f"{account}:{project_component(project_code)}"


@dataclass(frozen=True)
class Posting:
    account: str
    amount_fen: int


def _pair(debit: str, credit: str, amount_fen: int) -> list[Posting]:
    if amount_fen == 0:
        return []
    return [Posting(debit, amount_fen), Posting(credit, -amount_fen)]


def _donation_received(e: Any) -> list[Posting]:
    credit = income_account(e.project_id is not None, e.donor_kind, e.in_kind, e.project_code)
    return _pair(IN_KIND_ASSETS if e.in_kind else money_account(e), credit, e.amount_fen)


def _donation_reversed(e: Any) -> list[Posting]:
    debit = income_account(e.project_id is not None, e.donor_kind, e.in_kind, e.project_code)
    return _pair(debit, IN_KIND_ASSETS if e.in_kind else money_account(e), e.amount_fen)


def _grant_approved(e: Any) -> list[Posting]:
    return _pair(DESIGNATION_OFFSET, designation_account(e.project_code), e.unrestricted_fen)


def _grant_closed(e: Any) -> list[Posting]:
    return _pair(
        designation_account(e.project_code), DESIGNATION_OFFSET, e.released_unrestricted_fen
    )


def _expense_paid(e: Any) -> list[Posting]:
    return [
        *_pair(expense_account(e.category, e.project_code), money_account(e), e.amount_fen),
        *_pair(designation_account(e.project_code), DESIGNATION_OFFSET, e.unrestricted_fen),
    ]


def _transfer_made(e: Any) -> list[Posting]:
    """Money moved between cash, bank and platforms; a fee kept on the way is a cost."""
    return [
        Posting(e.target, e.amount_fen - e.fee_fen),
        *([Posting(FEE_ACCOUNTS[e.fee_category], e.fee_fen)] if e.fee_fen else []),
        Posting(e.source, -e.amount_fen),
    ]


def _expense_reversed(e: Any) -> list[Posting]:
    # Once a grant is closed its designation is gone, so money coming back is undesignated.
    designation = 0 if e.grant_closed else e.unrestricted_fen
    return [
        *_pair(money_account(e), expense_account(e.category, e.project_code), e.amount_fen),
        *_pair(DESIGNATION_OFFSET, designation_account(e.project_code), designation),
    ]


def _v1_release(e: Any) -> list[Posting]:
    """The release an expense posted in leaves of format v1: its grant's restricted share."""
    restricted_side, unrestricted_side = release_accounts(e.project_code)
    if event_name(e) == "Expense.Paid":
        return _pair(restricted_side, unrestricted_side, e.restricted_fen)
    return _pair(unrestricted_side, restricted_side, e.restricted_fen)


def _bill_received(e: Any) -> list[Posting]:
    # Accrual: the cost is the fund's when the bill is received, paid or not (应付款项).
    return [
        *_pair(expense_account(e.category, e.project_code), PAYABLES, e.amount_fen),
        *_pair(designation_account(e.project_code), DESIGNATION_OFFSET, e.unrestricted_fen),
    ]


def _advance_paid(e: Any) -> list[Posting]:
    # Money out before the goods or service come (预付账款): no cost yet.
    return [
        *_pair(PREPAYMENTS, BANK, e.amount_fen),
        *_pair(designation_account(e.project_code), DESIGNATION_OFFSET, e.unrestricted_fen),
    ]


def _in_kind_valued(e: Any) -> list[Posting]:
    # A gift kept as a fixed asset moves from the stock of goods to fixed assets.
    return _pair(FIXED_ASSETS, IN_KIND_ASSETS, e.amount_fen) if e.fixed_asset else []


_POSTING_RULES: dict[str, Callable[[Any], list[Posting]]] = {
    "Donation.Received": _donation_received,
    "Donation.Reversed": _donation_reversed,
    "Donation.InKindValued": _in_kind_valued,
    "Donation.InKindUsed": lambda e: _pair(
        expense_account(e.category, e.project_code),
        per_project(IN_KIND_USED, e.project_code),
        e.amount_fen,
    ),
    "Donation.Depreciated": lambda e: _pair(
        expense_account(e.category, e.project_code),
        per_project(DEPRECIATION, e.project_code),
        e.amount_fen,
    ),
    "Grant.Approved": _grant_approved,
    "Grant.Closed": _grant_closed,
    "Expense.Paid": _expense_paid,
    "Expense.Reversed": _expense_reversed,
    "Bill.Received": _bill_received,
    "Bill.Paid": lambda e: _pair(PAYABLES, BANK, e.amount_fen),
    "Advance.Paid": _advance_paid,
    "Advance.Settled": lambda e: _pair(
        expense_account(e.category, e.project_code), PREPAYMENTS, e.amount_fen
    ),
    "Custody.Received": lambda e: _pair(CUSTODY_ASSETS, CUSTODY_LIABILITIES, e.amount_fen),
    "Custody.PassedOn": lambda e: _pair(CUSTODY_LIABILITIES, CUSTODY_ASSETS, e.amount_fen),
    "Transfer.Made": _transfer_made,
}


def event_name(domain_event: object) -> str:
    """``Donation.Received`` for the event class nested in the ``Donation`` aggregate."""
    return type(domain_event).__qualname__


def commitment_change_fen(domain_event: Any) -> int:
    """How an event changes the money committed to grants and not yet spent or released."""
    name = event_name(domain_event)
    e = domain_event
    if name == "Grant.Approved":
        return int(e.restricted_fen + e.unrestricted_fen)
    if name == "Grant.Closed":
        return -int(e.released_restricted_fen + e.released_unrestricted_fen)
    if name in {"Expense.Paid", "Bill.Received", "Advance.Paid"}:
        return -int(e.amount_fen)
    if name == "Expense.Reversed" and not e.grant_closed:
        # Once a grant is closed, money an expense reversal brings back is the fund's again.
        return int(e.amount_fen)
    return 0


def postings_for(domain_event: object) -> list[Posting]:
    """The balanced postings of one event; events that move no money post nothing."""
    rule = _POSTING_RULES.get(event_name(domain_event))
    postings = rule(domain_event) if rule else []
    assert sum(p.amount_fen for p in postings) == 0, f"unbalanced: {postings}"
    return postings


def v1_postings_for(domain_event: object) -> list[Posting]:
    """The postings a leaf of format v1 shows, kept byte for byte for the leaves already signed.

    Format v1 also showed, on each expense and its reversal, a release from restriction taken
    from the grant's restricted share as recorded. Replaying a log sets those aside and derives
    the release from the days (``ledger.domain.restrictions.settled``), as the books do.
    """
    postings = postings_for(domain_event)
    if event_name(domain_event) in {"Expense.Paid", "Expense.Reversed"}:
        # The cost and the cash first, then the release, then the designation, as v1 had them.
        postings = [*postings[:2], *_v1_release(domain_event), *postings[2:]]
    return postings
