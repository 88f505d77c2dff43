"""The facts the panel's queries add up, one per gift, payment, grant or activity, read from
the registers with each dimension's code and its label, as the caller may see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.domain.disclosure import DONOR_NAME, PAYEE_NAME, public_donor_id
from projections.panel.labels import (
    POOLED,
    POOLED_LABEL,
    UNRESTRICTED,
    UNRESTRICTED_LABEL,
    WEEKDAYS,
    label,
    month_label,
    quarter_label,
)
from projections.registers.listings import Listings
from projections.sqlview.reading import as_date

# The most facts one query adds up: the demo year holds a few hundred; a fund of this size
# a few thousand a year.
FACTS_MAX = 200_000

Fact = dict[str, Any]


@dataclass(frozen=True)
class Audience:
    """Who asks: the public, or a token holder who may see these personal fields."""

    public: bool
    sight: frozenset[str]


@dataclass(frozen=True)
class Window:
    since: date | None = None
    until: date | None = None
    project: str | None = None


def _dated(fact: Fact, day: object) -> Fact:
    on = as_date(day)
    month = on.strftime("%Y-%m")
    quarter = f"{on.year}-Q{(on.month - 1) // 3 + 1}"
    fact.update(
        day=on.isoformat(),
        month=(month, month_label(month)),
        quarter=(quarter, quarter_label(quarter)),
        year=(str(on.year), f"{on.year}年"),
        weekday=(str(on.isoweekday()), WEEKDAYS[on.weekday()]),
    )
    return fact


def _where(window: Window, day: str, project: str = "project_code") -> tuple[str, list[Any]]:
    sql, params = "", []
    if window.since is not None:
        sql += f" AND {day} >= %s"
        params.append(window.since.isoformat())
    if window.until is not None:
        sql += f" AND {day} <= %s"
        params.append(window.until.isoformat())
    if window.project is not None:
        sql += f" AND {project} = %s"
        params.append(window.project)
    return sql, params


class PanelFacts(Listings):
    """The facts of each family, from the registers' listings' tables."""

    def _project_names(self) -> dict[str, str]:
        rows = self.registers_view.query("SELECT code, name FROM {t}fl_projects")
        return {row["code"]: row["name"] for row in rows}

    def _rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.registers_view.query(
            f"{sql} LIMIT {FACTS_MAX + 1}", params
        )
        if len(rows) > FACTS_MAX:
            raise ValueError(f"more than {FACTS_MAX} records: narrow the dates")
        return rows

    def donation_facts(self, window: Window, audience: Audience) -> list[Fact]:
        """Cash gifts that stood (reversals and gifts in kind left out), by donor."""
        where, params = _where(window, "received_on")
        rows = self._rows(
            "SELECT donor_id, donor_kind, amount_fen, received_on, channel, project_code"
            " FROM {t}fl_donations WHERE reversed_position IS NULL AND in_kind = %s" + where,
            [False, *params],
        )
        names = self._project_names()
        # Names opened and masked as the listings show them (the forgotten stay erased).
        donors = self._donors({row["donor_id"] for row in rows})
        facts = []
        for row in rows:
            code = row["project_code"] or UNRESTRICTED
            donor = donors[row["donor_id"]]
            if audience.public and not public_donor_id(donor["kind"], donor["disclosure"]):
                shown = (POOLED, POOLED_LABEL)
            elif DONOR_NAME in audience.sight or donor["disclosure"] == "named":
                shown = (row["donor_id"], str(donor["name"]))
            else:
                shown = (row["donor_id"], str(donor["public_name"]))
            fact = {
                "project": (code, names.get(code, UNRESTRICTED_LABEL)),
                "donor": shown,
                "donor_kind": (row["donor_kind"], label(row["donor_kind"])),
                "channel": (row["channel"], label(row["channel"])),
                "donations": int(row["amount_fen"]),
                "donation_count": 1,
            }
            facts.append(_dated(fact, row["received_on"]))
        return facts

    def expense_facts(self, window: Window, audience: Audience) -> list[Fact]:
        """Payments that stayed, with their restricted and unrestricted parts."""
        where, params = _where(window, "x.paid_on", "x.project_code")
        rows = self._rows(
            "SELECT x.expense_id, x.grant_id, x.project_code, x.amount_fen, x.restricted_fen,"
            " x.unrestricted_fen, x.paid_on, x.payee, x.payee_kind, x.category, g.purpose"
            " FROM {t}fl_expenses x JOIN {t}fl_grants g ON g.grant_id = x.grant_id"
            " WHERE x.reversed_position IS NULL" + where + " ORDER BY x.position",
            params,
        )
        names = self._project_names()
        payees = self._payees(rows, audience)
        facts = []
        for row, payee in zip(rows, payees, strict=True):
            amount_fen = int(row["amount_fen"])
            overhead = row["category"] in {"management", "fundraising"}
            project = names.get(row["project_code"], row["project_code"])
            fact = {
                "id": row["expense_id"],
                "project": (row["project_code"], project),
                "category": (row["category"], label(row["category"])),
                "payee": payee,
                "grant": (row["grant_id"], f"{project} · {row['purpose']}"),
                "expenses": amount_fen,
                "restricted_expenses": int(row["restricted_fen"]),
                "unrestricted_expenses": int(row["unrestricted_fen"]),
                "overhead": amount_fen if overhead else 0,
                "expense_count": 1,
            }
            facts.append(_dated(fact, row["paid_on"]))
        return facts

    def _payees(self, rows: list[dict[str, Any]], audience: Audience) -> list[tuple[str, str]]:
        """Each payment's payee as (key, label): one person is one row. Their sealed names are
        opened to tell people apart; a caller who may not see them sees 个人 1, 个人 2 ... in
        the order they were first paid, and the public one row for every individual."""
        people = [dict(r) for r in rows if r["payee_kind"] != "organisation"]
        if not audience.public and people:
            self.open_sealed(people, ("payee",))
        numbers: dict[str, int] = {}
        shown = iter(people)
        out = []
        for row in rows:
            if row["payee_kind"] == "organisation":
                out.append((str(row["payee"]), str(row["payee"])))
                continue
            name = str(next(shown)["payee"])
            if audience.public:
                out.append((POOLED, POOLED_LABEL))
            elif PAYEE_NAME in audience.sight:
                out.append((f"individual:{name}", name))
            else:
                number = numbers.setdefault(name, len(numbers) + 1)
                out.append((f"individual:{number}", f"个人 {number} / individual {number}"))
        return out

    def grant_facts(self, window: Window, _audience: Audience) -> list[Fact]:
        """Grants approved (closed ones too), dated by their approval; commitments are what is
        approved and not yet spent, nothing once a grant is closed. Proposed and rejected
        grants commit nothing."""
        where, params = _where(window, "decided_on")
        rows = self._rows(
            "SELECT grant_id, project_code, amount_fen, spent_fen, status, decided_on, purpose"
            " FROM {t}fl_grants WHERE status IN ('approved', 'closed')" + where,
            params,
        )
        names = self._project_names()
        facts = []
        for row in rows:
            amount_fen = int(row["amount_fen"])
            open_fen = amount_fen - int(row["spent_fen"]) if row["status"] == "approved" else 0
            project = names.get(row["project_code"], row["project_code"])
            fact = {
                "project": (row["project_code"], project),
                "grant": (row["grant_id"], f"{project} · {row['purpose']}"),
                "grants": amount_fen,
                "commitments": open_fen,
                "grant_count": 1,
            }
            facts.append(_dated(fact, row["decided_on"]))
        return facts

    def served_facts(self, window: Window, _audience: Audience) -> list[Fact]:
        """People served by an activity, from ``fl_people_served`` (filled by the records of
        attendance: the canteen's meals, a clinic's patients)."""
        where, params = _where(window, "served_on")
        rows = self._rows(
            "SELECT project_code, served_on, people FROM {t}fl_people_served WHERE 1 = 1" + where,
            params,
        )
        names = self._project_names()
        return [
            _dated(
                {
                    "project": (r["project_code"], names.get(r["project_code"], r["project_code"])),
                    "people_served": int(r["people"]),
                },
                r["served_on"],
            )
            for r in rows
        ]
