"""The fund's domain: money, rules, aggregates and their events, the chart of accounts.

Pure: nothing here touches a database, a file, the network or a web framework. Each area has
its module; this package names every aggregate once more because stored events name their
classes by topics in this package (``ledger.domain:Donation.Received``, see ``base``).
"""

from ledger.domain.accruals import Advance, Bill, Custody
from ledger.domain.base import FUND_TZ, FundAggregate, Meta, derived_id, month_of, today
from ledger.domain.donations import Channel, Donation, ValuationBasis
from ledger.domain.expenses import Category, Expense, PayeeKind
from ledger.domain.fund import FUND_ID, Fund, ReceivedTotals
from ledger.domain.grants import Grant, GrantStatus
from ledger.domain.opinions import Explanation, Opinion
from ledger.domain.people import DIRECTORY_ID, Directory, Disclosure, Donor, DonorKind, Role
from ledger.domain.projects import Project
from ledger.domain.records import LEAF_FORMAT_ID, IdempotencyRecord, LeafFormat
from ledger.domain.volunteering import ServiceDonation

__all__ = [
    "DIRECTORY_ID",
    "FUND_ID",
    "FUND_TZ",
    "LEAF_FORMAT_ID",
    "Advance",
    "Bill",
    "Category",
    "Channel",
    "Custody",
    "Directory",
    "Disclosure",
    "Donation",
    "Donor",
    "DonorKind",
    "Expense",
    "Explanation",
    "Fund",
    "FundAggregate",
    "Grant",
    "GrantStatus",
    "IdempotencyRecord",
    "LeafFormat",
    "Meta",
    "Opinion",
    "PayeeKind",
    "Project",
    "ReceivedTotals",
    "Role",
    "ServiceDonation",
    "ValuationBasis",
    "derived_id",
    "month_of",
    "today",
]
