"""The state machine of the property tests: its commands, each predicted by the model first."""

from __future__ import annotations

from fund_model import (
    MEMBERS,
    QUORUM,
    DonationModel,
    ExpenseModel,
    FundModel,
    GrantModel,
    amounts_fen,
    gifts_fen,
    maybe_projects,
    members,
    picks,
    projects,
    share_of,
    shares,
)
from helpers import DAY, build_world
from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from ledger.app import FundLedger
from ledger.domain.errors import (
    AlreadyApproved,
    GrantExceeded,
    InsufficientFunds,
    LedgerError,
    ReversalUncovered,
    SelfApproval,
    WrongState,
)
from ledger.domain.yuan import format_yuan


class FundMachine(FundModel):
    """Commands against a fresh in-memory fund, each predicted by the model before it runs."""

    @initialize(unrestricted_fen=gifts_fen, restricted_fen=gifts_fen, code=projects)
    def establish(self, unrestricted_fen: int, restricted_fen: int, code: str) -> None:
        """A fund with some money of each kind, so that every run has something to spend."""
        self.w = build_world(FundLedger("memory://"), quorum=QUORUM)
        self.donate(unrestricted_fen, None, in_kind=False)
        self.donate(restricted_fen, code, in_kind=False)

    # -- commands ------------------------------------------------------------------------------

    @rule(amount_fen=gifts_fen, code=maybe_projects, in_kind=st.booleans())
    def donate(self, amount_fen: int, code: str | None, in_kind: bool) -> None:
        w = self.w
        receipt = self.run(
            None,
            lambda: w.app.record_donation(
                w.treasurer,
                w.donors["individual"],
                amount_fen,
                DAY,
                # Into the bank, which the model's balance is: a platform's money would sit on
                # the platform until settled (tests/service/test_money_accounts.py).
                "in_kind" if in_kind else "bank_transfer",
                project_id=w.projects[code] if code else None,
            ),
        )
        self.donations[receipt.id] = DonationModel(amount_fen, code, in_kind)
        if in_kind:
            return
        if code is None:
            self.received_unrestricted_fen += amount_fen
        else:
            self.received_restricted_fen[code] += amount_fen

    @rule(code=projects, amount_fen=amounts_fen, proposer=members)
    def propose(self, code: str, amount_fen: int, proposer: int) -> None:
        w, available_fen = self.w, self.available_fen(code)
        refused = amount_fen > available_fen
        receipt = self.run(
            InsufficientFunds if refused else None,
            lambda: w.app.propose_grant(
                w.committee[proposer], w.projects[code], amount_fen, "lunch", on=DAY
            ),
            {"available": format_yuan(available_fen), "requested": format_yuan(amount_fen)},
        )
        if receipt is not None:
            self.grants[receipt.id] = GrantModel(code, amount_fen, proposer)

    @rule(code=projects, share=shares, proposer=members)
    def propose_and_approve(self, code: str, share: tuple[str, int], proposer: int) -> None:
        """A share of what is available proposed and approved in one step: grants that bite."""
        before = set(self.grants)
        self.propose(code, share_of(self.available_fen(code), share), proposer)
        (grant_id,) = set(self.grants) - before or {None}
        if grant_id is None:
            return
        others = [m for m in range(MEMBERS) if m != proposer]
        for member in others[:QUORUM]:
            self.approve_grant(grant_id, member)

    @precondition(lambda self: self.grants)
    @rule(pick=picks, member=members)
    def approve(self, pick: int, member: int) -> None:
        self.approve_grant(list(self.grants)[pick % len(self.grants)], member)

    def approve_grant(self, grant_id: str, member: int) -> None:
        grant = self.grants[grant_id]
        expected: type[LedgerError] | None = None
        facts = None
        reaches = len(grant.approvers) + 1 >= QUORUM
        if grant.status != "proposed":
            expected = WrongState
        elif member == grant.proposer:
            expected = SelfApproval
        elif member in grant.approvers:
            expected = AlreadyApproved
        elif reaches and grant.amount_fen > self.available_fen(grant.code):
            expected = InsufficientFunds
            facts = {"available": format_yuan(self.available_fen(grant.code))}
        w = self.w
        self.run(
            expected, lambda: w.app.approve_grant(w.committee[member], grant_id, on=DAY), facts
        )
        if expected is not None:
            return
        grant.approvers.add(member)
        if reaches:
            grant.restricted_fen = min(
                grant.amount_fen, max(self.free_restricted_fen(grant.code), 0)
            )
            grant.unrestricted_fen = grant.amount_fen - grant.restricted_fen
            grant.status = "approved"
            self.committed_restricted_fen[grant.code] += grant.restricted_fen
            self.committed_unrestricted_fen += grant.unrestricted_fen

    @precondition(lambda self: self.grants)
    @rule(pick=picks, member=members)
    def reject(self, pick: int, member: int) -> None:
        grant_id = list(self.grants)[pick % len(self.grants)]
        grant = self.grants[grant_id]
        expected = None if grant.status == "proposed" else WrongState
        w = self.w
        self.run(
            expected,
            lambda: w.app.reject_grant(w.committee[member], grant_id, "not now", on=DAY),
        )
        if expected is None:
            grant.status = "rejected"

    @precondition(lambda self: self.grants)
    @rule(pick=picks, share=shares)
    def spend(self, pick: int, share: tuple[str, int]) -> None:
        """A share of what remains of a grant, now and then more than remains."""
        grant_id = list(self.grants)[pick % len(self.grants)]
        grant = self.grants[grant_id]
        amount_fen = share_of(grant.remaining_fen, share)
        expected: type[LedgerError] | None = None
        facts = None
        if grant.status != "approved":
            expected = WrongState
        elif amount_fen > grant.remaining_fen:
            expected = GrantExceeded
            facts = {"remaining": format_yuan(grant.remaining_fen)}
        w = self.w
        receipt = self.run(
            expected,
            lambda: w.app.record_expense(
                w.treasurer, grant_id, amount_fen, DAY, "南湖大酒店", "programme", "lunch"
            ),
            facts,
        )
        if receipt is None:
            return
        restricted_fen = min(amount_fen, grant.restricted_fen - grant.spent_restricted_fen)
        unrestricted_fen = amount_fen - restricted_fen
        grant.spent_restricted_fen += restricted_fen
        grant.spent_unrestricted_fen += unrestricted_fen
        self.expenses[receipt.id] = ExpenseModel(
            grant_id, amount_fen, restricted_fen, unrestricted_fen
        )

    @precondition(lambda self: self.grants)
    @rule(pick=picks, member=members)
    def close_grant(self, pick: int, member: int) -> None:
        grant_id = list(self.grants)[pick % len(self.grants)]
        grant = self.grants[grant_id]
        expected = None if grant.status == "approved" else WrongState
        w = self.w
        self.run(expected, lambda: w.app.close_grant(w.committee[member], grant_id, on=DAY))
        if expected is not None:
            return
        grant.status = "closed"
        self.committed_restricted_fen[grant.code] -= (
            grant.restricted_fen - grant.spent_restricted_fen
        )
        self.committed_unrestricted_fen -= grant.unrestricted_fen - grant.spent_unrestricted_fen

    @precondition(lambda self: self.donations)
    @rule(pick=picks, member=members)
    def reverse_donation(self, pick: int, member: int) -> None:
        donation_id = list(self.donations)[pick % len(self.donations)]
        donation = self.donations[donation_id]
        expected: type[LedgerError] | None = None
        facts = None
        free_fen = (
            self.free_unrestricted_fen()
            if donation.code is None
            else self.free_restricted_fen(donation.code)
        )
        if donation.reversed:
            expected = WrongState
        elif not donation.in_kind and donation.amount_fen > free_fen:
            expected = ReversalUncovered
            facts = {"available": format_yuan(free_fen)}
        w = self.w
        self.run(
            expected,
            lambda: w.app.reverse_donation(w.committee[member], donation_id, "error", on=DAY),
            facts,
        )
        if expected is not None:
            return
        donation.reversed = True
        if donation.in_kind:
            return
        if donation.code is None:
            self.received_unrestricted_fen -= donation.amount_fen
        else:
            self.received_restricted_fen[donation.code] -= donation.amount_fen

    @precondition(lambda self: self.expenses)
    @rule(pick=picks, member=members)
    def reverse_expense(self, pick: int, member: int) -> None:
        expense_id = list(self.expenses)[pick % len(self.expenses)]
        expense = self.expenses[expense_id]
        expected = WrongState if expense.reversed else None
        w = self.w
        self.run(
            expected,
            lambda: w.app.reverse_expense(w.committee[member], expense_id, "error", on=DAY),
        )
        if expected is not None:
            return
        expense.reversed = True
        grant = self.grants[expense.grant_id]
        grant.spent_restricted_fen -= expense.restricted_fen
        grant.spent_unrestricted_fen -= expense.unrestricted_fen
        if grant.status == "closed":
            self.committed_restricted_fen[grant.code] -= expense.restricted_fen
            self.committed_unrestricted_fen -= expense.unrestricted_fen
