"""The model behind the property tests: strategies for commands, a small model of the fund, and
the checks, after every step, of the stored events, the books folded from them and the
aggregates against each other and against the model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from helpers import PROJECTS, World, aggregate, stored_events
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, invariant

from ledger.domain.accounts import BANK, postings_for, project_component
from ledger.domain.books import fold
from ledger.domain.errors import LedgerError

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


class FundModel(RuleBasedStateMachine):
    """The model's state and arithmetic, how a command is run against it, and its invariants."""

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
