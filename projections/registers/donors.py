"""A donor's statement: gifts, reversals, and where the restricted gifts went."""

from __future__ import annotations

from typing import Any

from ledger.domain.yuan import format_yuan
from projections.registers.listings import Listings
from projections.sqlview.reading import PAGE_SIZE_MAX, clean


class DonorQueries(Listings):
    def donor_statement(self, donor_id: str) -> dict[str, Any] | None:
        """A donor's gifts and reversals, and where their restricted gifts went."""
        donors = self._donors({donor_id})
        if donor_id not in donors:
            return None
        gifts = self.donations(donor_id=donor_id, limit=PAGE_SIZE_MAX).items
        projects = sorted({g["project_code"] for g in gifts if g["project_code"]})
        uses = {code: self.expenses(project=code, limit=PAGE_SIZE_MAX).items for code in projects}
        given_fen = sum(g["amount_fen"] for g in gifts if g["reversed_position"] is None)
        return {
            "donor": clean(donors[donor_id]),
            "gifts": gifts,
            "given_total": format_yuan(given_fen),
            "restricted_projects": [
                {
                    "project": code,
                    "spent": format_yuan(
                        sum(x["amount_fen"] for x in uses[code] if x["reversed_position"] is None)
                    ),
                    "expenses": uses[code],
                }
                for code in projects
            ],
        }
