"""Sums of donations or expenses grouped the panel's way, from the registers' day sums."""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.domain.errors import InvalidInput
from ledger.domain.yuan import format_yuan
from projections.registers.listings import Listings


class GroupedQueries(Listings):
    def grouped(
        self,
        keys: list[str],
        since: date | None = None,
        until: date | None = None,
        measure: str | None = None,
    ) -> dict[str, Any]:
        """Sums grouped the panel's way: donations (money in) or expenses (money out).

        ``donor_kind`` belongs to donations and ``category`` to expenses; ``project`` and
        ``month`` go with either. The measure defaults to donations when grouping by donor
        kind, else expenses. Reversed entries and gifts in kind are left out: cash that moved.
        """
        donations = _sums_donations(keys, measure)
        # The day tables hold sums net of reversals: a row per day and kind, not per gift.
        table, day = (
            ("fl_donation_days", "received_on") if donations else ("fl_expense_days", "paid_on")
        )
        month = f"SUBSTR(CAST({day} AS TEXT), 1, 7)"
        columns = {
            "project": "CASE WHEN project_code = '' THEN '(unrestricted)' ELSE project_code END"
            if donations
            else "project_code",
            "donor_kind": "donor_kind",
            "category": "category",
            "month": month,
        }
        selected = ", ".join(f"{columns[k]} AS {k}" for k in keys)
        sql = f"SELECT {selected}, SUM(amount_fen) AS amount_fen FROM {{t}}{table} WHERE 1=1"
        params: list[Any] = []
        if donations:
            sql += " AND in_kind = %s"
            params.append(False)
        if since is not None:
            sql += f" AND {day} >= %s"
            params.append(since.isoformat())
        if until is not None:
            sql += f" AND {day} <= %s"
            params.append(until.isoformat())
        group = ", ".join(columns[k] for k in keys)
        counted = "donations" if donations else "expenses"
        rows = self.registers_view.query(
            f"{sql} GROUP BY {group} HAVING SUM({counted}) > 0 ORDER BY {group}", params
        )
        return {
            "measure": "donations" if donations else "expenses",
            "group_by": keys,
            "rows": [
                {**{k: row[k] for k in keys}, "amount": format_yuan(int(row["amount_fen"]))}
                for row in rows
            ],
            "total": format_yuan(sum(int(row["amount_fen"]) for row in rows)),
        }


def _sums_donations(keys: list[str], measure: str | None) -> bool:
    """Whether a grouping sums donations (else expenses); InvalidInput when the keys do not
    fit each other or the measure."""
    allowed = {"project", "donor_kind", "month", "category"}
    unknown = [k for k in keys if k not in allowed]
    if not keys or unknown or len(set(keys)) != len(keys):
        msg = f"group_by takes distinct names from {', '.join(sorted(allowed))}"
        raise InvalidInput("group_by", ",".join(keys), msg.removeprefix("group_by "))
    if "donor_kind" in keys and "category" in keys:
        raise InvalidInput(
            "group_by", ",".join(keys), "cannot mix donor_kind (money in) and category (out)"
        )
    if measure is None:
        measure = "donations" if "donor_kind" in keys else "expenses"
    if measure not in {"donations", "expenses"}:
        raise InvalidInput("measure", measure, "must be donations or expenses")
    donations = measure == "donations"
    if ("donor_kind" in keys and not donations) or ("category" in keys and donations):
        raise InvalidInput("group_by", ",".join(keys), f"does not fit the measure {measure}")
    return donations
