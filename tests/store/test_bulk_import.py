"""The bulk path of an import on PostgreSQL: COPY with the mapper's bytes stores what the ordinary
path stores, or nothing.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.app import OPERATOR, FundLedger

# -- the bulk path: PostgreSQL's COPY, with the mapper's bytes ---------------------------------


def _gifts(donor: str, project: str | None, count: int, prefix: str) -> list[dict[str, object]]:
    return [
        {
            "donor_id": donor,
            "amount_fen": 100 + i,
            "received_on": date(2026, 1, 1 + i % 28),
            "channel": ["wechat_pay", "bank_transfer", "in_kind", "cash"][i % 4],
            "receipt_no": f'{prefix}-{i}-收据"\\😀' if i % 3 else None,
            "project_id": project if i % 2 else None,
            "note": "来自社区" if i % 5 == 0 else None,
        }
        for i in range(count)
    ]


def _stored(ledger: FundLedger, after: int) -> list[tuple[str, str, dict[str, object]]]:
    """Each stored donation as (receipt, topic, state without the moment it was recorded)."""
    import json

    rows = []
    for notification in ledger.recorder.select_notifications(after + 1, 10_000):  # type: ignore[attr-defined]
        state = json.loads(notification.state)
        state.pop("timestamp")
        note = state.pop("note")
        rows.append((state["receipt_no"], notification.topic, {**state, "noted": note is not None}))
    return rows


@pytest.mark.postgres
def test_the_bulk_import_stores_what_the_ordinary_path_stores(postgres_url: str) -> None:
    ledger = FundLedger(postgres_url)
    try:
        ledger.establish_fund(OPERATOR, "bulk fund")
        ledger.add_user(OPERATOR, "出纳", "treasurer")
        treasurer = ledger.actor_named("出纳")
        donor = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
        project = ledger.open_project(treasurer, "bk", "义剪").id
        assert ledger.imports_atomically
        start = ledger.position()
        ordinary = _gifts(donor, project, 40, "A")
        ledger.record_donations(treasurer, [dict(g) for g in ordinary])
        middle = ledger.position()
        assert ledger.import_donations(treasurer, iter(_gifts(donor, project, 40, "B"))) == 40
        first, second = _stored(ledger, start)[:40], _stored(ledger, middle)
        assert len(first) == len(second) == 40
        for (receipt_a, topic_a, state_a), (receipt_b, topic_b, state_b) in zip(
            first, second, strict=True
        ):
            assert topic_a == topic_b
            if receipt_a.startswith("A-"):  # generated numbers differ; given ones by prefix only
                assert receipt_b == "B-" + receipt_a.removeprefix("A-")
            state_a.pop("receipt_no")
            state_b.pop("receipt_no")
            assert state_a == state_b
        position = ledger.summary()
        assert position.received_total_fen + position.in_kind_total_fen == 2 * sum(
            100 + i for i in range(40)
        )
    finally:
        ledger.close()


@pytest.mark.postgres
def test_the_bulk_encoder_writes_the_mappers_bytes_or_is_not_trusted(postgres_url: str) -> None:
    from ledger.domain import Donor
    from ledger.store import bulk

    ledger = FundLedger(postgres_url)
    try:
        ledger.establish_fund(OPERATOR, "bulk fund")
        ledger.add_user(OPERATOR, "出纳", "treasurer")
        treasurer = ledger.actor_named("出纳")
        donor_id = ledger.register_donor(treasurer, "某", "enterprise", "named").id
        donor = ledger._get(Donor, donor_id, "donor")
        item = {**_gifts(str(donor.id), None, 2, "C")[1], "note": None}
        encoder = bulk.DonationEncoder(
            ledger.mapper,
            treasurer.id,
            treasurer.role.value,
            ledger._new_donation,
            ledger._donor_ref,
        )
        assert encoder.calibrate(donor, None, item)
        # A first gift with a note (which the mapper writes, sealed) still calibrates.
        assert bulk.DonationEncoder(
            ledger.mapper,
            treasurer.id,
            treasurer.role.value,
            ledger._new_donation,
            ledger._donor_ref,
        ).calibrate(donor, None, {**item, "note": "有备注"})
        assert encoder._direct(donor, None, item) == encoder._mapped(donor, None, item)
        # A person's gift carries a blinded reference in place of the id, written alike.
        person_id = ledger.register_donor(treasurer, "某人", "individual", "masked").id
        person = ledger._get(Donor, person_id, "donor")
        assert encoder.calibrate(person, None, item)
        direct = encoder._direct(person, None, item)
        assert direct == encoder._mapped(person, None, item)
        assert b'"donor_ref":"ref:' in direct.state
        # Were the mapper to write otherwise (a new field, a cipher), the bulk bytes are not used.
        original = ledger.mapper.to_stored_event

        def changed(event: object) -> object:
            stored = original(event)  # type: ignore[arg-type]
            return type(stored)(
                originator_id=stored.originator_id,
                originator_version=stored.originator_version,
                topic=stored.topic,
                state=stored.state.replace(b'"in_kind"', b'"in_kind_v2"'),
            )

        ledger.mapper.to_stored_event = changed  # type: ignore[method-assign,assignment]
        wary = bulk.DonationEncoder(
            ledger.mapper,
            treasurer.id,
            treasurer.role.value,
            ledger._new_donation,
            ledger._donor_ref,
        )
        assert not wary.calibrate(donor, None, item)
        assert b'"in_kind_v2"' in wary.encode(donor, None, item).state
    finally:
        ledger.close()


@pytest.mark.postgres
def test_a_bulk_import_meeting_a_receipt_recorded_since_the_preflight_stores_nothing(
    postgres_url: str,
) -> None:
    from ledger.domain.errors import Duplicate

    ledger = FundLedger(postgres_url)
    try:
        ledger.establish_fund(OPERATOR, "bulk fund")
        ledger.add_user(OPERATOR, "出纳", "treasurer")
        treasurer = ledger.actor_named("出纳")
        donor = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
        gifts = _gifts(donor, None, 30, "D")
        taken = next(g for g in gifts[20:] if g["receipt_no"])
        ledger.record_donation(treasurer, donor, 5, date(2026, 1, 1), "cash", taken["receipt_no"])  # type: ignore[arg-type]
        before = ledger.position()
        with pytest.raises(Duplicate):
            ledger.import_donations(treasurer, iter(gifts))
        assert ledger.position() == before
        assert ledger.summary().received_total_fen == 5
    finally:
        ledger.close()


# -- the pieces of the fast path: ids, rows, two processes -------------------------------------


@given(receipt_no=st.text(max_size=40))
def test_a_receipts_id_is_the_one_the_domain_derives(receipt_no: str) -> None:
    from ledger.domain import Donation
    from ledger.store import bulk

    try:
        expected = Donation.create_id(receipt_no).bytes
    except UnicodeEncodeError:  # a lone surrogate: no id either way
        with pytest.raises(UnicodeEncodeError):
            bulk.receipt_id(receipt_no)
        return
    assert bulk.receipt_id(receipt_no) == expected


def _numbered(gifts: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{**g, "receipt_no": g["receipt_no"] or f"N-{i}"} for i, g in enumerate(gifts)]


def test_each_row_of_the_copy_is_the_mappers_stored_event(sqlite_url: str) -> None:
    from ledger.domain import Donor, Project
    from ledger.store import bulk

    ledger = FundLedger(sqlite_url)
    try:
        ledger.establish_fund(OPERATOR, "bulk fund")
        ledger.add_user(OPERATOR, "出纳", "treasurer")
        treasurer = ledger.actor_named("出纳")
        named = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
        person = ledger.register_donor(treasurer, "某人", "individual", "masked").id
        project = ledger.open_project(treasurer, "bk", "义剪").id
        gifts = [
            {**g, "note": None}
            for donor in (named, person)
            for g in _numbered(_gifts(donor, project, 60, f"P{donor[:4]}"))
        ]
        gifts.sort(key=lambda g: str(g["receipt_no"]))  # the two donors' gifts interleaved
        donors = {d: ledger._get(Donor, d, "donor") for d in (named, person)}
        project_of = ledger._get(Project, project, "project")
        encoder = bulk.DonationEncoder(
            ledger.mapper,
            treasurer.id,
            treasurer.role.value,
            ledger._new_donation,
            ledger._donor_ref,
        )
        chunks = list(
            bulk.copy_chunks(encoder, iter(gifts), donors.__getitem__, lambda _p: project_of)
        )
        assert encoder.trusted
        assert sum(rows for _, rows in chunks) == len(gifts)
        mapped = b"".join(
            bulk.binary_row(
                encoder._mapped(
                    donors[str(g["donor_id"])], project_of if g["project_id"] else None, g
                )
            )
            for g in gifts
        )
        copied = b"".join(chunk for chunk, _ in chunks)
        assert copied == bulk.COPY_SIGNATURE + mapped + bulk.COPY_TRAILER
    finally:
        ledger.close()


@pytest.mark.postgres
def test_a_receipt_the_load_finds_taken_refuses_all_by_its_index(postgres_url: str) -> None:
    from ledger.service.donation_batches import ReceiptsTaken

    ledger = FundLedger(postgres_url)
    try:
        ledger.establish_fund(OPERATOR, "bulk fund")
        ledger.add_user(OPERATOR, "出纳", "treasurer")
        treasurer = ledger.actor_named("出纳")
        donor = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
        gifts = [{**g, "note": None} for g in _numbered(_gifts(donor, None, 40, "T"))]
        taken = gifts[33]["receipt_no"]
        ledger.record_donation(treasurer, donor, 5, date(2026, 1, 1), "cash", taken)  # type: ignore[arg-type]
        before = ledger.position()
        with pytest.raises(ReceiptsTaken) as refused:
            ledger.import_donations(treasurer, iter(gifts))
        assert refused.value.problems == [(33, f"receipt {taken} is already recorded")]
        assert ledger.position() == before
        assert ledger.summary().received_total_fen == 5
    finally:
        ledger.close()


@pytest.mark.postgres
def test_numbers_made_for_an_import_are_never_made_twice(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.service import donation_batches

    made = iter(["NH-SAME", "NH-SAME", "NH-SAME", "NH-OTHER", "NH-THIRD"])
    monkeypatch.setattr(donation_batches, "made_receipt_no", lambda day, size: next(made))
    ledger = FundLedger(postgres_url)
    try:
        ledger.establish_fund(OPERATOR, "bulk fund")
        ledger.add_user(OPERATOR, "出纳", "treasurer")
        treasurer = ledger.actor_named("出纳")
        donor = ledger.register_donor(treasurer, "某企业", "enterprise", "named").id
        gifts = [
            {"donor_id": donor, "amount_fen": 100, "received_on": date(2026, 1, 2)}
            | {"channel": "cash", "receipt_no": None, "project_id": None, "note": None}
            for _ in range(3)
        ]
        assert ledger.import_donations(treasurer, iter(gifts)) == 3
        assert ledger.summary().received_total_fen == 300
    finally:
        ledger.close()
