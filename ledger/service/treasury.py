"""Where money sits: money accounts, transfers between them, the cash rule, vouchers."""

from __future__ import annotations

import threading
from datetime import date
from typing import Unpack
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from ledger.domain import TREASURY_ID, Meta, Role, Transfer, Treasury, VoucherYear
from ledger.domain.base import created, derived_id, today
from ledger.domain.checks import (
    NAME_CHARS_MAX,
    check_choice,
    check_date,
    check_optional_sha256,
    check_optional_text,
    check_text,
)
from ledger.domain.errors import InvalidInput
from ledger.domain.money import check_amount_fen
from ledger.domain.treasury import AccountKind, TransferKind, check_transfer
from ledger.domain.vouchers import VoucherEntry
from ledger.service.cash_tally import GiftsByAccount
from ledger.service.kernel import (
    OPERATOR,
    RIGHTS,
    Actor,
    Decision,
    Kernel,
    Keyed,
    Receipt,
    permitted,
)

VOUCHER_CHARS_MAX = 64
ATTACHMENTS_MAX = 20
REFERENCE_CHARS_MAX = 128

# This area's rights, beside the kernel's table.
RIGHTS.update(
    {
        "open_money_account": (Role.TREASURER,),
        "record_transfer": (Role.TREASURER,),
        "set_attachment_threshold": (Role.COMMITTEE,),
    }
)


def check_attachments(attachments_sha256: tuple[str, ...]) -> tuple[str, ...]:
    if len(attachments_sha256) > ATTACHMENTS_MAX:
        raise InvalidInput(
            "attachments", str(len(attachments_sha256)), f"at most {ATTACHMENTS_MAX}"
        )
    for index, digest in enumerate(attachments_sha256):
        check_optional_sha256(f"attachments[{index}]", digest)
    return tuple(attachments_sha256)


