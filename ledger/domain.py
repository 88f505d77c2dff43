"""The fund's aggregates: each command method checks a rule, then an @event method records it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.errors import (
    AlreadyApproved,
    DatedTooEarly,
    Duplicate,
    GrantExceeded,
    InsufficientFunds,
    PeriodClosed,
    ReversalUncovered,
    SelfApproval,
    WrongState,
)

NAMESPACE = uuid5(NAMESPACE_URL, "https://fund-ledger.invalid/ids")


def derived_id(*parts: str) -> UUID:
    """A stable id from natural keys, so that uniqueness is enforced by the event store itself."""
    return uuid5(NAMESPACE, "\x1f".join(parts))


class Role(StrEnum):
    TREASURER = "treasurer"
    COMMITTEE = "committee"
    ADVISER = "adviser"
    AUDITOR = "auditor"
    # The person at the server's console (init, users add, demo); never handed out as a token.
    OPERATOR = "operator"


class DonorKind(StrEnum):
    GOVERNMENT = "government"
    FOUNDATION = "foundation"
    ENTERPRISE = "enterprise"
    INDIVIDUAL = "individual"
    COMMUNITY_ORG = "community_org"


class Disclosure(StrEnum):
    NAMED = "named"
    MASKED = "masked"
    ANONYMOUS = "anonymous"


class Channel(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    WECHAT_PAY = "wechat_pay"
    ALIPAY = "alipay"
    IN_KIND = "in_kind"


class Category(StrEnum):
    PROGRAMME = "programme"
    MANAGEMENT = "management"
    FUNDRAISING = "fundraising"


class PayeeKind(StrEnum):
    ORGANISATION = "organisation"
    INDIVIDUAL = "individual"


class GrantStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    CLOSED = "closed"


@dataclass(frozen=True)
class Meta:
    """Who did it, when it happened in the world, and the client's idempotency key."""

    actor_id: str
    actor_role: str
    effective_on: date
    idempotency_key: str | None = None


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def not_before(what: str, key: object, earliest: date, meta: Meta) -> None:
    """A follow-up is never dated before what it acts on: as-of figures would go negative."""
    if meta.effective_on < earliest:
        raise DatedTooEarly(what, key, earliest.isoformat(), meta.effective_on.isoformat())


@dataclass(frozen=True)
class ReceivedTotals:
    """Cash donations received (not net of reversals), as far as the log has been read."""

    unrestricted_fen: int = 0
    restricted_fen_by_project: dict[str, int] | None = None

    def restricted_fen(self, project_id: str) -> int:
        return (self.restricted_fen_by_project or {}).get(project_id, 0)


FUND_ID = derived_id("fund")
DIRECTORY_ID = derived_id("directory")


class Fund(Aggregate):
    """The one consistency boundary for what takes money away: commitments and reversals.

    Donations only add money and are their own aggregates, so they never contend here; the
    received totals are passed in by the application, and a slightly stale total errs on the
    safe side.
    """

    @event("Established")
    def __init__(self, name: str, currency: str, quorum: int, meta: Meta) -> None:
        self.name = name
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
        self.committed_restricted_fen[project_id] = (
            self.committed_restricted_fen.get(project_id, 0) + restricted_fen
        )
        self.committed_unrestricted_fen += unrestricted_fen

    @event("Released")
    def release(
        self,
        grant_id: str,
        project_id: str,
        restricted_fen: int,
        unrestricted_fen: int,
        meta: Meta,
    ) -> None:
        self.committed_restricted_fen[project_id] = (
            self.committed_restricted_fen.get(project_id, 0) - restricted_fen
        )
        self.committed_unrestricted_fen -= unrestricted_fen

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


