"""公益事业捐赠票据: the official donation receipt issued for a gift through the provincial
finance platform, by its number; a number is used once, voided ones included."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, derived_id
from ledger.domain.errors import WrongState


class OfficialReceipt(FundAggregate):
    """One receipt number: issued for a gift, or voided (a spoiled form, or cancelled)."""

    @event("Issued")
    def __init__(self, receipt_no: str, donation_id: str | None, meta: Meta) -> None:
        self.receipt_no = receipt_no
        self.donation_id = donation_id
        self.issued_on = meta.effective_on
        self.voided = False
        self.void_reason: str | None = None

    @staticmethod
    def create_id(receipt_no: str) -> UUID:
        return derived_id("official-receipt", receipt_no)

    def void(self, reason: str, meta: Meta) -> None:
        if self.voided:
            raise WrongState("official receipt", self.receipt_no, "voided", "issued")
        self._voided(reason, self.donation_id, meta)

    @event("Voided")
    def _voided(self, reason: str, donation_id: str | None, meta: Meta) -> None:
        self.voided = True
        self.void_reason = reason
