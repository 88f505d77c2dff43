"""A fold of events into account balances and the fund's position (the ``summary`` figures)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ledger.accounts import BANK, IN_KIND_ASSETS, event_name, postings_for
from ledger.money import format_yuan


@dataclass
class Books:
    """Balances of every account plus the commitments, folded from events in log order."""

    balances_fen: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Per approved grant: approved amount less charges and releases (committed but unspent).
    open_commitments_fen: dict[str, int] = field(default_factory=dict)
    events: int = 0

    def apply(self, domain_event: Any) -> None:
        self.events += 1
        for posting in postings_for(domain_event):
            self.balances_fen[posting.account] += posting.amount_fen
        name = event_name(domain_event)
        grant_id = str(getattr(domain_event, "originator_id", ""))
        if name == "Grant.Approved":
            self.open_commitments_fen[grant_id] = (
                domain_event.restricted_fen + domain_event.unrestricted_fen
            )
        elif name == "Grant.Charged":
            self.open_commitments_fen[grant_id] -= (
                domain_event.restricted_fen + domain_event.unrestricted_fen
            )
        elif name == "Grant.ChargeReversed" and grant_id in self.open_commitments_fen:
            self.open_commitments_fen[grant_id] += (
                domain_event.restricted_fen + domain_event.unrestricted_fen
            )
        elif name == "Grant.Closed":
            self.open_commitments_fen.pop(grant_id, None)

    def total_fen(self, prefix: str) -> int:
        return sum(
            amount
            for account, amount in self.balances_fen.items()
            if account == prefix or account.startswith(prefix + ":")
        )

    def position(self) -> Position:
        cash_income_fen = -(
            self.total_fen("Income:Unrestricted:Donations")
            + self.total_fen("Income:Unrestricted:GovernmentGrants")
            + self.total_fen("Income:Restricted:Donations")
            + self.total_fen("Income:Restricted:GovernmentGrants")
        )
        restricted_fen = -(
            self.total_fen("Income:Restricted") - self.total_fen("Income:Restricted:InKind")
        )
        balance_fen = self.balances_fen[BANK]
        committed_fen = sum(self.open_commitments_fen.values())
        return Position(
            received_total_fen=cash_income_fen,
            spent_total_fen=self.total_fen("Expenses"),
            balance_fen=balance_fen,
            restricted_balance_fen=restricted_fen,
            unrestricted_balance_fen=balance_fen - restricted_fen,
            committed_unspent_fen=committed_fen,
            available_for_grants_fen=balance_fen - committed_fen,
            in_kind_total_fen=self.balances_fen[IN_KIND_ASSETS],
            events=self.events,
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
