"""Bills received and paid later, advances paid and settled, money held for others passed on."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any, Unpack
from uuid import uuid4

from ledger.domain import Advance, Bill, Category, Custody, Grant, Meta, PayeeKind
from ledger.domain.accruals import from_grant
from ledger.domain.base import created, derived_id
from ledger.domain.checks import (
    NAME_CHARS_MAX,
    TEXT_CHARS_MAX,
    check_choice,
    check_date,
    check_text,
)
from ledger.domain.expenses import Payment
from ledger.domain.money import check_amount_fen
from ledger.service.expenses import checked_payment
from ledger.service.kernel import Actor, Decision, Keyed, Options, Receipt, permitted
from ledger.service.personal import PersonalData


class AccrualCommands(PersonalData):
    @permitted("receive_bill")
    def receive_bill(
        self,
        actor: Actor,
        grant_id: str,
        amount_fen: int,
        received_on: date,
        payee: str,
        category: str,
        description: str,
        voucher_no: str | None = None,
        payee_kind: str = PayeeKind.ORGANISATION.value,
        **options: Unpack[Keyed],
    ) -> Receipt:
        """A bill for a grant's project, received and not yet paid: its cost is the fund's now."""
        payment = checked_payment(
            ("received_on", received_on),
            Payment(amount_fen, payee, payee_kind, category, description, voucher_no, None),
        )
        return self._charged(actor, "receive_bill", Bill, grant_id, received_on, payment, options)

    @permitted("pay_advance")
    def pay_advance(
        self,
        actor: Actor,
        grant_id: str,
        amount_fen: int,
        paid_on: date,
        payee: str,
        description: str,
        voucher_no: str | None = None,
        payee_kind: str = PayeeKind.ORGANISATION.value,
        category: str = Category.PROGRAMME.value,
        **options: Unpack[Keyed],
    ) -> Receipt:
        """Money paid ahead from a grant; the project's cost once the advance is settled."""
        payment = checked_payment(
            ("paid_on", paid_on),
            Payment(amount_fen, payee, payee_kind, category, description, voucher_no, None),
        )
        return self._charged(actor, "pay_advance", Advance, grant_id, paid_on, payment, options)

    def _charged(
        self,
        actor: Actor,
        command: str,
        cls: type[Bill] | type[Advance],
        grant_id: str,
        on: date,
        payment: Payment,
        options: Keyed,
    ) -> Receipt:
        key = options.get("idempotency_key")
        new_id = derived_id(command, actor.id, key) if key else uuid4()
        # A person paid has no register of their own: the bill or advance is their id.
        person = str(new_id) if payment.payee_kind == PayeeKind.INDIVIDUAL else None
        args: dict[str, Any] = {
            **vars(payment),
            "grant_id": grant_id,
            "on": on,
            "payee": payment.payee if person is None else self._blinded(person, payment.payee, key),
        }

        def decide(meta: Meta) -> Decision:
            self._open_fund(on)
            grant = self._get(Grant, grant_id, "grant")
            sealed = (
                payment
                if person is None
                else replace(payment, payee=self._sealed(person, payment.payee))
            )
            return str(new_id), [grant, from_grant(cls, grant, new_id, sealed, meta)]

        return self._run(actor, command, args, decide, on=on, idempotency_key=key)

    @permitted("pay_bill")
    def pay_bill(self, actor: Actor, bill_id: str, **options: Unpack[Options]) -> Receipt:
        def decide(meta: Meta) -> Decision:
            self._open_fund(meta.effective_on)
            bill = self._get(Bill, bill_id, "bill")
            bill.pay(meta)
            return bill_id, [bill]

        return self._run(actor, "pay_bill", {"bill_id": bill_id}, decide, **options)

    @permitted("settle_advance")
    def settle_advance(
        self,
        actor: Actor,
        advance_id: str,
        description: str,
        category: str = Category.PROGRAMME.value,
        **options: Unpack[Options],
    ) -> Receipt:
        check_text("description", description, TEXT_CHARS_MAX)
        category = check_choice("category", category, Category).value

        def decide(meta: Meta) -> Decision:
            self._open_fund(meta.effective_on)
            advance = self._get(Advance, advance_id, "advance")
            advance.settle(category, description, meta)
            return advance_id, [advance]

        args = {"advance_id": advance_id, "category": category, "description": description}
        return self._run(actor, "settle_advance", args, decide, **options)

    @permitted("receive_custody")
    def receive_custody(
        self,
        actor: Actor,
        principal: str,
        beneficiary: str,
        amount_fen: int,
        received_on: date,
        purpose: str,
        **options: Unpack[Keyed],
    ) -> Receipt:
        """Money an organisation entrusts to the fund to pass on to another (受托代理)."""
        check_amount_fen(amount_fen)
        check_date("received_on", received_on)
        check_text("principal", principal, NAME_CHARS_MAX)
        check_text("beneficiary", beneficiary, NAME_CHARS_MAX)
        check_text("purpose", purpose, TEXT_CHARS_MAX)
        key = options.get("idempotency_key")
        custody_id = derived_id("custody", actor.id, key) if key else uuid4()

        def decide(meta: Meta) -> Decision:
            self._open_fund(received_on)
            custody = created(
                Custody,
                "Received",
                custody_id,
                principal=principal,
                beneficiary=beneficiary,
                amount_fen=amount_fen,
                purpose=purpose,
                meta=meta,
            )
            return str(custody_id), [custody]

        args = {
            "principal": principal,
            "beneficiary": beneficiary,
            "amount_fen": amount_fen,
            "received_on": received_on,
            "purpose": purpose,
        }
        return self._run(
            actor, "receive_custody", args, decide, on=received_on, idempotency_key=key
        )

    @permitted("pass_on_custody")
    def pass_on_custody(self, actor: Actor, custody_id: str, **options: Unpack[Options]) -> Receipt:
        def decide(meta: Meta) -> Decision:
            self._open_fund(meta.effective_on)
            custody = self._get(Custody, custody_id, "custody")
            custody.pass_on(meta)
            return custody_id, [custody]

        return self._run(actor, "pass_on_custody", {"custody_id": custody_id}, decide, **options)
