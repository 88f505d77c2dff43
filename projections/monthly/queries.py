"""What is read from the monthly view: a month's report, and which months are frozen."""

from __future__ import annotations

import json
from typing import Any

from projections.monthly.reports import monthly_report
from projections.sqlview.reading import Queries, ViewSet


class MonthlyQueries(Queries):
    def __init__(self, views: ViewSet) -> None:
        super().__init__(views)
        self.monthly_view = views.view("monthly")

    def monthly(self, month: str) -> dict[str, Any]:
        """A month's report: the frozen copy once the month is closed, live before."""
        rows = self.monthly_view.query(
            "SELECT report_json FROM {t}fl_month_reports WHERE month = %s", [month]
        )
        if rows:
            report: dict[str, Any] = json.loads(rows[0]["report_json"])
            return report
        with self.monthly_view.cursor(commit=False) as c:
            return monthly_report(c, month)

    def months(self) -> list[dict[str, Any]]:
        """Every month with events, and whether its report is frozen."""
        frozen = {
            row["month"] for row in self.monthly_view.query("SELECT month FROM {t}fl_month_reports")
        }
        rows = self.monthly_view.query("SELECT month FROM {t}fl_month_events ORDER BY month")
        return [{"month": r["month"], "frozen": r["month"] in frozen} for r in rows]
