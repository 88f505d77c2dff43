"""The fingerprints kept so that a retry gets its first answer cannot confirm a guess at the
personal data of the command.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from forgetting import NAME, NOTE, PAYEE, PHONE
from helpers import DAY, World, build_world, events_named, fen, refused

from ledger.app import FundLedger
from ledger.domain.errors import IdempotencyConflict


def _plain_fingerprint(command: str, args: dict[str, Any], on: object) -> str:
    """How a guesser would test a guess against a kept fingerprint, were it a plain hash."""
    text = json.dumps([command, args, on], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _a_donor_and_gifts_with_keys(
    app: FundLedger, world: World
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A donor registered, gifts recorded singly, grouped and in a batch, each with a key and
    retried; the donor's id, contact and the gift's fields."""
    t = world.treasurer
    contact = {"phone": PHONE}
    first = app.register_donor(t, NAME, "individual", "masked", contact, idempotency_key="r-1")
    again = app.register_donor(t, NAME, "individual", "masked", contact, idempotency_key="r-1")
    assert (again.replayed, again.id) == (True, first.id)
    refused(
        app,
        IdempotencyConflict,
        lambda: app.register_donor(
            t, "别人", "individual", "masked", contact, idempotency_key="r-1"
        ),
    )
    gift = {"amount_fen": fen("10.00"), "received_on": DAY, "channel": "cash", "note": NOTE}
    app.record_donation(t, first.id, receipt_no="F-1", idempotency_key="g-1", **gift)
    # A single donation from the API goes through a group commit: the same protections.
    order = app.donation_order(t, first.id, receipt_no="F-3", idempotency_key="g-3", **gift)
    [grouped] = app.record_donation_orders([order])
    assert not isinstance(grouped, Exception), grouped
    assert NOTE.encode() not in b"".join(
        n.state for n in app.recorder.select_notifications(grouped.position, 1)
    )
    batch = [{"donor_id": first.id, "receipt_no": "F-2", **gift}]
    made = app.record_donations(t, batch, idempotency_key="g-2")
    assert app.record_donations(t, batch, idempotency_key="g-2").ids == made.ids
    return first.id, contact, gift


def _an_expense_with_a_key(app: FundLedger, world: World) -> dict[str, Any]:
    """An expense paid to a person, with a key and retried; its fields."""
    t = world.treasurer
    world.donate("500.00")
    grant_id = world.grant("noodles", "100.00")
    paid = {
        "grant_id": grant_id,
        "amount_fen": fen("50.00"),
        "paid_on": DAY,
        "payee": PAYEE,
        "category": "programme",
        "description": "care",
    }
    spent = app.record_expense(t, **paid, payee_kind="individual", idempotency_key="p-1")
    retried = app.record_expense(t, **paid, payee_kind="individual", idempotency_key="p-1")
    assert (retried.replayed, retried.id) == (True, spent.id)
    return paid


def _guesses(
    donor_id: str, contact: dict[str, str], gift: dict[str, Any], paid: dict[str, Any]
) -> set[str]:
    """What a guesser who knows the person's data would compute for each command."""
    return {
        _plain_fingerprint(
            "register_donor",
            {"name": NAME, "kind": "individual", "disclosure": "masked", "contact": contact},
            None,
        ),
        _plain_fingerprint(
            "record_donation",
            {"donor_id": donor_id, "receipt_no": "F-1", "project_id": None, **gift},
            DAY,
        ),
        _plain_fingerprint(
            "record_donation",
            {"donor_id": donor_id, "receipt_no": "F-3", "project_id": None, **gift},
            DAY,
        ),
        _plain_fingerprint(
            "record_expense",
            {**paid, "payee_kind": "individual", "voucher_no": None, "voucher_sha256": None},
            DAY,
        ),
    }


def test_a_fingerprint_kept_for_retries_cannot_confirm_a_guess(store_url: str) -> None:
    app = FundLedger(store_url)
    world = build_world(app)
    t = world.treasurer
    donor_id, contact, gift = _a_donor_and_gifts_with_keys(app, world)
    paid = _an_expense_with_a_key(app, world)
    guesses = _guesses(donor_id, contact, gift, paid)

    kept = {e.fingerprint for e in events_named(app, "IdempotencyRecord.Recorded")}
    assert len(kept) == 5
    assert kept.isdisjoint(guesses)
    # The guesses are made the way the command hashes: an organisation payee stays plain.
    org = {**paid, "payee": "南湖宾馆", "amount_fen": fen("1.00")}
    app.record_expense(t, **org, idempotency_key="p-2")
    kept_now = {e.fingerprint for e in events_named(app, "IdempotencyRecord.Recorded")}
    assert (
        _plain_fingerprint(
            "record_expense",
            {**org, "payee_kind": "organisation", "voucher_no": None, "voucher_sha256": None},
            DAY,
        )
        in kept_now
    )
    app.close()
