"""银行余额调节表: a bank account's statement lines, matched to the books' entries, and the
reconciliation of a month (book balance, bank balance, the items in transit each way).

A month is reconciled when the adjusted balances are equal and the bank shows nothing the
books lack: a line the books do not hold (interest, a fee, a gift not yet recorded, an amount
keyed one fen off) is for the treasurer to record or match; only the books' own entries not yet
on the bank's statement are items in transit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, derived_id
from ledger.domain.errors import InvalidInput, LedgerError, WrongState
from ledger.domain.yuan import format_yuan, format_yuan_grouped

# A bank books a movement on the day the fund does, or a few days after (weekends, clearing).
MATCH_WINDOW_DAYS = 5


@dataclass(frozen=True)
class BookEntry:
    """One event's change to a bank account, as the books hold it."""

    entry_id: str  # "<aggregate id>/<version>"
    day: date
    change_fen: int
    counterpart: str
    reference: str


@dataclass(frozen=True)
class BankLine:
    key: str
    day: date
    change_fen: int
    balance_fen: int
    counterpart: str
    reference: str
    memo: str


def line_key(day: date, change_fen: int, balance_fen: int, reference: str) -> str:
    """A line's identity: the same line imported again (an overlapping statement) is one."""
    return f"{day.isoformat()}|{change_fen}|{balance_fen}|{reference}"


class NotReconciled(LedgerError):
    code = "not-reconciled"
    title = "The bank reconciliation differs"

    def __init__(self, account: str, month: str, reasons: list[str]) -> None:
        super().__init__(
            f"{account} {month} does not reconcile: {'; '.join(reasons)}; a committee member "
            "may record why and close it anyway",
            account=account,
            month=month,
            reasons=reasons,
        )


class BankStatementBook(FundAggregate):
    """Every line of one bank account's statements, and which book entries each matches."""

    @event("Started")
    def __init__(self, account: str, meta: Meta) -> None:
        self.account = account
        # key -> [day, change, balance, counterpart, reference, memo]
        self.lines: dict[str, list[object]] = {}
        self.matches: dict[str, list[str]] = {}  # line key -> book entry ids
        self.accepted: dict[str, str] = {}  # month -> why it was closed unreconciled

    @staticmethod
    def create_id(account: str) -> UUID:
        return derived_id("bank-statement", account)

    def bank_lines(self) -> list[BankLine]:
        return sorted(
            (
                BankLine(
                    k,
                    date.fromisoformat(str(v[0])),
                    int(str(v[1])),
                    int(str(v[2])),
                    str(v[3]),
                    str(v[4]),
                    str(v[5]),
                )
                for k, v in self.lines.items()
            ),
            key=lambda line: line.day,  # stable: the statement's own order within a day
        )

    def add_lines(self, lines: Iterable[BankLine], meta: Meta) -> int:
        """The lines not held yet; how many were new."""
        new = [
            [
                li.key,
                li.day.isoformat(),
                li.change_fen,
                li.balance_fen,
                li.counterpart,
                li.reference,
                li.memo,
            ]
            for li in lines
            if li.key not in self.lines
        ]
        if new:
            self._lines_imported(new, meta)
        return len(new)

    @event("LinesImported")
    def _lines_imported(self, lines: list[list[object]], meta: Meta) -> None:
        for line in lines:
            self.lines[str(line[0])] = list(line[1:])

    def matched_entries(self) -> set[str]:
        return {entry for entries in self.matches.values() for entry in entries}

    def match(self, key: str, entry_ids: list[str], meta: Meta) -> None:
        if key not in self.lines:
            raise InvalidInput("line", key, "is not a line of this account's statements")
        if key in self.matches:
            raise WrongState("statement line", key, "matched", "unmatched")
        taken = self.matched_entries() & set(entry_ids)
        if taken:
            raise WrongState("book entry", sorted(taken)[0], "matched", "unmatched")
        self._matched(key, entry_ids, meta)

    @event("Matched")
    def _matched(self, key: str, entry_ids: list[str], meta: Meta) -> None:
        self.matches[key] = list(entry_ids)

    def unmatch(self, key: str, meta: Meta) -> None:
        if key not in self.matches:
            raise WrongState("statement line", key, "unmatched", "matched")
        self._unmatched(key, meta)

    @event("Unmatched")
    def _unmatched(self, key: str, meta: Meta) -> None:
        del self.matches[key]

    @event("DifferenceAccepted")
    def accept_difference(self, month: str, reason: str, meta: Meta) -> None:
        self.accepted[month] = reason


def auto_matches(
    lines: list[BankLine], entries: list[BookEntry], matched: set[str], taken: set[str]
) -> list[tuple[str, str]]:
    """(line key, entry id) for each unmatched line with exactly one candidate entry: the same
    amount, booked on the line's day or up to the window before, the same reference or
    counterpart when that picks one out of several."""
    pairs: list[tuple[str, str]] = []
    used = set(taken)
    for line in lines:
        if line.key in matched:
            continue
        candidates = [
            e
            for e in entries
            if e.entry_id not in used
            and e.change_fen == line.change_fen
            and e.day <= line.day <= e.day + timedelta(days=MATCH_WINDOW_DAYS)
        ]
        candidates = _narrowed(line, candidates)
        if len({(e.day, e.counterpart, e.reference) for e in candidates}) == 1:
            # Entries alike in every way the bank shows are interchangeable: take the first.
            candidates = candidates[:1]
        if len(candidates) == 1:
            pairs.append((line.key, candidates[0].entry_id))
            used.add(candidates[0].entry_id)
    return pairs