class Directory(Aggregate):
    """The people who may act on the fund, with the SHA-256 of their bearer tokens."""

    @event("Created")
    def __init__(self, meta: Meta) -> None:
        self.users: dict[str, dict[str, Any]] = {}

    @staticmethod
    def create_id() -> UUID:
        return DIRECTORY_ID

    def add_user(self, user_id: str, name: str, role: str, token_sha256: str, meta: Meta) -> None:
        if any(user["name"] == name for user in self.users.values()):
            raise Duplicate("user", name)
        self._user_added(user_id, name, role, token_sha256, meta)

    @event("UserAdded")
    def _user_added(
        self, user_id: str, name: str, role: str, token_sha256: str, meta: Meta
    ) -> None:
        self.users[user_id] = {
            "name": name,
            "role": role,
            "token_sha256": token_sha256,
            "revoked": False,
        }

    def revoke(self, user_id: str, meta: Meta) -> None:
        if self.users[user_id]["revoked"]:
            raise WrongState("user", user_id, "revoked", "active")
        self._user_revoked(user_id, meta)

    @event("UserRevoked")
    def _user_revoked(self, user_id: str, meta: Meta) -> None:
        self.users[user_id]["revoked"] = True

    def user_named(self, name: str) -> str | None:
        return next((uid for uid, user in self.users.items() if user["name"] == name), None)

    def committee(self) -> list[str]:
        return [
            uid
            for uid, user in self.users.items()
            if user["role"] == Role.COMMITTEE and not user["revoked"]
        ]


class Donor(Aggregate):
    """Someone who gives. ``contact`` is kept apart from what may ever be published.

    An individual's name and any contact details arrive sealed under the donor's own key
    (ledger.personal); forgetting the donor records who decided it, and the key is destroyed.
    """

    @event("Registered")
    def __init__(
        self,
        name: str,
        kind: str,
        disclosure: str,
        contact: dict[str, str] | str | None,
        meta: Meta,
    ) -> None:
        self.name = name
        self.kind = kind
        self.disclosure = disclosure
        self.contact = contact or {}
        self.forgotten = False

    def check_not_forgotten(self) -> None:
        if self.forgotten:
            raise WrongState("donor", self.id, "forgotten", "registered")

    @event("Forgotten")
    def forget(self, meta: Meta) -> None:
        self.forgotten = True


class Project(Aggregate):
    """One of the fund's community projects, identified by a short code such as ``noodles``."""

    @event("Opened")
    def __init__(
        self,
        code: str,
        name: str,
        name_en: str | None,
        description: str | None,
        organisation: str | None,
        meta: Meta,
    ) -> None:
        self.code = code
        self.name = name
        self.name_en = name_en
        self.description = description
        self.organisation = organisation
        self.is_open = True

    @staticmethod
    def create_id(code: str) -> UUID:
        return derived_id("project", code)

    def close(self, meta: Meta) -> None:
        if not self.is_open:
            raise WrongState("project", self.code, "closed", "open")
        self._closed(meta)

    @event("Closed")
    def _closed(self, meta: Meta) -> None:
        self.is_open = False


class Donation(Aggregate):
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


class Grant(Aggregate):
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


class Expense(Aggregate):
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
        self.reversed = False
        self.payee_forgotten = False

    @event("PayeeForgotten")
    def forget_payee(self, meta: Meta) -> None:
        self.payee_forgotten = True

    def reverse(self, reason: str, grant_closed: bool, meta: Meta) -> None:
        if self.reversed:
            raise WrongState("expense", self.id, "reversed", "standing")
        not_before("expense", self.id, self.paid_on, meta)
        self._reversed(
            reason,
            self.project_code,
            self.category,
            self.amount_fen,
            self.restricted_fen,
            self.unrestricted_fen,
            grant_closed,
            meta,
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
    ) -> None:
        self.reversed = True


class Opinion(Aggregate):
    """An expert-panel member's opinion on a grant or a project."""

    @event("Recorded")
    def __init__(self, subject_id: str, subject_kind: str, text: str, meta: Meta) -> None:
        self.subject_id = subject_id
        self.subject_kind = subject_kind
        self.text = text


class IdempotencyRecord(Aggregate):
    """The first result of a command sent with an idempotency key, saved with the command."""

    @event("Recorded")
    def __init__(
        self, key: str, actor_id: str, fingerprint: str, result_id: str, meta: Meta
    ) -> None:
        self.key = key
        self.actor_id = actor_id
        self.fingerprint = fingerprint
        self.result_id = result_id

    @staticmethod
    def create_id(actor_id: str, key: str) -> UUID:
        return derived_id("idempotency", actor_id, key)
