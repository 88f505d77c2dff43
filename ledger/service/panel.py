"""The expert panel's commands: opinions on grants and projects."""

from __future__ import annotations

from typing import Unpack

from ledger.domain import Grant, Meta, Opinion, Project
from ledger.domain.checks import OPINION_CHARS_MAX, check_text
from ledger.domain.errors import NotFound
from ledger.service.kernel import Actor, Decision, Kernel, Options, Receipt, permitted


class PanelCommands(Kernel):
    @permitted("record_opinion")
    def record_opinion(
        self, actor: Actor, subject_id: str, text: str, **options: Unpack[Options]
    ) -> Receipt:
        check_text("text", text, OPINION_CHARS_MAX)

        def decide(meta: Meta) -> Decision:
            self._open_fund(meta.effective_on)
            subject_kind = self._subject_kind(subject_id)
            opinion = Opinion(
                subject_id=subject_id, subject_kind=subject_kind, text=text, meta=meta
            )
            return str(opinion.id), [opinion]

        args = {"subject_id": subject_id, "text": text}
        return self._run(actor, "record_opinion", args, decide, **options)

    def _subject_kind(self, subject_id: str) -> str:
        try:
            self._get(Grant, subject_id, "grant")
        except NotFound:
            self._get(Project, subject_id, "grant or project")
            return "project"
        return "grant"
