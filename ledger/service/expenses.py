"""Expenses: payments out of an approved grant, with their voucher, and their reversal."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any, Unpack
from uuid import uuid4

from ledger.domain import Category, Expense, Grant, GrantStatus, Meta, PayeeKind
from ledger.domain.base import derived_id
from ledger.domain.checks import (
    NAME_CHARS_MAX,
    TEXT_CHARS_MAX,
    check_choice,
    check_date,
    check_optional_sha256,
    check_optional_text,
    check_text,
)
from ledger.domain.expenses import Payment, pay_from
from ledger.domain.money import check_amount_fen
from ledger.service.kernel import Actor, Decision, Keyed, Options, Receipt, permitted
from ledger.service.personal import PersonalData
from ledger.service.treasury import TreasuryCommands

VOUCHER_CHARS_MAX = 64


def checked_payment(day: tuple[str, date], given: Payment) -> Payment:
    """A payment (an expense, a bill, an advance) as the treasurer gave it, checked field by
    field in the order a form shows them, with its category and payee kind made canonical."""
    check_amount_fen(given.amount_fen)
    check_date(*day)
    check_text("payee", given.payee, NAME_CHARS_MAX)
    payment = replace(
        given,
        category=check_choice("category", given.category, Category).value,
        payee_kind=check_choice("payee_kind", given.payee_kind, PayeeKind).value,
        description=check_text("description", given.description, TEXT_CHARS_MAX),
    )
    check_optional_text("voucher_no", given.voucher_no, VOUCHER_CHARS_MAX)
    check_optional_sha256("voucher_sha256", given.voucher_sha256)
    return payment


class ExpenseCommands(PersonalData, TreasuryCommands):
    @permitted("record_expense")
    def record_expense(
        self,
        actor: Actor,
        grant_id: str,
        amount_fen: int,
        paid_on: date,
        payee: str,
        category: str,
        description: str,
        voucher_no: str | None = None,
        voucher_sha256: str | None = None,
        payee_kind: str = PayeeKind.ORGANISATION.value,
        account: str = "bank",
        **options: Unpack[Keyed],
    ) -> Receipt:
        """Pay from a grant out of a money account (by name); the voucher number given, or
        the next of its year, and its attachment's SHA-256 when the committee's threshold
        asks for one."""
        payment = checked_payment(
            ("paid_on", paid_on),
            Payment(
                amount_fen, payee, payee_kind, category, description, voucher_no, voucher_sha256
            ),
        )
        key = options.get("idempotency_key")
        expense_id = derived_id("expense", actor.id, key) if key else uuid4()
        # A person paid has no register of their own: the expense is their id.
        person = str(expense_id) if payment.payee_kind == PayeeKind.INDIVIDUAL else None
        args: dict[str, Any] = {
            **vars(payment),
            "grant_id": grant_id,
            "paid_on": paid_on,
            "payee": payee if person is None else self._blinded(person, payee, key),
            "payee_kind": payee_kind,
            "category": category,
            # Named only when not the bank, so earlier commands keep their fingerprints.
            **({} if account == "bank" else {"account": account}),
        }

        def decide(meta: Meta) -> Decision:
            self._open_fund(paid_on)
            grant = self._get(Grant, grant_id, "grant")
            treasury = self.treasury(meta)
            paid_from = treasury.account(account).account
            vouchers = self.voucher_year(paid_on.year, meta)
            number = vouchers.number(
                payment.voucher_no,
                ("expense", str(expense_id)),
                () if payment.voucher_sha256 is None else (payment.voucher_sha256,),
                treasury.attachment_due(payment.amount_fen),
                meta,
            )
            self.move_cash(treasury, paid_from, -payment.amount_fen, meta)
            sealed = replace(payment, voucher_no=number)
            if person is not None:
                sealed = replace(sealed, payee=self._sealed(person, payee))
            expense = pay_from(grant, expense_id, sealed, meta, paid_from)
            return str(expense_id), [grant, expense, vouchers, treasury]

        return self._run(actor, "record_expense", args, decide, on=paid_on, idempotency_key=key)

    @permitted("reverse_expense")
    def reverse_expense(
        self, actor: Actor, expense_id: str, reason: str, **options: Unpack[Options]
    ) -> Receipt:
        check_text("reason", reason, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> Decision:
            fund = self._open_fund(meta.effective_on)
            expense = self._get(Expense, expense_id, "expense")
            grant = self._get(Grant, expense.grant_id, "grant")
            grant_closed = grant.status == GrantStatus.CLOSED
            vouchers = self.voucher_year(meta.effective_on.year, meta)
            number = vouchers.number(None, ("expense reversal", expense_id), (), None, meta)
            expense.reverse(reason, grant_closed, meta, number)
            grant.uncharge(expense_id, expense.restricted_fen, expense.unrestricted_fen, meta)
            treasury = self.treasury(meta)
            if expense.account is not None:
                self.move_cash(treasury, expense.account, expense.amount_fen, meta)
            if not grant_closed:
                return expense_id, [expense, grant, vouchers, treasury]
            # The grant's leftover was already released; this money goes back to the fund too.
            fund.release(
                expense.grant_id,
                grant.project_id,
                expense.restricted_fen,
                expense.unrestricted_fen,
                meta,
            )
            return expense_id, [expense, grant, fund, vouchers, treasury]

        args = {"expense_id": expense_id, "reason": reason}
        return self._run(actor, "reverse_expense", args, decide, **options)
