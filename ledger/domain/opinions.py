"""The expert panel's opinions on grants and projects."""

from __future__ import annotations

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta


class Explanation(FundAggregate):
    """The committee's explanation of one of the panel's warnings (``projections.panel.checks``):
    the warning stays, with the reason beside it."""

    @event("Recorded")
    def __init__(self, warning_id: str, reason: str, meta: Meta) -> None:
        self.warning_id = warning_id
        self.reason = reason


class Opinion(FundAggregate):
    """An expert-panel member's opinion on a grant or a project."""

    @event("Recorded")
    def __init__(self, subject_id: str, subject_kind: str, text: str, meta: Meta) -> None:
        self.subject_id = subject_id
        self.subject_kind = subject_kind
        self.text = text
