"""The canteen: a month's meals checked row by row, settled once from the canteen's approved
grant, its postings balanced and paid from money restricted to the canteen, and a beneficiary
forgotten with every settlement, total and the log still standing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from canteen import (
    ELDERS,
    MONTH,
    Canteen,
    bad_rows,
    csv_of,
    good_rows,
    month_cap_rows,
    open_canteen,
    rules,
)
from helpers import DAY, build_world, fen

from ledger.app import OPERATOR, FundLedger
from ledger.domain import Expense, MealSettlement
from ledger.domain.accounts import postings_for
from ledger.domain.errors import (
    AlreadySettled,
    Duplicate,
    InvalidInput,
    MealsRefused,
    RulesRetroactive,
    SelfApproval,
    WrongState,
)
from ledger.domain.records import LEAF_FORMAT_V2
from ledger.domain.sealing import ERASED
from ledger.formats.meals_csv import parse_meals
from ledger.log.leaves import leaf_record
from ledger.log.notes import Signer
from ledger.service.meal_settlements import file_sha256
from projections.audit import check_store
from projections.exports import export_beancount
from projections.log.queries import Log
from projections.reader import Reader
from projections.runner import Views

BEAN_CHECK = Path(sys.executable).parent / "bean-check"


@pytest.fixture
def canteen(store_url: str) -> Iterator[Canteen]:
    app = FundLedger(store_url)
    world = build_world(app)
    world.donate("5000.00", "noodles")  # money restricted to another project, never the canteen's
    yield open_canteen(world)
    app.close()


def settlement_id(canteen: Canteen) -> UUID:
    return MealSettlement.create_id(canteen.world.projects["canteen"], MONTH)


def settle(canteen: Canteen, data: bytes, *, partial: bool = False):  # type: ignore[no-untyped-def]
    parsed = parse_meals(data.decode())
    assert parsed.bad == []
    return canteen.app.settle_meals(
        canteen.world.treasurer,
        "canteen",
        canteen.grant_id,
        MONTH,
        file_sha256(data),
        parsed.rows,
        partial=partial,
    )


def test_every_kind_of_bad_row_is_reported_and_nothing_recorded(canteen: Canteen) -> None:
    app = canteen.app
    bad = bad_rows()
    data = csv_of([*good_rows(), *bad.values()])
    parsed = parse_meals(data.decode())
    # The unreadable row is refused while reading; every other by the rules, each at its line.
    assert [(b.line, b.problem) for b in parsed.bad] == [
        (len(good_rows()) + len(bad) + 1, "unreadable")
    ]
    checked = app.check_month("canteen", MONTH, parsed.rows)
    first_bad_line = len(good_rows()) + 2
    expected = [
        (first_bad_line + index, kind) for index, kind in enumerate(bad) if kind != "unreadable"
    ]
    assert [(b.line, b.problem) for b in checked.bad] == expected
    # No report repeats a card number or a birth date.
    report = "\n".join(str(b) for b in [*parsed.bad, *checked.bad])
    for _name, born, card in ELDERS.values():
        assert card not in report
        assert born.isoformat() not in report

    before = app.position()
    with pytest.raises(MealsRefused) as refused:
        app.settle_meals(
            canteen.world.treasurer,
            "canteen",
            canteen.grant_id,
            MONTH,
            file_sha256(data),
            parsed.rows,
        )
    assert refused.value.facts["bad_rows"] == len(expected)
    assert app.position() == before

    # Over the month's cap, in a file of its own.
    capped = app.check_month(
        "canteen", MONTH, parse_meals(csv_of([*good_rows(), *month_cap_rows()]).decode()).rows
    )
    assert [b.problem for b in capped.bad] == ["over-month-cap"]
    assert app.position() == before


def test_the_corrected_file_settles_once_and_again_records_nothing(canteen: Canteen) -> None:
    app = canteen.app
    data = csv_of(good_rows())
    settled = settle(canteen, data)
    assert settled.recorded
    settlement = app.repository.get(
        MealSettlement.create_id(canteen.world.projects["canteen"], MONTH)
    )
    assert (settlement.file_sha256, settlement.subsidy_fen) == (file_sha256(data), fen("37.00"))
    expense = app.repository.get(UUID(settlement.expense_id))
    assert isinstance(expense, Expense)
    assert (expense.amount_fen, expense.payee, expense.grant_id) == (
        fen("37.00"),
        rules().operator,
        canteen.grant_id,
    )
    assert settled.checked.bands() == {
        "60-69": {"meals": 2, "people": 1, "subsidy_fen": fen("6.00")},
        "70-79": {"meals": 3, "people": 1, "subsidy_fen": fen("15.00")},
        "80+": {"meals": 2, "people": 2, "subsidy_fen": fen("16.00")},
    }

    position = app.position()
    again = settle(canteen, data)
    assert not again.recorded
    assert again.receipt.id == settled.receipt.id
    assert app.position() == position
    with pytest.raises(AlreadySettled):
        settle(canteen, csv_of(good_rows()[:-1]))
    assert app.position() == position


def test_with_partial_the_good_rows_settle_and_the_rest_is_reported(canteen: Canteen) -> None:
    data = csv_of([*good_rows(), bad_rows()["duplicate"], bad_rows()["unknown-card"]])
    settled = settle(canteen, data, partial=True)
    assert settled.recorded
    assert [b.problem for b in settled.checked.bad] == ["duplicate", "unknown-card"]
    assert settled.checked.meals == len(good_rows())


def test_the_settlement_balances_and_restricted_money_pays_only_the_canteen(
    canteen: Canteen, tmp_path: Path
) -> None:
    app = canteen.app
    settle(canteen, csv_of(good_rows()))
    views = Views(app)
    views.catch_up()
    reader = Reader(views)
    settlements = [e for _, e in app.iter_events() if type(e).__qualname__ == "Expense.Paid"]
    [paid] = settlements
    postings = postings_for(paid)
    assert sum(p.amount_fen for p in postings) == 0
    assert {p.account for p in postings} == {"Expenses:Programme:Canteen", "Assets:Bank"}
    # The canteen's restricted gift paid it all; the noodles' restricted money is untouched.
    assert (paid.restricted_fen, paid.unrestricted_fen) == (fen("37.00"), 0)
    released = {
        account: amount_fen
        for account, amount_fen in reader.balances().items()
        if account.startswith("Income:Restricted:ReleasedFromRestriction:")
    }
    assert released == {"Income:Restricted:ReleasedFromRestriction:Canteen": fen("37.00")}

    path = tmp_path / "fund.beancount"
    path.write_text(export_beancount(reader), encoding="utf-8")
    result = subprocess.run(
        [str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert "社区食堂助餐补贴 2025-04" in path.read_text(encoding="utf-8")


def test_forgetting_a_beneficiary_keeps_every_settlement_total_and_the_log(
    canteen: Canteen,
) -> None:
    app = canteen.app
    settle(canteen, csv_of(good_rows()))
    views = Views(app)
    views.catch_up()
    signer = Signer.generate("test.example/canteen")
    log = Log(views.view("log"), signer.name)
    reader = Reader(views)
    first = log.sign(signer)
    assert first is not None
    summary = reader.summary().as_json()
    months = reader.canteen_months("canteen")
    person = canteen.people["s80"]

    receipt = app.forget_person(canteen.world.committee[0], person)
    assert receipt.position > 0
    assert app.forget_person(OPERATOR, person).position == 0
    views.catch_up()
    assert app.keyring.keys([person]) == {person: None}
    [forgotten] = [
        e for _, e in app.iter_events() if type(e).__qualname__ == "Beneficiary.Forgotten"
    ]
    assert str(forgotten.originator_id) == person

    after = reader.summary().as_json()
    assert after.pop("events") == summary.pop("events") + 1
    assert after == summary
    assert reader.canteen_months("canteen") == months
    settlement = app.repository.get(
        MealSettlement.create_id(canteen.world.projects["canteen"], MONTH)
    )
    assert settlement.subsidy_fen == fen("37.00")
    # Their card matches no one now: a meal of theirs is an unknown card.
    row = csv_of([f"{ELDERS['s80'][2]},2025-04-03 11:30,lunch,15.00,8.00\n"]).decode()
    checked = app.check_month("canteen", MONTH, parse_meals(row).rows)
    assert [b.problem for b in checked.bad] == ["unknown-card"]
    opened = app.keyring.reveal([app.repository.get(UUID(person)).name])
    assert opened == [ERASED]

    second = log.sign(signer)
    assert second is not None
    assert second.size == first.size + 1
    assert check_store(app, log, signer.verifier) == second.size
    views.rebuild()
    assert log.root(first.size) == first.root
    assert check_store(app, log, signer.verifier) == second.size


def test_rules_need_a_quorum_of_others_and_are_never_retroactive(canteen: Canteen) -> None:
    app, committee = canteen.app, canteen.world.committee
    # Proposed on 2025-03-10 to take effect on 2025-03-01: refused.
    with pytest.raises(RulesRetroactive):
        app.propose_subsidy_rules(committee[0], "canteen", rules(date(2025, 3, 1)), on=DAY)
    later = rules(date(2025, 5, 1), subsidy_70="6.00")
    rules_id = app.propose_subsidy_rules(committee[0], "canteen", later, on=DAY).id
    with pytest.raises(SelfApproval):
        app.approve_subsidy_rules(committee[0], rules_id, on=DAY)
    app.approve_subsidy_rules(committee[1], rules_id, on=DAY)
    assert len(app.rules_in_force("canteen")) == 1  # one approval is not the quorum
    app.approve_subsidy_rules(committee[2], rules_id, on=DAY)
    # An approval dated after the rules would take effect is refused: never back.
    with pytest.raises(RulesRetroactive):
        app.approve_subsidy_rules(committee[3], rules_id, on=date(2025, 5, 2))
    app.approve_subsidy_rules(committee[3], rules_id, on=DAY)
    assert len(app.rules_in_force("canteen")) == 2
    # April keeps April's rules: 5.00 for 70-79; May has 6.00.
    s70 = ELDERS["s70"][2]
    rows = f"card_number,time,meal,price,subsidy\n{s70},2025-04-30 11:30,lunch,15.00,6.00\n"
    checked = app.check_month("canteen", MONTH, parse_meals(rows).rows)
    assert [b.problem for b in checked.bad] == ["subsidy-differs"]


def test_attendance_is_recorded_once_a_day_and_shown_only_as_counts(canteen: Canteen) -> None:
    app, treasurer = canteen.app, canteen.world.treasurer
    everyone = list(canteen.people.values())
    lunch_on = date(2025, 3, 15)
    app.record_attendance(treasurer, "noodles", "birthday_lunch", lunch_on, everyone[:3])
    app.record_attendance(treasurer, "health", "clinic_visit", DAY, everyone, visits=7)
    with pytest.raises(Duplicate):
        app.record_attendance(treasurer, "noodles", "birthday_lunch", lunch_on, everyone[:2])
    with pytest.raises(InvalidInput):
        app.record_attendance(treasurer, "health", "clinic_visit", DAY, everyone, visits=2)
    app.forget_person(OPERATOR, everyone[0])
    position = app.position()
    with pytest.raises(WrongState):  # a forgotten person is served no more
        app.record_attendance(treasurer, "barber", "haircut", DAY, everyone[:1])
    assert app.position() == position

    views = Views(app)
    views.catch_up()
    reader = Reader(views)
    assert reader.attendance_public("noodles") == [
        {
            "month": "2025-03",
            "occasion": "birthday_lunch",
            "days": 1,
            "people": "<5",
            "visits": "<5",
        }
    ]
    assert reader.attendance_public("health") == [
        {"month": "2025-03", "occasion": "clinic_visit", "days": 1, "people": 5, "visits": 7}
    ]
    # The panel's cost per person served and per visit, from what each project spent.
    costs = {c["project"]: c for c in reader.attendance_costs({"health": fen("700.00")})}
    assert (costs["health"]["cost_per_person"], costs["health"]["cost_per_visit"]) == (
        "140.00",
        "100.00",
    )
    # The leaf of an attendance shows its counts, never who.
    events = [e for _, e in app.iter_events()]
    recorded = next(e for e in events if type(e).__qualname__ == "Attendance.Recorded")
    leaf = leaf_record(1, recorded, lambda _subject: b"salt", LEAF_FORMAT_V2)
    assert leaf["data"]["people"] == 3
    assert not any(person in json.dumps(leaf) for person in everyone)
