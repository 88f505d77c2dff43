"""公益事业捐赠票据: the official receipt numbers issued for gifts, and voided ones."""

from __future__ import annotations

from datetime import date
from typing import Unpack

from eventsourcing.utils import get_topic

from ledger.domain import Donation, Meta, OfficialReceipt, Role
from ledger.domain.checks import (
    PAGE_SIZE_MAX,
    RECEIPT_CHARS_MAX,
    TEXT_CHARS_MAX,
    check_date,
    check_text,
)
from ledger.domain.errors import NumberTaken
from ledger.service.kernel import RIGHTS, Actor, Decision, Kernel, Keyed, Receipt, permitted

RIGHTS.update(
    {
        "issue_official_receipt": (Role.TREASURER,),
        "void_official_receipt": (Role.TREASURER,),
    }
)


class OfficialReceiptCommands(Kernel):
    def _unused(self, receipt_no: str) -> None:
        """A number is used once, voided or not; the refusal names what holds it."""
        receipt_id = OfficialReceipt.create_id(receipt_no)
        if self._exists(receipt_id):
            earlier = self._get(OfficialReceipt, receipt_id, "official receipt")
            holder = (
                ("donation", earlier.donation_id)
                if earlier.donation_id
                else ("voided receipt", receipt_no)
            )
            raise NumberTaken("official receipt", receipt_no, *holder)

    @permitted("issue_official_receipt")
    def issue_official_receipt(
        self,
        actor: Actor,
        donation_id: str,
        receipt_no: str,
        issued_on: date,
        **options: Unpack[Keyed],
    ) -> Receipt:
        """The number of the official receipt issued for a gift (possibly after the gift)."""
        check_text("receipt_no", receipt_no, RECEIPT_CHARS_MAX)
        check_date("issued_on", issued_on)

        def decide(meta: Meta) -> Decision:
            donation = self._get(Donation, donation_id, "donation")
            self._unused(receipt_no)
            issued = OfficialReceipt(receipt_no=receipt_no, donation_id=str(donation.id), meta=meta)
            return str(issued.id), [issued]

        args = {"donation_id": donation_id, "receipt_no": receipt_no, "issued_on": issued_on}
        key = options.get("idempotency_key")
        return self._run(
            actor, "issue_official_receipt", args, decide, on=issued_on, idempotency_key=key
        )

    @permitted("void_official_receipt")
    def void_official_receipt(
        self, actor: Actor, receipt_no: str, reason: str, voided_on: date, **options: Unpack[Keyed]
    ) -> Receipt:
        """A receipt cancelled, or a form spoiled before it was issued: its number is kept."""
        check_text("receipt_no", receipt_no, RECEIPT_CHARS_MAX)
        check_text("reason", reason, TEXT_CHARS_MAX)
        check_date("voided_on", voided_on)

        def decide(meta: Meta) -> Decision:
            receipt_id = OfficialReceipt.create_id(receipt_no)
            if self._exists(receipt_id):
                receipt = self._get(OfficialReceipt, receipt_id, "official receipt")
            else:
                receipt = OfficialReceipt(receipt_no=receipt_no, donation_id=None, meta=meta)
            receipt.void(reason, meta)
            return str(receipt.id), [receipt]

        args = {"receipt_no": receipt_no, "reason": reason, "voided_on": voided_on}
        key = options.get("idempotency_key")
        return self._run(
            actor, "void_official_receipt", args, decide, on=voided_on, idempotency_key=key
        )

    def official_receipt_register(self) -> list[dict[str, str | None]]:
        """Every official receipt number, issued or voided, in number order."""
        topic = get_topic(OfficialReceipt.Issued)  # type: ignore[attr-defined]
        numbers: list[str] = []
        position = 0
        while True:
            batch = self.recorder.select_notifications(
                start=position + 1, limit=PAGE_SIZE_MAX, topics=[topic]
            )
            for notification in batch:
                position = notification.id
                numbers.append(self.mapper.to_domain_event(notification).receipt_no)  # type: ignore[attr-defined]
            if len(batch) < PAGE_SIZE_MAX:
                break
        register = []
        for receipt_no in sorted(numbers):
            receipt = self._get(
                OfficialReceipt, OfficialReceipt.create_id(receipt_no), "official receipt"
            )
            register.append(
                {
                    "receipt_no": receipt_no,
                    "donation_id": receipt.donation_id,
                    "issued_on": receipt.issued_on.isoformat(),
                    "voided": "yes" if receipt.voided else "no",
                    "void_reason": receipt.void_reason,
                }
            )
        return register