def _narrowed(line: BankLine, candidates: list[BookEntry]) -> list[BookEntry]:
    """Several entries fit: the same reference, then counterpart, then day, picks among them."""
    for attribute in ("reference", "counterpart", "day"):
        wanted = getattr(line, attribute)
        if len(candidates) > 1 and wanted:
            fitting = [e for e in candidates if getattr(e, attribute) == wanted]
            candidates = fitting or candidates
    return candidates


@dataclass
class Reconciliation:
    """The 银行余额调节表 of one account and month (amounts in fen)."""

    account: str
    month: str
    book_balance_fen: int
    bank_balance_fen: int
    bank_in_not_booked: list[BankLine] = field(default_factory=list)  # 银收企未收
    bank_out_not_booked: list[BankLine] = field(default_factory=list)  # 银付企未付
    booked_in_not_banked: list[BookEntry] = field(default_factory=list)  # 企收银未收
    booked_out_not_banked: list[BookEntry] = field(default_factory=list)  # 企付银未付

    @property
    def book_adjusted_fen(self) -> int:
        return (
            self.book_balance_fen
            + sum(li.change_fen for li in self.bank_in_not_booked)
            + sum(li.change_fen for li in self.bank_out_not_booked)
        )

    @property
    def bank_adjusted_fen(self) -> int:
        return (
            self.bank_balance_fen
            + sum(e.change_fen for e in self.booked_in_not_banked)
            + sum(e.change_fen for e in self.booked_out_not_banked)
        )

    def reasons(self) -> list[str]:
        """Why the month does not reconcile; none when it does."""
        reasons = []
        if self.book_adjusted_fen != self.bank_adjusted_fen:
            reasons.append(
                f"adjusted balances differ: books {format_yuan_grouped(self.book_adjusted_fen)}, "
                f"bank {format_yuan_grouped(self.bank_adjusted_fen)}"
            )
        for line in (*self.bank_in_not_booked, *self.bank_out_not_booked):
            reasons.append(
                f"the bank's line of {line.day.isoformat()} "
                f"({format_yuan_grouped(line.change_fen)}, {line.reference or line.memo}) "
                "is in no book entry"
            )
        return reasons

    @property
    def reconciled(self) -> bool:
        return not self.reasons()


def reconcile(
    account: str,
    month: str,
    month_end: date,
    lines: list[BankLine],
    matches: dict[str, list[str]],
    entries: list[BookEntry],
) -> Reconciliation:
    """The table for ``month`` from every line and entry up to its last day."""
    lines = [li for li in lines if li.day <= month_end]
    entries = [e for e in entries if e.day <= month_end]
    in_month = [li for li in lines if li.day.isoformat()[:7] == month]
    bank_balance_fen = (
        in_month[-1].balance_fen if in_month else (lines[-1].balance_fen if lines else 0)
    )
    matched_entries = {
        entry for key, ids in matches.items() if key in {li.key for li in lines} for entry in ids
    }
    table = Reconciliation(account, month, sum(e.change_fen for e in entries), bank_balance_fen)
    for line in lines:
        if line.key not in matches:
            (table.bank_in_not_booked if line.change_fen > 0 else table.bank_out_not_booked).append(
                line
            )
    # Entries before the first statement's month are in its opening balance, not in transit.
    since = lines[0].day.replace(day=1) if lines else month_end
    for entry in entries:
        if entry.entry_id not in matched_entries and entry.day >= since:
            side = (
                table.booked_in_not_banked if entry.change_fen > 0 else table.booked_out_not_banked
            )
            side.append(entry)
    return table


def line_record(li: BankLine) -> dict[str, Any]:
    return {
        "key": li.key,
        "day": li.day.isoformat(),
        "amount": format_yuan(li.change_fen),
        "balance": format_yuan(li.balance_fen),
        "counterpart": li.counterpart,
        "reference": li.reference,
    }


def entry_record(e: BookEntry) -> dict[str, Any]:
    return {
        "entry": e.entry_id,
        "day": e.day.isoformat(),
        "amount": format_yuan(e.change_fen),
        "reference": e.reference,
    }


def reconciliation_record(table: Reconciliation) -> dict[str, Any]:
    """The 银行余额调节表 as JSON: both balances, the items each way, adjusted, the verdict."""
    return {
        "title": "银行存款余额调节表 / Bank reconciliation",
        "account": table.account,
        "month": table.month,
        "book_balance": format_yuan(table.book_balance_fen),
        "bank_in_not_booked": [line_record(li) for li in table.bank_in_not_booked],
        "bank_out_not_booked": [line_record(li) for li in table.bank_out_not_booked],
        "book_adjusted": format_yuan(table.book_adjusted_fen),
        "bank_balance": format_yuan(table.bank_balance_fen),
        "booked_in_not_banked": [entry_record(e) for e in table.booked_in_not_banked],
        "booked_out_not_banked": [entry_record(e) for e in table.booked_out_not_banked],
        "bank_adjusted": format_yuan(table.bank_adjusted_fen),
        "reconciled": table.reconciled,
        "reasons": table.reasons(),
    }
