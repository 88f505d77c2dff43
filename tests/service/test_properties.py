"""Property tests: any sequence of commands, accepted or refused, keeps the books' invariants.

A small model of the fund predicts which commands the ledger must accept and which it must
refuse (and with which facts); after every step the stored events, the books folded from them and
the aggregates are checked against each other and against the model.
"""

from __future__ import annotations

from fund_machine import FundMachine
from fund_model import CODES, MEMBERS
from hypothesis import HealthCheck, settings

from ledger.domain import FUND_ID

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
