"""How each event changes the monthly view; closing the books freezes the months' reports."""

from __future__ import annotations

from typing import Any

from ledger.domain import month_of
from ledger.domain.accounts import commitment_change_fen, event_name, postings_for
from projections.monthly.reports import freeze_months_through
from projections.sqlview.gifts import RECORD, gift_pair
from projections.sqlview.projection import ViewProjection
from projections.sqlview.writes import Add, AddTo, Sink, Write

_ADD_MONTH_ACCOUNT = (
    "INSERT INTO {t}fl_month_accounts (month, account, amount_fen) VALUES (%s, %s, %s)"
    " ON CONFLICT (month, account)"
    " DO UPDATE SET amount_fen = fl_month_accounts.amount_fen + excluded.amount_fen"
)
_ADD_MONTH_GRANT = (
    "INSERT INTO {t}fl_month_grants"
    " (month, project_code, approved_fen, released_fen, commitment_change_fen)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (month, project_code) DO UPDATE SET"
    " approved_fen = fl_month_grants.approved_fen + excluded.approved_fen,"
    " released_fen = fl_month_grants.released_fen + excluded.released_fen,"
    " commitment_change_fen ="
    " fl_month_grants.commitment_change_fen + excluded.commitment_change_fen"
)
_ADD_MONTH_EVENT = (
    "INSERT INTO {t}fl_month_events (month, events) VALUES (%s, %s)"
    " ON CONFLICT (month) DO UPDATE SET events = fl_month_events.events + excluded.events"
)


def monthly_writes(position: int, domain_event: Any) -> list[Write]:
    name = event_name(domain_event)
    month = month_of(domain_event.meta.effective_on)
    writes: list[Write] = [Add(_ADD_MONTH_EVENT, (month,), (1,))]
    writes.extend(
        Add(_ADD_MONTH_ACCOUNT, (month, posting.account), (posting.amount_fen,))
        for posting in postings_for(domain_event)
    )
    e = domain_event
    commitment_fen = commitment_change_fen(domain_event)
    if commitment_fen:
        approved_fen = commitment_fen if name == "Grant.Approved" else 0
        released_fen = -commitment_fen if name == "Grant.Closed" else 0
        writes.append(
            Add(
                _ADD_MONTH_GRANT,
                (month, e.project_code),
                (approved_fen, released_fen, commitment_fen),
            )
        )
    if name == "Fund.PeriodClosed":
        closed_through = str(e.month)
        writes.append(lambda c: freeze_months_through(c, closed_through, position))
    return writes


def gift_monthly_writes(gift: Any, sink: Sink) -> bool:
    """``monthly_writes`` of a gift received that is not in kind (it changes no commitment)."""
    pair = gift_pair(gift)
    if pair is None:
        return False
    sink.tally(_gift_month, (month_of(gift.meta.effective_on), *pair), gift.amount_fen)
    return True


def _month_event(key: tuple[Any, ...], count: int, amount_fen: int) -> list[AddTo]:
    return [(_ADD_MONTH_EVENT, key, (count,))]


def _gift_month(key: tuple[Any, ...], count: int, amount_fen: int) -> list[AddTo]:
    """The month sums of ``count`` gifts of one month and pair of accounts."""
    month, debit, credit = key
    return [
        (_ADD_MONTH_EVENT, (month,), (count,)),
        (_ADD_MONTH_ACCOUNT, (month, debit), (amount_fen,)),
        (_ADD_MONTH_ACCOUNT, (month, credit), (-amount_fen,)),
    ]


class MonthlyProjection(ViewProjection):
    name = "monthly"

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        return monthly_writes(position, domain_event)

    def fast_write(self, position: int, domain_event: Any, sink: Sink) -> bool:
        if event_name(domain_event) == RECORD:
            # An idempotency record is counted in its month, and no more.
            sink.tally(_month_event, (month_of(domain_event.meta.effective_on),), 0)
            return True
        return gift_monthly_writes(domain_event, sink)
