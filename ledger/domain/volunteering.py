"""Services given to the fund: doctors' clinic hours, chefs' cooking, volunteers' time.

民间非营利组织会计制度 does not recognise donated services as income (see docs/accounting.md
for the revision in force from 2026): they are recorded here as hours, post nothing, and are
disclosed in the notes (附注) by project and provider.
"""

from __future__ import annotations

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta

HOURS_MAX = 100_000


class ServiceDonation(FundAggregate):
    """Hours of service an organisation gave for a project (服务捐赠): a note, never income."""

    @event("Recorded")
    def __init__(
        self,
        provider: str,
        project_id: str,
        project_code: str,
        hours: int,
        people: int,
        description: str,
        meta: Meta,
    ) -> None:
        self.provider = provider
        self.project_code = project_code
        self.hours = hours
        self.people = people
