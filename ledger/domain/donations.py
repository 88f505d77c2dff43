"""Gifts received: cash through a channel, or goods in kind."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.accounts import BANK, CASH, PLATFORMS
from ledger.domain.base import FundAggregate, Meta, derived_id, month_of, not_before
from ledger.domain.errors import InvalidInput, WrongState
from ledger.domain.people import Donor
from ledger.domain.projects import Project


class Channel(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    WECHAT_PAY = "wechat_pay"
    ALIPAY = "alipay"
    IN_KIND = "in_kind"


class ValuationBasis(StrEnum):
    """How a gift in kind's fair value was set (公允价值的确定依据)."""

    INVOICE = "invoice"  # the donor's invoice or receipt of purchase
    MARKET_PRICE = "market_price"  # the price of the same goods on the market
    APPRAISAL = "appraisal"  # an appraiser's valuation


USEFUL_LIFE_MONTHS_MAX = 600


def channel_account(channel: str) -> str:
    """The ledger account a channel's money goes into when a gift names none
    (the money accounts by name: ``ledger.domain.treasury``)."""
    return {
        Channel.CASH: CASH,
        Channel.WECHAT_PAY: f"{PLATFORMS}:WechatPay",
        Channel.ALIPAY: f"{PLATFORMS}:Alipay",
    }.get(Channel(channel), BANK)


class Donation(FundAggregate):
    """A gift received. Events copy what the books need, so each one posts on its own.

    A gift in kind is then valued (the basis of its fair value; kept as a fixed asset or not),
    used or handed out for a project, or, as a fixed asset, depreciated month by month.
    """

    # Class defaults, so that donations stored before these existed read the same.
    valued = False
    fixed_asset = False
    useful_life_months = 0
    used_fen = 0
    depreciated_fen = 0
    depreciated_through: str | None = None

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
        donor_ref: str | None = None,
        account: str | None = None,
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
        # In place of the donor in the public log, when their id may not be shown
        # (ledger.domain.gift_refs); None on gifts recorded before references existed.
        self.donor_ref = donor_ref
        # The money account the gift went into; None on gifts recorded before accounts were
        # named (the bank, ``accounts.money_account``), and on gifts in kind.
        self.account = account
        self.reversed = False

    @staticmethod
    def create_id(receipt_no: str) -> UUID:
        return derived_id("receipt", receipt_no)

    def reverse(self, reason: str, meta: Meta, voucher_no: str | None = None) -> None:
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
            self.account,
            voucher_no,
        )

    def _require_in_kind(self) -> None:
        if not self.in_kind or self.reversed:
            state = "reversed" if self.reversed else "a cash gift"
            raise WrongState("donation", self.id, state, "a standing gift in kind")

    def value_in_kind(
        self, basis: str, evidence: str, fixed_asset: bool, useful_life_months: int, meta: Meta
    ) -> None:
        self._require_in_kind()
        if self.valued:
            raise WrongState("donation", self.id, "valued", "not yet valued")
        if fixed_asset and not 1 <= useful_life_months <= USEFUL_LIFE_MONTHS_MAX:
            raise InvalidInput(
                "useful_life_months",
                str(useful_life_months),
                f"a fixed asset needs 1 to {USEFUL_LIFE_MONTHS_MAX} months",
            )
        not_before("donation", self.id, self.received_on, meta)
        life = useful_life_months if fixed_asset else 0
        self._in_kind_valued(basis, evidence, fixed_asset, life, self.amount_fen, meta)

    @event("InKindValued")
    def _in_kind_valued(
        self,
        basis: str,
        evidence: str,
        fixed_asset: bool,
        useful_life_months: int,
        amount_fen: int,
        meta: Meta,
    ) -> None:
        self.valued = True
        self.fixed_asset = fixed_asset
        self.useful_life_months = useful_life_months

    def project_for(self, project_code: str | None) -> str:
        """The project goods serve: a restricted gift's own, else the one named."""
        self._require_in_kind()
        code = self.project_code or project_code
        if code is None or (self.project_code and project_code not in (None, self.project_code)):
            raise InvalidInput(
                "project",
                repr(project_code),
                f"must be the gift's project ({self.project_code})"
                if self.project_code
                else "is needed for a gift not restricted to a project",
            )
        return code

    def use_in_kind(
        self, project_code: str, amount_fen: int, category: str, description: str, meta: Meta
    ) -> None:
        """Goods used or handed out for a project: their value becomes the project's cost."""
        self._require_in_kind()
        if self.fixed_asset:
            raise WrongState("donation", self.id, "a fixed asset", "goods (not a fixed asset)")
        left_fen = self.amount_fen - self.used_fen
        if amount_fen > left_fen:
            raise InvalidInput(
                "amount", str(amount_fen), f"must be at most the {left_fen} fen of goods left"
            )
        not_before("donation", self.id, self.received_on, meta)
        self._in_kind_used(project_code, amount_fen, category, description, meta)

    @event("InKindUsed")
    def _in_kind_used(
        self, project_code: str, amount_fen: int, category: str, description: str, meta: Meta
    ) -> None:
        self.used_fen += amount_fen

    def depreciation_due_fen(self, month: str) -> int:
        """Straight line from the month after the gift arrived; the last month takes the rest."""
        if not self.fixed_asset:
            raise WrongState("donation", self.id, "not a fixed asset", "a fixed asset")
        if month <= month_of(self.received_on):
            raise InvalidInput("month", month, "depreciation starts the month after receipt")
        if self.depreciated_through is not None and month <= self.depreciated_through:
            raise WrongState("month", month, "depreciated", "not yet depreciated")
        left_fen = self.amount_fen - self.depreciated_fen
        return min(left_fen, self.amount_fen // self.useful_life_months)

    def depreciate(self, month: str, project_code: str, meta: Meta) -> None:
        amount_fen = self.depreciation_due_fen(month)
        if self.amount_fen - self.depreciated_fen - amount_fen < self.useful_life_months:
            amount_fen = self.amount_fen - self.depreciated_fen  # the rounding, in the last month
        if amount_fen <= 0:
            raise WrongState("donation", self.id, "fully depreciated", "still to depreciate")
        self._depreciated(month, project_code, amount_fen, "programme", meta)

    @event("Depreciated")
    def _depreciated(
        self, month: str, project_code: str, amount_fen: int, category: str, meta: Meta
    ) -> None:
        self.depreciated_fen += amount_fen
        self.depreciated_through = month

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
        account: str | None = None,
        voucher_no: str | None = None,
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
    donor_ref: str | None = None,
    account: str | None = None,
) -> Donation:
    """A gift from this donor, restricted to the project if one is given; the note sealed
    beforehand under the donor's key, and the donor's blinded reference made beforehand
    when their id is not public. Its money goes to ``account`` (a ledger account), or where
    its channel puts it."""
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
        donor_ref=donor_ref,
        account=None if channel == Channel.IN_KIND else account or channel_account(channel),
    )
