"""The people the projects serve, the canteen's subsidy rules, and attendance.

A beneficiary's personal data is sealed under their own key (``ledger.service.personal``); the
citizen card is kept only as a hash keyed with the fund's card key, itself sealed, so that a
forgotten person's card no longer matches anything. Rules are decided like grants: proposed by
one committee member, in force once a quorum of the others approves, never retroactively.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Unpack
from uuid import uuid4

from ledger.domain import Meta, Project
from ledger.domain.base import created, derived_id, today
from ledger.domain.canteen import (
    AGE_MAX,
    Attendance,
    Beneficiary,
    MealTime,
    NewBeneficiary,
    Occasion,
    Rules,
    SubsidyRules,
    rules_from,
)
from ledger.domain.checks import (
    BATCH_SIZE_MAX,
    DATE_MIN,
    NAME_CHARS_MAX,
    PAGE_SIZE_MAX,
    TEXT_CHARS_MAX,
    check_choice,
    check_date,
    check_optional_text,
    check_text,
)
from ledger.domain.errors import Duplicate, InvalidInput
from ledger.domain.meals import Person
from ledger.domain.money import check_amount_fen
from ledger.domain.sealing import seal, unseal
from ledger.formats.meals_csv import CARD, normal_card
from ledger.service.kernel import Actor, Decision, Keyed, Options, Receipt, permitted
from ledger.service.personal import PersonalData, keyed_hash

# The keyring entry of the fund's key for hashing citizen-card numbers (not a person's).
CARD_KEY_ID = "canteen:citizen-card-hash"
BANDS_MAX = 10
MEALS_PER_DAY_MAX = 3
MEALS_PER_MONTH_MAX = 93
ATTENDANCE_MAX = 5_000
BORN_MIN = date(1890, 1, 1)
# Stored topics (pinned in ledger.domain, see ledger.domain.base) read to find the decisions.
REGISTERED = "ledger.domain:Beneficiary.Registered"
RULES_APPROVED = "ledger.domain:SubsidyRules.Approved"


def _check_rules(rules: Rules) -> Rules:
    day = rules.effective_from
    if not isinstance(day, date) or day < DATE_MIN or day > today() + timedelta(days=366):
        raise InvalidInput("effective_from", repr(day), "must be a date within a year from now")
    if not 1 <= len(rules.bands) <= BANDS_MAX:
        raise InvalidInput("bands", str(len(rules.bands)), f"must be 1 to {BANDS_MAX} bands")
    edges: list[tuple[int, int]] = []
    for index, band in enumerate(sorted(rules.bands, key=lambda b: b.age_min)):
        top = AGE_MAX if band.age_max is None else band.age_max
        if not 60 <= band.age_min <= top <= AGE_MAX or (edges and band.age_min <= edges[-1][1]):
            raise InvalidInput(f"bands[{index}]", band.label, "must be ages 60+, not overlapping")
        check_amount_fen(band.subsidy_fen, field=f"bands[{index}].subsidy")
        edges.append((band.age_min, top))
    for field, value, most in (
        ("meals_per_day_max", rules.meals_per_day_max, MEALS_PER_DAY_MAX),
        ("meals_per_month_max", rules.meals_per_month_max, MEALS_PER_MONTH_MAX),
    ):
        if type(value) is not int or not 1 <= value <= most:
            raise InvalidInput(field, repr(value), f"must be a whole number 1 to {most}")
    for meal in rules.meal_times:
        check_choice("meal_times", meal, MealTime)
    if not rules.meal_times:
        raise InvalidInput("meal_times", "[]", "must name at least one meal time")
    check_amount_fen(rules.price_fen, field="price")
    if any(band.subsidy_fen > rules.price_fen for band in rules.bands):
        raise InvalidInput("bands", "subsidy", "must not be more than the price of a meal")
    check_text("operator", rules.operator, NAME_CHARS_MAX)
    return rules


def _checked(index: int, given: NewBeneficiary) -> str:
    """The card number as matched, after the fields are checked; no message repeats a value."""
    where = f"people[{index}]"
    check_text(f"{where}.name", given.name, NAME_CHARS_MAX)
    born = given.birth_date
    if not isinstance(born, date) or isinstance(born, datetime) or not BORN_MIN <= born <= today():
        raise InvalidInput(f"{where}.birth_date", "(not shown)", f"must be a date from {BORN_MIN}")
    check_optional_text(f"{where}.address", given.address, TEXT_CHARS_MAX)
    card = normal_card(given.card_number) if isinstance(given.card_number, str) else ""
    if not CARD.match(card):
        raise InvalidInput(f"{where}.card_number", "(not shown)", "must be 6-32 digits or letters")
    return card


class CanteenCommands(PersonalData):
    # -- the people served -------------------------------------------------------------------

    def card_hasher(self) -> Callable[[str], str]:
        """The keyed hash of a card number as matched, with the fund's card key read once."""
        key = self.keyring.key_for(CARD_KEY_ID)
        assert key is not None
        return lambda card: keyed_hash(key, card)

    @permitted("register_beneficiary")
    def register_beneficiary(
        self,
        actor: Actor,
        name: str,
        birth_date: date,
        card_number: str,
        address: str | None = None,
        **options: Unpack[Keyed],
    ) -> Receipt:
        """A resident a project serves; nothing of them but their id leaves the sealed event."""
        given = NewBeneficiary(name, birth_date, card_number, address)
        return self.register_beneficiaries(actor, [given], **options)

    @permitted("register_beneficiary")
    def register_beneficiaries(
        self, actor: Actor, people: list[NewBeneficiary], **options: Unpack[Keyed]
    ) -> Receipt:
        """Residents a project serves, all or none; the receipt's ``ids`` are theirs in order."""
        if not 1 <= len(people) <= BATCH_SIZE_MAX:
            raise InvalidInput("people", str(len(people)), f"must be 1 to {BATCH_SIZE_MAX}")
        hasher = self.card_hasher()
        cards = [hasher(_checked(index, given)) for index, given in enumerate(people)]
        if len(set(cards)) != len(cards):
            raise Duplicate("beneficiary with the card", "(twice in the list; not shown)")
        key = options.get("idempotency_key")
        ids = [
            derived_id("beneficiary", actor.id, key, str(index)) if key else uuid4()
            for index in range(len(people))
        ]

        def decide(meta: Meta) -> Decision:
            self._require_fund()
            if set(cards) & set(self.beneficiaries_by_card()):
                raise Duplicate("beneficiary with the card", "(not shown)")
            made = []
            for person_id, given, card in zip(ids, people, cards, strict=True):
                person, key = str(person_id), self._key_of(str(person_id))
                made.append(
                    created(
                        Beneficiary,
                        "Registered",
                        person_id,
                        name=seal(key, person, given.name),
                        birth_date=seal(key, person, given.birth_date.isoformat()),
                        address=None if given.address is None else seal(key, person, given.address),
                        card=seal(key, person, card),
                        meta=meta,
                    )
                )
            return str(ids[0]), list(made)

        args = {
            "people": [
                {
                    "name": self._blinded(str(i), given.name, key),
                    "birth_date": self._blinded(str(i), given.birth_date.isoformat(), key),
                    "address": self._blinded(str(i), given.address, key),
                    "card": self._blinded(str(i), card, key),
                }
                for i, given, card in zip(ids, people, cards, strict=True)
            ]
        }
        receipt = self._run(actor, "register_beneficiary", args, decide, idempotency_key=key)
        return replace(receipt, ids=tuple(str(i) for i in ids))

    def _events_of(self, topic: str) -> Iterator[Any]:
        after = 0
        while True:
            batch = self.recorder.select_notifications(
                start=after + 1, limit=PAGE_SIZE_MAX, topics=[topic]
            )
            for notification in batch:
                after = notification.id
                yield self.mapper.to_domain_event(notification)
            if len(batch) < PAGE_SIZE_MAX:
                return

    def beneficiaries_by_card(self) -> dict[str, Person]:
        """Every beneficiary not forgotten, by their card's keyed hash (opened with their keys)."""
        registered = list(self._events_of(REGISTERED))
        keys = self.keyring.keys([str(e.originator_id) for e in registered])
        people: dict[str, Person] = {}
        for e in registered:
            key = keys[str(e.originator_id)]
            if key is None:
                continue  # forgotten: the card matches no one any more
            birth_date = date.fromisoformat(unseal(key, e.birth_date))
            people[unseal(key, e.card)] = Person(str(e.originator_id), birth_date)
        return people

    # -- the rules ---------------------------------------------------------------------------

    @permitted("propose_subsidy_rules")
    def propose_subsidy_rules(
        self, actor: Actor, project_code: str, rules: Rules, **options: Unpack[Options]
    ) -> Receipt:
        _check_rules(rules)

        def decide(meta: Meta) -> Decision:
            self._open_fund(meta.effective_on)
            project = self._open_project(str(Project.create_id(project_code)))
            proposal = SubsidyRules(
                project_id=str(project.id),
                project_code=project.code,
                rules=rules.as_event(),
                meta=meta,
            )
            proposal.check_not_retroactive(meta)
            return str(proposal.id), [proposal]

        args = {"project_code": project_code, "rules": rules.as_event()}
        return self._run(actor, "propose_subsidy_rules", args, decide, **options)

    @permitted("approve_subsidy_rules")
    def approve_subsidy_rules(
        self, actor: Actor, rules_id: str, **options: Unpack[Options]
    ) -> Receipt:
        """One member's approval; the quorum's last puts the rules in force from their day."""

        def decide(meta: Meta) -> Decision:
            fund = self._open_fund(meta.effective_on)
            proposal = self._get(SubsidyRules, rules_id, "subsidy rules")
            proposal.approve(actor.id, meta)
            if proposal.reaches(fund.quorum):
                proposal.mark_approved(proposal.project_code, proposal.effective_from, meta)
            return rules_id, [proposal]

        return self._run(actor, "approve_subsidy_rules", {"rules_id": rules_id}, decide, **options)

    @permitted("reject_subsidy_rules")
    def reject_subsidy_rules(
        self, actor: Actor, rules_id: str, reason: str, **options: Unpack[Options]
    ) -> Receipt:
        check_text("reason", reason, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> Decision:
            self._open_fund(meta.effective_on)
            proposal = self._get(SubsidyRules, rules_id, "subsidy rules")
            proposal.reject(reason, meta)
            return rules_id, [proposal]

        args = {"rules_id": rules_id, "reason": reason}
        return self._run(actor, "reject_subsidy_rules", args, decide, **options)

    def approved_rules_ids(self) -> set[str]:
        return {str(e.originator_id) for e in self._events_of(RULES_APPROVED)}

    def rules_in_force(self, project_code: str) -> list[Rules]:
        """Every approved set of the project's rules, each from its own day."""
        found: list[Rules] = []
        for approved in self._events_of(RULES_APPROVED):
            if approved.project_code == project_code:
                proposal = self._get(SubsidyRules, approved.originator_id, "subsidy rules")
                found.append(rules_from(proposal.rules))
        return found

    # -- attendance --------------------------------------------------------------------------

    @permitted("record_attendance")
    def record_attendance(
        self,
        actor: Actor,
        project_code: str,
        occasion: str,
        served_on: date,
        beneficiary_ids: list[str],
        visits: int | None = None,
        **options: Unpack[Keyed],
    ) -> Receipt:
        """Who a project served on a day; once per project, occasion and day."""
        kind = check_choice("occasion", occasion, Occasion).value
        check_date("served_on", served_on)
        people = sorted(set(beneficiary_ids))
        if not 1 <= len(people) <= ATTENDANCE_MAX:
            raise InvalidInput("beneficiary_ids", str(len(people)), "must be 1 to 5000 people")
        visits = len(people) if visits is None else visits
        if type(visits) is not int or not len(people) <= visits <= 10 * len(people):
            raise InvalidInput("visits", repr(visits), "must be at least one a person")

        def decide(meta: Meta) -> Decision:
            self._open_fund(served_on)
            project = self._open_project(str(Project.create_id(project_code)))
            record_id = Attendance.create_id(str(project.id), kind, served_on)
            if self._exists(record_id):
                raise Duplicate("attendance", f"{project_code} {kind} {served_on}")
            for person in people:
                self._get(Beneficiary, person, "beneficiary").check_not_forgotten()
            record = created(
                Attendance,
                "Recorded",
                record_id,
                project_id=str(project.id),
                project_code=project.code,
                occasion=kind,
                served_on=served_on,
                beneficiary_ids=people,
                people=len(people),
                visits=visits,
                meta=meta,
            )
            return str(record_id), [record]

        args = {
            "project_code": project_code,
            "occasion": kind,
            "served_on": served_on,
            "beneficiary_ids": people,
            "visits": visits,
        }
        key = options.get("idempotency_key")
        return self._run(
            actor, "record_attendance", args, decide, on=served_on, idempotency_key=key
        )
