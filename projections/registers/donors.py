"""A donor's statement, and donors' contact details (read only for the full exports)."""

from __future__ import annotations

import json
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

    def donor_contacts(self, donor_ids: set[str]) -> dict[str, str]:
        """These donors' contact details as JSON, opened: personal data, for the full exports."""
        if not donor_ids:
            return {}
        marks = ", ".join(["%s"] * len(donor_ids))
        rows = self.registers_view.query(
            "SELECT donor_id, contact_json FROM {t}fl_donor_contacts"
            f" WHERE donor_id IN ({marks})",
            sorted(donor_ids),
        )
        for row in rows:
            row["contact"] = json.loads(row["contact_json"])
        # Sealed contact details are opened here; the forgotten's read as erased.
        self.open_sealed(rows, ("contact",))
        return {row["donor_id"]: json.dumps(row["contact"], ensure_ascii=False) for row in rows}
