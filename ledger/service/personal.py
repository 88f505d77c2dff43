"""Personal data in commands: sealed under the person's key, blinded in fingerprints, forgotten.

An individual's name, any contact details, a note on a gift and an individual payee's name go
into events sealed (``ledger.domain.sealing``) under that person's own key. What a command's
idempotency fingerprint keeps of them is a hash keyed with the same key, so that nobody
holding the store can confirm a guess, even after the person is forgotten.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from uuid import UUID

from ledger.domain import (
    Advance,
    Beneficiary,
    Bill,
    Donation,
    Donor,
    DonorKind,
    Expense,
    Meta,
    PayeeKind,
)
from ledger.domain.disclosure import public_donor_id
from ledger.domain.errors import ErasureIncomplete, NotAPerson, NotFound, WrongState
from ledger.domain.gift_refs import donor_secret, gift_opening, gift_reference
from ledger.domain.sealing import is_sealed, seal
from ledger.service.kernel import Actor, Decision, Kernel, Receipt, permitted


def keyed_hash(key: bytes, value: object) -> str:
    plain = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).encode()
    return "hmac-sha256:" + hmac.new(key, plain, hashlib.sha256).hexdigest()


class PersonalData(Kernel):
    def _key_of(self, person_id: str, what: str = "person") -> bytes:
        """The person's key, made now if they have none; refused once they were forgotten."""
        key = self.keyring.key_for(person_id)
        if key is None:
            raise WrongState(what, person_id, "forgotten", "registered")
        return key

    def _sealed(self, person_id: str, value: object) -> str:
        return seal(self._key_of(person_id), person_id, value)

    def _blinded(self, person_id: str, value: object, idempotency_key: str | None) -> object:
        """What a command's fingerprint takes of a person's data: a hash keyed with their key.

        The fingerprint is stored with the idempotency record, for good; a plain hash would let
        anyone holding the store confirm a guess of the data, even after the person is forgotten.
        """
        if idempotency_key is None or value in (None, "", {}):
            return value
        return keyed_hash(self._key_of(person_id), value)

    def _blinded_notes(
        self, items: list[dict[str, Any]], idempotency_key: str | None
    ) -> list[dict[str, Any]]:
        """Gifts as their fingerprint takes them: each note hashed with its donor's key."""
        noted = {str(i["donor_id"]) for i in items if i["note"] is not None}
        if idempotency_key is None or not noted:
            return items
        ids = []
        for donor_id in noted:
            try:
                ids.append(UUID(donor_id))
            except ValueError:
                continue  # no such donor: the command is refused and stores nothing
        # Only donors that exist get a key made for them.
        keys = {str(i): self.keyring.key_for(str(i)) for i in self._existing(ids)}
        return [
            {**item, "note": keyed_hash(key, item["note"])}
            if item["note"] is not None and (key := keys.get(str(item["donor_id"])))
            else item
            for item in items
        ]

    def _donor_ref(
        self, donor: Donor, donation_id: str, secrets: dict[str, bytes] | None = None
    ) -> str | None:
        """What a gift's public record shows in place of a donor whose id is not public: a
        reference from the donor's secret (``ledger.domain.gift_refs``); None for the others.
        ``secrets`` keeps the donors' secrets a batch has made, so each is made once a batch."""
        if public_donor_id(donor.kind, donor.disclosure):
            return None
        person = str(donor.id)
        secret = secrets.get(person) if secrets is not None else None
        if secret is None:
            secret = donor_secret(self._key_of(person, "donor"))
            if secrets is not None:
                secrets[person] = secret
        return gift_reference(gift_opening(secret, donation_id))

    def _sealed_note(self, donor: Donor, note: str | None) -> str | None:
        """A note on a gift may say anything about the giver: sealed under the donor's key."""
        if note is None:
            return None
        return seal(self._key_of(str(donor.id), "donor"), str(donor.id), note)

    def donor_secret(self, donor_id: str) -> bytes | None:
        """What lets a donor find every gift of theirs in the public log
        (``ledger.domain.gift_refs``); None once they are forgotten or for a donor whose gifts
        show their id. Personal data: for the treasurer to hand to the donor, no one else."""
        donor = self._get(Donor, donor_id, "donor")
        if public_donor_id(donor.kind, donor.disclosure):
            return None
        key = self.keyring.keys([donor_id])[donor_id]
        return None if key is None else donor_secret(key)

    def gift_opening(self, donation_id: str) -> bytes | None:
        """What proves one gift is the donor's, for its receipt, and links no other gift; None
        for a gift that shows its donor's id, or recorded before references, or forgotten."""
        donation = self._get(Donation, donation_id, "donation")
        if getattr(donation, "donor_ref", None) is None:
            return None
        secret = self.donor_secret(donation.donor_id)
        return None if secret is None else gift_opening(secret, donation_id)

    @permitted("forget_person")
    def forget_person(self, actor: Actor, person_id: str) -> Receipt:
        """Erase a donor's or an individual payee's personal data for good, by destroying the key
        it is sealed under. The amounts, the books and the transparency log are untouched.

        ``person_id`` is a donor's id, or the id of an expense paid to an individual. The
        decision is recorded as an event naming who took it; doing it again changes nothing.
        """

        def decide(meta: Meta) -> Decision:
            try:
                donor = self._get(Donor, person_id, "donor or expense")
            except NotFound:
                donor = None
            if donor is None:
                return person_id, self._forget_served_or_payee(person_id, meta)
            if donor.kind != DonorKind.INDIVIDUAL:
                # Its name is published and stays so; forgetting would only block its gifts.
                raise NotAPerson("donor", person_id)
            unsealed_name = donor.kind == DonorKind.INDIVIDUAL and not is_sealed(donor.name)
            if unsealed_name or (donor.contact and not is_sealed(donor.contact)):
                # Recorded before personal data was sealed: its plaintext is in the events.
                raise WrongState("donor", person_id, "recorded unsealed", "sealed")
            if donor.forgotten:
                return person_id, []
            donor.forget(meta)
            return person_id, [donor]

        # Dated today, never back: a closed month's frozen report must not change.
        receipt = self._run(actor, "forget_person", {"person_id": person_id}, decide)
        # After the event, so that a crash in between leaves a decision that a retry completes;
        # the old bytes overwritten before answering, or a retry is asked for.
        if not self.keyring.destroy(receipt.id):
            raise ErasureIncomplete(receipt.id)
        return receipt

    def _forget_served_or_payee(self, person_id: str, meta: Meta) -> list[Any]:
        """A beneficiary of a project (their settlements and attendance keep only their id),
        else an individual payee."""
        try:
            beneficiary = self._get(Beneficiary, person_id, "beneficiary")
        except NotFound:
            return self._forget_payee(person_id, meta)
        if beneficiary.forgotten:
            return []
        beneficiary.forget(meta)
        return [beneficiary]

    def _forget_payee(self, expense_id: str, meta: Meta) -> list[Any]:
        try:
            expense = self._get(Expense, expense_id, "donor or expense")
        except NotFound:
            # A bill or an advance to a person: destroying the key is all there is to do.
            owed: Bill | Advance
            try:
                owed = self._get(Bill, expense_id, "donor, expense, bill or advance")
            except NotFound:
                owed = self._get(Advance, expense_id, "donor, expense, bill or advance")
            if owed.payee_kind != PayeeKind.INDIVIDUAL:
                raise NotAPerson("payee", expense_id) from None
            return []
        if expense.payee_kind != PayeeKind.INDIVIDUAL:
            raise NotAPerson("payee of expense", expense_id)
        if expense.payee_forgotten:
            return []
        expense.forget_payee(meta)
        return [expense]
