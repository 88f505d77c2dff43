"""The expert panel's opinions on grants and projects."""

from __future__ import annotations

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta
from ledger.domain.errors import NotTheAuthor


class Explanation(FundAggregate):
    """The committee's explanation of one of the panel's warnings (``projections.panel.checks``):
    the warning stays, with the reason beside it."""

    @event("Recorded")
    def __init__(self, warning_id: str, reason: str, meta: Meta) -> None:
        self.warning_id = warning_id
        self.reason = reason


class Opinion(FundAggregate):
    """An expert-panel member's opinion on a grant or a project: a conversation, in which the
    committee answers and the author supersedes it with a later version. Nothing is edited:
    each turn is an event."""

    @event("Recorded")
    def __init__(self, subject_id: str, subject_kind: str, text: str, meta: Meta) -> None:
        self.subject_id = subject_id
        self.subject_kind = subject_kind
        self.text = text
        self.author_id = meta.actor_id

    def answer(self, text: str, meta: Meta) -> None:
        self._answered(text=text, meta=meta)

    @event("Answered")
    def _answered(self, text: str, meta: Meta) -> None:
        pass

    def supersede(self, text: str, meta: Meta) -> None:
        if meta.actor_id != self.author_id:
            raise NotTheAuthor(self.id, self.author_id, meta.actor_id)
        self._superseded(text=text, meta=meta)

    @event("Superseded")
    def _superseded(self, text: str, meta: Meta) -> None:
        self.text = text
