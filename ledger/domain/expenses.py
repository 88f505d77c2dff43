"""Payments out of approved grants, each with its voucher."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, created, not_before
from ledger.domain.errors import WrongState
from ledger.domain.grants import Grant


class Category(StrEnum):
    PROGRAMME = "programme"
    MANAGEMENT = "management"
    FUNDRAISING = "fundraising"


class PayeeKind(StrEnum):
    ORGANISATION = "organisation"
    INDIVIDUAL = "individual"


class Expense(FundAggregate):
    """A payment out of an approved grant, with its voucher."""

    @event("Paid")
    def __init__(
        self,
        grant_id: str,
        project_id: str,
        project_code: str,
        amount_fen: int,
        restricted_fen: int,
        unrestricted_fen: int,
        payee: str,
        payee_kind: str,
        category: str,
        description: str,
        voucher_no: str | None,
        voucher_sha256: str | None,
        meta: Meta,
        account: str | None = None,
    ) -> None:
        self.grant_id = grant_id
        self.project_id = project_id
        self.project_code = project_code
        self.amount_fen = amount_fen
        self.restricted_fen = restricted_fen
        self.unrestricted_fen = unrestricted_fen
        self.paid_on = meta.effective_on
        self.payee = payee
        self.payee_kind = payee_kind
        self.category = category
        self.description = description
        self.voucher_no = voucher_no
        self.voucher_sha256 = voucher_sha256
        # The money account it was paid from; None on expenses recorded before accounts
        # were named (the bank, ``accounts.money_account``).
        self.account = account
        self.reversed = False
        self.payee_forgotten = False

    @event("PayeeForgotten")
    def forget_payee(self, meta: Meta) -> None:
        self.payee_forgotten = True

    def reverse(
        self, reason: str, grant_closed: bool, meta: Meta, voucher_no: str | None = None
    ) -> None:
        if self.reversed:
            raise WrongState("expense", self.id, "reversed", "standing")
        not_before("expense", self.id, self.paid_on, meta)
        # Named only by expenses that named theirs, so older reversals read as they did.
        named = {} if self.account is None else {"account": self.account}
        self._reversed(
            reason,
            self.project_code,
            self.category,
            self.amount_fen,
            self.restricted_fen,
            self.unrestricted_fen,
            grant_closed,
            meta,
            voucher_no,
            **named,
        )

    @event("Reversed")
    def _reversed(
        self,
        reason: str,
        project_code: str,
        category: str,
        amount_fen: int,
        restricted_fen: int,
        unrestricted_fen: int,
        grant_closed: bool,
        meta: Meta,
        voucher_no: str | None = None,
        account: str | None = None,
    ) -> None:
        self.reversed = True


@dataclass(frozen=True)
class Payment:
    """What the treasurer says of a payment: how much, to whom, for what, on which voucher.

    ``payee`` is as it goes into the event: an individual's name already sealed.
    """

    amount_fen: int
    payee: str
    payee_kind: str
    category: str
    description: str
    voucher_no: str | None
    voucher_sha256: str | None


def pay_from(
    grant: Grant, expense_id: UUID, payment: Payment, meta: Meta, account: str | None = None
) -> Expense:
    """Pay from an approved grant: money restricted to its project first, then the rest."""
    restricted_fen, unrestricted_fen = grant.split(payment.amount_fen, meta)
    expense = created(
        Expense,
        "Paid",
        expense_id,
        grant_id=str(grant.id),
        project_id=grant.project_id,
        project_code=grant.project_code,
        restricted_fen=restricted_fen,
        unrestricted_fen=unrestricted_fen,
        meta=meta,
        **vars(payment),
        account=account,
    )
    grant.charge(str(expense.id), restricted_fen, unrestricted_fen, meta)
    return expense
