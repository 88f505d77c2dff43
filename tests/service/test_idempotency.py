"""The fund's rules against doing a thing twice: idempotency keys and duplicate records."""

from __future__ import annotations

from datetime import date

from helpers import DAY, World, aggregate, events_named, fen, refused

from ledger.app import OPERATOR, Receipt
from ledger.domain.errors import Duplicate, IdempotencyConflict

# == Idempotency ===============================================================================


def _donate_with_key(w: World, amount_fen: int, key: str) -> Receipt:
    return w.app.record_donation(
        w.treasurer,
        w.donors["foundation"],
        amount_fen,
        DAY,
        "bank_transfer",
        idempotency_key=key,
    )


def test_given_a_key_when_the_same_command_is_sent_again_then_the_first_result_returns(
    w: World,
) -> None:
    first = _donate_with_key(w, fen("1000.00"), "gift-2025-03-10-1")
    position = w.app.position()

    again = _donate_with_key(w, fen("1000.00"), "gift-2025-03-10-1")

    assert again.id == first.id
    assert (first.replayed, again.replayed) == (False, True)
    assert w.app.position() == position
    assert len(events_named(w.app, "Donation.Received")) == 1
    assert w.app.summary().received_total_fen == fen("1000.00")


def test_given_a_key_when_a_grant_is_proposed_again_then_no_second_grant(w: World) -> None:
    w.donate("1000.00")
    first = w.propose("noodles", "100.00", key="p-1")
    position = w.app.position()

    again = w.propose("noodles", "100.00", key="p-1")

    assert again == first
    assert w.app.position() == position
    assert len(events_named(w.app, "Grant.Proposed")) == 1


def test_given_a_key_when_a_different_command_uses_it_then_idempotency_conflict(
    w: World,
) -> None:
    _donate_with_key(w, fen("1000.00"), "gift-1")

    error = refused(
        w.app, IdempotencyConflict, lambda: _donate_with_key(w, fen("1000.01"), "gift-1")
    )

    assert error.facts == {"idempotency_key": "gift-1"}
    assert w.app.summary().received_total_fen == fen("1000.00")


def test_given_a_key_when_another_kind_of_command_uses_it_then_idempotency_conflict(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.propose("noodles", "100.00", by=1, key="k-1")

    error = refused(
        w.app,
        IdempotencyConflict,
        lambda: w.app.reject_grant(w.committee[1], grant_id, "no", on=DAY, idempotency_key="k-1"),
    )

    assert error.facts == {"idempotency_key": "k-1"}
    assert aggregate(w.app, grant_id).status == "proposed"


def test_given_a_key_used_by_one_member_when_another_uses_it_then_both_commands_count(
    w: World,
) -> None:
    w.donate("1000.00")
    first = w.app.propose_grant(
        w.committee[0], w.projects["noodles"], 100, "lunch", on=DAY, idempotency_key="k"
    )

    second = w.app.propose_grant(
        w.committee[1], w.projects["noodles"], 100, "lunch", on=DAY, idempotency_key="k"
    )

    assert second.id != first.id
    assert (first.replayed, second.replayed) == (False, False)
    assert len(events_named(w.app, "Grant.Proposed")) == 2


def test_given_a_recorded_expense_when_retried_after_the_grant_closed_then_first_result(
    w: World,
) -> None:
    w.donate("1000.00")
    grant_id = w.grant("noodles", "500.00")
    expense_id = w.spend(grant_id, "100.00", key="e-1")
    w.close_grant(grant_id)
    position = w.app.position()

    again = w.app.record_expense(
        w.treasurer,
        grant_id,
        fen("100.00"),
        DAY,
        "南湖大酒店",
        "programme",
        "noodles and cake for 23 residents",
        idempotency_key="e-1",
    )

    assert (again.id, again.replayed) == (expense_id, True)
    assert w.app.position() == position


def test_given_a_key_when_the_same_command_is_dated_differently_then_idempotency_conflict(
    w: World,
) -> None:
    w.donate("1000.00")
    w.propose("noodles", "100.00", on=date(2025, 3, 10), key="p-1")

    refused(
        w.app,
        IdempotencyConflict,
        lambda: w.propose("noodles", "100.00", on=date(2025, 4, 10), key="p-1"),
    )


# == Duplicates ================================================================================


def test_given_a_receipt_number_when_used_again_then_duplicate(w: World) -> None:
    w.donate("10.00", receipt_no="NH20250310-0001")

    error = refused(
        w.app, Duplicate, lambda: w.donate("20.00", "noodles", receipt_no="NH20250310-0001")
    )
    in_kind = refused(
        w.app,
        Duplicate,
        lambda: w.donate("20.00", channel="in_kind", receipt_no="NH20250310-0001"),
    )

    assert error.facts == {"what": "receipt", "key": "NH20250310-0001"}
    assert in_kind.facts == error.facts


def test_given_a_project_code_when_opened_again_then_duplicate(w: World) -> None:
    error = refused(
        w.app, Duplicate, lambda: w.app.open_project(w.treasurer, "noodles", "另一碗面")
    )

    assert error.facts == {"what": "project", "key": "noodles"}


def test_given_a_user_or_fund_when_added_again_then_duplicate(w: World) -> None:
    user = refused(w.app, Duplicate, lambda: w.app.add_user(OPERATOR, w.adviser.name, "auditor"))
    fund = refused(w.app, Duplicate, lambda: w.app.establish_fund(OPERATOR, "F", 3))

    assert user.facts == {"what": "user", "key": w.adviser.name}
    assert fund.facts == {"what": "fund", "key": w.app.fund().name}
