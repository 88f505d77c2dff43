"""How each event changes the books view: its entry and journal lines, and the day sums."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.domain.accounts import Posting, commitment_change_fen, event_name, postings_for
from ledger.domain.cashflow import cash_flows
from ledger.domain.closing import closing_entries, year_end
from ledger.domain.restrictions import settled
from projections.sqlview.gifts import GIFT, RECORD, SHAPES_MAX, gift_pair
from projections.sqlview.projection import ViewProjection
from projections.sqlview.writes import (
    Add,
    AddTo,
    Cursor,
    Sink,
    Write,
    day_of,
    id_of,
    moment_of,
)

_ADD_ACCOUNT_DAY = (
    "INSERT INTO {t}fl_account_days (account, effective_on, amount_fen) VALUES (%s, %s, %s)"
    " ON CONFLICT (account, effective_on)"
    " DO UPDATE SET amount_fen = fl_account_days.amount_fen + excluded.amount_fen"
)
_ADD_COMMITMENT_DAY = (
    "INSERT INTO {t}fl_commitment_days (effective_on, amount_fen) VALUES (%s, %s)"
    " ON CONFLICT (effective_on)"
    " DO UPDATE SET amount_fen = fl_commitment_days.amount_fen + excluded.amount_fen"
)
_ADD_CASH_DAY = (
    "INSERT INTO {t}fl_cash_days (line, effective_on, amount_fen) VALUES (%s, %s, %s)"
    " ON CONFLICT (line, effective_on)"
    " DO UPDATE SET amount_fen = fl_cash_days.amount_fen + excluded.amount_fen"
)
_ADD_EVENT_DAY = (
    "INSERT INTO {t}fl_event_days (effective_on, events) VALUES (%s, %s)"
    " ON CONFLICT (effective_on) DO UPDATE SET events = fl_event_days.events + excluded.events"
)


def narration(domain_event: Any) -> str:
    """A line for the journal that names no person: receipts, projects, organisations."""
    name = event_name(domain_event)
    e = domain_event
    if name == "Donation.Received":
        kind = "实物捐赠 in-kind gift" if e.in_kind else "捐赠收入 donation"
        scope = f"限定 restricted to {e.project_code}" if e.project_code else "非限定 unrestricted"
        return f"{kind} {e.receipt_no}, {scope}"
    if name == "Donation.Reversed":
        return f"冲销捐赠 donation reversed: {e.reason}"
    if name == "Grant.Approved":
        return f"资助批准 grant approved for {e.project_code}"
    if name == "Grant.Closed":
        return f"资助结项 grant closed for {e.project_code}, leftover released"
    if name == "Expense.Paid":
        payee = e.payee if e.payee_kind == "organisation" else "个人 individual"
        voucher = f" [{e.voucher_no}]" if e.voucher_no else ""
        return f"{e.category} {e.project_code}: {e.description} / {payee}{voucher}"
    if name == "Expense.Reversed":
        return f"冲销支出 expense reversed: {e.reason}"
    return _NARRATIONS.get(name, name).format(e=e)


# Events of accrual, custody and gifts in kind; none names a person (a payee is never shown).
_NARRATIONS = {
    "Bill.Received": "应付款项 bill received {e.project_code}: {e.description}",
    "Bill.Paid": "支付应付款项 bill paid {e.project_code}",
    "Advance.Paid": "预付账款 advance paid {e.project_code}: {e.description}",
    "Advance.Settled": "预付账款结算 advance settled {e.project_code}: {e.description}",
    "Custody.Received": "受托代理资产 held for others: {e.purpose}",
    "Custody.PassedOn": "受托代理资产转出 passed on to {e.beneficiary}",
    "Donation.InKindValued": "受赠实物作为固定资产 gift in kind kept as a fixed asset",
    "Donation.InKindUsed": "受赠实物领用 goods used for {e.project_code}: {e.description}",
    "Donation.Depreciated": "固定资产折旧 depreciation {e.month} for {e.project_code}",
}


def _close_year(year: int) -> Callable[[Cursor], None]:
    """The year's closing entries, from the flows through its last day, the release they give
    and the closing entries of the years before (all already written in this transaction)."""

    def write(c: Cursor) -> None:
        c.execute(
            "SELECT account, SUM(amount_fen) AS amount_fen FROM {t}fl_account_days"
            " WHERE effective_on <= %s GROUP BY account",
            (year_end(year).isoformat(),),
        )
        balances = settled({r["account"]: int(r["amount_fen"]) for r in c.fetchall()})
        c.execute(
            "SELECT account, SUM(amount_fen) AS amount_fen FROM {t}fl_closings GROUP BY account"
        )
        for row in c.fetchall():
            balances[row["account"]] = balances.get(row["account"], 0) + int(row["amount_fen"])
        for line, posting in enumerate(closing_entries(balances)):
            c.execute(
                "INSERT INTO {t}fl_closings (year, line, account, amount_fen)"
                " VALUES (%s, %s, %s, %s)",
                (year, line, posting.account, posting.amount_fen),
            )

    return write


def _note_writes(position: int, domain_event: Any) -> list[Write]:
    """Rows for the notes: gifts in kind and what became of them, service hours."""
    name = event_name(domain_event)
    e = domain_event
    donation_id = id_of(e)
    if name == "Donation.Received" and e.in_kind:
        return [
            (
                "INSERT INTO {t}fl_in_kind (donation_id, receipt_no, project_code, received_on,"
                " amount_fen, fixed_asset, useful_life_months, used_fen, depreciated_fen)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    donation_id,
                    e.receipt_no,
                    e.project_code,
                    day_of(e),
                    e.amount_fen,
                    False,
                    0,
                    0,
                    0,
                ),
            )
        ]
    if name == "Donation.Reversed" and e.in_kind:
        sql = "UPDATE {t}fl_in_kind SET reversed_on = %s WHERE donation_id = %s"
        return [(sql, (day_of(e), donation_id))]
    if name == "Donation.InKindValued":
        sql = (
            "UPDATE {t}fl_in_kind SET basis = %s, evidence = %s, fixed_asset = %s,"
            " useful_life_months = %s WHERE donation_id = %s"
        )
        return [(sql, (e.basis, e.evidence, e.fixed_asset, e.useful_life_months, donation_id))]
    if name in {"Donation.InKindUsed", "Donation.Depreciated"}:
        column = "used_fen" if name == "Donation.InKindUsed" else "depreciated_fen"
        sql = f"UPDATE {{t}}fl_in_kind SET {column} = {column} + %s WHERE donation_id = %s"
        return [(sql, (e.amount_fen, donation_id))]
    if name == "ServiceDonation.Recorded":
        sql = (
            "INSERT INTO {t}fl_service_hours (position, provider, project_code, served_on,"
            " hours, people, description) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        )
        return [
            (
                sql,
                (position, e.provider, e.project_code, day_of(e), e.hours, e.people, e.description),
            )
        ]
    return []


_EVENT_LOG = (
    "INSERT INTO {t}fl_event_log (position, event_type, effective_on, recorded_at)"
    " VALUES (%s, %s, %s, %s)"
)
_ENTRY = (
    "INSERT INTO {t}fl_entries (position, event_id, event_type, effective_on,"
    " recorded_at, narration, project_code) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_JOURNAL = (
    "INSERT INTO {t}fl_journal (position, line, effective_on, recorded_at,"
    " account, amount_fen) VALUES (%s, %s, %s, %s, %s, %s)"
)


def books_writes(position: int, domain_event: Any) -> list[Write]:
    day = day_of(domain_event)
    recorded_at = moment_of(domain_event)
    writes: list[Write] = [
        Add(_ADD_EVENT_DAY, (day,), (1,)),
        (_EVENT_LOG, (position, event_name(domain_event), day, recorded_at)),
    ]
    postings = postings_for(domain_event)
    if postings:
        writes.append(
            (
                _ENTRY,
                (
                    position,
                    id_of(domain_event),
                    event_name(domain_event),
                    day,
                    recorded_at,
                    narration(domain_event),
                    getattr(domain_event, "project_code", None),
                ),
            )
        )
        for line, posting in enumerate(postings):
            writes.append(
                (_JOURNAL, (position, line, day, recorded_at, posting.account, posting.amount_fen))
            )
        for posting in postings:
            writes.append(Add(_ADD_ACCOUNT_DAY, (posting.account, day), (posting.amount_fen,)))
    writes.extend(_note_writes(position, domain_event))
    for line, amount_fen in cash_flows(domain_event, postings):
        writes.append(Add(_ADD_CASH_DAY, (line, day), (amount_fen,)))
    if event_name(domain_event) == "Fund.YearClosed":
        writes.append(_close_year(int(domain_event.year)))
    commitment_fen = commitment_change_fen(domain_event)
    if commitment_fen:
        writes.append(Add(_ADD_COMMITMENT_DAY, (day,), (commitment_fen,)))
        writes.append(
            (
                "INSERT INTO {t}fl_commitment_changes (position, effective_on, recorded_at,"
                " amount_fen) VALUES (%s, %s, %s, %s)",
                (position, day, recorded_at, commitment_fen),
            )
        )
    return writes


# The cash-flow line and sign of each shape of gift (see projections.sqlview.gifts).
_gift_cash: dict[tuple[Any, ...], tuple[int, int]] = {}


def gift_books_writes(position: int, gift: Any, sink: Sink) -> bool:
    """``books_writes`` of a gift received that is not in kind, into ``sink``, without
    working out its postings, cash flow and commitment again for each gift of one shape."""
    pair = gift_pair(gift)
    if pair is None:
        return False
    debit, credit = pair
    amount_fen = gift.amount_fen
    shape = (debit, credit, gift.donor_kind, amount_fen > 0)
    cash = _gift_cash.get(shape)
    if cash is None:
        postings = [Posting(debit, amount_fen), Posting(credit, -amount_fen)]
        flows = cash_flows(gift, postings)
        if len(flows) > 1 or commitment_change_fen(gift):
            return False
        line, change_fen = flows[0] if flows else (0, 0)
        if change_fen not in {0, amount_fen, -amount_fen}:
            return False
        cash = (line, change_fen // amount_fen)
        if len(_gift_cash) < SHAPES_MAX:
            _gift_cash[shape] = cash
    day = day_of(gift)
    recorded_at = moment_of(gift)
    sink.tally(_event_day, (day,), 0)
    sink.row(_EVENT_LOG, (position, GIFT, day, recorded_at))
    sink.row(
        _ENTRY,
        (position, id_of(gift), GIFT, day, recorded_at, narration(gift), gift.project_code),
    )
    sink.row(_JOURNAL, (position, 0, day, recorded_at, debit, amount_fen))
    sink.row(_JOURNAL, (position, 1, day, recorded_at, credit, -amount_fen))
    sink.tally(_gift_days, (debit, credit, *cash, day), amount_fen)
    return True


def record_books_writes(position: int, record: Any, sink: Sink) -> bool:
    """``books_writes`` of an idempotency record: an event of its day, and no more."""
    if event_name(record) != RECORD:
        return False
    day = day_of(record)
    sink.tally(_event_day, (day,), 0)
    sink.row(_EVENT_LOG, (position, RECORD, day, moment_of(record)))
    return True


def _event_day(key: tuple[Any, ...], count: int, amount_fen: int) -> list[AddTo]:
    return [(_ADD_EVENT_DAY, key, (count,))]


def _gift_days(key: tuple[Any, ...], count: int, amount_fen: int) -> list[AddTo]:
    """The day sums of ``count`` gifts of one shape and day, together ``amount_fen``."""
    debit, credit, line, sign, day = key
    adds: list[AddTo] = [
        (_ADD_ACCOUNT_DAY, (debit, day), (amount_fen,)),
        (_ADD_ACCOUNT_DAY, (credit, day), (-amount_fen,)),
    ]
    if sign:
        adds.append((_ADD_CASH_DAY, (line, day), (sign * amount_fen,)))
    return adds


class BooksProjection(ViewProjection):
    name = "books"

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        return books_writes(position, domain_event)

    def fast_write(self, position: int, domain_event: Any, sink: Sink) -> bool:
        return gift_books_writes(position, domain_event, sink) or record_books_writes(
            position, domain_event, sink
        )
