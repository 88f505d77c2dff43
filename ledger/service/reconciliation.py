"""Bank reconciliation: statements imported and matched to the books, the 银行余额调节表 of a
month, and the check a month's close makes."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date
from typing import Any, Unpack

from eventsourcing.application import AggregateNotFoundError

from ledger.domain import BankStatementBook, Meta, Role
from ledger.domain.accounts import postings_for
from ledger.domain.checks import DATE_MIN, MONTH, PAGE_SIZE_MAX, TEXT_CHARS_MAX, check_text
from ledger.domain.errors import InvalidInput
from ledger.domain.reconciliation import (
    BankLine,
    BookEntry,
    NotReconciled,
    Reconciliation,
    auto_matches,
    line_key,
    reconcile,
)
from ledger.domain.treasury import AccountKind
from ledger.formats.bank_statement import BankStatement
from ledger.service.kernel import RIGHTS, Actor, Decision, Keyed, Receipt, permitted
from ledger.service.treasury import TreasuryCommands

RIGHTS.update(
    {
        "import_bank_statement": (Role.TREASURER,),
        "reconcile_match": (Role.TREASURER,),
        "reconcile_unmatch": (Role.TREASURER,),
        "accept_reconciliation_difference": (Role.COMMITTEE,),
    }
)


def month_end(month: str) -> date:
    if not MONTH.match(month) or int(month[:4]) < DATE_MIN.year:
        raise InvalidInput("month", month, f"must be YYYY-MM, from {DATE_MIN.year} on")
    year, number = int(month[:4]), int(month[5:])
    return date(year, number, calendar.monthrange(year, number)[1])


def _reference(domain_event: Any) -> str:
    return str(getattr(domain_event, "reference", None) or getattr(domain_event, "receipt_no", ""))


def _counterpart(domain_event: Any) -> str:
    kind = getattr(domain_event, "payee_kind", None)
    return str(getattr(domain_event, "payee", "")) if kind == "organisation" else ""


class ReconciliationCommands(TreasuryCommands):
    def _bank_account(self, name: str) -> str:
        account = self.treasury().account(name)
        if account.kind != AccountKind.BANK:
            raise InvalidInput("account", name, "must be a bank account")
        return account.account

    def _statement_book(self, account: str, meta: Meta) -> BankStatementBook:
        try:
            found: object = self.repository.get(BankStatementBook.create_id(account))
        except AggregateNotFoundError:
            return BankStatementBook(account=account, meta=meta)
        assert isinstance(found, BankStatementBook)
        self._noted(found)
        return found

    def _events(self) -> Iterator[Any]:
        """Every event, in log order: any kind may move money (a canteen's settlement, say)."""
        position = 0
        while True:
            batch = self.recorder.select_notifications(start=position + 1, limit=PAGE_SIZE_MAX)
            for notification in batch:
                position = notification.id
                yield self.mapper.to_domain_event(notification)
            if len(batch) < PAGE_SIZE_MAX:
                return

    def book_entries(self, account: str) -> list[BookEntry]:
        """Every change the books hold to ``account``, from the log (read whole: a fund's
        bank account moves thousands of times a year, not millions)."""
        entries = []
        for domain_event in self._events():
            change_fen = sum(
                p.amount_fen for p in postings_for(domain_event) if p.account == account
            )
            if change_fen:
                entries.append(
                    BookEntry(
                        f"{domain_event.originator_id}/{domain_event.originator_version}",
                        domain_event.meta.effective_on,
                        change_fen,
                        _counterpart(domain_event),
                        _reference(domain_event),
                    )
                )
        return sorted(entries, key=lambda e: (e.day, e.entry_id))

    @permitted("import_bank_statement")
    def import_bank_statement(
        self, actor: Actor, account_name: str, statement: BankStatement, **options: Unpack[Keyed]
    ) -> Receipt:
        """The statement's lines not held yet, each matched at once where one entry fits."""
        lines = [
            BankLine(
                line_key(li.day, li.change_fen, li.balance_fen, li.reference),
                li.day,
                li.change_fen,
                li.balance_fen,
                li.counterpart,
                li.reference,
                li.memo,
            )
            for li in statement.lines
        ]

        def decide(meta: Meta) -> Decision:
            account = self._bank_account(account_name)
            book = self._statement_book(account, meta)
            added = book.add_lines(lines, meta)
            if added:
                entries = self.book_entries(account)
                for key, entry_id in auto_matches(
                    book.bank_lines(), entries, set(book.matches), book.matched_entries()
                ):
                    book.match(key, [entry_id], meta)
            return f"{added}", [book]

        args = {"account": account_name, "lines": [vars(li) for li in lines]}
        return self._run(actor, "import_bank_statement", args, decide, **options)

    @permitted("reconcile_match")
    def reconcile_match(
        self,
        actor: Actor,
        account_name: str,
        key: str,
        entry_ids: list[str],
        **options: Unpack[Keyed],
    ) -> Receipt:
        """The treasurer's match of a statement line to book entries adding up to it."""

        def decide(meta: Meta) -> Decision:
            account = self._bank_account(account_name)
            book = self._statement_book(account, meta)
            entries = {e.entry_id: e for e in self.book_entries(account)}
            unknown = [i for i in entry_ids if i not in entries]
            if unknown or not entry_ids:
                raise InvalidInput("entries", ",".join(unknown), f"are not entries of {account}")
            total_fen = sum(entries[i].change_fen for i in entry_ids)
            if key in book.lines and total_fen != int(str(book.lines[key][1])):
                raise InvalidInput("entries", ",".join(entry_ids), "do not add up to the line")
            book.match(key, entry_ids, meta)
            return key, [book]

        args = {"account": account_name, "key": key, "entry_ids": entry_ids}
        return self._run(actor, "reconcile_match", args, decide, **options)

    @permitted("reconcile_unmatch")
    def reconcile_unmatch(
        self, actor: Actor, account_name: str, key: str, **options: Unpack[Keyed]
    ) -> Receipt:
        def decide(meta: Meta) -> Decision:
            book = self._statement_book(self._bank_account(account_name), meta)
            book.unmatch(key, meta)
            return key, [book]

        args = {"account": account_name, "key": key}
        return self._run(actor, "reconcile_unmatch", args, decide, **options)

    @permitted("accept_reconciliation_difference")
    def accept_reconciliation_difference(
        self, actor: Actor, account_name: str, month: str, reason: str, **options: Unpack[Keyed]
    ) -> Receipt:
        """A committee member records why a month may close though it does not reconcile."""
        month_end(month)
        check_text("reason", reason, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> Decision:
            book = self._statement_book(self._bank_account(account_name), meta)
            book.accept_difference(month, reason, meta)
            return month, [book]

        args = {"account": account_name, "month": month, "reason": reason}
        return self._run(actor, "accept_reconciliation_difference", args, decide, **options)

    def bank_reconciliation(self, account_name: str, month: str) -> Reconciliation:
        """The 银行余额调节表 of a bank account for a month."""
        last = month_end(month)
        account = self._bank_account(account_name)
        book = self._statement_book(account, Meta("reader", "auditor", last))
        return reconcile(
            account, month, last, book.bank_lines(), book.matches, self.book_entries(account)
        )

    def statement_lines(self, account_name: str) -> tuple[list[BankLine], dict[str, list[str]]]:
        account = self._bank_account(account_name)
        book = self._statement_book(account, Meta("reader", "auditor", date(2000, 1, 1)))
        return book.bank_lines(), dict(book.matches)

    def check_reconciled(self, through: str, after: str | None) -> None:
        """Before months close (after ``after``, through ``through``): each bank account's
        statement of each of them must reconcile, or a committee member must have recorded
        why it may close regardless."""
        for money_account in self.treasury().accounts().values():
            if money_account.kind != AccountKind.BANK:
                continue
            book_id = BankStatementBook.create_id(money_account.account)
            if not self._exists(book_id):
                continue
            book = self._get(BankStatementBook, book_id, "bank statement")
            lines = book.bank_lines()
            months = sorted({li.day.isoformat()[:7] for li in lines})
            closing = [m for m in months if (after is None or m > after) and m <= through]
            entries = self.book_entries(money_account.account) if closing else []
            for month in closing:
                if month in book.accepted:
                    continue
                table = reconcile(
                    money_account.account, month, month_end(month), lines, book.matches, entries
                )
                if not table.reconciled:
                    raise NotReconciled(money_account.account, month, table.reasons())
