"""Property tests: any sequence of commands, accepted or refused, keeps the books' invariants.

A small model of the fund predicts which commands the ledger must accept and which it must
refuse (and with which facts); after every step the stored events, the books folded from them and
the aggregates are checked against each other and against the model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from helpers import DAY, PROJECTS, World, aggregate, build_world, stored_events
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger.app import FundLedger
from ledger.domain import FUND_ID
from ledger.domain.accounts import BANK, postings_for, project_component
from ledger.domain.books import fold
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

QUORUM = 2
MEMBERS = 3  # of the five: with a quorum of two, every approval is a real choice
CODES = sorted(PROJECTS)

gifts_fen = st.integers(min_value=1, max_value=100_000)
amounts_fen = st.integers(min_value=1, max_value=50_000)
percents = st.integers(min_value=1, max_value=125)
# Either a share (percent) or exactly the limit give or take one fen: the boundaries matter.
shares = st.one_of(
    st.tuples(st.just("percent"), percents),
    st.tuples(st.just("limit"), st.integers(min_value=-1, max_value=1)),
)
picks = st.integers(min_value=0, max_value=10_000)
members = st.integers(min_value=0, max_value=MEMBERS - 1)
projects = st.sampled_from(CODES)
maybe_projects = st.one_of(st.none(), projects)


def share_of(limit_fen: int, share: tuple[str, int]) -> int:
    """At least one fen: a percentage of the limit, or the limit give or take a fen."""
    how, value = share
    amount_fen = limit_fen * value // 100 if how == "percent" else limit_fen + value
    return max(1, amount_fen)


@dataclass
class GrantModel:
    code: str
    amount_fen: int
    proposer: int
    approvers: set[int] = field(default_factory=set)
    status: str = "proposed"
    restricted_fen: int = 0
    unrestricted_fen: int = 0
    spent_restricted_fen: int = 0
    spent_unrestricted_fen: int = 0

    @property
    def remaining_fen(self) -> int:
        return self.amount_fen - self.spent_restricted_fen - self.spent_unrestricted_fen


@dataclass
class DonationModel:
    amount_fen: int
    code: str | None
    in_kind: bool
    reversed: bool = False


@dataclass
class ExpenseModel:
    grant_id: str
    amount_fen: int
    restricted_fen: int
    unrestricted_fen: int
    reversed: bool = False


class FundMachine(RuleBasedStateMachine):
    """Commands against a fresh in-memory fund, each predicted by the model before it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.w: World
        self.grants: dict[str, GrantModel] = {}
        self.donations: dict[str, DonationModel] = {}
        self.expenses: dict[str, ExpenseModel] = {}
        # Money in and out of the fund's reach, as the model sees it.
        self.received_unrestricted_fen = 0
        self.received_restricted_fen: defaultdict[str, int] = defaultdict(int)
        self.committed_unrestricted_fen = 0
        self.committed_restricted_fen: defaultdict[str, int] = defaultdict(int)

    @initialize(unrestricted_fen=gifts_fen, restricted_fen=gifts_fen, code=projects)
    def establish(self, unrestricted_fen: int, restricted_fen: int, code: str) -> None:
        """A fund with some money of each kind, so that every run has something to spend."""
        self.w = build_world(FundLedger("memory://"), quorum=QUORUM)
        self.donate(unrestricted_fen, None, in_kind=False)
        self.donate(restricted_fen, code, in_kind=False)

    # -- the model's arithmetic ----------------------------------------------------------------

    def free_restricted_fen(self, code: str) -> int:
        return self.received_restricted_fen[code] - self.committed_restricted_fen[code]

    def free_unrestricted_fen(self) -> int:
        return self.received_unrestricted_fen - self.committed_unrestricted_fen

    def available_fen(self, code: str) -> int:
        return self.free_restricted_fen(code) + self.free_unrestricted_fen()

    def run(
        self,
        expected: type[LedgerError] | None,
        command: Callable[[], Any],
        facts: dict[str, str] | None = None,
    ) -> Any:
        """Run a command the model expects accepted (``expected`` None) or refused."""
        if currently_in_test_context():  # the model is also driven by hand below
            event(expected.__name__ if expected else "accepted")
        position = self.w.app.position()
        refusal: LedgerError | None = None
        try:
            result = command()
        except LedgerError as error:
            refusal = error
        if refusal is not None:
            assert type(refusal) is expected, f"refused: {refusal!r}; the model expected {expected}"
            assert self.w.app.position() == position, "a refused command stored events"
            if facts is not None:
                assert {k: refusal.facts[k] for k in facts} == facts
            return None
        assert expected is None, f"accepted; the model expected {expected.__name__}"
        assert self.w.app.position() > position
        return result

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
                "in_kind" if in_kind else "wechat_pay",
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

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        if not hasattr(self, "w"):
            return
        events = stored_events(self.w.app)
        self.check_postings_balance(events)
        self.check_books(events)
        self.check_grants(events)
        self.check_commitments(events)

    def check_postings_balance(self, events: list[Any]) -> None:
        for domain_event in events:
            postings = postings_for(domain_event)
            assert sum(p.amount_fen for p in postings) == 0, postings

    def check_books(self, events: list[Any]) -> None:
        books = fold(events)
        position = books.position()
        assert books.balances_fen[BANK] == position.received_total_fen - position.spent_total_fen
        assert books.balances_fen[BANK] >= 0
        assert position.available_for_grants_fen >= 0
        assert position.committed_unspent_fen >= 0
        assert position.restricted_balance_fen >= 0
        for code in CODES:
            component = project_component(code)
            restricted_fen = sum(
                amount
                for account, amount in books.balances_fen.items()
                if account.startswith("Income:Restricted:")
                and account.endswith(":" + component)
                and not account.startswith("Income:Restricted:InKind:")
            )
            assert restricted_fen <= 0, f"{code} has a debit restricted balance: {restricted_fen}"
        # The model agrees with the books on the cash figures.
        assert position.received_total_fen == self.received_unrestricted_fen + sum(
            self.received_restricted_fen.values()
        )
        assert position.committed_unspent_fen == sum(
            g.remaining_fen for g in self.grants.values() if g.status == "approved"
        )

    def check_grants(self, events: list[Any]) -> None:
        """No grant spends more than its amount, nor more of either kind of money than it holds."""
        spent_fen: defaultdict[str, int] = defaultdict(int)
        grant_of = {}
        for domain_event in events:
            name = type(domain_event).__qualname__
            if name == "Expense.Paid":
                grant_of[domain_event.originator_id] = domain_event.grant_id
                spent_fen[domain_event.grant_id] += domain_event.amount_fen
                model = self.expenses[str(domain_event.originator_id)]
                assert (domain_event.restricted_fen, domain_event.unrestricted_fen) == (
                    model.restricted_fen,
                    model.unrestricted_fen,
                )
            elif name == "Expense.Reversed":
                spent_fen[grant_of[domain_event.originator_id]] -= domain_event.amount_fen
        for grant_id, model in self.grants.items():
            grant = aggregate(self.w.app, grant_id)
            assert 0 <= spent_fen[grant_id] == grant.spent_fen <= grant.amount_fen
            assert 0 <= grant.spent_restricted_fen <= grant.restricted_fen
            assert 0 <= grant.spent_unrestricted_fen <= grant.unrestricted_fen
            assert grant.status == model.status
            # Expenses use the grant's restricted money first, as the model does.
            assert (grant.spent_restricted_fen, grant.spent_unrestricted_fen) == (
                model.spent_restricted_fen,
                model.spent_unrestricted_fen,
            )
            assert (grant.restricted_fen, grant.unrestricted_fen) == (
                model.restricted_fen,
                model.unrestricted_fen,
            )

    def check_commitments(self, events: list[Any]) -> None:
        """Fund commitments == approved grants' (restricted, unrestricted) less releases."""
        committed_restricted_fen: defaultdict[str, int] = defaultdict(int)
        committed_unrestricted_fen = 0
        project_of = {}
        for domain_event in events:
            name = type(domain_event).__qualname__
            if name == "Grant.Proposed":
                project_of[domain_event.originator_id] = domain_event.project_id
            elif name == "Grant.Approved":
                project_id = project_of[domain_event.originator_id]
                committed_restricted_fen[project_id] += domain_event.restricted_fen
                committed_unrestricted_fen += domain_event.unrestricted_fen
            elif name == "Grant.Closed":
                project_id = project_of[domain_event.originator_id]
                committed_restricted_fen[project_id] -= domain_event.released_restricted_fen
                committed_unrestricted_fen -= domain_event.released_unrestricted_fen
            elif name == "Expense.Reversed" and domain_event.grant_closed:
                project_id = self.w.projects[domain_event.project_code]
                committed_restricted_fen[project_id] -= domain_event.restricted_fen
                committed_unrestricted_fen -= domain_event.unrestricted_fen
        fund = self.w.app.fund()
        assert fund.committed_unrestricted_fen == committed_unrestricted_fen
        assert fund.committed_unrestricted_fen == self.committed_unrestricted_fen
        for code, project_id in self.w.projects.items():
            assert (
                fund.committed_restricted_fen.get(project_id, 0)
                == (committed_restricted_fen[project_id])
            )
            assert committed_restricted_fen[project_id] == self.committed_restricted_fen[code]
            assert self.free_restricted_fen(code) >= 0
        assert self.free_unrestricted_fen() >= 0


