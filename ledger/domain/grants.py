"""Grants: money the committee puts to a project, by a quorum of other members."""

from __future__ import annotations

from enum import StrEnum

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, not_before
from ledger.domain.errors import AlreadyApproved, GrantExceeded, SelfApproval, WrongState


class GrantStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    CLOSED = "closed"


class Grant(FundAggregate):
    """Money the committee puts to a project: proposed, approved by a quorum of others, spent."""

    @event("Proposed")
    def __init__(
        self,
        project_id: str,
        project_code: str,
        amount_fen: int,
        purpose: str,
        meta: Meta,
    ) -> None:
        self.project_id = project_id
        self.project_code = project_code
        self.amount_fen = amount_fen
        self.purpose = purpose
        self.proposer_id = meta.actor_id
        # The latest effective date of anything done with the grant; nothing may precede it.
        self.dated_through = meta.effective_on
        self.approver_ids: list[str] = []
        self.status = GrantStatus.PROPOSED.value
        self.restricted_fen = 0
        self.unrestricted_fen = 0
        self.spent_restricted_fen = 0
        self.spent_unrestricted_fen = 0

    @property
    def spent_fen(self) -> int:
        return self.spent_restricted_fen + self.spent_unrestricted_fen

    @property
    def remaining_fen(self) -> int:
        return self.amount_fen - self.spent_fen

    def _require(self, *states: GrantStatus) -> None:
        if self.status not in states:
            raise WrongState("grant", self.id, self.status, " or ".join(states))

    def approve(self, member_id: str, meta: Meta) -> None:
        self._require(GrantStatus.PROPOSED)
        not_before("grant", self.id, self.dated_through, meta)
        if member_id == self.proposer_id:
            raise SelfApproval(self.id, member_id)
        if member_id in self.approver_ids:
            raise AlreadyApproved(self.id, member_id)
        self._approval_given(member_id, meta)

    @event("ApprovalGiven")
    def _approval_given(self, member_id: str, meta: Meta) -> None:
        self.approver_ids.append(member_id)
        self.dated_through = max(self.dated_through, meta.effective_on)

    def reaches(self, quorum: int) -> bool:
        return self.status == GrantStatus.PROPOSED and len(self.approver_ids) >= quorum

    @event("Approved")
    def mark_approved(
        self, project_code: str, restricted_fen: int, unrestricted_fen: int, meta: Meta
    ) -> None:
        self.status = GrantStatus.APPROVED.value
        self.restricted_fen = restricted_fen
        self.unrestricted_fen = unrestricted_fen
        self.approved_on = meta.effective_on
        self.dated_through = max(self.dated_through, meta.effective_on)

    def reject(self, reason: str, meta: Meta) -> None:
        self._require(GrantStatus.PROPOSED)
        not_before("grant", self.id, self.dated_through, meta)
        self._rejected(reason, meta)

    @event("Rejected")
    def _rejected(self, reason: str, meta: Meta) -> None:
        self.status = GrantStatus.REJECTED.value

    def split(self, amount_fen: int, meta: Meta) -> tuple[int, int]:
        """How an expense would be paid: money restricted to the project first, then the rest."""
        self._require(GrantStatus.APPROVED)
        not_before("grant", self.id, self.approved_on, meta)
        if amount_fen > self.remaining_fen:
            raise GrantExceeded(self.id, self.remaining_fen, amount_fen)
        restricted_fen = min(amount_fen, self.restricted_fen - self.spent_restricted_fen)
        return restricted_fen, amount_fen - restricted_fen

    @event("Charged")
    def charge(
        self, expense_id: str, restricted_fen: int, unrestricted_fen: int, meta: Meta
    ) -> None:
        self.spent_restricted_fen += restricted_fen
        self.spent_unrestricted_fen += unrestricted_fen
        self.dated_through = max(self.dated_through, meta.effective_on)

    @event("ChargeReversed")
    def uncharge(
        self, expense_id: str, restricted_fen: int, unrestricted_fen: int, meta: Meta
    ) -> None:
        self.spent_restricted_fen -= restricted_fen
        self.spent_unrestricted_fen -= unrestricted_fen
        self.dated_through = max(self.dated_through, meta.effective_on)

    def close(self, meta: Meta) -> tuple[int, int]:
        """Close the grant; what is left goes back to the fund."""
        self._require(GrantStatus.APPROVED)
        not_before("grant", self.id, self.dated_through, meta)
        left_restricted_fen = self.restricted_fen - self.spent_restricted_fen
        left_unrestricted_fen = self.unrestricted_fen - self.spent_unrestricted_fen
        self._closed(self.project_code, left_restricted_fen, left_unrestricted_fen, meta)
        return left_restricted_fen, left_unrestricted_fen

    @event("Closed")
    def _closed(
        self,
        project_code: str,
        released_restricted_fen: int,
        released_unrestricted_fen: int,
        meta: Meta,
    ) -> None:
        self.status = GrantStatus.CLOSED.value
