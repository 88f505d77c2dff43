"""Gifts one at a time: recorded (alone or group-committed, see ``group_commit``), reversed."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Concatenate, ParamSpec, Unpack

from ledger.domain import Channel, Donation, Donor, Meta, Project
from ledger.domain.checks import (
    RECEIPT_CHARS_MAX,
    TEXT_CHARS_MAX,
    check_choice,
    check_date,
    check_idempotency_key,
    check_optional_text,
    check_text,
)
from ledger.domain.donations import new_donation
from ledger.domain.errors import Duplicate, TokenNotValid
from ledger.domain.money import check_amount_fen
from ledger.service.kernel import Actor, Decision, Keyed, Options, Receipt, permitted
from ledger.service.personal import PersonalData
from ledger.service.treasury import TreasuryCommands


def made_receipt_no(received_on: date, random_bytes: int = 4) -> str:
    """A receipt number for a gift that came without one."""
    return f"NH{received_on:%Y%m%d}-{secrets.token_hex(random_bytes).upper()}"


@dataclass(frozen=True)
class DonationOrder:
    """One ``record_donation`` command, checked and ready to run alone or in a group commit."""

    actor: Actor
    donor_id: str
    amount_fen: int
    received_on: date
    channel: str
    receipt_no: str | None  # as given: part of the idempotency fingerprint
    receipt: str  # as given, or made for this order
    project_id: str | None
    note: str | None
    idempotency_key: str | None
    # The SHA-256 of the token the order came with, when it was let in on the table last read
    # (``known_actor``): checked again against the Directory when the order is written.
    token_sha256: str | None = None

    def args(self) -> dict[str, Any]:
        return {
            "donor_id": self.donor_id,
            "amount_fen": self.amount_fen,
            "received_on": self.received_on,
            "channel": self.channel,
            "receipt_no": self.receipt_no,
            "project_id": self.project_id,
            "note": self.note,
        }

    def meta(self) -> Meta:
        return Meta(self.actor.id, self.actor.role.value, self.received_on, self.idempotency_key)

    def donation(
        self,
        donor: Donor,
        project: Project | None,
        meta: Meta,
        sealed_note: str | None,
        donor_ref: str | None,
    ) -> Donation:
        """The gift's aggregate; its note sealed and its donor's reference made beforehand."""
        return new_donation(
            donor,
            project,
            self.amount_fen,
            self.channel,
            self.receipt,
            sealed_note,
            meta,
            donor_ref,
        )


P = ParamSpec("P")


def recorded_at_once(
    make_order: Callable[Concatenate[DonationCommands, P], DonationOrder],
) -> Callable[Concatenate[DonationCommands, P], Receipt]:
    """The command taking an order's arguments that records the order at once: one
    parameter list for both."""

    def record_donation(self: DonationCommands, /, *args: P.args, **kwargs: P.kwargs) -> Receipt:
        """Record a gift; ``project_id`` restricts it, channel ``in_kind`` records goods."""
        return self.record_donation_order(make_order(self, *args, **kwargs))

    return record_donation


class DonationCommands(PersonalData, TreasuryCommands):
    @permitted("record_donation")
    def donation_order(
        self,
        actor: Actor,
        donor_id: str,
        amount_fen: int,
        received_on: date,
        channel: str,
        receipt_no: str | None = None,
        project_id: str | None = None,
        note: str | None = None,
        **options: Unpack[Keyed],
    ) -> DonationOrder:
        """A ``record_donation`` command checked for everything that needs no stored state,
        to be run alone or in a group commit (``record_donation_orders``)."""
        check_amount_fen(amount_fen)
        check_date("received_on", received_on)
        donation_channel = check_choice("channel", channel, Channel)
        check_optional_text("receipt_no", receipt_no, RECEIPT_CHARS_MAX)
        check_optional_text("note", note, TEXT_CHARS_MAX)
        idempotency_key = options.get("idempotency_key")
        check_idempotency_key(idempotency_key)
        return DonationOrder(
            actor=actor,
            donor_id=donor_id,
            amount_fen=amount_fen,
            received_on=received_on,
            channel=donation_channel.value,
            receipt_no=receipt_no,
            # Made once, so that a retry of the same order keeps its number.
            receipt=receipt_no or made_receipt_no(received_on),
            project_id=project_id,
            note=note,
            idempotency_key=idempotency_key,
        )

    # ``donation_order`` run at once in a transaction of its own: the same arguments.
    record_donation = recorded_at_once(donation_order)

    def record_donation_order(self, order: DonationOrder) -> Receipt:
        """One donation in a transaction of its own."""

        def decide(meta: Meta) -> Decision:
            token = order.token_sha256
            if token is not None and self._active_tokens().get(token) != order.actor:
                raise TokenNotValid(order.actor.id)
            self._open_fund(order.received_on)
            donor = self._get(Donor, order.donor_id, "donor")
            donor.check_not_forgotten()
            project = self._open_project(order.project_id) if order.project_id else None
            donation_id = Donation.create_id(order.receipt)
            # Taken, even a number made for this gift: decided again after a commit whose
            # answer was lost, the gift may be this order's own (``_renumbered``).
            if self._exists(donation_id):
                raise Duplicate("receipt", order.receipt)
            note = self._sealed_note(donor, order.note)
            donor_ref = self._donor_ref(donor, str(donation_id))
            return str(donation_id), [order.donation(donor, project, meta, note, donor_ref)]

        [args] = self._blinded_notes([order.args()], order.idempotency_key)
        return self._run(
            order.actor,
            "record_donation",
            args,
            decide,
            on=order.received_on,
            idempotency_key=order.idempotency_key,
        )

    @permitted("reverse_donation")
    def reverse_donation(
        self, actor: Actor, donation_id: str, reason: str, **options: Unpack[Options]
    ) -> Receipt:
        check_text("reason", reason, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> Decision:
            fund = self._open_fund(meta.effective_on)
            donation = self._get(Donation, donation_id, "donation")
            # A reversal is booked on a voucher of its own (记账凭证), numbered in its year.
            vouchers = self.voucher_year(meta.effective_on.year, meta)
            number = vouchers.number(None, ("donation reversal", donation_id), (), None, meta)
            donation.reverse(reason, meta, number)
            if donation.in_kind:
                return donation_id, [donation, vouchers]
            fund.reverse_donation(
                donation_id, donation.project_id, donation.amount_fen, self.tally.current(), meta
            )
            if donation.account is None:
                return donation_id, [donation, fund, vouchers]
            # Money handed back leaves the account it came into: a cash box must hold it.
            treasury = self.treasury(meta)
            self.move_cash(treasury, donation.account, -donation.amount_fen, meta)
            return donation_id, [donation, fund, vouchers, treasury]

        args = {"donation_id": donation_id, "reason": reason}
        return self._run(actor, "reverse_donation", args, decide, **options)
