"""The disclosure calendar the charity rules set, and what is published, due or overdue.

Under the Measures on Information Disclosure of Charitable Organisations, a project that runs
over six months discloses its progress at least every three months, and the annual work and
financial report is due by 31 May of the next year. A period counts as published once the books
are closed through its last month, since the frozen monthly reports are then public. The
quarter under way is listed too, as upcoming with its date, so the next duty is always in sight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ledger.domain import month_of

PROGRESS_EVERY_MONTHS = 3
LONG_PROJECT_MONTHS = 6
ANNUAL_REPORT_DUE = (5, 31)


@dataclass(frozen=True)
class Due:
    what: str  # "annual" or a project code
    period: str  # "2026" or "2026-01..2026-03"
    last_month: str
    due_on: date
    state: str  # published, overdue, upcoming
    first_month: str = ""  # the period's first month, "2026-01" (the annual: its January)


def _add_months(month_first: date, months: int) -> date:
    index = month_first.year * 12 + month_first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _state(last_month: str, due_on: date, closed_through: str | None, today: date) -> str:
    if closed_through is not None and last_month <= closed_through:
        return "published"
    return "overdue" if today > due_on else "upcoming"


def calendar(
    projects: list[tuple[str, date]],
    first_day: date | None,
    closed_through: str | None,
    today: date,
) -> list[Due]:
    """What the fund must disclose: ``projects`` are (code, opened_on); newest due first."""
    items: list[Due] = []
    if first_day is not None:
        for year in range(first_day.year, today.year):
            due_on = date(year + 1, *ANNUAL_REPORT_DUE)
            last = f"{year}-12"
            state = _state(last, due_on, closed_through, today)
            items.append(Due("annual", str(year), last, due_on, state, f"{year}-01"))
    for code, opened_on in projects:
        start = opened_on.replace(day=1)
        if _add_months(start, LONG_PROJECT_MONTHS) > today:
            continue  # not yet a long project
        quarter = start
        while quarter <= today:
            end_first = _add_months(quarter, PROGRESS_EVERY_MONTHS - 1)
            last = month_of(end_first)
            # Due one month after the quarter ends, when its books can be closed.
            due_on = _add_months(end_first, 2) - timedelta(days=1)
            items.append(
                Due(
                    code,
                    f"{month_of(quarter)}..{last}",
                    last,
                    due_on,
                    _state(last, due_on, closed_through, today),
                    month_of(quarter),
                )
            )
            quarter = _add_months(quarter, PROGRESS_EVERY_MONTHS)
    return sorted(items, key=lambda d: (d.due_on, d.what), reverse=True)
