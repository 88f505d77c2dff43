"""The statements of a year (or of a year to the end of a month), read from the books view."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from ledger.domain.books import total_fen
from ledger.domain.closing import year_end
from ledger.domain.money import parse_yuan
from projections.books.queries import BooksQueries
from projections.sqlview.reading import iso_day
from projections.statements import notes
from projections.statements.activities import activities
from projections.statements.balance_sheet import amounts_by_line, balance_sheet
from projections.statements.cash_flows import cash_flows
from projections.statements.forms import figure
from projections.statements.ratios import RatioBasis, Thresholds, ratios


def _day_before(day: date) -> date:
    return day - timedelta(days=1)


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


class StatementQueries(BooksQueries):
    def first_year(self) -> int | None:
        """The fund's first year: the year it was established (its first month to December)."""
        rows = self.books_view.query(
            "SELECT MIN(effective_on) AS day FROM {t}fl_event_log WHERE event_type = %s",
            ["Fund.Established"],
        )
        day = iso_day(rows[0]["day"]) if rows and rows[0]["day"] else None
        return int(str(day)[:4]) if day else None

    def closed_years(self) -> list[int]:
        """The years closed, in order (years close one after another from the first)."""
        rows = self.books_view.query(
            "SELECT COUNT(*) AS closed FROM {t}fl_event_log WHERE event_type = %s",
            ["Fund.YearClosed"],
        )
        first = self.first_year()
        count = int(rows[0]["closed"] or 0) if rows else 0
        return [first + n for n in range(count)] if first is not None else []

    def _fund_name(self) -> str:
        rows = self.views.view("registers").query("SELECT name FROM {t}fl_fund")
        return str(rows[0]["name"]) if rows else ""

    def statements(
        self, year: int, month: int | None = None, thresholds: Thresholds | None = None
    ) -> dict[str, Any]:
        """The three statements, the notes and the ratios of a year, or of a year to the end
        of one of its months; each with its comparative column."""
        since = date(year, 1, 1)
        until = month_end(year, month) if month else year_end(year)
        if month:
            first = date(year, month, 1)
            periods = {
                "month": ("本月数", "This month", first, until),
                "year": ("本年累计数", "Year to date", since, until),
            }
        else:
            periods = {
                "previous": ("上年数", "Previous year", date(year - 1, 1, 1), year_end(year - 1)),
                "current": ("本年数", "This year", since, until),
            }
        opening_on = _day_before(since)
        result = {
            "fund": self._fund_name(),
            "year": year,
            "month": f"{year:04d}-{month:02d}" if month else None,
            "closed": year in self.closed_years(),
            "balance_sheet": balance_sheet(
                self.balances_closed(opening_on), self.balances_closed(until), opening_on, until
            ),
            "activities": activities(
                {k: (z, e, self.movements(a, b)) for k, (z, e, a, b) in periods.items()}
            ),
            "cash_flows": cash_flows(
                {k: (z, e, self.cash_flows(a, b)) for k, (z, e, a, b) in periods.items()}
            ),
            "notes": self.notes(since, until),
            "ratios": self.ratios_of(year, thresholds or Thresholds()),
        }
        result["checks"] = checks(result, self.balances_closed(opening_on), until)
        return result

    def notes(self, since: date, until: date) -> dict[str, Any]:
        view = self.books_view
        opening = self.balances(_day_before(since))
        return {
            "basis": notes.basis(self._fund_name(), self.first_year(), since, until),
            "restricted_by_project": notes.restricted_by_project(opening, self.balances(until)),
            "money_by_account": notes.money_by_account(opening, self.balances(until)),
            "in_kind": notes.in_kind_gifts(
                view.query(
                    "SELECT * FROM {t}fl_in_kind WHERE received_on <= %s ORDER BY received_on,"
                    " receipt_no",
                    [until.isoformat()],
                )
            ),
            "services": notes.services(
                view.query(
                    "SELECT project_code, provider, SUM(hours) AS hours, SUM(people) AS people,"
                    " COUNT(*) AS occasions FROM {t}fl_service_hours"
                    " WHERE served_on >= %s AND served_on <= %s"
                    " GROUP BY project_code, provider ORDER BY project_code, provider",
                    [since.isoformat(), until.isoformat()],
                )
            ),
            "corrections_after_period": self.corrections_after(since, until),
        }

    def corrections_after(self, since: date, until: date) -> list[dict[str, Any]]:
        """Reversals dated after the period of entries dated in it (期后更正)."""
        rows = self.books_view.query(
            "SELECT r.event_type, r.effective_on, r.narration, o.effective_on AS original_on"
            " FROM {t}fl_entries r JOIN {t}fl_entries o"
            " ON o.event_id = r.event_id AND o.position < r.position"
            " WHERE r.event_type IN (%s, %s) AND r.effective_on > %s"
            " AND o.effective_on >= %s AND o.effective_on <= %s ORDER BY r.position",
            [
                "Donation.Reversed",
                "Expense.Reversed",
                until.isoformat(),
                since.isoformat(),
                until.isoformat(),
            ],
        )
        return [
            {
                "type": str(row["event_type"]),
                "original_on": iso_day(row["original_on"]),
                "corrected_on": iso_day(row["effective_on"]),
                "narration": str(row["narration"]),
            }
            for row in rows
        ]

    def ratios_of(self, year: int, thresholds: Thresholds) -> dict[str, Any]:
        moves = self.movements(date(year, 1, 1), year_end(year))
        first = self.first_year()
        basis_fen: int | None = None
        if first is not None and year - 1 >= first:
            previous_end = year_end(year - 1)
            if thresholds.basis == RatioBasis.PREVIOUS_YEAR_INCOME:
                previous = self.movements(date(year - 1, 1, 1), previous_end)
                basis_fen = -(
                    total_fen(previous, "Income")
                    - total_fen(previous, "Income:Restricted:ReleasedFromRestriction")
                    - total_fen(previous, "Income:Unrestricted:ReleasedFromRestriction")
                )
            else:
                basis_fen = amounts_by_line(self.balances_closed(previous_end))[110]
        return ratios(
            year,
            total_fen(moves, "Expenses:Programme"),
            total_fen(moves, "Expenses"),
            total_fen(moves, "Expenses:Management"),
            basis_fen,
            thresholds,
        )


def checks(result: dict[str, Any], opening: dict[str, int], until: date) -> dict[str, bool]:
    """The identities an auditor checks first, worked out from the statements' own figures."""
    sheet, acts, flows = result["balance_sheet"], result["activities"], result["cash_flows"]
    current = "year" if result["month"] else "current"
    net_change = _fen(figure(sheet, 110, "closing")) - _fen(figure(sheet, 110, "opening"))
    cash_change = _fen(figure(sheet, 1, "closing")) - _fen(figure(sheet, 1, "opening"))
    found = {
        "balance_sheet_balances": figure(sheet, 60, "closing") == figure(sheet, 120, "closing"),
        "activities_match_net_assets": _fen(figure(acts, 45, f"{current}_total")) == net_change,
        "cash_flows_match_cash": _fen(figure(flows, 61, current)) == cash_change,
    }
    assert all(found.values()), f"the statements disagree as of {until}: {found}"
    return found


def _fen(yuan: str) -> int:
    if yuan.startswith("-"):
        return -parse_yuan(yuan[1:], allow_zero=True)
    return parse_yuan(yuan, allow_zero=True)
