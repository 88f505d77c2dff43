"""Setting the fund up: establishing it, its donors and projects, closing its months."""

from __future__ import annotations

from datetime import date
from typing import Any, Unpack
from uuid import uuid4

from ledger.domain import FUND_ID, Disclosure, DonorKind, Fund, Project
from ledger.domain.base import Meta, created, derived_id, month_of
from ledger.domain.checks import (
    DATE_MIN,
    MONTH,
    NAME_CHARS_MAX,
    PROJECT_CODE,
    QUORUM_MAX,
    TEXT_CHARS_MAX,
    check_choice,
    check_optional_text,
    check_text,
)
from ledger.domain.errors import Duplicate, InvalidInput, WrongState
from ledger.domain.people import Donor
from ledger.service.kernel import Actor, Decision, Keyed, Options, Receipt, permitted
from ledger.service.personal import PersonalData
from ledger.service.reconciliation import ReconciliationCommands

CONTACT_ENTRIES_MAX = 10


class SetupCommands(PersonalData, ReconciliationCommands):
    @permitted("establish_fund")
    def establish_fund(
        self, actor: Actor, name: str, quorum: int = 3, *, on: date | None = None
    ) -> Receipt:
        check_text("name", name, NAME_CHARS_MAX)
        if isinstance(quorum, bool) or not isinstance(quorum, int) or not 1 <= quorum <= QUORUM_MAX:
            raise InvalidInput(
                "quorum", repr(quorum), f"must be a whole number from 1 to {QUORUM_MAX}"
            )

        def decide(meta: Meta) -> Decision:
            if self._exists(FUND_ID):
                raise Duplicate("fund", self.fund().name)
            return str(FUND_ID), [Fund(name=name, currency="CNY", quorum=quorum, meta=meta)]

        return self._run(actor, "establish_fund", {"name": name, "quorum": quorum}, decide, on=on)

    @permitted("register_donor")
    def register_donor(
        self,
        actor: Actor,
        name: str,
        kind: str,
        disclosure: str,
        contact: dict[str, str] | None = None,
        **options: Unpack[Options],
    ) -> Receipt:
        check_text("name", name, NAME_CHARS_MAX)
        donor_kind = check_choice("kind", kind, DonorKind)
        donor_disclosure = check_choice("disclosure", disclosure, Disclosure)
        contact = dict(contact or {})
        if len(contact) > CONTACT_ENTRIES_MAX:
            raise InvalidInput(
                "contact", str(len(contact)), f"has more than {CONTACT_ENTRIES_MAX} entries"
            )
        for contact_key, contact_value in contact.items():
            check_text("contact key", contact_key, 50)
            check_text("contact", contact_value, NAME_CHARS_MAX)
        # With an idempotency key a retry names the same donor, so its fingerprint opens alike.
        idempotency_key = options.get("idempotency_key")
        donor_id = derived_id("donor", actor.id, idempotency_key) if idempotency_key else uuid4()
        person = str(donor_id)

        def decide(meta: Meta) -> Decision:
            self._require_fund()
            # Sealed under the donor's own key, made before the event that needs it is stored.
            donor = created(
                Donor,
                "Registered",
                donor_id,
                name=name if donor_kind is not DonorKind.INDIVIDUAL else self._sealed(person, name),
                kind=donor_kind.value,
                disclosure=donor_disclosure.value,
                contact=self._sealed(person, contact) if contact else {},
                meta=meta,
            )
            return person, [donor]

        args = {
            "name": self._blinded(person, name, idempotency_key),
            "kind": kind,
            "disclosure": disclosure,
            "contact": self._blinded(person, contact, idempotency_key),
        }
        return self._run(actor, "register_donor", args, decide, **options)

    @permitted("open_project")
    def open_project(
        self,
        actor: Actor,
        code: str,
        name: str,
        name_en: str | None = None,
        description: str | None = None,
        organisation: str | None = None,
        **options: Unpack[Options],
    ) -> Receipt:
        if not isinstance(code, str) or not PROJECT_CODE.match(code):
            raise InvalidInput(
                "code", repr(code), "must be 2-32 lower-case letters, digits or hyphens"
            )
        check_text("name", name, NAME_CHARS_MAX)
        check_optional_text("name_en", name_en, NAME_CHARS_MAX)
        check_optional_text("description", description, TEXT_CHARS_MAX)
        check_optional_text("organisation", organisation, NAME_CHARS_MAX)
        args: dict[str, Any] = {
            "code": code,
            "name": name,
            "name_en": name_en,
            "description": description,
            "organisation": organisation,
        }

        def decide(meta: Meta) -> Decision:
            self._require_fund()
            project_id = Project.create_id(code)
            if self._exists(project_id):
                raise Duplicate("project", code)
            return str(project_id), [Project(**args, meta=meta)]

        return self._run(actor, "open_project", args, decide, **options)

    @permitted("close_project")
    def close_project(self, actor: Actor, project_id: str, **options: Unpack[Keyed]) -> Receipt:
        def decide(meta: Meta) -> Decision:
            project = self._get(Project, project_id, "project")
            project.close(meta)
            return project_id, [project]

        args = {"project_id": project_id}
        return self._run(actor, "close_project", args, decide, **options)

    def project_by_code(self, code: str) -> Project:
        return self._get(Project, Project.create_id(code), "project")

    @permitted("close_period")
    def close_period(self, actor: Actor, month: str, **options: Unpack[Options]) -> Receipt:
        match = MONTH.match(month) if isinstance(month, str) else None
        if match is None:
            raise InvalidInput("month", repr(month), "must be YYYY-MM")

        def decide(meta: Meta) -> Decision:
            if month >= month_of(meta.effective_on):
                raise WrongState("month", month, "not yet ended", "ended")
            fund = self.fund()
            # Not while a bank statement of a month it closes does not reconcile (unless a
            # committee member recorded why).
            self.check_reconciled(month, fund.closed_through)
            fund.close_period(month, meta)
            return str(FUND_ID), [fund]

        return self._run(actor, "close_period", {"month": month}, decide, **options)

    @permitted("close_year")
    def close_year(self, actor: Actor, year: int, **options: Unpack[Options]) -> Receipt:
        """Close a year once its months are closed: its income and expense are carried into
        net assets (the books work out the closing entries: ``ledger.domain.closing``)."""
        if type(year) is not int or not DATE_MIN.year <= year <= 9999:
            raise InvalidInput("year", repr(year), "must be a year YYYY")

        def decide(meta: Meta) -> Decision:
            fund = self.fund()
            fund.close_year(year, meta)
            return str(FUND_ID), [fund]

        return self._run(actor, "close_year", {"year": year}, decide, **options)
