"""How the canteen's settlements and the projects' attendance change the canteen view."""

from __future__ import annotations

from typing import Any

from ledger.domain import month_of
from ledger.domain.accounts import event_name
from projections.sqlview.gifts import GIFT, RECORD
from projections.sqlview.projection import ViewProjection
from projections.sqlview.writes import Sink, Write

_UNSEEN = frozenset({GIFT, RECORD})

_MONTH = (
    "INSERT INTO {t}fl_canteen_months"
    " (project_code, month, meals, people, subsidy_fen, meals_price_fen, expense_id)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_BAND = (
    "INSERT INTO {t}fl_canteen_bands (project_code, month, band, meals, people, subsidy_fen)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)
_ATTENDANCE = (
    "INSERT INTO {t}fl_attendance (project_code, served_on, occasion, month, people, visits)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)


def canteen_writes(domain_event: Any) -> list[Write]:
    name = event_name(domain_event)
    e = domain_event
    if name == "MealSettlement.Recorded":
        writes: list[Write] = [
            (
                _MONTH,
                (
                    e.project_code,
                    e.month,
                    e.meals,
                    e.people,
                    e.subsidy_fen,
                    e.meals_price_fen,
                    e.expense_id,
                ),
            )
        ]
        writes.extend(
            (_BAND, (e.project_code, e.month, band, t["meals"], t["people"], t["subsidy_fen"]))
            for band, t in sorted(e.bands.items())
        )
        return writes
    if name == "Attendance.Recorded":
        served_on = e.served_on.isoformat()
        month = month_of(e.served_on)
        return [(_ATTENDANCE, (e.project_code, served_on, e.occasion, month, e.people, e.visits))]
    return []


class CanteenProjection(ViewProjection):
    name = "canteen"

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        return canteen_writes(domain_event)

    def fast_write(self, position: int, domain_event: Any, sink: Sink) -> bool:
        # A gift, or the idempotency record of a gift posted with a key, changes nothing
        # here: taking them keeps a run of gifts one run.
        return event_name(domain_event) in _UNSEEN
