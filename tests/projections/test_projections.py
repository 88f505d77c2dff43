"""The views: each event applied once, rows and tracking together, the live runner, and what the
views answer (monthly reports, as recorded at, listings, where a gift went).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from helpers import snapshot

from ledger.app import OPERATOR, FundLedger
from ledger.demo import load_demo
from ledger.domain.money import parse_yuan
from projections.reader import Reader
from projections.runner import VIEWS, LiveRunner, Views

# The bank, the cash box and the platforms' balances: the fund's money.
CASH_AND_EQUIVALENT_TOPS = [["Assets", "Bank"], ["Assets", "Cash"], ["Assets", "Platforms"]]


@pytest.fixture(scope="module")
def demo_views(module_store_url: str) -> Iterator[tuple[FundLedger, Views]]:
    """The demo year with its views, shared by the tests here that only read."""
    ledger = FundLedger(module_store_url)
    load_demo(ledger)
    views = Views(ledger)
    views.catch_up()
    yield ledger, views
    views.close()
    ledger.close()


def test_views_agree_with_the_event_fold_and_with_a_rebuild(
    demo_views: tuple[FundLedger, Views],
) -> None:
    ledger, views = demo_views
    reader = Reader(views)
    before = snapshot(views)
    assert reader.summary() == ledger.summary()
    for as_of in (date(2025, 12, 31), date(2026, 6, 30)):
        assert reader.summary(as_of) == ledger.summary(as_of)
    views.rebuild()
    assert snapshot(views) == before
    assert all(status.lag == 0 for status in views.status())


def test_every_summary_figure_is_the_sum_of_its_postings(
    demo_views: tuple[FundLedger, Views],
) -> None:
    _, views = demo_views
    reader = Reader(views)
    lines = reader.books_view.query("SELECT account, amount_fen FROM {t}fl_journal")
    by_account: dict[str, int] = {}
    for line in lines:
        by_account[line["account"]] = by_account.get(line["account"], 0) + int(line["amount_fen"])
    position = reader.summary()
    assert sum(by_account.values()) == 0
    assert position.balance_fen == sum(
        v for k, v in by_account.items() if k.split(":")[:2] in CASH_AND_EQUIVALENT_TOPS
    )
    # Goods given in kind and used, and depreciation, are costs but no money's.
    assert position.spent_total_fen == sum(
        v for k, v in by_account.items() if k.startswith("Expenses:")
    ) + sum(
        v
        for k, v in by_account.items()
        if k.startswith(("Assets:InKind:UsedFor:", "Assets:FixedAssets:Depreciation:"))
    )
    assert position.received_total_fen == -sum(
        v
        for k, v in by_account.items()
        if k.startswith("Income:") and k.split(":")[2] in {"Donations", "GovernmentGrants"}
    )
    assert position.received_total_fen == parse_yuan("3000000.00")
    trial = reader.trial_balance()
    assert sum(parse_yuan(r["debit"], allow_zero=True) for r in trial) == sum(
        parse_yuan(r["credit"], allow_zero=True) for r in trial
    )


def test_a_replayed_event_changes_nothing(demo_views: tuple[FundLedger, Views]) -> None:
    ledger, views = demo_views
    before = snapshot(views)
    position, event = ledger.read_events(after=ledger.position() - 1)[0]
    for spec in views.specs:
        with pytest.raises(IntegrityError):
            views.projections[spec.name].process_event(event, Tracking(ledger.name, position))
    assert snapshot(views) == before
    assert views.catch_up() == 0


def test_a_batch_refused_by_its_own_view_fails_the_catch_up_instead_of_spinning(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from projections.registers.writes import RegistersProjection

    ledger = FundLedger(store_url)
    ledger.establish_fund(OPERATOR, "fund")
    views = Views(ledger)
    clash = ("INSERT INTO {t}fl_people (user_id, name, role, active) VALUES (%s, %s, %s, %s)",)
    monkeypatch.setattr(
        RegistersProjection,
        "writes_for",
        lambda self, position, event: [(*clash, ("same", "x", "y", True))] * 2,
    )
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            views.catch_up()
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "catch_up retried a refused batch for ever"
    assert isinstance(outcome[0], IntegrityError)
    assert views.position("registers") == 0
    views.close()
    ledger.close()


def test_a_failure_before_the_tracking_write_leaves_neither_rows_nor_position(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = FundLedger(store_url)
    load_demo(ledger)
    views = Views(ledger)
    assert views.position("books") == 0

    def crash(self: Any, cursor: Any, tracking: Tracking) -> None:
        raise RuntimeError("crash between the view's rows and its tracking")

    for spec in VIEWS.values():
        for cls in (spec.sqlite, spec.postgres):
            monkeypatch.setattr(cls, "_track", crash)
    with pytest.raises(RuntimeError):
        views.catch_up()
    assert views.position("books") == 0
    assert all(rows == [] for rows in snapshot(views).values())
    monkeypatch.undo()

    assert views.catch_up() == len(views.specs) * ledger.position()
    assert Reader(views).summary() == ledger.summary()
    views.close()
    ledger.close()


def test_the_live_runner_keeps_up_and_a_reader_can_wait_for_a_write(store_url: str) -> None:
    ledger = FundLedger(store_url)
    load_demo(ledger)
    views = Views(ledger)
    with LiveRunner(views, poll_interval_s=0.05) as runner:
        treasurer = ledger.actor_named("徐佳怡")
        donor = ledger.register_donor(treasurer, "新邻居", "individual", "masked").id
        receipt = ledger.record_donation(
            treasurer, donor, parse_yuan("88.00"), date(2026, 11, 20), "wechat_pay"
        )
        runner.nudge()
        assert views.wait(receipt.position, timeout_s=10)
        page = Reader(views).donations(donor_id=donor)
        assert [item["amount_fen"] for item in page.items] == [8800]
    assert Reader(views).summary().received_total_fen == parse_yuan("3000088.00")
    views.close()
    ledger.close()


def test_monthly_report_is_frozen_when_the_books_close(
    demo_views: tuple[FundLedger, Views],
) -> None:
    ledger, views = demo_views
    reader = Reader(views)
    december = reader.monthly("2025-12")
    assert december["frozen"] is True
    assert december["closing"] == ledger.summary(date(2025, 12, 31)).as_json()
    november = reader.monthly("2026-11")
    assert november["frozen"] is False
    assert november["closing"] == ledger.summary(date(2026, 11, 30)).as_json()


def test_as_recorded_at_shows_the_books_before_later_entries(store_url: str) -> None:
    ledger = FundLedger(store_url)
    load_demo(ledger)
    views = Views(ledger)
    views.catch_up()
    reader = Reader(views)
    before_anything = datetime(2000, 1, 1, tzinfo=UTC)
    assert reader.summary(recorded_at=before_anything).events == 0
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert reader.summary(recorded_at=now) == reader.summary()
    # A correction recorded now does not change what the books said a moment ago.
    stamp = datetime.now(UTC)
    treasurer = ledger.actor_named("徐佳怡")
    donor = ledger.register_donor(treasurer, "后来者", "enterprise", "named").id
    ledger.record_donation(treasurer, donor, parse_yuan("1000.00"), date(2026, 11, 1), "cash")
    views.catch_up()
    assert reader.summary(recorded_at=stamp).received_total_fen == parse_yuan("3000000.00")
    assert reader.summary().received_total_fen == parse_yuan("3001000.00")
    views.close()
    ledger.close()


def test_listings_filter_and_page_stably(demo_views: tuple[FundLedger, Views]) -> None:
    _, views = demo_views
    reader = Reader(views)
    seen: list[str] = []
    after = 0
    while True:
        page = reader.donations(donor_kind="individual", limit=7, after=after)
        seen.extend(item["donation_id"] for item in page.items)
        assert all(item["donor_kind"] == "individual" for item in page.items)
        if page.next_after is None:
            break
        after = page.next_after
    everything = reader.donations(donor_kind="individual", limit=500).items
    assert seen == [item["donation_id"] for item in everything]
    big = reader.expenses(project="noodles", min_fen=parse_yuan("15000.00")).items
    assert big
    assert all(x["amount_fen"] >= 1_500_000 for x in big)
    assert all(x["project_code"] == "noodles" for x in big)
    december = reader.expenses(since=date(2025, 12, 1), until=date(2025, 12, 31), limit=500)
    assert december.items
    assert all(x["paid_on"].startswith("2025-12") for x in december.items)


def test_a_donor_can_see_where_a_restricted_gift_went(demo_views: tuple[FundLedger, Views]) -> None:
    _, views = demo_views
    reader = Reader(views)
    hotel = reader.registers_view.query(
        "SELECT donor_id FROM {t}fl_donors WHERE name = %s", ["南湖宾馆"]
    )[0]["donor_id"]
    statement = reader.donor_statement(hotel)
    assert statement is not None
    # 200,000.00 in cash and 6,000.00 of noodle ingredients in kind.
    assert statement["given_total"] == "206000.00"
    (noodles,) = statement["restricted_projects"]
    assert noodles["project"] == "noodles"
    assert noodles["expenses"]
    assert reader.donor_statement(str(uuid.uuid4())) is None
