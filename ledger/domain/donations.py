"""Gifts received: cash through a channel, or goods in kind."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, derived_id, not_before
from ledger.domain.errors import WrongState
from ledger.domain.people import Donor
from ledger.domain.projects import Project


class Channel(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    WECHAT_PAY = "wechat_pay"
    ALIPAY = "alipay"
    IN_KIND = "in_kind"


class Donation(FundAggregate):
    """A gift received. Events copy what the books need, so each one posts on its own."""

    @event("Received")
    def __init__(
        self,
        donor_id: str,
        donor_kind: str,
        amount_fen: int,
        channel: str,
        receipt_no: str,
        project_id: str | None,
        project_code: str | None,
        in_kind: bool,
        note: str | None,
        meta: Meta,
    ) -> None:
        self.donor_id = donor_id
        self.donor_kind = donor_kind
        self.amount_fen = amount_fen
        self.received_on = meta.effective_on
        self.channel = channel
        self.receipt_no = receipt_no
        self.project_id = project_id
        self.project_code = project_code
        self.in_kind = in_kind
        self.note = note
        self.reversed = False

    @staticmethod
    def create_id(receipt_no: str) -> UUID:
        return derived_id("receipt", receipt_no)

    def reverse(self, reason: str, meta: Meta) -> None:
        if self.reversed:
            raise WrongState("donation", self.id, "reversed", "standing")
        not_before("donation", self.id, self.received_on, meta)
        self._reversed(
            reason,
            self.donor_kind,
            self.amount_fen,
            self.project_id,
            self.project_code,
            self.in_kind,
            meta,
        )

    @event("Reversed")
    def _reversed(
        self,
        reason: str,
        donor_kind: str,
        amount_fen: int,
        project_id: str | None,
        project_code: str | None,
        in_kind: bool,
        meta: Meta,
    ) -> None:
        self.reversed = True


def new_donation(
    donor: Donor,
    project: Project | None,
    amount_fen: int,
    channel: str,
    receipt_no: str,
    note: str | None,
    meta: Meta,
) -> Donation:
    """A gift from this donor, restricted to the project if one is given; the note sealed
    beforehand under the donor's key."""
    return Donation(
        donor_id=str(donor.id),
        donor_kind=donor.kind,
        amount_fen=amount_fen,
        channel=channel,
        receipt_no=receipt_no,
        project_id=str(project.id) if project else None,
        project_code=project.code if project else None,
        in_kind=channel == Channel.IN_KIND,
        note=note,
        meta=meta,
    )
