"""The fund's community projects."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, derived_id
from ledger.domain.errors import WrongState


class Project(FundAggregate):
    """One of the fund's community projects, identified by a short code such as ``noodles``."""

    @event("Opened")
    def __init__(
        self,
        code: str,
        name: str,
        name_en: str | None,
        description: str | None,
        organisation: str | None,
        meta: Meta,
    ) -> None:
        self.code = code
        self.name = name
        self.name_en = name_en
        self.description = description
        self.organisation = organisation
        self.is_open = True

    @staticmethod
    def create_id(code: str) -> UUID:
        return derived_id("project", code)

    def check_open(self) -> None:
        if not self.is_open:
            raise WrongState("project", self.code, "closed", "open")

    def close(self, meta: Meta) -> None:
        self.check_open()
        self._closed(meta)

    @event("Closed")
    def _closed(self, meta: Meta) -> None:
        self.is_open = False
