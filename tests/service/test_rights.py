"""The fund's rules on who may do what: each command, each role, the rights table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from canteen import MONTH, csv_of, good_rows, open_canteen, rules
from helpers import DAY, World, build_world, fen, refused

from ledger.app import OPERATOR, Actor, FundLedger
from ledger.demo.statements import Movement, icbc_statement
from ledger.domain import Role
from ledger.domain.errors import Duplicate, NotPermitted, WrongState
from ledger.formats.bank_statement import BankStatement, decode_statement, parse_bank_statement
from ledger.formats.meals_csv import parse_meals
from ledger.formats.platform_settlement import parse_settlement
from ledger.service.kernel import RIGHTS
from ledger.service.meal_settlements import file_sha256

SETTLEMENT = Path(__file__).parent.parent / "fixtures" / "platform" / "wechat-2025-03.csv"

# == Roles =====================================================================================


def _role_commands(w: World) -> dict[str, Callable[[Actor], object]]:
    """One valid call of each command, for any actor."""
    app = w.app
    w.donate("1000.00")
    donation_id = w.donate("100.00")
    approved = w.grant("noodles", "600.00")
    expense_id = w.spend(approved, "10.00")
    proposed = w.propose("health", "100.00")
    t = w.treasurer
    bill = app.receive_bill(t, approved, 100, DAY, "南湖大酒店", "programme", "bill").id
    advance = app.pay_advance(t, approved, 100, DAY, "南湖大酒店", "deposit").id
    held = app.receive_custody(t, "嘉兴慈善基金会", "南湖街道社会工作站", 100, DAY, "代转").id
    goods = w.donate("500.00", "noodles", channel="in_kind")
    kept = w.donate("600.00", "noodles", channel="in_kind")
    app.value_in_kind(t, kept, "invoice", "发票", fixed_asset=True, useful_life_months=6, on=DAY)
    money = _money_path(w, donation_id)
    opinion = app.record_opinion(w.adviser, approved, "first view", on=DAY).id
    return {
        **money,
        **_canteen_commands(w),
        "establish_fund": lambda a: app.establish_fund(a, "另一个基金", 3),
        "add_user": lambda a: app.add_user(a, "新委员", "committee"),
        "revoke_user": lambda a: app.revoke_user(a, w.auditor.name),
        "reissue_token": lambda a: app.reissue_token(a, w.adviser.name),
        "register_donor": lambda a: app.register_donor(a, "新捐赠人", "individual", "masked"),
        "open_project": lambda a: app.open_project(a, "stage", "幸福舞台 · 展风采"),
        "close_project": lambda a: app.close_project(a, w.projects["barber"]),
        "record_donation": lambda a: app.record_donation(
            a, w.donors["individual"], 100, DAY, "cash", receipt_no="R-roles"
        ),
        "reverse_donation": lambda a: app.reverse_donation(a, donation_id, "error", on=DAY),
        "propose_grant": lambda a: app.propose_grant(
            a, w.projects["noodles"], 100, "lunch", on=DAY
        ),
        "approve_grant": lambda a: app.approve_grant(a, proposed, on=DAY),
        "reject_grant": lambda a: app.reject_grant(a, proposed, "no", on=DAY),
        "close_grant": lambda a: app.close_grant(a, approved, on=DAY),
        "record_expense": lambda a: app.record_expense(
            a, approved, 100, DAY, "南湖大酒店", "programme", "noodles"
        ),
        "reverse_expense": lambda a: app.reverse_expense(a, expense_id, "error", on=DAY),
        "record_opinion": lambda a: app.record_opinion(a, approved, "well run", on=DAY),
        "answer_opinion": lambda a: app.answer_opinion(a, opinion, "thank you", on=DAY),
        # Only its author supersedes an opinion: the adviser who wrote it, here.
        "supersede_opinion": lambda a: app.supersede_opinion(a, opinion, "on reflection", on=DAY),
        "explain_warning": lambda a: app.explain_warning(a, "weekend:0001", "paid on duty", on=DAY),
        "close_period": lambda a: app.close_period(a, "2025-01"),
        # The fund's first year is this one, not ended: the rule refuses after the right.
        "close_year": lambda a: app.close_year(a, DAY.year),
        "receive_bill": lambda a: app.receive_bill(
            a, approved, 100, DAY, "南湖大酒店", "programme", "bill"
        ),
        "pay_bill": lambda a: app.pay_bill(a, bill, on=DAY),
        "pay_advance": lambda a: app.pay_advance(a, approved, 100, DAY, "南湖大酒店", "deposit"),
        "settle_advance": lambda a: app.settle_advance(a, advance, "delivered", on=DAY),
        "receive_custody": lambda a: app.receive_custody(
            a, "嘉兴慈善基金会", "南湖街道社会工作站", 100, DAY, "代转"
        ),
        "pass_on_custody": lambda a: app.pass_on_custody(a, held, on=DAY),
        "value_in_kind": lambda a: app.value_in_kind(a, goods, "market_price", "价格", on=DAY),
        "use_in_kind": lambda a: app.use_in_kind(a, goods, 100, "食材", on=DAY),
        "depreciate": lambda a: app.depreciate(a, kept, "2025-04"),
        "record_service_hours": lambda a: app.record_service_hours(
            a, "南湖宾馆", "noodles", 4, DAY, "厨师"
        ),
        "forget_person": lambda a: app.forget_person(a, w.donors["individual"]),
    }


def _statement(*movements: Movement) -> BankStatement:
    text = icbc_statement("1204", "南湖", "2025-03", 0, movements)
    return parse_bank_statement(decode_statement(text.encode("gbk")))


def _money_path(w: World, donation_id: str) -> dict[str, Callable[[Actor], object]]:
    """The money path's commands: a statement with a line matched and one not, to act on."""
    app, t = w.app, w.treasurer
    app.import_bank_statement(
        t,
        "bank",
        _statement(Movement(DAY, fen("1000.00")), Movement(DAY + timedelta(days=10), 10000)),
    )
    lines, matches = app.statement_lines("bank")
    [matched] = list(matches)
    [unmatched] = [li.key for li in lines if li.key not in matches]
    [gift] = [e.entry_id for e in app.book_entries("Assets:Bank") if e.change_fen == 10000]
    settlement = parse_settlement(decode_statement(SETTLEMENT.read_bytes()))
    return {
        "open_money_account": lambda a: app.open_money_account(a, "icbc-2", "bank", "工行二户"),
        "record_transfer": lambda a: app.record_transfer(a, "bank", "cash", 100, DAY),
        "set_attachment_threshold": lambda a: app.set_attachment_threshold(a, 0),
        "issue_official_receipt": lambda a: app.issue_official_receipt(
            a, donation_id, "RIGHTS-1", DAY
        ),
        "void_official_receipt": lambda a: app.void_official_receipt(a, "RIGHTS-2", "作废", DAY),
        "import_bank_statement": lambda a: app.import_bank_statement(
            a, "bank", _statement(Movement(DAY + timedelta(days=12), 500))
        ),
        "reconcile_match": lambda a: app.reconcile_match(a, "bank", unmatched, [gift]),
        "reconcile_unmatch": lambda a: app.reconcile_unmatch(a, "bank", matched),
        "accept_reconciliation_difference": lambda a: app.accept_reconciliation_difference(
            a, "bank", "2025-03", "银行已致函更正"
        ),
        "import_platform_settlement": lambda a: app.import_platform_settlement(
            a, "wechat_pay", settlement, w.donors["individual"], date(2025, 3, 13)
        ),
    }


