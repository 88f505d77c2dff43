"""Projects as the public pages show them: grants, commitments, spending and money received.

A project's page reads the registers and, for its spending by month, the books view.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.domain.yuan import format_yuan
from projections.books.queries import BooksQueries
from projections.registers.listings import Listings
from projections.sqlview.reading import PAGE_SIZE_MAX


class ProjectQueries(Listings, BooksQueries):
    def projects(self) -> list[dict[str, Any]]:
        return [
            self._project_row(row)
            for row in self.registers_view.query("SELECT * FROM {t}fl_projects ORDER BY position")
        ]

    def projects_by_code(self) -> dict[str, dict[str, Any]]:
        """Each project's names and description by code, without the totals of ``projects``."""
        rows = self.registers_view.query(
            "SELECT code, project_id, name, name_en, description, organisation"
            " FROM {t}fl_projects ORDER BY position"
        )
        return {row["code"]: row for row in rows}

    def project_code(self, project_id: str) -> str | None:
        """The code of the project with this id."""
        rows = self.registers_view.query(
            "SELECT code FROM {t}fl_projects WHERE project_id = %s", [project_id]
        )
        return str(rows[0]["code"]) if rows else None

    def projects_opened(self) -> list[tuple[str, date]]:
        """Each project's code and the day it opened, for the disclosure calendar."""
        return [
            (p["code"], date.fromisoformat(str(p["opened_on"])[:10]))
            for p in self.registers_view.query("SELECT code, opened_on FROM {t}fl_projects")
        ]

    def _project_row(self, row: dict[str, Any]) -> dict[str, Any]:
        totals = self.registers_view.query(
            "SELECT"
            " SUM(CASE WHEN status IN ('approved', 'closed')"
            "     THEN amount_fen ELSE 0 END) AS granted,"
            " SUM(CASE WHEN status = 'approved'"
            "     THEN amount_fen - spent_fen ELSE 0 END) AS committed,"
            " SUM(spent_fen) AS spent"
            " FROM {t}fl_grants WHERE project_code = %s",
            [row["code"]],
        )[0]
        restricted = self.registers_view.query(
            "SELECT SUM(amount_fen) AS received FROM {t}fl_donation_days"
            " WHERE project_code = %s AND in_kind = %s",
            [row["code"], False],
        )[0]
        return {
            "id": row["project_id"],
            "code": row["code"],
            "name": row["name"],
            "name_en": row["name_en"],
            "description": row["description"],
            "organisation": row["organisation"],
            "is_open": bool(row["is_open"]),
            "granted": format_yuan(int(totals["granted"] or 0)),
            "committed_unspent": format_yuan(int(totals["committed"] or 0)),
            "spent": format_yuan(int(totals["spent"] or 0)),
            "restricted_received": format_yuan(int(restricted["received"] or 0)),
        }

    def project(self, code: str) -> dict[str, Any] | None:
        rows = self.registers_view.query("SELECT * FROM {t}fl_projects WHERE code = %s", [code])
        if not rows:
            return None
        project = self._project_row(rows[0])
        project["spending_by_month"] = self.project_spending_by_month(code)
        project["grants"] = self.grants(project=code, limit=PAGE_SIZE_MAX).items
        return project
