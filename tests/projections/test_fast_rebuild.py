"""The fast path of a rebuild (gifts, and the idempotency records of gifts posted with a key,
read straight from their JSON into rows and leaves) writes exactly what the event-by-event
path writes, and steps aside for what it does not know.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from eventsourcing.persistence import Notification
from helpers import snapshot

from ledger.app import OPERATOR, FundLedger, Receipt
from ledger.demo import load_demo
from ledger.domain.records import IdempotencyRecord
from projections.books import writes as books_writes
from projections.log import writes as log_writes
from projections.log.queries import Log
from projections.log.writes import RECORD
from projections.monthly import writes as monthly_writes
from projections.runner import Views
from projections.sqlview import gifts
from projections.sqlview.decoding import EventDecoder
from projections.sqlview.gifts import GIFT
from projections.sqlview.projection import ViewProjection


def _gifts(donor: str, project: str, count: int, prefix: str) -> list[dict[str, Any]]:
    """Gifts of many shapes: channels, restricted or not, in kind, notes, awkward receipts."""
    return [
        {
            "donor_id": donor,
            "amount_fen": 100 + 37 * i,
            "received_on": date(2026, 11, 1 + i % 28),
            "channel": ["wechat_pay", "bank_transfer", "in_kind", "cash", "alipay"][i % 5],
            "receipt_no": [f"{prefix}{i}", f'{prefix}-{i}-收据"\\😀', f"{prefix}-{i} 号"][i % 3],
            "project_id": project if i % 4 == 1 else None,
            "note": "来自社区" if i % 7 == 0 else None,
        }
        for i in range(count)
    ]


def _mixed_log(ledger: FundLedger) -> None:
    """The demo year (every kind of event) with gifts recorded and imported between."""
    load_demo(ledger)
    ledger.add_user(OPERATOR, "出纳二", "treasurer")
    ledger.add_user(OPERATOR, "委员二", "committee")
    treasurer = ledger.actor_named("出纳二")
    enterprise = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
    person = ledger.register_donor(treasurer, "某人", "individual", "masked").id
    government = ledger.register_donor(treasurer, "某街道", "government", "named").id
    project = ledger.open_project(treasurer, "fast", "快").id
    for donor, prefix in ((enterprise, "E"), (person, "P"), (government, "G")):
        ledger.record_donations(treasurer, _gifts(donor, project, 30, prefix))
    ledger.import_donations(treasurer, iter(_gifts(enterprise, project, 120, "I")))
    _keyed_gifts(ledger, {enterprise: "KE", person: "KP", government: "KG"}, project)
    received = ledger.record_donation(treasurer, enterprise, 5000, date(2026, 6, 1), "cash")
    ledger.reverse_donation(ledger.actor_named("委员二"), received.id, "keyed twice")


def _keyed_gifts(ledger: FundLedger, donors: dict[str, str], project: str) -> None:
    """Gifts posted with an idempotency key, each saved with its idempotency record, as the
    server saves them: a few alone, most in group commits."""
    treasurer = ledger.actor_named("出纳二")
    for donor, prefix in donors.items():
        for i, fields in enumerate(_gifts(donor, project, 3, prefix)):
            ledger.record_donation(treasurer, **fields, idempotency_key=f"{prefix}-alone-{i}")
        orders = [
            ledger.donation_order(treasurer, **fields, idempotency_key=f"{prefix}-{i}")
            for i, fields in enumerate(_gifts(donor, project, 24, prefix + "G"))
        ]
        assert not [o for o in ledger.record_donation_orders(orders) if isinstance(o, Exception)]


@pytest.fixture
def slow_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fast path off: events through the mapper, writes and leaves one event at a time."""
    monkeypatch.setattr(EventDecoder, "_gift", lambda self, n: None)
    monkeypatch.setattr(EventDecoder, "_record", lambda self, n: None)
    monkeypatch.setattr(ViewProjection, "fast_trusted", False)
    monkeypatch.setattr(log_writes._FastLeaves, "trusted", False)


