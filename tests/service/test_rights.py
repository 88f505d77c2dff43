"""The fund's rules on who may do what: each command, each role, the rights table."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from helpers import DAY, World, build_world, refused

from ledger.app import OPERATOR, Actor, FundLedger
from ledger.domain import Role
from ledger.domain.errors import Duplicate, NotPermitted, WrongState
from ledger.service.kernel import RIGHTS

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
    return {
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
