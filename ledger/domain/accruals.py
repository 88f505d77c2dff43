"""What the fund owes, has paid ahead, or holds for others: bills (应付款项), advances
(预付账款) and money held in custody (受托代理资产 / 受托代理负债).

A bill is a cost when it is received (the accrual basis 民间非营利组织会计制度 asks for) and
leaves the bank when it is paid; an advance leaves the bank first and becomes a cost when the
goods or the service come. Both are paid out of an approved grant, as expenses are. Money held
for others passes through the fund without being its income or its cost.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, created, not_before
from ledger.domain.errors import WrongState
from ledger.domain.expenses import Payment
from ledger.domain.grants import Grant


class Bill(FundAggregate):
    """A bill received for a grant's project: a cost now, a payment later."""

    @event("Received")
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
    ) -> None:
        self.grant_id = grant_id
        self.project_code = project_code
        self.amount_fen = amount_fen
        self.payee_kind = payee_kind
        self.received_on = meta.effective_on
        self.paid = False

    def pay(self, meta: Meta) -> None:
        if self.paid:
            raise WrongState("bill", self.id, "paid", "unpaid")
        not_before("bill", self.id, self.received_on, meta)
        self._paid(self.project_code, self.amount_fen, self.payee_kind, meta)

    @event("Paid")
    def _paid(self, project_code: str, amount_fen: int, payee_kind: str, meta: Meta) -> None:
        self.paid = True


class Advance(FundAggregate):
    """Money paid ahead from a grant (预付账款); a cost of its project once settled."""

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
    ) -> None:
        self.grant_id = grant_id
        self.project_code = project_code
        self.amount_fen = amount_fen
        self.payee_kind = payee_kind
        self.paid_on = meta.effective_on
        self.settled = False

    def settle(self, category: str, description: str, meta: Meta) -> None:
        """The goods or the service came: the advance becomes the project's cost."""
        if self.settled:
            raise WrongState("advance", self.id, "settled", "open")
        not_before("advance", self.id, self.paid_on, meta)
        self._settled(self.project_code, self.amount_fen, category, description, meta)

    @event("Settled")
    def _settled(
        self, project_code: str, amount_fen: int, category: str, description: str, meta: Meta
    ) -> None:
        self.settled = True


class Custody(FundAggregate):
    """Money the fund holds for another organisation and passes on (受托代理): neither income
    nor cost, an asset and an equal liability until passed on. Both parties are organisations."""

    @event("Received")
    def __init__(
        self, principal: str, beneficiary: str, amount_fen: int, purpose: str, meta: Meta
    ) -> None:
        self.amount_fen = amount_fen
        self.beneficiary = beneficiary
        self.received_on = meta.effective_on
        self.passed_on = False

    def pass_on(self, meta: Meta) -> None:
        if self.passed_on:
            raise WrongState("custody", self.id, "passed on", "held")
        not_before("custody", self.id, self.received_on, meta)
        self._passed_on(self.beneficiary, self.amount_fen, meta)

    @event("PassedOn")
    def _passed_on(self, beneficiary: str, amount_fen: int, meta: Meta) -> None:
        self.passed_on = True


def from_grant(
    cls: type[Bill] | type[Advance], grant: Grant, new_id: UUID, payment: Payment, meta: Meta
) -> Bill | Advance:
    """A bill or an advance charged to an approved grant, as an expense would be."""
    restricted_fen, unrestricted_fen = grant.split(payment.amount_fen, meta)
    made: Bill | Advance = created(
        cls,
        "Received" if cls is Bill else "Paid",
        new_id,
        grant_id=str(grant.id),
        project_id=grant.project_id,
        project_code=grant.project_code,
        restricted_fen=restricted_fen,
        unrestricted_fen=unrestricted_fen,
        meta=meta,
        **vars(payment),
    )
    grant.charge(str(made.id), restricted_fen, unrestricted_fen, meta)
    return made
