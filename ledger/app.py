"""The fund's books as one application object: what api/ and the command line call.

It holds no command of its own. Each area's commands live in their module of
``ledger.service`` and run through the one loop of ``ledger.service.kernel``; this class only
puts them together over one store.
"""

from __future__ import annotations

from ledger.domain import FUND_TZ, today
from ledger.service.accruals import AccrualCommands
from ledger.service.donation_batches import DonationBatches
from ledger.service.donations import DonationOrder
from ledger.service.expenses import ExpenseCommands
from ledger.service.grants import GrantCommands
from ledger.service.group_commit import GroupCommits
from ledger.service.inkind import InKindCommands
from ledger.service.kernel import OPERATOR, RETRIES_MAX, RIGHTS, Actor, Receipt
from ledger.service.meal_settlements import MealSettlements
from ledger.service.official_receipts import OfficialReceiptCommands
from ledger.service.panel import PanelCommands
from ledger.service.reading import Reading
from ledger.service.reconciliation import ReconciliationCommands
from ledger.service.settlements import SettlementCommands
from ledger.service.setup import SetupCommands
from ledger.service.treasury import TreasuryCommands
from ledger.service.users import UserCommands

__all__ = [
    "FUND_TZ",
    "OPERATOR",
    "RETRIES_MAX",
    "RIGHTS",
    "Actor",
    "DonationOrder",
    "FundLedger",
    "Receipt",
    "today",
]


class FundLedger(
    SetupCommands,
    UserCommands,
    GroupCommits,
    DonationBatches,
    GrantCommands,
    ExpenseCommands,
    AccrualCommands,
    InKindCommands,
    MealSettlements,
    PanelCommands,
    SettlementCommands,
    ReconciliationCommands,
    TreasuryCommands,
    OfficialReceiptCommands,
    Reading,
):
    """The fund's books: commands in, events stored, positions out."""

    name = "FundLedger"