def _fast_kinds(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the leaves the fast path makes, by kind of event (keyed gifts apart)."""
    made: Counter[str] = Counter()
    fast_leaves = log_writes._fast_leaves

    def counting(batch: Any, leaf_format: str, salt_for: Any) -> list[str | None]:
        leaves = fast_leaves(batch, leaf_format, salt_for)
        for (_, event), leaf in zip(batch, leaves, strict=True):
            if leaf is not None:
                keyed = event.meta.idempotency_key is not None
                made[f"{type(event).__qualname__}{' keyed' if keyed else ''}"] += 1
        return leaves

    monkeypatch.setattr(log_writes, "_fast_leaves", counting)
    return made


def _kinds(ledger: FundLedger) -> Counter[str]:
    """The log's gifts (keyed ones apart) and idempotency records, by kind."""
    kinds: Counter[str] = Counter()
    for n in ledger.recorder.select_notifications(1, 10_000):  # type: ignore[attr-defined]
        name = n.topic.split(":")[-1]
        if name in {GIFT, RECORD}:
            keyed = json.loads(n.state)["meta"]["_data_"]["idempotency_key"] is not None
            kinds[f"{name}{' keyed' if keyed else ''}"] += 1
    return kinds


def _fast_rebuild(views: Views) -> dict[str, Any]:
    views.rebuild()
    assert views.decoder.trusted
    assert views.decoder.fast > 0
    assert all(p.fast_trusted for p in views.projections.values())
    assert log_writes._FastLeaves.trusted
    return snapshot(views)


def _root(views: Views) -> bytes:
    log = Log(views.view("log"), "test")
    return log.root(log.size())


def test_a_fast_rebuild_writes_what_the_slow_one_writes(
    store_url: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = FundLedger(store_url)
    _mixed_log(ledger)
    kinds = _kinds(ledger)
    made = _fast_kinds(monkeypatch)
    views = Views(ledger)
    fast = _fast_rebuild(views)
    fast_root = _root(views)
    assert views.decoder.fast < ledger.position()  # other kinds and noted gifts went slowly
    # Gifts posted with a key took the fast leaves too (not all: the gifts in kind, with notes
    # or with receipts outside ASCII went slowly), and so did every idempotency record.
    for kind in (GIFT, f"{GIFT} keyed"):
        assert 0 < made[kind] < kinds[kind], kind
    assert made[f"{RECORD} keyed"] == kinds[f"{RECORD} keyed"] > 0
    request.getfixturevalue("slow_only")
    slow_views = Views(ledger)
    slow_views.rebuild()
    assert slow_views.decoder.fast == 0
    assert snapshot(slow_views) == fast
    assert _root(slow_views) == fast_root
    assert len(fast["{t}fl_log_leaves"]) == ledger.position()
    ledger.close()


def test_a_fast_path_that_disagrees_is_dropped_and_the_rows_stay_right(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = FundLedger(store_url)
    _mixed_log(ledger)
    views = Views(ledger)
    expected = _fast_rebuild(views)
    # A fast path gone wrong: a gift's postings and leaves with the accounts the wrong way round.
    wrong = gifts.gift_pair

    def swapped(gift: Any) -> tuple[str, str] | None:
        pair = wrong(gift)
        return None if pair is None else (pair[1], pair[0])

    for module in (
        "projections.books.writes",
        "projections.monthly.writes",
        "projections.log.writes",
    ):
        monkeypatch.setattr(f"{module}.gift_pair", swapped)
    monkeypatch.setattr(gifts, "_pairs", {})
    monkeypatch.setattr(log_writes, "_templates", {})
    monkeypatch.setattr(log_writes._FastLeaves, "trusted", True)
    again = Views(ledger)
    again.rebuild()
    assert not again.projections["books"].fast_trusted
    assert not again.projections["monthly"].fast_trusted
    assert not log_writes._FastLeaves.trusted
    assert snapshot(again) == expected
    ledger.close()


def _forget_salts(views: Views) -> None:
    with views.view("log").cursor(commit=True) as c:
        c.execute("DELETE FROM {t}fl_log_salts")


def _subjects(views: Views) -> list[str]:
    rows = views.view("log").query("SELECT subject FROM {t}fl_log_salts ORDER BY subject")
    return [row["subject"] for row in rows]


def test_fast_leaves_make_the_salts_slow_ones_make(
    store_url: str, request: pytest.FixtureRequest
) -> None:
    ledger = FundLedger(store_url)
    _mixed_log(ledger)
    views = Views(ledger)
    _forget_salts(views)
    _fast_rebuild(views)
    made_fast = _subjects(views)
    request.getfixturevalue("slow_only")
    _forget_salts(views)
    slow_views = Views(ledger)
    slow_views.rebuild()
    assert _subjects(slow_views) == made_fast
    # A gift posted with a key has a salt of its own, for its key.
    keyed = ledger.donation_order(
        ledger.actor_named("出纳二"), *_a_gift(ledger), idempotency_key="salted"
    )
    (receipt,) = ledger.record_donation_orders([keyed])
    assert isinstance(receipt, Receipt)
    slow_views.catch_up()
    assert receipt.id in _subjects(slow_views)
    ledger.close()


def _a_gift(ledger: FundLedger) -> tuple[str, int, date, str]:
    donor = ledger.register_donor(ledger.actor_named("出纳二"), "又一企业", "enterprise", "named")
    return donor.id, 4321, date(2026, 7, 1), "alipay"


def _unsalted_key(values: Any) -> Any:
    """A record's fast leaf with its key shown as it is: personal data in a public leaf."""

    def wrong(position: int, event: Any, salt_for: Any) -> dict[str, str]:
        made = values(position, event, salt_for)
        made["key"] = json.dumps(event.key)
        return made

    return wrong


def _key_salted_by_donor(values: Any) -> Any:
    """A gift's idempotency key hashed with its donor's salt: linkable across gifts."""

    def wrong(position: int, event: Any, salt_for: Any) -> dict[str, str]:
        made = values(position, event, salt_for)
        if "idempotency_key" in made:
            made["idempotency_key"] = log_writes._hashed(
                salt_for, event.donor_id, event.meta.idempotency_key
            )
        return made

    return wrong


def _result_of_another(values: Any) -> Any:
    def wrong(position: int, event: Any, salt_for: Any) -> dict[str, str]:
        made = values(position, event, salt_for)
        made["result_id"] = json.dumps(str(event.originator_id))
        return made

    return wrong


@pytest.mark.parametrize(
    ("kind", "breaking"),
    [
        (RECORD, _unsalted_key),
        (RECORD, _result_of_another),
        (GIFT, _key_salted_by_donor),
    ],
    ids=["record_key_unsalted", "record_result_of_another", "gift_key_salted_by_donor"],
)
def test_fast_leaves_of_keyed_gifts_and_records_that_disagree_are_dropped(
    store_url: str, monkeypatch: pytest.MonkeyPatch, kind: str, breaking: Any
) -> None:
    ledger = FundLedger(store_url)
    _mixed_log(ledger)
    views = Views(ledger)
    expected = _fast_rebuild(views)
    shape, template, values = log_writes._KINDS[kind]
    # The templates made by the first rebuild are kept: the check of the first of each
    # kind in each batch must catch it.
    monkeypatch.setitem(log_writes._KINDS, kind, (shape, template, breaking(values)))
    monkeypatch.setattr(log_writes._FastLeaves, "trusted", True)  # and back after the test
    again = Views(ledger)
    again.rebuild()
    assert not log_writes._FastLeaves.trusted
    assert snapshot(again) == expected
    ledger.close()


def test_the_views_write_records_fast_and_drop_a_fast_path_that_disagrees(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = FundLedger(store_url)
    _mixed_log(ledger)
    taken: Counter[bool] = Counter()
    record_books_writes = books_writes.record_books_writes

    def counting(position: int, event: Any, sink: Any) -> bool:
        took = record_books_writes(position, event, sink)
        if type(event).__qualname__ == RECORD:
            taken[took] += 1
        return took

    monkeypatch.setattr(books_writes, "record_books_writes", counting)
    views = Views(ledger)
    expected = _fast_rebuild(views)
    assert taken[True] > 0
    assert taken[False] == 0  # every record of the log was taken
    # Fast paths gone wrong: a record's line in the books one position late, and each record
    # counted twice in its month.

    def late(position: int, event: Any, sink: Any) -> bool:
        return record_books_writes(position + 1, event, sink)

    def twice(key: tuple[Any, ...], count: int, amount_fen: int) -> list[Any]:
        return [(monthly_writes._ADD_MONTH_EVENT, key, (2 * count,))]

    monkeypatch.setattr(books_writes, "record_books_writes", late)
    monkeypatch.setattr(monthly_writes, "_month_event", twice)
    again = Views(ledger)
    again.rebuild()
    assert not again.projections["books"].fast_trusted
    assert not again.projections["monthly"].fast_trusted
    assert again.projections["registers"].fast_trusted
    assert snapshot(again) == expected
    ledger.close()


def test_a_decoder_that_reads_records_wrong_is_dropped(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = FundLedger(store_url)
    _mixed_log(ledger)
    views = Views(ledger)
    expected = _fast_rebuild(views)
    made = EventDecoder._record

    def other_result(self: EventDecoder, n: Notification) -> Any:
        event = made(self, n)
        if event is not None:
            vars(event)["result_id"] = "another"
        return event

    monkeypatch.setattr(EventDecoder, "_record", other_result)
    again = Views(ledger)
    again.rebuild()
    assert not again.decoder.trusted
    assert snapshot(again) == expected
    ledger.close()


def _record_notification(ledger: FundLedger) -> Notification:
    for notification in ledger.recorder.select_notifications(1, 10_000):  # type: ignore[attr-defined]
        if notification.topic.endswith(":IdempotencyRecord.Recorded"):
            return notification  # type: ignore[no-any-return]
    raise AssertionError("no idempotency record in the log")


@pytest.mark.parametrize(
    "change",
    [
        lambda s: {**s, "class_version": 2},  # another version of the event's class
        lambda s: {k: v for k, v in s.items() if k != "fingerprint"},  # another shape
        lambda s: {**s, "key": 7},  # a value of another type
        lambda s: {**s, "timestamp": {**s["timestamp"], "_type_": "other"}},  # unknown type
    ],
    ids=["class_version", "other_shape", "key_as_number", "unknown_type"],
)
def test_the_decoder_leaves_records_it_does_not_know_to_the_mapper(
    sqlite_url: str, change: Any
) -> None:
    ledger = FundLedger(sqlite_url)
    ledger.establish_fund(OPERATOR, "decoding fund")
    ledger.add_user(OPERATOR, "出纳", "treasurer")
    treasurer = ledger.actor_named("出纳")
    donor = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
    ledger.record_donation(
        treasurer, donor, 1234, date(2026, 3, 1), "wechat_pay", idempotency_key="k-1"
    )
    record = _record_notification(ledger)
    decoder = EventDecoder(ledger.mapper)
    ((_, event),) = decoder.decode([record])
    assert decoder.fast == 1
    assert list(vars(event).items()) == list(vars(ledger.mapper.to_domain_event(record)).items())
    changed = replace(record, state=json.dumps(change(json.loads(record.state))).encode())
    assert decoder._record(changed) is None
    ledger.close()


def test_a_record_class_of_a_later_version_is_left_to_the_mapper(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = FundLedger(sqlite_url)
    ledger.establish_fund(OPERATOR, "decoding fund")
    ledger.add_user(OPERATOR, "出纳", "treasurer")
    treasurer = ledger.actor_named("出纳")
    donor = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
    ledger.record_donation(
        treasurer, donor, 1234, date(2026, 3, 1), "wechat_pay", idempotency_key="k-1"
    )
    record, gift = _record_notification(ledger), _gift_notification(ledger)
    # Upcasting a record of version 1 is the mapper's to do; the gifts are still read here.
    recorded = IdempotencyRecord.Recorded  # type: ignore[attr-defined]
    monkeypatch.setattr(recorded, "class_version", 2, raising=False)
    monkeypatch.setattr(recorded, "upcast_v1_v2", staticmethod(lambda state: None), raising=False)
    decoder = EventDecoder(ledger.mapper)
    assert decoder.trusted
    decoder.decode([record])
    assert decoder.fast == 0
    decoder.decode([gift])
    assert decoder.fast == 1
    ledger.close()


def _gift_notification(ledger: FundLedger) -> Notification:
    for notification in ledger.recorder.select_notifications(1, 10_000):  # type: ignore[attr-defined]
        if notification.topic.endswith(":Donation.Received"):
            state = json.loads(notification.state)
            if state["note"] is None:
                return notification  # type: ignore[no-any-return]
    raise AssertionError("no gift without a note in the log")


@pytest.mark.parametrize(
    "change",
    [
        lambda s: {**s, "class_version": 2},  # another version of the event's class
        lambda s: {**s, "note": "sealed:v1:abc"},  # a note: sealed personal data
        lambda s: {k: v for k, v in s.items() if k != "account"},  # an older shape
        lambda s: {**s, "amount_fen": "100"},  # a value of another type
        lambda s: {**s, "meta": {**s["meta"], "_type_": "other"}},  # a type it does not know
    ],
    ids=["class_version", "note", "older_shape", "amount_as_text", "unknown_type"],
)
def test_the_decoder_leaves_what_it_does_not_know_to_the_mapper(
    sqlite_url: str, change: Any
) -> None:
    ledger = FundLedger(sqlite_url)
    ledger.establish_fund(OPERATOR, "decoding fund")
    ledger.add_user(OPERATOR, "出纳", "treasurer")
    treasurer = ledger.actor_named("出纳")
    donor = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
    ledger.record_donation(treasurer, donor, 1234, date(2026, 3, 1), "wechat_pay")
    gift = _gift_notification(ledger)
    decoder = EventDecoder(ledger.mapper)
    ((_, event),) = decoder.decode([gift])
    assert decoder.fast == 1
    assert vars(event) == vars(ledger.mapper.to_domain_event(gift))
    changed = replace(gift, state=json.dumps(change(json.loads(gift.state))).encode())
    assert decoder._gift(changed) is None
    ledger.close()


def test_the_decoder_stops_for_good_when_it_differs_from_the_mapper(sqlite_url: str) -> None:
    ledger = FundLedger(sqlite_url)
    ledger.establish_fund(OPERATOR, "decoding fund")
    ledger.add_user(OPERATOR, "出纳", "treasurer")
    treasurer = ledger.actor_named("出纳")
    donor = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
    ledger.record_donation(treasurer, donor, 1234, date(2026, 3, 1), "wechat_pay")
    gift = _gift_notification(ledger)
    decoder = EventDecoder(ledger.mapper)
    made = decoder._gift

    def off_by_one(n: Notification) -> Any:
        event = made(n)
        vars(event)["amount_fen"] += 1
        return event

    decoder._gift = off_by_one  # type: ignore[method-assign]
    ((_, event),) = decoder.decode([gift])
    assert not decoder.trusted
    assert decoder.fast == 0
    assert event.amount_fen == 1234
    ledger.close()
