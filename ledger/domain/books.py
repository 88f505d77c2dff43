"""A fold of events into account balances and the fund's position (the ``summary`` figures)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ledger.domain.accounts import (
    FIXED_ASSETS,
    IN_KIND_ASSETS,
    commitment_change_fen,
    is_cash_equivalent,
    postings_for,
)
from ledger.domain.restrictions import consumed_fen, restricted_cash_fen, settled
from ledger.domain.yuan import format_yuan


@dataclass
class Books:
    """Balances of every account plus the open commitments, folded from events in log order."""

    balances_fen: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    committed_fen: int = 0
    events: int = 0

    def apply(self, domain_event: Any) -> None:
        self.events += 1
        for posting in postings_for(domain_event):
            self.balances_fen[posting.account] += posting.amount_fen
        self.committed_fen += commitment_change_fen(domain_event)

    def position(self) -> Position:
        return position_from(self.balances_fen, self.committed_fen, self.events)


def total_fen(balances_fen: Mapping[str, int], prefix: str) -> int:
    """The sum of an account and all accounts below it."""
    return sum(
        amount
        for account, amount in balances_fen.items()
        if account == prefix or account.startswith(prefix + ":")
    )


def position_from(balances_fen: Mapping[str, int], committed_fen: int, events: int) -> Position:
    """The summary figures, each a sum of postings (plus the commitments, which post nothing),
    with restricted money released as the days give it (``restrictions.settled``).

    The balances are the events' own postings, before any year's closing entries: the figures
    are the same either side of a close, and the log's leaves replay to them."""
    balances_fen = settled(balances_fen)
    cash_income_fen = -sum(
        total_fen(balances_fen, prefix)
        for prefix in (
            "Income:Unrestricted:Donations",
            "Income:Unrestricted:GovernmentGrants",
            "Income:Restricted:Donations",
            "Income:Restricted:GovernmentGrants",
        )
    )
    restricted_fen = restricted_cash_fen(balances_fen)
    balance_fen = sum(v for account, v in balances_fen.items() if is_cash_equivalent(account))
    return Position(
        received_total_fen=cash_income_fen,
        # What the grants paid for or owe; goods given in kind and used, and depreciation,
        # are costs too but no money's (they are in the statements, not in this figure).
        spent_total_fen=total_fen(balances_fen, "Expenses")
        - sum(consumed_fen(balances_fen).values()),
        balance_fen=balance_fen,
        restricted_balance_fen=restricted_fen,
        unrestricted_balance_fen=balance_fen - restricted_fen,
        committed_unspent_fen=committed_fen,
        available_for_grants_fen=balance_fen - committed_fen,
        in_kind_total_fen=total_fen(balances_fen, IN_KIND_ASSETS)
        + total_fen(balances_fen, FIXED_ASSETS),
        events=events,
    )


@dataclass(frozen=True)
class Position:
    """The fund's position: cash figures only; in-kind gifts are reported apart."""

    received_total_fen: int
    spent_total_fen: int
    balance_fen: int
    restricted_balance_fen: int
    unrestricted_balance_fen: int
    committed_unspent_fen: int
    available_for_grants_fen: int
    in_kind_total_fen: int
    events: int

    def as_json(self, currency: str = "CNY") -> dict[str, object]:
        """Amounts as yuan strings, as the edges of the system always show them."""
        return {
            "currency": currency,
            "received_total": format_yuan(self.received_total_fen),
            "spent_total": format_yuan(self.spent_total_fen),
            "balance": format_yuan(self.balance_fen),
            "restricted_balance": format_yuan(self.restricted_balance_fen),
            "unrestricted_balance": format_yuan(self.unrestricted_balance_fen),
            "committed_unspent": format_yuan(self.committed_unspent_fen),
            "available_for_grants": format_yuan(self.available_for_grants_fen),
            "in_kind_total": format_yuan(self.in_kind_total_fen),
            "events": self.events,
        }


def effective_on(domain_event: Any) -> date | None:
    meta = getattr(domain_event, "meta", None)
    return meta.effective_on if meta is not None else None


def fold(events: Iterable[Any], as_of: date | None = None) -> Books:
    """Fold events in log order, keeping only those effective on or before ``as_of``."""
    books = Books()
    for domain_event in events:
        day = effective_on(domain_event)
        if as_of is None or day is None or day <= as_of:
            books.apply(domain_event)
    return books
