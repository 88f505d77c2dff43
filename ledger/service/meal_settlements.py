"""The canteen's monthly settlement: a month's citizen-card meals checked against the rules in
force, and the accepted month paid to the canteen's operator from the canteen's approved grant.

The money moves as one expense of the grant (so restricted money given for the canteen pays
only the canteen, and every view and export already knows it); the settlement beside it, saved
in the same transaction under an id made from the project and the month, holds the counts per
age band and the lines per beneficiary. A month is settled once: the same file again records
nothing, another file for a settled month is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.domain import Category, Grant, Meta, PayeeKind, Project
from ledger.domain.base import created, derived_id, today
from ledger.domain.canteen import MealSettlement
from ledger.domain.errors import AlreadySettled, InvalidInput, MealsRefused
from ledger.domain.expenses import Payment, pay_from
from ledger.domain.meals import Checked, MealRow, check_meals, rules_on
from ledger.service.canteen import CanteenCommands
from ledger.service.inkind import month_end
from ledger.service.kernel import Actor, Decision, Receipt, permitted

BAD_SHOWN_MAX = 5


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Settled:
    """What a settlement did: its receipt (position 0 when nothing was recorded) and the check."""

    receipt: Receipt | None  # None: refused, nothing recorded (with ``report``)
    checked: Checked

    @property
    def recorded(self) -> bool:
        return self.receipt is not None and self.receipt.position > 0


class MealSettlements(CanteenCommands):
    def check_month(self, project_code: str, month: str, rows: Sequence[MealRow]) -> Checked:
        """Every row judged against the rules in force on its day: nothing is recorded."""
        month_end(month)
        return check_meals(
            rows,
            month,
            self.beneficiaries_by_card(),
            self.card_hasher(),
            self.rules_in_force(project_code),
        )

    @permitted("settle_meals")
    def settle_meals(
        self,
        actor: Actor,
        project_code: str,
        grant_id: str,
        month: str,
        file_sha256: str,
        rows: Sequence[MealRow],
        *,
        partial: bool = False,
        report: bool = False,
    ) -> Settled:
        """Settle a month from the canteen's file: all rows good (or, with ``partial``, the good
        ones), one expense to the operator and one settlement, or nothing at all. A refusal is
        ``MealsRefused``, or with ``report`` a result with no receipt and every bad row (so a
        month of rows is checked once, not again to list them)."""
        paid_on = month_end(month)
        if paid_on >= today():
            raise InvalidInput("month", month, "must have ended before it is settled")
        checked = self.check_month(project_code, month, rows)
        if checked.bad and not partial:
            if report:
                return Settled(None, checked)
            shown = [str(bad) for bad in checked.bad[:BAD_SHOWN_MAX]]
            raise MealsRefused(month, len(checked.bad), shown)
        if checked.meals == 0:
            raise InvalidInput("file", "no accepted meals", f"has nothing to settle for {month}")
        in_force = rules_on(self.rules_in_force(project_code), paid_on)
        assert in_force is not None  # a meal was accepted, so rules were in force

        def decide(meta: Meta) -> Decision:
            self._open_fund(paid_on)
            project = self._open_project(str(Project.create_id(project_code)))
            settlement_id = MealSettlement.create_id(str(project.id), month)
            if self._exists(settlement_id):
                settled = self._get(MealSettlement, settlement_id, "meal settlement")
                if settled.file_sha256 == file_sha256:
                    return str(settlement_id), []
                raise AlreadySettled(project_code, month, settled.file_sha256, file_sha256)
            grant = self._get(Grant, grant_id, "grant")
            if grant.project_id != str(project.id):
                raise InvalidInput(
                    "grant", grant_id, f"is for {grant.project_code}, not {project_code}"
                )
            expense_id = derived_id("meal-expense", str(project.id), month)
            payment = Payment(
                amount_fen=checked.subsidy_fen,
                payee=in_force.operator,
                payee_kind=PayeeKind.ORGANISATION.value,
                category=Category.PROGRAMME.value,
                description=f"社区食堂助餐补贴 {month}: {checked.meals} meals, "
                f"{checked.people()} people (canteen meal subsidies)",
                voucher_no=f"MEALS-{month}",
                voucher_sha256=file_sha256,
            )
            expense = pay_from(grant, expense_id, payment, meta)
            settlement = created(
                MealSettlement,
                "Recorded",
                settlement_id,
                project_id=str(project.id),
                project_code=project.code,
                month=month,
                grant_id=grant_id,
                expense_id=str(expense_id),
                file_sha256=file_sha256,
                meals=checked.meals,
                people=checked.people(),
                subsidy_fen=checked.subsidy_fen,
                meals_price_fen=checked.meals_price_fen,
                bands=checked.bands(),
                lines=checked.line_list(),
                meta=meta,
            )
            return str(settlement_id), [grant, expense, settlement]

        args = {
            "project_code": project_code,
            "grant_id": grant_id,
            "month": month,
            "file_sha256": file_sha256,
            "partial": partial,
        }
        return Settled(self._run(actor, "settle_meals", args, decide, on=paid_on), checked)

    def open_grant_of(self, project_code: str) -> str | None:
        """The project's one approved grant with money left, if it has exactly one."""
        approved = {
            str(e.originator_id)
            for e in self._events_of("ledger.domain:Grant.Approved")
            if e.project_code == project_code
        }
        open_ids = [
            grant_id
            for grant_id in sorted(approved)
            if (grant := self._get(Grant, grant_id, "grant")).status == "approved"
            and grant.remaining_fen > 0
        ]
        return open_ids[0] if len(open_ids) == 1 else None
