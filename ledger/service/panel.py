"""The expert panel's commands: opinions on grants and projects."""

from __future__ import annotations

from typing import Unpack

from ledger.domain import Explanation, Grant, Meta, Opinion, Project
from ledger.domain.checks import OPINION_CHARS_MAX, TEXT_CHARS_MAX, check_text
from ledger.domain.errors import NotFound
from ledger.service.kernel import Actor, Decision, Kernel, Options, Receipt, permitted

WARNING_ID_CHARS_MAX = 120


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

    @permitted("answer_opinion")
    def answer_opinion(
        self, actor: Actor, opinion_id: str, text: str, **options: Unpack[Options]
    ) -> Receipt:
        """The committee's answer to an opinion, kept in its thread."""
        return self._turn(actor, "answer_opinion", opinion_id, text, options)

    @permitted("supersede_opinion")
    def supersede_opinion(
        self, actor: Actor, opinion_id: str, text: str, **options: Unpack[Options]
    ) -> Receipt:
        """A later version of an opinion, by its author only; the earlier one stays shown."""
        return self._turn(actor, "supersede_opinion", opinion_id, text, options)

    def _turn(
        self, actor: Actor, command: str, opinion_id: str, text: str, options: Options
    ) -> Receipt:
        check_text("text", text, OPINION_CHARS_MAX)

        def decide(meta: Meta) -> Decision:
            self._open_fund(meta.effective_on)
            opinion = self._get(Opinion, opinion_id, "opinion")
            if command == "answer_opinion":
                opinion.answer(text, meta)
            else:
                opinion.supersede(text, meta)
            return opinion_id, [opinion]

        args = {"opinion_id": opinion_id, "text": text}
        return self._run(actor, command, args, decide, **options)

    @permitted("explain_warning")
    def explain_warning(
        self, actor: Actor, warning_id: str, reason: str, **options: Unpack[Options]
    ) -> Receipt:
        """The committee says why a warning is not a problem; the warning stays listed, with
        the reason, who gave it and when. Which warnings exist the views know, not the ledger:
        the caller checks the id against them."""
        check_text("warning_id", warning_id, WARNING_ID_CHARS_MAX)
        check_text("reason", reason, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> Decision:
            self._open_fund(meta.effective_on)
            explanation = Explanation(warning_id=warning_id, reason=reason, meta=meta)
            return str(explanation.id), [explanation]

        args = {"warning_id": warning_id, "reason": reason}
        return self._run(actor, "explain_warning", args, decide, **options)

    def _subject_kind(self, subject_id: str) -> str:
        try:
            self._get(Grant, subject_id, "grant")
        except NotFound:
            self._get(Project, subject_id, "grant or project")
            return "project"
        return "grant"
