"""The people the projects serve, the canteen's subsidy rules, its monthly settlements, and
attendance (who a project served on a day).

A beneficiary's name, birth date, address and the keyed hash of their citizen-card number
arrive sealed under their own key (``ledger.domain.sealing``): forgetting them destroys the
key, and the settlements, which name them only by id, keep every amount and count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, derived_id, not_before
from ledger.domain.errors import AlreadyApproved, RulesRetroactive, SelfApproval, WrongState

# The ages the canteen's subsidy is for (residents over 60), and the largest age believed.
AGE_MIN = 60
AGE_MAX = 130


class MealTime(StrEnum):
    BREAKFAST = "breakfast"
    LUNCH = "lunch"
    DINNER = "dinner"


class Occasion(StrEnum):
    BIRTHDAY_LUNCH = "birthday_lunch"
    CLINIC_VISIT = "clinic_visit"
    HAIRCUT = "haircut"
    OTHER = "other"


def age_on(birth_date: date, day: date) -> int:
    """Whole years of age on ``day``."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)


@dataclass(frozen=True)
class Band:
    """An age band and the subsidy each meal of someone in it gets."""

    age_min: int
    age_max: int | None  # None: and older
    subsidy_fen: int

    @property
    def label(self) -> str:
        return f"{self.age_min}+" if self.age_max is None else f"{self.age_min}-{self.age_max}"

    def holds(self, age: int) -> bool:
        return age >= self.age_min and (self.age_max is None or age <= self.age_max)


@dataclass(frozen=True)
class Rules:
    """What the committee decides for the canteen: subsidy per meal by age band, the caps,
    which meal times count, the canteen's price, and who is paid (the operator)."""

    effective_from: date
    bands: tuple[Band, ...]
    meals_per_day_max: int
    meals_per_month_max: int
    meal_times: tuple[str, ...]
    price_fen: int
    operator: str

    def band_for(self, age: int) -> Band | None:
        for band in self.bands:
            if age >= band.age_min and (band.age_max is None or age <= band.age_max):
                return band
        return None

    def as_event(self) -> dict[str, Any]:
        return {
            "effective_from": self.effective_from,
            "bands": [vars(band) for band in self.bands],
            "meals_per_day_max": self.meals_per_day_max,
            "meals_per_month_max": self.meals_per_month_max,
            "meal_times": list(self.meal_times),
            "price_fen": self.price_fen,
            "operator": self.operator,
        }


def rules_from(fields: dict[str, Any]) -> Rules:
    return Rules(
        effective_from=fields["effective_from"],
        bands=tuple(Band(**band) for band in fields["bands"]),
        meals_per_day_max=fields["meals_per_day_max"],
        meals_per_month_max=fields["meals_per_month_max"],
        meal_times=tuple(fields["meal_times"]),
        price_fen=fields["price_fen"],
        operator=fields["operator"],
    )


@dataclass(frozen=True)
class NewBeneficiary:
    """A resident as the treasurer registers them: every field personal data."""

    name: str
    birth_date: date
    card_number: str
    address: str | None = None


class Beneficiary(FundAggregate):
    """A resident a project serves. Every personal field is sealed under their own key; the
    citizen card is kept only as a keyed hash (sealed too), for matching the canteen's file."""

    @event("Registered")
    def __init__(
        self, name: str, birth_date: str, address: str | None, card: str, meta: Meta
    ) -> None:
        self.name = name
        self.birth_date = birth_date
        self.address = address
        self.card = card
        self.forgotten = False

    def check_not_forgotten(self) -> None:
        if self.forgotten:
            raise WrongState("beneficiary", self.id, "forgotten", "registered")

    @event("Forgotten")
    def forget(self, meta: Meta) -> None:
        self.forgotten = True


class SubsidyRules(FundAggregate):
    """A change of the canteen's subsidy rules: proposed by a committee member, in force once a
    quorum of the others approves it, and only from a day not before it was decided."""

    @event("Proposed")
    def __init__(self, project_id: str, project_code: str, rules: dict[str, Any], meta: Meta):
        self.project_id = project_id
        self.project_code = project_code
        self.rules = rules
        self.proposer_id = meta.actor_id
        self.approver_ids: list[str] = []
        self.approved = False
        self.rejected = False
        self.dated_through = meta.effective_on

    @property
    def effective_from(self) -> date:
        day: date = self.rules["effective_from"]
        return day

    def check_not_retroactive(self, meta: Meta) -> None:
        if self.effective_from < meta.effective_on:
            raise RulesRetroactive(
                self.id, self.effective_from.isoformat(), meta.effective_on.isoformat()
            )

    def approve(self, member_id: str, meta: Meta) -> None:
        if self.approved or self.rejected:
            state = "approved" if self.approved else "rejected"
            raise WrongState("subsidy rules", self.id, state, "proposed")
        not_before("subsidy rules", self.id, self.dated_through, meta)
        self.check_not_retroactive(meta)
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
        return not self.approved and len(self.approver_ids) >= quorum

    @event("Approved")
    def mark_approved(self, project_code: str, effective_from: date, meta: Meta) -> None:
        self.approved = True

    def reject(self, reason: str, meta: Meta) -> None:
        if self.approved or self.rejected:
            raise WrongState("subsidy rules", self.id, "decided", "proposed")
        not_before("subsidy rules", self.id, self.dated_through, meta)
        self._rejected(reason, meta)

    @event("Rejected")
    def _rejected(self, reason: str, meta: Meta) -> None:
        self.rejected = True


class MealSettlement(FundAggregate):
    """One month of the canteen's subsidised meals, settled once, paid by its expense.

    ``lines`` are per beneficiary (by id) and age band, for the auditor and the panel; the
    bands' counts are the public record. The file's SHA-256 makes a second import of the same
    file a no-op."""

    @event("Recorded")
    def __init__(
        self,
        project_id: str,
        project_code: str,
        month: str,
        grant_id: str,
        expense_id: str,
        file_sha256: str,
        meals: int,
        people: int,
        subsidy_fen: int,
        meals_price_fen: int,
        bands: dict[str, dict[str, int]],
        lines: list[dict[str, Any]],
        meta: Meta,
    ) -> None:
        self.project_code = project_code
        self.month = month
        self.expense_id = expense_id
        self.file_sha256 = file_sha256
        self.subsidy_fen = subsidy_fen

    @staticmethod
    def create_id(project_id: str, month: str) -> UUID:
        return derived_id("meal-settlement", project_id, month)


class Attendance(FundAggregate):
    """Who a project served on a day (a birthday lunch, clinic visits, haircuts): ids only."""

    @event("Recorded")
    def __init__(
        self,
        project_id: str,
        project_code: str,
        occasion: str,
        served_on: date,
        beneficiary_ids: list[str],
        people: int,
        visits: int,
        meta: Meta,
    ) -> None:
        self.project_code = project_code
        self.people = people
        self.visits = visits

    @staticmethod
    def create_id(project_id: str, occasion: str, served_on: date) -> UUID:
        return derived_id("attendance", project_id, occasion, served_on.isoformat())
