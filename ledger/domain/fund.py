"""The fund: the one consistency boundary for commitments, reversals and closed months."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, derived_id, month_of
from ledger.domain.errors import InsufficientFunds, PeriodClosed, ReversalUncovered, WrongState


@dataclass(frozen=True)
class ReceivedTotals:
    """Cash donations received (not net of reversals), as far as the log has been read."""

    unrestricted_fen: int = 0
    restricted_fen_by_project: dict[str, int] | None = None

    def restricted_fen(self, project_id: str) -> int:
        return (self.restricted_fen_by_project or {}).get(project_id, 0)


FUND_ID = derived_id("fund")


class Fund(FundAggregate):
    """The one consistency boundary for what takes money away: commitments and reversals.

    Donations only add money and are their own aggregates, so they never contend here; the
    received totals are passed in by the application, and a slightly stale total errs on the
    safe side.
    """

    # Class defaults: a Fund read from a snapshot taken before these existed still has them.
    established_on: date | None = None
    # Years close in order, like months: closing a year needs the one before it closed.
    closed_year: int | None = None

    @event("Established")
    def __init__(self, name: str, currency: str, quorum: int, meta: Meta) -> None:
        self.name = name
        self.established_on = meta.effective_on
        self.currency = currency
        self.quorum = quorum
        # Books close month by month, in order: closing a month closes every month before it.
        self.closed_through: str | None = None
        self.committed_unrestricted_fen = 0
        self.committed_restricted_fen: dict[str, int] = {}
        self.reversed_unrestricted_fen = 0
        self.reversed_restricted_fen: dict[str, int] = {}

    @staticmethod
    def create_id() -> UUID:
        return FUND_ID

    # -- rules -------------------------------------------------------------------------------

    def check_open(self, day: date) -> None:
        if self.closed_through is not None and month_of(day) <= self.closed_through:
            raise PeriodClosed(self.closed_through, day.isoformat())

    def available_fen(self, project_id: str, received: ReceivedTotals) -> tuple[int, int]:
        """Money free for a grant to this project: (restricted to it, unrestricted)."""
        restricted = (
            received.restricted_fen(project_id)
            - self.reversed_restricted_fen.get(project_id, 0)
            - self.committed_restricted_fen.get(project_id, 0)
        )
        unrestricted = (
            received.unrestricted_fen
            - self.reversed_unrestricted_fen
            - self.committed_unrestricted_fen
        )
        return restricted, unrestricted

    # -- commands ----------------------------------------------------------------------------

    def commit(
        self,
        grant_id: str,
        project_id: str,
        project_code: str,
        amount_fen: int,
        received: ReceivedTotals,
        meta: Meta,
    ) -> tuple[int, int]:
        """Commit money to an approved grant, restricted money for its project first."""
        self.check_open(meta.effective_on)
        restricted_fen, unrestricted_fen = self.available_fen(project_id, received)
        if amount_fen > restricted_fen + unrestricted_fen:
            raise InsufficientFunds(project_code, restricted_fen + unrestricted_fen, amount_fen)
        from_restricted_fen = min(amount_fen, max(restricted_fen, 0))
        from_unrestricted_fen = amount_fen - from_restricted_fen
        self._committed(grant_id, project_id, from_restricted_fen, from_unrestricted_fen, meta)
        return from_restricted_fen, from_unrestricted_fen

    @event("Committed")
    def _committed(
        self,
        grant_id: str,
        project_id: str,
        restricted_fen: int,
        unrestricted_fen: int,
        meta: Meta,
    ) -> None:
        self._commitments_change(project_id, restricted_fen, unrestricted_fen)

    @event("Released")
    def release(
        self,
        grant_id: str,
        project_id: str,
        restricted_fen: int,
        unrestricted_fen: int,
        meta: Meta,
    ) -> None:
        self._commitments_change(project_id, -restricted_fen, -unrestricted_fen)

    def _commitments_change(
        self, project_id: str, restricted_fen: int, unrestricted_fen: int
    ) -> None:
        committed = self.committed_restricted_fen
        committed[project_id] = committed.get(project_id, 0) + restricted_fen
        self.committed_unrestricted_fen += unrestricted_fen

    def reverse_donation(
        self,
        donation_id: str,
        project_id: str | None,
        amount_fen: int,
        received: ReceivedTotals,
        meta: Meta,
    ) -> None:
        self.check_open(meta.effective_on)
        restricted_fen, unrestricted_fen = self.available_fen(project_id or "", received)
        free_fen = unrestricted_fen if project_id is None else restricted_fen
        if amount_fen > free_fen:
            raise ReversalUncovered(donation_id, free_fen, amount_fen)
        self._donation_reversed(donation_id, project_id, amount_fen, meta)

    @event("DonationReversed")
    def _donation_reversed(
        self, donation_id: str, project_id: str | None, amount_fen: int, meta: Meta
    ) -> None:
        if project_id is None:
            self.reversed_unrestricted_fen += amount_fen
        else:
            self.reversed_restricted_fen[project_id] = (
                self.reversed_restricted_fen.get(project_id, 0) + amount_fen
            )

    def close_period(self, month: str, meta: Meta) -> None:
        if self.closed_through is not None and month <= self.closed_through:
            raise WrongState(
                "month", month, f"closed (books closed through {self.closed_through})", "open"
            )
        self._period_closed(month, meta)

    @event("PeriodClosed")
    def _period_closed(self, month: str, meta: Meta) -> None:
        self.closed_through = month

    def first_year_open(self) -> int | None:
        """The year that closes next: the fund's first (from the month it was established to
        December) or the one after the last closed."""
        if self.closed_year is not None:
            return self.closed_year + 1
        return self.established_on.year if self.established_on else None

    def close_year(self, year: int, meta: Meta) -> None:
        """Close a year whose twelve months (its first: from establishment) are all closed."""
        expected = self.first_year_open()
        if self.closed_year is not None and year <= self.closed_year:
            raise WrongState(
                "year", year, f"closed (years closed through {self.closed_year})", "open"
            )
        if expected is not None and year != expected:
            raise WrongState("year", year, f"after the open year {expected}", "the next to close")
        if self.closed_through is None or self.closed_through < f"{year:04d}-12":
            through = self.closed_through or "no month"
            raise WrongState(
                "year",
                year,
                f"not closed month by month (closed through {through})",
                f"closed through {year:04d}-12",
            )
        self._year_closed(year, meta)

    @event("YearClosed")
    def _year_closed(self, year: int, meta: Meta) -> None:
        self.closed_year = year