def _canteen_commands(w: World) -> dict[str, Callable[[Actor], object]]:
    """The canteen's commands, on a canteen with its grant, rules and elders."""
    app, canteen = w.app, open_canteen(w)
    pending = app.propose_subsidy_rules(w.committee[0], "canteen", rules(date(2025, 6, 1)), on=DAY)
    meals = csv_of(good_rows())
    return {
        "register_beneficiary": lambda a: app.register_beneficiary(
            a, "新长者", date(1950, 1, 1), "330400195001019999"
        ),
        "propose_subsidy_rules": lambda a: app.propose_subsidy_rules(
            a, "canteen", rules(date(2025, 5, 1)), on=DAY
        ),
        "approve_subsidy_rules": lambda a: app.approve_subsidy_rules(a, pending.id, on=DAY),
        "reject_subsidy_rules": lambda a: app.reject_subsidy_rules(a, pending.id, "no", on=DAY),
        "settle_meals": lambda a: app.settle_meals(
            a,
            "canteen",
            canteen.grant_id,
            MONTH,
            file_sha256(meals),
            parse_meals(meals.decode()).rows,
        ),
        "record_attendance": lambda a: app.record_attendance(
            a, "noodles", "birthday_lunch", DAY, [canteen.people["s70"]]
        ),
    }


def _actor_of(w: World, role: Role) -> Actor:
    return {
        Role.TREASURER: w.treasurer,
        Role.COMMITTEE: w.committee[4],  # neither proposer nor approver of any grant
        Role.ADVISER: w.adviser,
        Role.AUDITOR: w.auditor,
        Role.OPERATOR: OPERATOR,
    }[role]


REFUSED_ROLES = [
    (command, role) for command, allowed in RIGHTS.items() for role in Role if role not in allowed
]


ALLOWED_ROLES = [(command, role) for command, allowed in RIGHTS.items() for role in allowed]


def test_every_command_in_the_rights_table_is_exercised(w: World) -> None:
    assert set(_role_commands(w)) == set(RIGHTS)


@pytest.mark.parametrize(("command", "role"), REFUSED_ROLES)
def test_given_a_role_without_the_right_when_it_gives_the_command_then_not_permitted(
    w: World, command: str, role: Role
) -> None:
    call = _role_commands(w)[command]

    error = refused(w.app, NotPermitted, lambda: call(_actor_of(w, role)))

    assert error.facts == {"action": command, "role": role, "allowed": list(RIGHTS[command])}


@pytest.mark.parametrize(("command", "role"), ALLOWED_ROLES)
def test_given_a_role_with_the_right_when_it_gives_the_command_then_accepted(
    w: World, command: str, role: Role
) -> None:
    call = _role_commands(w)[command]
    position = w.app.position()

    if command == "establish_fund":  # there is one fund: the right is checked, then the rule
        refused(w.app, Duplicate, lambda: call(_actor_of(w, role)))
    elif command == "close_year":  # likewise: this year has not ended
        refused(w.app, WrongState, lambda: call(_actor_of(w, role)))
    else:
        call(_actor_of(w, role))
        assert w.app.position() > position


def test_given_the_wrong_role_when_the_input_is_also_bad_then_not_permitted_first() -> None:
    """A caller without the right learns nothing about what input would be accepted."""
    app = FundLedger("memory://")
    w = build_world(app)
    refused(app, NotPermitted, lambda: app.record_donation(w.adviser, "x", 0, DAY, "nope"))
    refused(app, NotPermitted, lambda: app.propose_grant(w.treasurer, "x", -5, ""))
    refused(app, NotPermitted, lambda: app.record_donations(w.auditor, []))
