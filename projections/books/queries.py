"""Balances and positions read from the books view, on any date or as recorded at any moment.

Every figure comes from indexed queries over the view, never from a replay of the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.domain.accounts import project_component
from ledger.domain.books import Position, position_from
from ledger.domain.restrictions import RELEASE_INPUTS, releases_by_day, settled
from ledger.domain.yuan import format_yuan
from projections.sqlview.reading import PAGE_SIZE_MAX, Queries, ViewSet, as_date, iso_day


@dataclass(frozen=True)
class JournalEntry:
    """An event that posts money, with its journal lines (account, amount in fen)."""

    position: int
    event_id: str
    effective_on: date
    narration: str
    lines: tuple[tuple[str, int], ...]


class BooksQueries(Queries):
    def __init__(self, views: ViewSet) -> None:
        super().__init__(views)
        self.books_view = views.view("books")

    def balances(self, as_of: date | None = None) -> dict[str, int]:
        """Account balances on a day (the end of the log without one), from fl_account_days,
        with restricted money released as the days give it (``ledger.domain.restrictions``)."""
        sql = "SELECT account, SUM(amount_fen) AS amount_fen FROM {t}fl_account_days"
        params: list[Any] = []
        if as_of is not None:
            sql += " WHERE effective_on <= %s"
            params.append(as_of.isoformat())
        rows = self.books_view.query(sql + " GROUP BY account ORDER BY account", params)
        return settled(
            {row["account"]: int(row["amount_fen"]) for row in rows if row["amount_fen"]}
        )

    def closings(self, as_of: date | None = None) -> dict[int, list[tuple[str, int]]]:
        """The closing entries of each closed year ending on or before ``as_of``."""
        sql = "SELECT year, account, amount_fen FROM {t}fl_closings"
        params: list[Any] = []
        if as_of is not None:
            sql += " WHERE year <= %s"
            params.append(as_of.year if as_of.month == 12 and as_of.day == 31 else as_of.year - 1)
        closed: dict[int, list[tuple[str, int]]] = {}
        for row in self.books_view.query(sql + " ORDER BY year, line", params):
            closed.setdefault(int(row["year"]), []).append(
                (str(row["account"]), int(row["amount_fen"]))
            )
        return closed

    def balances_closed(self, as_of: date | None = None) -> dict[str, int]:
        """Balances as the ledger's accounts hold them: after the closing entries of every year
        closed by then (income and expense carried into net assets)."""
        balances = self.balances(as_of)
        for lines in self.closings(as_of).values():
            for account, amount_fen in lines:
                balances[account] = balances.get(account, 0) + amount_fen
        return {account: amount for account, amount in balances.items() if amount}

    def cash_flows(self, since: date, until: date) -> dict[int, int]:
        """The change in cash and cash equivalents in a period, by line of the statement."""
        rows = self.books_view.query(
            "SELECT line, SUM(amount_fen) AS amount_fen FROM {t}fl_cash_days"
            " WHERE effective_on >= %s AND effective_on <= %s GROUP BY line",
            [since.isoformat(), until.isoformat()],
        )
        return {int(r["line"]): int(r["amount_fen"]) for r in rows if r["amount_fen"]}

    def movements(self, since: date, until: date) -> dict[str, int]:
        """What each account moved from the start of ``since`` to the end of ``until``."""
        closing = self.balances(until)
        opening = self._opening(since)
        moved = {a: closing.get(a, 0) - opening.get(a, 0) for a in {*closing, *opening}}
        return {account: amount for account, amount in sorted(moved.items()) if amount}

    def _sum(self, table: str, column: str, as_of: date | None) -> int:
        sql = f"SELECT SUM({column}) AS total FROM {{t}}{table}"
        params: list[Any] = []
        if as_of is not None:
            sql += " WHERE effective_on <= %s"
            params.append(as_of.isoformat())
        rows = self.books_view.query(sql, params)
        return int(rows[0]["total"] or 0) if rows else 0

    def summary(self, as_of: date | None = None, recorded_at: datetime | None = None) -> Position:
        """The position on an effective date, or as the books stood at a past moment."""
        if recorded_at is not None:
            return self._summary_as_recorded(as_of, recorded_at)
        return position_from(
            self.balances(as_of),
            self._sum("fl_commitment_days", "amount_fen", as_of),
            self._sum("fl_event_days", "events", as_of),
        )

    def _summary_as_recorded(self, as_of: date | None, recorded_at: datetime) -> Position:
        # What the books said then: only what had been recorded by that moment.
        moment = recorded_at.isoformat()
        day = (as_of or date.max).isoformat()
        rows = self.books_view.query(
            "SELECT account, SUM(amount_fen) AS amount_fen FROM {t}fl_journal"
            " WHERE recorded_at <= %s AND effective_on <= %s GROUP BY account",
            [moment, day],
        )
        committed = self.books_view.query(
            "SELECT SUM(amount_fen) AS total FROM {t}fl_commitment_changes"
            " WHERE recorded_at <= %s AND effective_on <= %s",
            [moment, day],
        )
        events = self.books_view.query(
            "SELECT COUNT(*) AS total FROM {t}fl_event_log"
            " WHERE recorded_at <= %s AND effective_on <= %s",
            [moment, day],
        )
        return position_from(
            {row["account"]: int(row["amount_fen"]) for row in rows},
            int(committed[0]["total"] or 0),
            int(events[0]["total"] or 0),
        )

    def releases(self) -> list[tuple[date, str, int]]:
        """Each day's release from restriction per project component, from the day sums."""
        rows = self.books_view.query(
            "SELECT effective_on, account, amount_fen FROM {t}fl_account_days WHERE "
            + " OR ".join("account LIKE %s" for _ in RELEASE_INPUTS),
            [prefix + "%" for prefix in RELEASE_INPUTS],
        )
        return releases_by_day(
            (as_date(r["effective_on"]), str(r["account"]), int(r["amount_fen"])) for r in rows
        )

    def _opening(self, since: date) -> dict[str, int]:
        """Balances at the end of the day before ``since``; none before the first day."""
        if since == date.min:
            return {}
        return self.balances(date.fromordinal(since.toordinal() - 1))

    def project_spending_by_month(self, code: str) -> list[dict[str, str]]:
        """A project's spending per month and category, in yuan."""
        component = project_component(code)
        spending = self.books_view.query(
            "SELECT account, effective_on, amount_fen FROM {t}fl_account_days"
            " WHERE account LIKE %s ORDER BY effective_on",
            [f"Expenses:%:{component}"],
        )
        by_month: dict[str, dict[str, int]] = {}
        for row in spending:
            month = str(iso_day(row["effective_on"]))[:7]
            category = row["account"].split(":")[1].lower()
            cell = by_month.setdefault(month, {})
            cell[category] = cell.get(category, 0) + int(row["amount_fen"])
        return [
            {"month": m, **{c: format_yuan(v) for c, v in sorted(cells.items())}}
            for m, cells in sorted(by_month.items())
        ]

    def service_hours_by_month(self, code: str) -> list[dict[str, Any]]:
        """Hours partners gave a project, per month and provider: shown as hours, never money."""
        rows = self.books_view.query(
            "SELECT provider, served_on, hours, people FROM {t}fl_service_hours"
            " WHERE project_code = %s ORDER BY served_on, provider",
            [code],
        )
        by_month: dict[tuple[str, str], list[int]] = {}
        for row in rows:
            key = (str(iso_day(row["served_on"]))[:7], row["provider"])
            cell = by_month.setdefault(key, [0, 0])
            cell[0] += int(row["hours"])
            cell[1] += int(row["people"])
        return [
            {"month": month, "provider": provider, "hours": hours, "people": people}
            for (month, provider), (hours, people) in sorted(by_month.items())
        ]

    def journal_entries(self) -> list[JournalEntry]:
        """Every entry of the journal with its lines, in log order, read a page at a time."""
        view = self.books_view
        entries: list[JournalEntry] = []
        after = 0
        while True:
            rows = view.query(
                "SELECT position, event_id, effective_on, narration FROM {t}fl_entries"
                " WHERE position > %s ORDER BY position LIMIT %s",
                [after, PAGE_SIZE_MAX],
            )
            if not rows:
                return entries
            last = int(rows[-1]["position"])
            lines: dict[int, list[tuple[str, int]]] = {}
            for line in view.query(
                "SELECT position, account, amount_fen FROM {t}fl_journal"
                " WHERE position > %s AND position <= %s ORDER BY position, line",
                [after, last],
            ):
                lines.setdefault(int(line["position"]), []).append(
                    (str(line["account"]), int(line["amount_fen"]))
                )
            for row in rows:
                position = int(row["position"])
                entries.append(
                    JournalEntry(
                        position,
                        str(row["event_id"]),
                        as_date(row["effective_on"]),
                        str(row["narration"]),
                        tuple(lines.get(position, ())),
                    )
                )
            after = last