class TreasuryCommands(Kernel):
    _gifts_lock = threading.Lock()

    # -- reads a decision makes --------------------------------------------------------------

    def gifts_by_account(self) -> GiftsByAccount:
        with self._gifts_lock:
            tally: GiftsByAccount | None = getattr(self, "_gifts_tally", None)
            if tally is None:
                tally = GiftsByAccount(self.recorder, self.mapper)
                self._gifts_tally = tally
            return tally

    def treasury(self, meta: Meta | None = None) -> Treasury:
        """The Treasury as stored, or a new one (saved with the decision that first needs it)."""
        try:
            found: object = self.repository.get(TREASURY_ID)
        except AggregateNotFoundError:
            return Treasury(meta=meta or Meta(OPERATOR.id, OPERATOR.role.value, today()))
        assert isinstance(found, Treasury)
        self._noted(found)
        return found

    def voucher_year(self, year: int, meta: Meta) -> VoucherYear:
        try:
            found: object = self.repository.get(VoucherYear.create_id(year))
        except AggregateNotFoundError:
            return VoucherYear(year=year, meta=meta)
        assert isinstance(found, VoucherYear)
        self._noted(found)
        return found

    def move_cash(self, treasury: Treasury, account: str, change_fen: int, meta: Meta) -> None:
        if treasury.is_cash(account):
            gifts = self.gifts_by_account().by_day(account)
            treasury.move_cash(account, change_fen, gifts, meta)

    # -- commands ----------------------------------------------------------------------------

    @permitted("open_money_account")
    def open_money_account(
        self, actor: Actor, name: str, kind: str, label: str, **options: Unpack[Keyed]
    ) -> Receipt:
        """A second bank account or cash box, or another platform, by a short name."""
        check_text("name", name, 32)
        if not name.replace("_", "-").replace("-", "").isalnum() or not name.isascii():
            raise InvalidInput("name", name, "must be ASCII letters, digits, '-' or '_'")
        account_kind = check_choice("kind", kind, AccountKind)
        check_text("label", label, NAME_CHARS_MAX)

        def decide(meta: Meta) -> Decision:
            treasury = self.treasury(meta)
            account = treasury.open_account(name, account_kind, label, meta)
            return account, [treasury]

        args = {"name": name, "kind": kind, "label": label}
        return self._run(actor, "open_money_account", args, decide, **options)

    @permitted("set_attachment_threshold")
    def set_attachment_threshold(
        self, actor: Actor, threshold_fen: int, **options: Unpack[Keyed]
    ) -> Receipt:
        """From which amount an expense's voucher needs an attachment's SHA-256 (0: all)."""
        if threshold_fen != 0:
            check_amount_fen(threshold_fen)

        def decide(meta: Meta) -> Decision:
            treasury = self.treasury(meta)
            treasury.set_attachment_threshold(threshold_fen, meta)
            return str(TREASURY_ID), [treasury]

        args = {"threshold_fen": threshold_fen}
        return self._run(actor, "set_attachment_threshold", args, decide, **options)

    @permitted("record_transfer")
    def record_transfer(
        self,
        actor: Actor,
        source: str,
        target: str,
        amount_fen: int,
        made_on: date,
        transfer: tuple[str, int, str] = (TransferKind.OTHER.value, 0, "management"),
        reference: str | None = None,
        voucher: tuple[str | None, tuple[str, ...]] = (None, ()),
        **options: Unpack[Keyed],
    ) -> Receipt:
        """Money moved from ``source`` to ``target`` (money account names); ``transfer`` is
        (kind, fee kept on the way in fen, the fee's cost line); ``voucher`` its number (or
        None: the next) and its attachments' SHA-256."""
        kind, fee_fen, fee_category = transfer
        check_amount_fen(amount_fen)
        check_date("made_on", made_on)
        transfer_kind = check_choice("kind", kind, TransferKind)
        check_transfer(source, target, amount_fen, fee_fen, fee_category)
        check_optional_text("reference", reference, REFERENCE_CHARS_MAX)
        voucher_no, attachments = voucher
        check_optional_text("voucher_no", voucher_no, VOUCHER_CHARS_MAX)
        attachments = check_attachments(attachments)
        key = options.get("idempotency_key")
        transfer_id = derived_id("transfer", actor.id, key) if key else uuid4()

        def decide(meta: Meta) -> Decision:
            self._open_fund(made_on)
            treasury = self.treasury(meta)
            source_account = treasury.account(source).account
            target_account = treasury.account(target).account
            vouchers = self.voucher_year(made_on.year, meta)
            number = vouchers.number(
                voucher_no, ("transfer", str(transfer_id)), attachments, None, meta
            )
            self.move_cash(treasury, source_account, -amount_fen, meta)
            self.move_cash(treasury, target_account, amount_fen - fee_fen, meta)
            made = created(
                Transfer,
                "Made",
                transfer_id,
                kind=transfer_kind.value,
                source=source_account,
                target=target_account,
                amount_fen=amount_fen,
                fee_fen=fee_fen,
                fee_category=fee_category,
                reference=reference,
                voucher_no=number,
                meta=meta,
            )
            return str(transfer_id), [treasury, vouchers, made]

        args = {
            "source": source,
            "target": target,
            "amount_fen": amount_fen,
            "made_on": made_on,
            "transfer": list(transfer),
            "reference": reference,
            "voucher": [voucher_no, list(attachments)],
        }
        return self._run(actor, "record_transfer", args, decide, on=made_on, idempotency_key=key)

    def transfer(self, transfer_id: str) -> Transfer:
        return self._get(Transfer, UUID(transfer_id), "transfer")

    def vouchers(self, year: int) -> list[VoucherEntry]:
        """Every voucher of the year, in order (a year with none: none)."""
        try:
            found: object = self.repository.get(VoucherYear.create_id(year))
        except AggregateNotFoundError:
            return []
        assert isinstance(found, VoucherYear)
        return found.entries()
