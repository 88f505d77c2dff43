"""What is read from the canteen view: each month's meals, people and subsidy by age band (for
the panel exact, for the public with counts under 5 suppressed), attendance counts, and the
panel's groupings with the cost per meal and per visit."""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.domain.errors import InvalidInput
from ledger.domain.yuan import format_yuan
from projections.sqlview.reading import Queries, ViewSet

# Counts under this are shown as "<5" to the public: a handful of elders is identifiable.
SUPPRESS_BELOW = 5
SUPPRESSED = "<5"
MEAL_GROUPS = ("project", "month", "age_band")


def shown(count: int) -> int | str:
    """A count as the public sees it."""
    return SUPPRESSED if 0 < count < SUPPRESS_BELOW else count


def _per(amount_fen: int, count: int) -> str | None:
    return format_yuan(round(amount_fen / count)) if count else None


class CanteenQueries(Queries):
    def __init__(self, views: ViewSet) -> None:
        super().__init__(views)
        self.canteen_view = views.view("canteen")

    def canteen_months(self, project_code: str) -> list[dict[str, Any]]:
        """Each settled month, exact, with its bands: for the committee, panel and auditors."""
        months = self.canteen_view.query(
            "SELECT month, meals, people, subsidy_fen, meals_price_fen FROM {t}fl_canteen_months"
            " WHERE project_code = %s ORDER BY month",
            [project_code],
        )
        bands = self.canteen_view.query(
            "SELECT month, band, meals, people, subsidy_fen FROM {t}fl_canteen_bands"
            " WHERE project_code = %s ORDER BY month, band",
            [project_code],
        )
        by_month: dict[str, list[dict[str, Any]]] = {}
        for band in bands:
            by_month.setdefault(band["month"], []).append(
                {k: band[k] for k in ("band", "meals", "people", "subsidy_fen")}
            )
        return [
            {
                **{k: int(m[k]) if k != "month" else m[k] for k in m},
                "bands": by_month.get(m["month"], []),
            }
            for m in months
        ]

    def canteen_public(self, project_code: str) -> list[dict[str, Any]]:
        """The public's months: meals, people and subsidy, by band with counts under 5 shown
        as "<5" and a small band's subsidy left out (it would give its meals away)."""
        public = []
        for month in self.canteen_months(project_code):
            bands = [
                {
                    "band": b["band"],
                    "meals": shown(int(b["meals"])),
                    "people": shown(int(b["people"])),
                    "subsidy": format_yuan(int(b["subsidy_fen"]))
                    if int(b["people"]) >= SUPPRESS_BELOW
                    else None,
                }
                for b in month["bands"]
            ]
            public.append(
                {
                    "month": month["month"],
                    "meals": shown(month["meals"]),
                    "people": shown(month["people"]),
                    "subsidy": format_yuan(month["subsidy_fen"]),
                    "subsidy_fen": month["subsidy_fen"],
                    "subsidy_per_meal": _per(month["subsidy_fen"], month["meals"]),
                    "bands": bands,
                }
            )
        return public

    def attendance_public(self, project_code: str) -> list[dict[str, Any]]:
        """Per month and occasion: days held, people and visits counted (under 5: "<5")."""
        rows = self.canteen_view.query(
            "SELECT month, occasion, COUNT(*) AS days, SUM(people) AS people,"
            " SUM(visits) AS visits FROM {t}fl_attendance WHERE project_code = %s"
            " GROUP BY month, occasion ORDER BY month, occasion",
            [project_code],
        )
        return [
            {
                "month": r["month"],
                "occasion": r["occasion"],
                "days": int(r["days"]),
                "people": shown(int(r["people"])),
                "visits": shown(int(r["visits"])),
            }
            for r in rows
        ]

    def served_grouped(
        self,
        keys: list[str],
        since: date | None = None,
        until: date | None = None,
    ) -> dict[str, Any]:
        """The panel's meals, people served, subsidy and cost per meal, grouped by project,
        month and age band, for the months settled within ``since`` and ``until``. People are
        counted per month and band as settled: a person in two months counts in each. For the
        public, counts under 5 read "<5" (the route is public)."""
        unknown = [k for k in keys if k not in MEAL_GROUPS]
        if not keys or unknown or len(set(keys)) != len(keys):
            msg = f"takes distinct names from {', '.join(MEAL_GROUPS)} for meals"
            raise InvalidInput("group_by", ",".join(keys), msg)
        columns = {"project": "project_code", "month": "month", "age_band": "band"}
        selected = ", ".join(f"{columns[k]} AS {k}" for k in keys)
        group = ", ".join(columns[k] for k in keys)
        months = [
            since.isoformat()[:7] if since else "0000-00",
            until.isoformat()[:7] if until else "9999-99",
        ]
        rows = self.canteen_view.query(
            f"SELECT {selected}, SUM(meals) AS meals, SUM(people) AS people,"
            f" SUM(subsidy_fen) AS subsidy_fen FROM {{t}}fl_canteen_bands"
            f" WHERE month >= %s AND month <= %s GROUP BY {group} ORDER BY {group}",
            months,
        )
        out = [
            {
                **{k: row[k] for k in keys},
                "meals": shown(int(row["meals"])),
                "people_served": shown(int(row["people"])),
                "subsidy": format_yuan(int(row["subsidy_fen"])),
                "cost_per_meal": _per(int(row["subsidy_fen"]), int(row["meals"])),
            }
            for row in rows
        ]
        meals = sum(int(row["meals"]) for row in rows)
        subsidy_fen = sum(int(row["subsidy_fen"]) for row in rows)
        return {
            "measure": "meals",
            "group_by": keys,
            "rows": out,
            "total": format_yuan(subsidy_fen),
            "meals": meals,
            "cost_per_meal": _per(subsidy_fen, meals),
        }

    def attendance_costs(self, spent_fen_by_project: dict[str, int]) -> list[dict[str, Any]]:
        """Per project: people served and visits recorded, and the spending per each."""
        rows = self.canteen_view.query(
            "SELECT project_code, SUM(people) AS people, SUM(visits) AS visits"
            " FROM {t}fl_attendance GROUP BY project_code ORDER BY project_code"
        )
        return [
            {
                "project": r["project_code"],
                "people_served": int(r["people"]),
                "visits": int(r["visits"]),
                "cost_per_person": _per(
                    spent_fen_by_project.get(r["project_code"], 0), int(r["people"])
                ),
                "cost_per_visit": _per(
                    spent_fen_by_project.get(r["project_code"], 0), int(r["visits"])
                ),
            }
            for r in rows
        ]
