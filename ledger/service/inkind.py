"""Gifts in kind after they arrive (valued, used, depreciated), and services given as hours."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Unpack
from uuid import uuid4

from ledger.domain import Category, Donation, Meta, Project, ServiceDonation, ValuationBasis
from ledger.domain.base import created, derived_id
from ledger.domain.checks import (
    MONTH,
    NAME_CHARS_MAX,
    TEXT_CHARS_MAX,
    check_choice,
    check_date,
    check_text,
)
from ledger.domain.errors import InvalidInput
from ledger.domain.money import check_amount_fen
from ledger.domain.volunteering import HOURS_MAX
from ledger.service.kernel import Actor, Decision, Kernel, Keyed, Options, Receipt, permitted


def month_end(month: str) -> date:
    match = MONTH.match(month) if isinstance(month, str) else None
    if match is None:
        raise InvalidInput("month", repr(month), "must be YYYY-MM")
    year, number = int(match[1]), int(match[2])
    return date(year, number, calendar.monthrange(year, number)[1])


class InKindCommands(Kernel):
    @permitted("value_in_kind")
    def value_in_kind(
        self,
        actor: Actor,
        donation_id: str,
        basis: str,
        evidence: str,
        fixed_asset: bool = False,
        useful_life_months: int = 0,
        **options: Unpack[Options],
    ) -> Receipt:
        """How a gift in kind's fair value was set, and whether the fund keeps it as a fixed
        asset (then depreciated over its useful life)."""
        basis = check_choice("basis", basis, ValuationBasis).value
        check_text("evidence", evidence, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> Decision:
            self._open_fund(meta.effective_on)
            donation = self._get(Donation, donation_id, "donation")
            donation.value_in_kind(basis, evidence, fixed_asset, useful_life_months, meta)
            return donation_id, [donation]

        args = {
            "donation_id": donation_id,
            "basis": basis,
            "evidence": evidence,
            "fixed_asset": fixed_asset,
            "useful_life_months": useful_life_months,
        }
        return self._run(actor, "value_in_kind", args, decide, **options)

    @permitted("use_in_kind")
    def use_in_kind(
        self,
        actor: Actor,
        donation_id: str,
        amount_fen: int,
        description: str,
        project_code: str | None = None,
        category: str = Category.PROGRAMME.value,
        **options: Unpack[Options],
    ) -> Receipt:
        """Goods given in kind used or handed out for a project: a cost of that project."""
        check_amount_fen(amount_fen)
        check_text("description", description, TEXT_CHARS_MAX)
        category = check_choice("category", category, Category).value

        def decide(meta: Meta) -> Decision:
            self._open_fund(meta.effective_on)
            donation = self._get(Donation, donation_id, "donation")
            code = donation.project_for(project_code)
            if project_code is not None:
                self._open_project(str(Project.create_id(code)))
            donation.use_in_kind(code, amount_fen, category, description, meta)
            return donation_id, [donation]

        args = {
            "donation_id": donation_id,
            "amount_fen": amount_fen,
            "description": description,
            "project_code": project_code,
            "category": category,
        }
        return self._run(actor, "use_in_kind", args, decide, **options)

    @permitted("depreciate")
    def depreciate(
        self,
        actor: Actor,
        donation_id: str,
        month: str,
        project_code: str | None = None,
        **options: Unpack[Keyed],
    ) -> Receipt:
        """A month's straight-line depreciation of a fixed asset given in kind, dated the
        month's last day, charged to the project it serves."""
        on = month_end(month)

        def decide(meta: Meta) -> Decision:
            self._open_fund(on)
            donation = self._get(Donation, donation_id, "donation")
            donation.depreciate(month, donation.project_for(project_code), meta)
            return donation_id, [donation]

        args = {"donation_id": donation_id, "month": month, "project_code": project_code}
        return self._run(actor, "depreciate", args, decide, on=on, **options)

    @permitted("record_service_hours")
    def record_service_hours(
        self,
        actor: Actor,
        provider: str,
        project_code: str,
        hours: int,
        served_on: date,
        description: str,
        people: int = 1,
        **options: Unpack[Keyed],
    ) -> Receipt:
        """Hours an organisation's people gave for a project: disclosed, never income."""
        check_text("provider", provider, NAME_CHARS_MAX)
        check_text("description", description, TEXT_CHARS_MAX)
        check_date("served_on", served_on)
        for field, value in (("hours", hours), ("people", people)):
            if type(value) is not int or not 1 <= value <= HOURS_MAX:
                raise InvalidInput(field, repr(value), f"must be a whole number 1 to {HOURS_MAX}")
        key = options.get("idempotency_key")
        record_id = derived_id("service", actor.id, key) if key else uuid4()

        def decide(meta: Meta) -> Decision:
            self._open_fund(served_on)
            project = self._open_project(str(Project.create_id(project_code)))
            record = created(
                ServiceDonation,
                "Recorded",
                record_id,
                provider=provider,
                project_id=str(project.id),
                project_code=project.code,
                hours=hours,
                people=people,
                description=description,
                meta=meta,
            )
            return str(record_id), [record]

        args = {
            "provider": provider,
            "project_code": project_code,
            "hours": hours,
            "served_on": served_on,
            "description": description,
            "people": people,
        }
        return self._run(
            actor, "record_service_hours", args, decide, on=served_on, idempotency_key=key
        )
