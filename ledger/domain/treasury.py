"""Where money sits: the cash box, bank accounts and payment platforms, transfers between them,
and the rule that cash never goes below zero on any day."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.accounts import BANK, CASH, FEE_ACCOUNTS, PLATFORMS, project_component
from ledger.domain.base import FundAggregate, Meta, derived_id
from ledger.domain.errors import CashShort, Duplicate, InvalidInput, NotFound

TREASURY_ID = derived_id("treasury")


class AccountKind(StrEnum):
    CASH = "cash"  # 库存现金
    BANK = "bank"  # 银行存款
    PLATFORM = "platform"  # 其他货币资金: WeChat Pay, Alipay


class TransferKind(StrEnum):
    DEPOSIT = "deposit"  # cash taken to the bank
    WITHDRAWAL = "withdrawal"  # a cash float drawn from the bank
    SETTLEMENT = "settlement"  # a platform pays its balance to the bank, net of its fee
    OTHER = "other"


_TOP_ACCOUNTS = {AccountKind.CASH: CASH, AccountKind.BANK: BANK, AccountKind.PLATFORM: PLATFORMS}


@dataclass(frozen=True)
class MoneyAccount:
    """A place money sits, by the short name the treasurer uses, and its ledger account."""

    name: str
    kind: str
    account: str
    label: str


BUILT_IN = {
    a.name: a
    for a in (
        MoneyAccount("bank", AccountKind.BANK, BANK, "银行存款 Bank account"),
        MoneyAccount("cash", AccountKind.CASH, CASH, "库存现金 Cash box"),
        MoneyAccount(
            "wechat_pay", AccountKind.PLATFORM, f"{PLATFORMS}:WechatPay", "微信支付 WeChat Pay"
        ),
        MoneyAccount("alipay", AccountKind.PLATFORM, f"{PLATFORMS}:Alipay", "支付宝 Alipay"),
    )
}
# The account a gift's channel puts its money in when the gift names none.
CHANNEL_ACCOUNTS = {
    "bank_transfer": "bank",
    "cash": "cash",
    "wechat_pay": "wechat_pay",
    "alipay": "alipay",
}


def least_balance_fen(changes_by_day: Mapping[date, int], on: date) -> int:
    """The lowest balance an account reaches on ``on`` or any later day: what may leave it on
    ``on`` without taking it below zero on some day (events may be dated in the past)."""
    balance_fen = sum(change for day, change in changes_by_day.items() if day <= on)
    least_fen = balance_fen
    for day in sorted(d for d in changes_by_day if d > on):
        balance_fen += changes_by_day[day]
        least_fen = min(least_fen, balance_fen)
    return least_fen


class Treasury(FundAggregate):
    """The money accounts opened beyond the built-in ones, the cash moved by commands other
    than gifts (gifts in cash are read from the log), and the committee's voucher threshold."""

    # From which amount an expense's voucher needs an attachment's hash; None until the
    # committee sets one (0: every expense).
    attachment_threshold_fen: int | None = None

    @event("Started")
    def __init__(self, meta: Meta) -> None:
        self.opened: dict[str, list[str]] = {}
        self.cash_moves: dict[str, dict[str, int]] = {}

    @staticmethod
    def create_id() -> UUID:
        return TREASURY_ID

    def accounts(self) -> dict[str, MoneyAccount]:
        opened = {n: MoneyAccount(n, k, a, lbl) for n, (k, a, lbl) in self.opened.items()}
        return {**BUILT_IN, **opened}

    def account(self, name: str) -> MoneyAccount:
        found = self.accounts().get(name)
        if found is None:
            raise NotFound("money account", name)
        return found

    def by_ledger_account(self, account: str) -> MoneyAccount | None:
        return next((a for a in self.accounts().values() if a.account == account), None)

    def open_account(self, name: str, kind: AccountKind, label: str, meta: Meta) -> str:
        if name in self.accounts():
            raise Duplicate("money account", name)
        account = f"{_TOP_ACCOUNTS[kind]}:{project_component(name)}"
        self._account_opened(name, kind.value, account, label, meta)
        return account

    @event("AccountOpened")
    def _account_opened(self, name: str, kind: str, account: str, label: str, meta: Meta) -> None:
        self.opened[name] = [kind, account, label]

    def is_cash(self, account: str) -> bool:
        found = self.by_ledger_account(account)
        return found is not None and found.kind == AccountKind.CASH

    def cash_changes(self, account: str, gifts_fen: Mapping[date, int]) -> dict[date, int]:
        """The account's change each day: gifts (from the log) and every other move."""
        changes = dict(gifts_fen)
        for day, change_fen in self.cash_moves.get(account, {}).items():
            key = date.fromisoformat(day)
            changes[key] = changes.get(key, 0) + change_fen
        return changes

    def move_cash(
        self, account: str, change_fen: int, gifts_fen: Mapping[date, int], meta: Meta
    ) -> None:
        """Note a cash box's change; money out only if the box holds it on every day after."""
        if not self.is_cash(account):
            return
        if change_fen < 0:
            least_fen = least_balance_fen(self.cash_changes(account, gifts_fen), meta.effective_on)
            if least_fen < -change_fen:
                raise CashShort(account, meta.effective_on.isoformat(), least_fen, -change_fen)
        self._cash_moved(account, change_fen, meta)

    @event("CashMoved")
    def _cash_moved(self, account: str, change_fen: int, meta: Meta) -> None:
        day = meta.effective_on.isoformat()
        moves = self.cash_moves.setdefault(account, {})
        moves[day] = moves.get(day, 0) + change_fen

    @event("ThresholdSet")
    def set_attachment_threshold(self, threshold_fen: int, meta: Meta) -> None:
        self.attachment_threshold_fen = threshold_fen

    def attachment_due(self, amount_fen: int) -> tuple[int, int] | None:
        """(amount, threshold) when a voucher of this amount needs an attachment's hash."""
        threshold_fen = self.attachment_threshold_fen
        if threshold_fen is None or amount_fen < threshold_fen:
            return None
        return amount_fen, threshold_fen


class Transfer(FundAggregate):
    """Money moved between two of the fund's money accounts; a fee kept on the way is a cost
    (筹资费用 for a platform's fee on gifts, else 管理费用)."""

    @event("Made")
    def __init__(
        self,
        kind: str,
        source: str,
        target: str,
        amount_fen: int,
        fee_fen: int,
        fee_category: str,
        reference: str | None,
        voucher_no: str,
        meta: Meta,
    ) -> None:
        self.kind = kind
        self.source = source
        self.target = target
        self.amount_fen = amount_fen
        self.fee_fen = fee_fen
        self.fee_category = fee_category
        self.reference = reference
        self.voucher_no = voucher_no
        self.made_on = meta.effective_on


def check_transfer(
    source: str, target: str, amount_fen: int, fee_fen: int, fee_category: str
) -> None:
    if source == target:
        raise InvalidInput("target", target, "must differ from the source")
    if not 0 <= fee_fen < amount_fen:
        raise InvalidInput("fee", str(fee_fen), f"must be at least 0 and below {amount_fen} fen")
    if fee_category not in FEE_ACCOUNTS:
        raise InvalidInput("fee_category", fee_category, f"must be one of {sorted(FEE_ACCOUNTS)}")