FundMachine.TestCase.settings = settings(
    max_examples=80,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestFundMachine = FundMachine.TestCase


def test_the_model_and_the_ledger_agree_on_a_plain_story() -> None:
    """The model and the ledger agree on a hand-written story (guards the model itself)."""
    machine = FundMachine()
    machine.establish(100_000, 30_000, "noodles")
    machine.propose("noodles", 50_000, proposer=0)
    (grant_id,) = machine.grants
    machine.approve(0, member=0)  # the proposer: SelfApproval
    machine.approve(0, member=1)
    machine.approve(0, member=1)  # again: AlreadyApproved
    machine.approve(0, member=2)
    assert machine.grants[grant_id].status == "approved"
    assert (machine.grants[grant_id].restricted_fen, machine.grants[grant_id].unrestricted_fen) == (
        30_000,
        20_000,
    )
    machine.spend(0, ("percent", 80))  # 400.00 of 500.00
    machine.spend(0, ("limit", 1))  # 100.01 of the 100.00 left: GrantExceeded
    machine.close_grant(0, member=3)
    (expense_id,) = machine.expenses
    machine.reverse_expense(0, member=0)
    assert machine.expenses[expense_id].reversed
    machine.invariants_hold()
    assert machine.w.app.summary().balance_fen == 130_000


def test_the_fund_read_from_its_snapshot_still_holds_what_its_events_say() -> None:
    """Past 100 events the Fund is read from a snapshot; its commitments must survive that."""
    machine = FundMachine()
    machine.establish(10_000_000, 1_000_000, "noodles")
    for n in range(55):  # two Fund events each: committed, then released
        machine.propose_and_approve(CODES[n % len(CODES)], ("percent", 5), proposer=n % MEMBERS)
        machine.spend(len(machine.grants) - 1, ("percent", 50))
        machine.close_grant(len(machine.grants) - 1, member=0)

    app = machine.w.app
    assert app.snapshots is not None
    assert list(app.snapshots.get(FUND_ID)), "no snapshot was taken: the test proves nothing"
    assert app.fund().version > 100
    assert all(g.status == "closed" for g in machine.grants.values())
    machine.invariants_hold()
