"""Grants: proposed by a committee member, approved by a quorum of others, rejected, closed."""

from __future__ import annotations

from typing import Unpack

from ledger.domain import Fund, Grant, Meta
from ledger.domain.checks import TEXT_CHARS_MAX, check_text
from ledger.domain.errors import InsufficientFunds
from ledger.domain.money import check_amount_fen
from ledger.service.kernel import Actor, Decision, Kernel, Options, Receipt, permitted


class GrantCommands(Kernel):
    @permitted("propose_grant")
    def propose_grant(
        self,
        actor: Actor,
        project_id: str,
        amount_fen: int,
        purpose: str,
        **options: Unpack[Options],
    ) -> Receipt:
        check_amount_fen(amount_fen)
        check_text("purpose", purpose, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> Decision:
            fund = self._open_fund(meta.effective_on)
            project = self._open_project(project_id)
            # Checked again, and reserved, when the quorum approves; this refuses early.
            restricted_fen, unrestricted_fen = fund.available_fen(
                str(project.id), self.tally.current()
            )
            if amount_fen > restricted_fen + unrestricted_fen:
                raise InsufficientFunds(project.code, restricted_fen + unrestricted_fen, amount_fen)
            grant = Grant(
                project_id=str(project.id),
                project_code=project.code,
                amount_fen=amount_fen,
                purpose=purpose,
                meta=meta,
            )
            return str(grant.id), [grant]

        args = {"project_id": project_id, "amount_fen": amount_fen, "purpose": purpose}
        return self._run(actor, "propose_grant", args, decide, **options)

    @permitted("approve_grant")
    def approve_grant(self, actor: Actor, grant_id: str, **options: Unpack[Options]) -> Receipt:
        """Record one member's approval; the quorum's last approval commits the money."""

        def decide(meta: Meta) -> Decision:
            fund, grant = self._grant_in_open_month(grant_id, meta)
            grant.approve(actor.id, meta)
            if not grant.reaches(fund.quorum):
                return grant_id, [grant]
            restricted_fen, unrestricted_fen = fund.commit(
                grant_id,
                grant.project_id,
                grant.project_code,
                grant.amount_fen,
                self.tally.current(),
                meta,
            )
            grant.mark_approved(grant.project_code, restricted_fen, unrestricted_fen, meta)
            return grant_id, [grant, fund]

        return self._run(actor, "approve_grant", {"grant_id": grant_id}, decide, **options)

    @permitted("reject_grant")
    def reject_grant(
        self, actor: Actor, grant_id: str, reason: str, **options: Unpack[Options]
    ) -> Receipt:
        check_text("reason", reason, TEXT_CHARS_MAX)

        def decide(meta: Meta) -> Decision:
            _fund, grant = self._grant_in_open_month(grant_id, meta)
            grant.reject(reason, meta)
            return grant_id, [grant]

        args = {"grant_id": grant_id, "reason": reason}
        return self._run(actor, "reject_grant", args, decide, **options)

    @permitted("close_grant")
    def close_grant(self, actor: Actor, grant_id: str, **options: Unpack[Options]) -> Receipt:
        def decide(meta: Meta) -> Decision:
            fund, grant = self._grant_in_open_month(grant_id, meta)
            restricted_fen, unrestricted_fen = grant.close(meta)
            fund.release(grant_id, grant.project_id, restricted_fen, unrestricted_fen, meta)
            return grant_id, [grant, fund]

        return self._run(actor, "close_grant", {"grant_id": grant_id}, decide, **options)

    def _grant_in_open_month(self, grant_id: str, meta: Meta) -> tuple[Fund, Grant]:
        """The Fund, with the command's day checked to be in an open month, and the grant."""
        return self._open_fund(meta.effective_on), self._get(Grant, grant_id, "grant")
