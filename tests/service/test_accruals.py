"""Bills, advances, custody, gifts in kind and the year's close: each refusal names its facts
and records nothing."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import DAY, World, fen

from ledger.domain.books import fold
from ledger.domain.errors import InvalidInput, LedgerError, NotPermitted, WrongState


def refused(w: World, error: type[LedgerError], call: object, *args: object, **kw: object) -> None:
    before = w.app.position()
    with pytest.raises(error):
        call(*args, **kw)  # type: ignore[operator]
    assert w.app.position() == before, "a refused command recorded something"


def balances(w: World) -> dict[str, int]:
    return dict(fold(e for _, e in w.app.iter_events()).balances_fen)


def test_a_bill_is_a_cost_when_received_and_leaves_the_bank_when_paid(w: World) -> None:
    w.donate("10000.00")
    grant = w.grant("noodles", "5000.00")
    bill = w.app.receive_bill(
        w.treasurer, grant, fen("1200.00"), DAY, "南湖大酒店", "programme", "寿宴账单"
    ).id
    b = balances(w)
    assert (b["Liabilities:Payables"], b["Expenses:Programme:Noodles"]) == (-120000, 120000)
    assert b["Assets:Bank"] == 1_000_000
    w.app.pay_bill(w.treasurer, bill, on=DAY)
    b = balances(w)
    assert (b["Liabilities:Payables"], b["Assets:Bank"]) == (0, 880_000)
    refused(w, WrongState, w.app.pay_bill, w.treasurer, bill, on=DAY)
    # The bill took its share of the grant: what is left is 3,800.00.
    refused(
        w,
        LedgerError,
        w.app.receive_bill,
        w.treasurer,
        grant,
        fen("3800.01"),
        DAY,
        "南湖大酒店",
        "programme",
        "too much",
    )


def test_an_advance_becomes_a_cost_when_settled(w: World) -> None:
    w.donate("10000.00")
    grant = w.grant("health", "5000.00")
    advance = w.app.pay_advance(w.treasurer, grant, fen("800.00"), DAY, "嘉兴市第一医院", "维保").id
    assert balances(w)["Assets:Prepayments"] == 80_000
    assert balances(w).get("Expenses:Programme:Health", 0) == 0
    w.app.settle_advance(w.treasurer, advance, "维保完成", on=DAY)
    b = balances(w)
    assert (b["Assets:Prepayments"], b["Expenses:Programme:Health"]) == (0, 80_000)
    refused(w, WrongState, w.app.settle_advance, w.treasurer, advance, "again", on=DAY)


def test_money_held_for_others_is_neither_income_nor_cost(w: World) -> None:
    held = w.app.receive_custody(
        w.treasurer, "嘉兴慈善基金会", "南湖街道社会工作站", fen("500.00"), DAY, "代转"
    ).id
    b = balances(w)
    assert (b["Assets:Custody"], b["Liabilities:Custody"]) == (50_000, -50_000)
    assert not any(a.startswith(("Income", "Expenses")) for a in b)
    w.app.pass_on_custody(w.treasurer, held, on=DAY)
    assert balances(w)["Assets:Custody"] == 0
    refused(w, WrongState, w.app.pass_on_custody, w.treasurer, held, on=DAY)


def test_goods_given_in_kind_are_valued_used_and_released_by_use(w: World) -> None:
    gift = w.donate("600.00", "noodles", channel="in_kind")
    refused(w, InvalidInput, w.app.value_in_kind, w.treasurer, gift, "guess", "?")
    w.app.value_in_kind(w.treasurer, gift, "invoice", "发票 No. 1", on=DAY)
    refused(w, WrongState, w.app.value_in_kind, w.treasurer, gift, "invoice", "again", on=DAY)
    w.app.use_in_kind(w.treasurer, gift, fen("200.00"), "寿宴食材", on=DAY)
    refused(
        w, InvalidInput, w.app.use_in_kind, w.treasurer, gift, fen("400.01"), "too much", on=DAY
    )
    refused(
        w,
        InvalidInput,
        w.app.use_in_kind,
        w.treasurer,
        gift,
        fen("1.00"),
        "x",
        project_code="health",
        on=DAY,
    )
    cash = w.donate("100.00")
    refused(w, WrongState, w.app.use_in_kind, w.treasurer, cash, fen("1.00"), "x", on=DAY)
    from ledger.domain.restrictions import settled

    b = settled(balances(w))
    assert b["Income:Restricted:ReleasedFromRestriction:Noodles"] == 20_000
    assert b["Expenses:Programme:Noodles"] == 20_000


def test_a_fixed_asset_is_depreciated_month_by_month(w: World) -> None:
    gift = w.donate("1000.00", "health", channel="in_kind", on=date(2025, 1, 20))
    refused(
        w,
        InvalidInput,
        w.app.value_in_kind,
        w.treasurer,
        gift,
        "appraisal",
        "估价",
        fixed_asset=True,
        useful_life_months=0,
        on=DAY,
    )
    w.app.value_in_kind(
        w.treasurer, gift, "appraisal", "估价", fixed_asset=True, useful_life_months=3, on=DAY
    )
    refused(w, InvalidInput, w.app.depreciate, w.treasurer, gift, "2025-01")
    for month in ("2025-02", "2025-03", "2025-04"):
        w.app.depreciate(w.treasurer, gift, month)
    refused(w, WrongState, w.app.depreciate, w.treasurer, gift, "2025-04")
    b = balances(w)
    assert b["Assets:FixedAssets"] == 100_000
    assert b["Assets:FixedAssets:Depreciation:Health"] == -100_000  # 333.33 + 333.33 + 333.34
    refused(w, WrongState, w.app.depreciate, w.treasurer, gift, "2025-05")


def test_a_year_closes_after_its_months_and_only_in_order(w: World) -> None:
    committee = w.committee[0]
    refused(w, NotPermitted, w.app.close_year, w.treasurer, 2025)
    refused(w, WrongState, w.app.close_year, committee, 2025)  # no month closed yet
    w.app.close_period(committee, "2025-11", on=date(2025, 12, 2))
    refused(w, WrongState, w.app.close_year, committee, 2025)  # December still open
    refused(w, InvalidInput, w.app.close_year, committee, "2025")
    # The fund was established today: its first year is this one, which closes first.
    fund = w.app.fund()
    assert fund.established_on is not None
    assert fund.first_year_open() == fund.established_on.year
    refused(w, WrongState, w.app.close_year, committee, fund.established_on.year - 1)


def test_service_hours_are_whole_and_bounded(w: World) -> None:
    for hours in (0, -1, 100_001, 1.5):
        refused(
            w,
            InvalidInput,
            w.app.record_service_hours,
            w.treasurer,
            "南湖宾馆",
            "noodles",
            hours,
            DAY,
            "厨师",
        )
    w.app.record_service_hours(w.treasurer, "南湖宾馆", "noodles", 4, DAY, "厨师", people=2)
    assert not any(a.startswith("Income") for a in balances(w))
