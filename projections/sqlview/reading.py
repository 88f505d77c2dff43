"""What every view's queries share: the views of one store, and their answers made alike.

Each view's queries (``projections.books.queries`` and the like) take their own view from the
views given; ``projections.reader.Reader`` puts them together over one store.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from ledger.app import FundLedger
from projections.sqlview.base import SQLView

# The most rows one question returns at once; listings page beyond it.
PAGE_SIZE_MAX = 500


class ViewSet(Protocol):
    """The views of one store as their queries reach them (``projections.runner.Views``)."""

    ledger: FundLedger

    def view(self, name: str) -> SQLView: ...

    def position(self, name: str) -> int: ...


class Queries:
    """The base of every view's queries: the views they read."""

    def __init__(self, views: ViewSet) -> None:
        self.views = views


def iso_day(value: object) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def as_date(value: object) -> date:
    """PostgreSQL answers with date objects and SQLite with ISO strings."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def clean(row: dict[str, Any]) -> dict[str, Any]:
    """Dates as ISO strings, booleans as booleans, whichever database answered."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, date | datetime):
            out[key] = value.isoformat()
        elif key in {"in_kind", "is_open", "active"}:
            out[key] = bool(value)
        else:
            out[key] = value
    return out
