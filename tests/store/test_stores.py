"""The application on the real stores: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from ledger.app import OPERATOR, Actor, FundLedger
from ledger.demo import load_demo
from ledger.domain.books import fold
from ledger.domain.errors import InsufficientFunds, LedgerError
from ledger.domain.money import parse_yuan


@dataclass
class Rivals:
    """Two ledgers on one store, as two processes would be, with a treasurer and a member."""

    ledger: FundLedger
    other: FundLedger
    treasurer: Actor
    member: Actor
    donor: str


@contextmanager
def rivals_on(url: str) -> Iterator[Rivals]:
    ledger, other = FundLedger(url), FundLedger(url)
    try:
        ledger.establish_fund(OPERATOR, "rival fund")
        ledger.add_user(OPERATOR, "出纳", "treasurer")
        ledger.add_user(OPERATOR, "委员", "committee")
        treasurer = ledger.actor_named("出纳")
        donor = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
        yield Rivals(ledger, other, treasurer, other.actor_named("委员"), donor)
    finally:
        ledger.close()
        other.close()


@pytest.fixture
def rivals(store_url: str) -> Iterator[Rivals]:
    with rivals_on(store_url) as found:
        yield found


def between_decision_and_save(ledger: FundLedger, action: Callable[[], Any]) -> list[Any]:
    """Run ``action`` (another ledger's command) once, after ``ledger``'s next decision and
    before its save. The list gets the action's result, then one None for each later save."""
    original = ledger.save
    saves: list[Any] = []

    def save(*aggregates: Any, **kwargs: Any) -> Any:
        saves.append(None if saves else action())
        return original(*aggregates, **kwargs)

    ledger.save = save  # type: ignore[method-assign]
    return saves


def test_demo_books_are_the_same_on_every_store_and_survive_reopening(store_url: str) -> None:
    ledger = FundLedger(store_url)
    load_demo(ledger)
    position = ledger.summary()
    assert position.received_total_fen == parse_yuan("3000000.00")
    # Spent includes the stage-lighting bill the demo has not paid yet.
    unpaid_fen = parse_yuan("2400.00")
    assert (
        position.balance_fen == position.received_total_fen - position.spent_total_fen + unpaid_fen
    )
    ledger.close()

    reopened = FundLedger(store_url)
    assert reopened.summary() == position
    books = fold(e for _, e in reopened.iter_events())
    assert (
        sum(
            v
            for k, v in books.balances_fen.items()
            if k.split(":")[:2] in (["Assets", "Bank"], ["Assets", "Cash"], ["Assets", "Platforms"])
        )
        == position.balance_fen
    )
    assert sum(books.balances_fen.values()) == 0
    reopened.close()


def test_same_demo_gives_the_same_figures(sqlite_url: str, tmp_path) -> None:
    first = FundLedger(sqlite_url)
    load_demo(first)
    second = FundLedger(f"sqlite:///{tmp_path / 'second.sqlite3'}")
    load_demo(second)
    assert first.summary() == second.summary()
    assert first.summary(date(2026, 3, 31)) == second.summary(date(2026, 3, 31))


@pytest.mark.postgres
def test_concurrent_grant_approvals_in_two_processes_never_overcommit(postgres_url: str) -> None:
    """Two ledger instances (as two server processes) race to commit more than is there."""
    setup = FundLedger(postgres_url)
    setup.establish_fund(OPERATOR, "race fund", quorum=1)
    for name in ("m1", "m2", "m3"):
        setup.add_user(OPERATOR, name, "committee")
    setup.add_user(OPERATOR, "t", "treasurer")
    treasurer = setup.actor_named("t")
    donor = setup.register_donor(treasurer, "某企业", "enterprise", "named").id
    project = setup.open_project(treasurer, "noodles", "长寿面").id
    setup.record_donation(treasurer, donor, parse_yuan("100000.00"), date(2026, 1, 5), "cash")
    proposer = setup.actor_named("m1")
    grants = [
        setup.propose_grant(proposer, project, parse_yuan("60000.00"), f"grant {i}").id
        for i in range(6)
    ]
    instances = [FundLedger(postgres_url) for _ in range(3)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(grants))

    def approve(index: int) -> None:
        ledger = instances[index % len(instances)]
        barrier.wait()
        try:
            ledger.approve_grant(ledger.actor_named("m2"), grants[index])
            outcomes.append("approved")
        except InsufficientFunds:
            outcomes.append("refused")
        except LedgerError as error:  # pragma: no cover - shown in the assertion below
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(len(grants))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["approved"] + ["refused"] * 5
    position = setup.summary()
    assert position.committed_unspent_fen == parse_yuan("60000.00")
    assert position.available_for_grants_fen == parse_yuan("40000.00")
    for ledger in [setup, *instances]:
        ledger.close()


def test_the_donation_tally_summed_by_the_database_equals_the_one_read_forward(
    store_url: str,
) -> None:
    from ledger.service.tally import DonationTally

    ledger = FundLedger(store_url)
    try:
        ledger.establish_fund(OPERATOR, "tally fund")
        ledger.add_user(OPERATOR, "出纳", "treasurer")
        treasurer = ledger.actor_named("出纳")
        donor = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
        projects = [ledger.open_project(treasurer, c, c).id for c in ("ta", "tb")]
        for i in range(30):
            ledger.record_donation(
                treasurer,
                donor,
                100 + i,
                date(2026, 1, 1 + i % 28),
                "in_kind" if i % 7 == 0 else "bank_transfer",
                project_id=None if i % 3 == 0 else projects[i % 2],
            )
        summed = DonationTally(ledger.recorder, ledger.mapper)
        forward = DonationTally(ledger.recorder, ledger.mapper)
        forward._sum_in_sql = lambda: None  # type: ignore[method-assign]
        assert summed.current() == forward.current()
        assert summed._position == forward._position > 0
        assert summed.current().unrestricted_fen == sum(
            100 + i for i in range(30) if i % 3 == 0 and i % 7
        )
        # What comes later is read forward from where the sum stopped.
        ledger.record_donation(treasurer, donor, 5, date(2026, 2, 1), "cash")
        assert summed.current() == forward.current()
    finally:
        ledger.close()


def test_an_entry_decided_before_its_month_closed_is_refused_when_saved_after(
    rivals: Rivals,
) -> None:
    """The close lands between a late entry's decision and its save: the save sees the Fund
    moved, the entry decides again, and is refused; nothing is recorded in the closed month."""
    from ledger.domain.errors import PeriodClosed

    r = rivals
    closed = between_decision_and_save(
        r.ledger, lambda: r.other.close_period(r.member, "2026-01", on=date(2026, 2, 2))
    )
    before = r.ledger.position()
    with pytest.raises(PeriodClosed):
        r.ledger.record_donation(r.treasurer, r.donor, 100, date(2026, 1, 31), "cash")
    assert r.ledger.position() == closed[0].position > before  # the close, and nothing after


@pytest.mark.postgres
def test_a_big_batch_goes_in_by_copy_with_its_positions_and_its_checks(postgres_url: str) -> None:
    from ledger.domain.errors import PeriodClosed
    from ledger.store.recorders import COPY_EVENTS_MIN

    with rivals_on(postgres_url) as r:
        count = COPY_EVENTS_MIN + 50
        items = [
            {
                "donor_id": r.donor,
                "amount_fen": 100 + i,
                "received_on": date(2026, 1, 5),
                "channel": "cash",
                "receipt_no": f"C-{i}",
            }
            for i in range(count)
        ]
        copies: list[int] = []
        recorder: Any = r.ledger.recorder
        copy_events = recorder.copy_events
        recorder.copy_events = lambda events, *a, **k: (
            copies.append(1) or copy_events(events, *a, **k)
        )
        before = r.ledger.position()
        receipt = r.ledger.record_donations(r.treasurer, items, idempotency_key="copy-1")
        assert copies == [1]
        assert receipt.position == r.ledger.position() == before + count + 1  # and its record
        stored = recorder.select_notifications(before + 1, count + 1)
        assert [n.id for n in stored] == list(range(before + 1, before + count + 2))
        assert [str(n.originator_id) for n in stored[:count]] == list(receipt.ids)
        assert r.ledger.summary().received_total_fen == sum(100 + i for i in range(count))
        # The check of what the batch read holds on this path too: a close between the
        # decision and the save sends the batch back to decide, and it is refused.
        late = [{**item, "receipt_no": f"L-{i}"} for i, item in enumerate(items)]
        between_decision_and_save(
            r.ledger, lambda: r.other.close_period(r.member, "2026-01", on=date(2026, 2, 2))
        )
        closed_at = r.ledger.position() + 1
        with pytest.raises(PeriodClosed):
            r.ledger.record_donations(r.treasurer, late)
        assert r.ledger.position() == closed_at


def test_two_processes_writing_to_one_sqlite_file_both_get_their_writes_in(
    sqlite_url: str,
) -> None:
    """Two ledgers on one file, as a server and a CLI command would be: every write lands
    (a transaction that read before its write was refused with 'database is locked')."""
    first, second = FundLedger(sqlite_url), FundLedger(sqlite_url)
    try:
        first.establish_fund(OPERATOR, "shared file")
        first.add_user(OPERATOR, "出纳", "treasurer")
        treasurer = first.actor_named("出纳")
        donor = first.register_donor(treasurer, "某企业", "enterprise", "named").id
        failures: list[BaseException] = []

        def give(ledger: FundLedger, tag: str) -> None:
            for i in range(120):
                try:
                    ledger.record_donation(
                        treasurer, donor, 100, date(2026, 3, 1), "cash", receipt_no=f"{tag}{i}"
                    )
                except Exception as error:
                    failures.append(error)

        racers = [
            threading.Thread(target=give, args=(ledger, tag))
            for ledger, tag in ((first, "a"), (second, "b"))
        ]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(120)
        assert failures == []
        assert first.summary().received_total_fen == 240 * 100
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("path", ["single", "group"])
def test_a_gift_decided_before_its_project_closed_is_refused_when_saved_after(
    rivals: Rivals, path: str
) -> None:
    """Every aggregate a decision reads is checked at the save, not only the Fund: a project
    closed between a gift's decision and its save sends the gift back to decide, refused."""
    from ledger.domain.errors import WrongState

    r = rivals
    project = r.ledger.open_project(r.treasurer, "zz", "义剪").id
    closed = between_decision_and_save(r.ledger, lambda: r.other.close_project(r.member, project))
    gift = (r.treasurer, r.donor, 100, date(2026, 1, 5), "cash")
    if path == "single":
        with pytest.raises(WrongState):
            r.ledger.record_donation(*gift, project_id=project)
    else:
        order = r.ledger.donation_order(*gift, project_id=project)
        [outcome] = r.ledger.record_donation_orders([order])
        assert isinstance(outcome, WrongState), outcome
    assert r.ledger.position() == closed[0].position  # the close, and nothing after it


def test_registering_a_donor_is_not_sent_back_by_an_unrelated_change_to_the_fund(
    rivals: Rivals,
) -> None:
    """A decision that only needs the fund to exist does not read the Fund, so a close (or
    an approval) landing between its decision and its save costs it no second decision."""
    r = rivals
    saves = between_decision_and_save(
        r.ledger, lambda: r.other.close_period(r.member, "2026-01", on=date(2026, 2, 2))
    )
    r.ledger.register_donor(r.treasurer, "某个人", "individual", "masked")
    r.ledger.open_project(r.treasurer, "pp", "义剪")
    assert len(saves) == 2  # one save for each command: neither decided twice
