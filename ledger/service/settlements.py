"""Platform settlements imported: the gifts not yet recorded, the fee, the transfer to the bank;
a gift recorded by hand is found and linked, not doubled; a file imported twice adds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Unpack

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic

from ledger.domain import Donation, Donor, Meta, PlatformLedger, Role, Transfer
from ledger.domain.base import created, derived_id
from ledger.domain.checks import PAGE_SIZE_MAX, check_date
from ledger.domain.donations import new_donation
from ledger.domain.errors import InvalidInput
from ledger.domain.treasury import AccountKind
from ledger.formats.platform_settlement import Settlement, SettlementLine
from ledger.service.kernel import RIGHTS, Actor, Decision, Keyed, permitted
from ledger.service.personal import PersonalData
from ledger.service.treasury import TreasuryCommands

RIGHTS.update({"import_platform_settlement": (Role.TREASURER,)})
PREFIXES = {"wechat_pay": "WX", "alipay": "ALI"}


@dataclass(frozen=True)
class SettlementImported:
    recorded: int  # gifts recorded from the file
    linked: int  # gifts found recorded by hand
    settled: bool  # the settlement's transfer recorded now


class SettlementCommands(PersonalData, TreasuryCommands):
    def _platform_ledger(self, platform: str, meta: Meta) -> PlatformLedger:
        try:
            found: object = self.repository.get(PlatformLedger.create_id(platform))
        except AggregateNotFoundError:
            return PlatformLedger(platform=platform, meta=meta)
        assert isinstance(found, PlatformLedger)
        self._noted(found)
        return found

    def _gifts_into(self, account: str) -> Iterator[Any]:
        topic = get_topic(Donation.Received)  # type: ignore[attr-defined]
        position = 0
        while True:
            batch = self.recorder.select_notifications(
                start=position + 1, limit=PAGE_SIZE_MAX, topics=[topic]
            )
            for notification in batch:
                position = notification.id
                received: Any = self.mapper.to_domain_event(notification)
                if getattr(received, "account", None) == account:
                    yield received
            if len(batch) < PAGE_SIZE_MAX:
                return

    def _by_hand(
        self, account: str, lines: list[SettlementLine], linked: set[str]
    ) -> dict[str, str]:
        """Lines whose gift was recorded by hand: the one unlinked gift into the platform's
        account of the same amount on the same day (or whose receipt is the transaction)."""
        candidates: dict[tuple[date, int], list[str]] = {}
        by_receipt: dict[str, str] = {}
        for gift in self._gifts_into(account):
            if str(gift.originator_id) in linked:
                continue
            by_receipt[gift.receipt_no] = str(gift.originator_id)
            candidates.setdefault((gift.meta.effective_on, gift.amount_fen), []).append(
                str(gift.originator_id)
            )
        found: dict[str, str] = {}
        for line in lines:
            gift_id: str | None = by_receipt.get(line.transaction_id)
            fitting = [
                g
                for g in candidates.get((line.day, line.amount_fen), [])
                if g not in found.values()
            ]
            if gift_id is None and len(fitting) == 1:
                gift_id = fitting[0]
            if gift_id is not None:
                found[line.transaction_id] = gift_id
        return found

    @permitted("import_platform_settlement")
    def import_platform_settlement(
        self,
        actor: Actor,
        platform: str,
        settlement: Settlement,
        donor_id: str,
        settled_on: date,
        **options: Unpack[Keyed],
    ) -> SettlementImported:
        """The file's gifts into the platform's account, then the whole to the bank net of the
        fee (a fundraising cost), as one command."""
        if platform not in PREFIXES:
            raise InvalidInput("platform", platform, f"must be one of {sorted(PREFIXES)}")
        check_date("settled_on", settled_on)
        if not settlement.lines or settled_on < settlement.last_day:
            raise InvalidInput("settled_on", settled_on.isoformat(), "must follow the gifts")
        key = f"{settlement.lines[0].transaction_id}..{settlement.lines[-1].transaction_id}"
        outcome: list[SettlementImported] = []

        def decide(meta: Meta) -> Decision:
            fund = self._open_fund(settled_on)
            treasury = self.treasury(meta)
            account = treasury.account(platform)
            assert account.kind == AccountKind.PLATFORM
            book = self._platform_ledger(platform, meta)
            new = [li for li in settlement.lines if li.transaction_id not in book.gifts]
            by_hand = self._by_hand(account.account, new, set(book.gifts.values()))
            made: list[Any] = []
            donor = self._get(Donor, donor_id, "donor") if len(by_hand) < len(new) else None
            for line in new:
                gift_meta = Meta(meta.actor_id, meta.actor_role, line.day, meta.idempotency_key)
                gift_id = by_hand.get(line.transaction_id)
                if gift_id is None:
                    assert donor is not None
                    fund.check_open(line.day)
                    receipt = f"{PREFIXES[platform]}-{line.transaction_id}"
                    ref = self._donor_ref(donor, str(Donation.create_id(receipt)))
                    gift = new_donation(
                        donor, None, line.amount_fen, platform, receipt, None, gift_meta, ref
                    )
                    made.append(gift)
                    gift_id = str(gift.id)
                book.link(line.transaction_id, gift_id, line.transaction_id not in by_hand, meta)
            settled = key not in book.settlements
            if settled:
                made.extend(self._settlement(book, key, platform, settlement, meta))
            outcome.append(SettlementImported(len(new) - len(by_hand), len(by_hand), settled))
            return key, [book, *made]

        args = {"platform": platform, "donor_id": donor_id, "settled_on": settled_on, "key": key}
        self._run(actor, "import_platform_settlement", args, decide, on=settled_on, **options)
        return outcome[-1]

    def _settlement(
        self, book: PlatformLedger, key: str, platform: str, settlement: Settlement, meta: Meta
    ) -> list[Any]:
        treasury = self.treasury(meta)
        transfer_id = derived_id("settlement", platform, key)
        vouchers = self.voucher_year(meta.effective_on.year, meta)
        number = vouchers.number(None, ("transfer", str(transfer_id)), (), None, meta)
        transfer = created(
            Transfer,
            "Made",
            transfer_id,
            kind="settlement",
            source=treasury.account(platform).account,
            target=treasury.account("bank").account,
            amount_fen=settlement.amount_fen,
            fee_fen=settlement.fee_fen,
            fee_category="fundraising",
            reference=key,
            voucher_no=number,
            meta=meta,
        )
        book.settle(key, str(transfer_id), meta)
        return [vouchers, transfer]
