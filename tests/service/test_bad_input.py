"""The fund's rules on bad input: each refusal names the field, and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import uuid4

import pytest
from helpers import DAY, World, aggregate, refused
from refusals import wrong_state

from ledger.app import OPERATOR, FundLedger
from ledger.domain import today
from ledger.domain.errors import InvalidAmount, InvalidInput, NotFound, WrongState

# == Bad input changes nothing =================================================================


@pytest.mark.parametrize(
    "code", ["A", "Noodles", "n", "1abc", "-abc", "no odles", "noodles!", "a" * 33, "", "面条", 7]
)
def test_given_an_invalid_project_code_when_opening_then_invalid_input(
    w: World, code: object
) -> None:
    error = refused(
        w.app,
        InvalidInput,
        lambda: w.app.open_project(w.treasurer, code, "x"),  # type: ignore[arg-type]
    )

    assert error.facts == {"field": "code", "value": repr(code)}


@pytest.mark.parametrize("code", ["ab", "a" * 32, "red-boat", "k9"])
def test_given_a_valid_project_code_when_opening_then_accepted(w: World, code: str) -> None:
    project_id = w.app.open_project(w.treasurer, code, "x").id

    assert aggregate(w.app, project_id).code == code


def _unknown_id_commands(w: World) -> dict[str, tuple[str, Callable[[str], object]]]:
    app = w.app
    w.donate("1000.00")
    member = w.committee[1]
    return {
        "donor": ("donor", lambda x: app.record_donation(w.treasurer, x, 100, DAY, "cash")),
        "donation project": (
            "project",
            lambda x: app.record_donation(
                w.treasurer, w.donors["enterprise"], 100, DAY, "cash", project_id=x
            ),
        ),
        "grant project": ("project", lambda x: app.propose_grant(member, x, 100, "p", on=DAY)),
        "approve": ("grant", lambda x: app.approve_grant(member, x, on=DAY)),
        "reject": ("grant", lambda x: app.reject_grant(member, x, "no", on=DAY)),
        "close": ("grant", lambda x: app.close_grant(member, x, on=DAY)),
        "expense": ("grant", lambda x: w.spend(x, "1.00")),
        "reverse donation": ("donation", lambda x: app.reverse_donation(member, x, "r", on=DAY)),
        "reverse expense": ("expense", lambda x: app.reverse_expense(member, x, "r", on=DAY)),
        "close project": ("project", lambda x: app.close_project(member, x)),
        "opinion": ("grant or project", lambda x: app.record_opinion(w.adviser, x, "t", on=DAY)),
    }


UNKNOWN_ID_CASES = [
    "donor",
    "donation project",
    "grant project",
    "approve",
    "reject",
    "close",
    "expense",
    "reverse donation",
    "reverse expense",
    "close project",
    "opinion",
]


@pytest.mark.parametrize("case", UNKNOWN_ID_CASES)
@pytest.mark.parametrize("kind_of_id", ["random uuid", "not a uuid", "id of another kind"])
def test_given_an_unknown_id_when_used_then_not_found(w: World, case: str, kind_of_id: str) -> None:
    what, call = _unknown_id_commands(w)[case]
    unknown = {
        "random uuid": str(uuid4()),
        "not a uuid": "not-an-id",
        # A donor's id is a real aggregate, but never a project, grant, donation or expense.
        "id of another kind": w.donors["individual"] if what != "donor" else w.projects["noodles"],
    }[kind_of_id]

    error = refused(w.app, NotFound, lambda: call(unknown))

    assert error.facts == {"what": what, "key": unknown}


BadInputs = dict[str, tuple[Callable[[], object], str, str]]


def _bad_input_commands(w: World) -> BadInputs:
    """Each call with one bad field: (call, field, value as the error shows it)."""
    w.donate("1000.00")
    grant_id = w.grant("noodles", "500.00")
    return {
        **_bad_choices(w, grant_id),
        **_bad_texts(w, grant_id),
        **_bad_dates_and_keys(w, grant_id),
    }


def _bad_choices(w: World, grant_id: str) -> BadInputs:
    """A kind, disclosure, channel, category or role that is not one of the list."""
    app, t = w.app, w.treasurer
    donor = w.donors["enterprise"]
    return {
        "donor kind": (lambda: app.register_donor(t, "x", "company", "named"), "kind", "'company'"),
        "disclosure": (
            lambda: app.register_donor(t, "x", "individual", "public"),
            "disclosure",
            "'public'",
        ),
        "channel": (
            lambda: app.record_donation(t, donor, 100, DAY, "paypal"),
            "channel",
            "'paypal'",
        ),
        "category": (
            lambda: app.record_expense(t, grant_id, 100, DAY, "p", "travel", "d"),
            "category",
            "'travel'",
        ),
        "payee kind": (
            lambda: app.record_expense(
                t, grant_id, 100, DAY, "p", "programme", "d", payee_kind="robot"
            ),
            "payee_kind",
            "'robot'",
        ),
        "user role": (lambda: app.add_user(OPERATOR, "x", "king"), "role", "'king'"),
        "operator role": (lambda: app.add_user(OPERATOR, "x", "operator"), "role", "operator"),
    }


def _bad_texts(w: World, grant_id: str) -> BadInputs:
    """Free text empty, blank, too long or with control characters; a hash that is not one."""
    app, t, member = w.app, w.treasurer, w.committee[1]
    return {
        "empty name": (lambda: app.register_donor(t, "", "individual", "named"), "name", "''"),
        "blank name": (
            lambda: app.register_donor(t, "   ", "individual", "named"),
            "name",
            "'   '",
        ),
        "long name": (
            lambda: app.register_donor(t, "赵" * 201, "individual", "named"),
            "name",
            "201 characters",
        ),
        "control characters": (
            lambda: app.register_donor(t, "赵\x00先生", "individual", "named"),
            "name",
            "'赵\\x00先生'",
        ),
        "empty purpose": (
            lambda: app.propose_grant(member, w.projects["noodles"], 100, "", on=DAY),
            "purpose",
            "''",
        ),
        "long purpose": (
            lambda: app.propose_grant(member, w.projects["noodles"], 100, "x" * 2001, on=DAY),
            "purpose",
            "2001 characters",
        ),
        "empty reason": (
            lambda: app.reject_grant(member, grant_id, " ", on=DAY),
            "reason",
            "' '",
        ),
        "long description": (
            lambda: app.record_expense(t, grant_id, 100, DAY, "p", "programme", "d" * 2001),
            "description",
            "2001 characters",
        ),
        "not a hash": (
            lambda: app.record_expense(
                t, grant_id, 100, DAY, "p", "programme", "d", voucher_sha256="ABC"
            ),
            "voucher_sha256",
            "ABC",
        ),
    }


def _bad_dates_and_keys(w: World, grant_id: str) -> BadInputs:
    """A date in the future or not a date, and an idempotency key too long."""
    app, t, member = w.app, w.treasurer, w.committee[1]
    donor = w.donors["enterprise"]
    future = today() + timedelta(days=30)
    return {
        "future gift": (
            lambda: app.record_donation(t, donor, 100, future, "cash"),
            "received_on",
            future.isoformat(),
        ),
        "future expense": (
            lambda: app.record_expense(t, grant_id, 100, future, "p", "programme", "d"),
            "paid_on",
            future.isoformat(),
        ),
        "text date": (
            lambda: app.record_donation(t, donor, 100, "2025-03-10", "cash"),  # type: ignore[arg-type]
            "received_on",
            "'2025-03-10'",
        ),
        "datetime": (
            lambda: app.record_donation(t, donor, 100, datetime(2025, 3, 10, 9, 0), "cash"),
            "received_on",
            "datetime.datetime(2025, 3, 10, 9, 0)",
        ),
        "long key": (
            lambda: app.propose_grant(
                member, w.projects["noodles"], 100, "p", on=DAY, idempotency_key="k" * 201
            ),
            "Idempotency-Key",
            "201 characters",
        ),
    }


BAD_INPUT_CASES = [
    "donor kind",
    "disclosure",
    "channel",
    "category",
    "payee kind",
    "user role",
    "operator role",
    "empty name",
    "blank name",
    "long name",
    "control characters",
    "empty purpose",
    "long purpose",
    "empty reason",
    "long description",
    "not a hash",
    "future gift",
    "future expense",
    "text date",
    "datetime",
    "long key",
]


def test_every_bad_input_case_is_listed(w: World) -> None:
    assert set(_bad_input_commands(w)) == set(BAD_INPUT_CASES)


@pytest.mark.parametrize("case", BAD_INPUT_CASES)
def test_given_bad_input_when_commanded_then_invalid_input_and_nothing_stored(
    w: World, case: str
) -> None:
    call, field, shown = _bad_input_commands(w)[case]

    error = refused(w.app, InvalidInput, call)

    assert error.facts == {"field": field, "value": shown}


@pytest.mark.parametrize(
    ("amount_fen", "shown"), [(0, "0.00"), (-100, "-1.00"), (12.5, "12.5"), (True, "True")]
)
def test_given_a_bad_amount_when_commanded_then_invalid_amount_and_nothing_stored(
    w: World, amount_fen: object, shown: str
) -> None:
    w.donate("1000.00")
    grant_id = w.grant("noodles", "500.00")
    calls: list[Callable[[], object]] = [
        lambda: w.app.record_donation(
            w.treasurer,
            w.donors["enterprise"],
            amount_fen,
            DAY,
            "cash",  # type: ignore[arg-type]
        ),
        lambda: w.app.propose_grant(
            w.committee[0],
            w.projects["noodles"],
            amount_fen,
            "p",
            on=DAY,  # type: ignore[arg-type]
        ),
        lambda: w.app.record_expense(
            w.treasurer,
            grant_id,
            amount_fen,
            DAY,
            "p",
            "programme",
            "d",  # type: ignore[arg-type]
        ),
    ]

    for call in calls:
        error = refused(w.app, InvalidAmount, call)
        assert error.facts == {"field": "amount", "value": shown}


@pytest.mark.parametrize("quorum", [0, 100, True, "3", 2.0])
def test_given_a_bad_quorum_when_establishing_then_invalid_input(quorum: object) -> None:
    app = FundLedger("memory://")

    error = refused(app, InvalidInput, lambda: app.establish_fund(OPERATOR, "F", quorum))  # type: ignore[arg-type]

    assert error.facts == {"field": "quorum", "value": repr(quorum)}
    assert app.position() == 0


def test_given_a_closed_project_when_money_is_given_or_granted_then_wrong_state(
    w: World,
) -> None:
    w.donate("1000.00")
    w.app.close_project(w.committee[0], w.projects["barber"])

    gift = refused(w.app, WrongState, lambda: w.donate("10.00", "barber"))
    grant = refused(w.app, WrongState, lambda: w.propose("barber", "10.00"))

    assert gift.facts == wrong_state("project", "barber", "closed", "open")
    assert grant.facts == gift.facts
