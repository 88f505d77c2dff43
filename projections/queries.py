"""Questions answered from the views: positions, statements, listings, project and donor pages.

Every figure comes from indexed queries over the views, never from a replay of the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledger.domain.accounts import project_component
from ledger.domain.books import Position, position_from, total_fen
from ledger.domain.disclosure import public_name
from ledger.domain.errors import InvalidInput
from ledger.domain.sealing import ERASED, is_sealed
from ledger.domain.yuan import format_yuan
from projections.monthly.reports import monthly_report
from projections.runner import Views

PAGE_SIZE_MAX = 500


def _day(value: object) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


@dataclass(frozen=True)
class Thresholds:
    """Spending-ratio limits, from configuration (the law's figures are the defaults)."""

    management_share_max: Decimal = Decimal("0.10")
    charitable_spending_min: Decimal = Decimal("0.70")


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_after: int | None


class Reader:
    """Read-only queries over the views of one store."""

    def __init__(self, views: Views) -> None:
        self.views = views
        self.books_view = views.view("books")
        self.registers_view = views.view("registers")
        self.monthly_view = views.view("monthly")

    # -- positions and statements -----------------------------------------------------------

    def balances(self, as_of: date | None = None, since: date | None = None) -> dict[str, int]:
        """Account balances from fl_account_days, optionally only movements since a date."""
        sql = "SELECT account, SUM(amount_fen) AS amount_fen FROM {t}fl_account_days WHERE 1=1"
        params: list[Any] = []
        if as_of is not None:
            sql += " AND effective_on <= %s"
            params.append(as_of.isoformat())
        if since is not None:
            sql += " AND effective_on >= %s"
            params.append(since.isoformat())
        rows = self.books_view.query(sql + " GROUP BY account ORDER BY account", params)
        return {row["account"]: int(row["amount_fen"]) for row in rows if row["amount_fen"]}

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

    def _opening(self, since: date) -> dict[str, int]:
        """Balances at the end of the day before ``since``; none before the first day."""
        if since == date.min:
            return {}
        return self.balances(date.fromordinal(since.toordinal() - 1))

    def trial_balance(self, as_of: date | None = None) -> list[dict[str, str]]:
        balances = self.balances(as_of)
        rows = [
            {
                "account": account,
                "debit": format_yuan(amount) if amount > 0 else "0.00",
                "credit": format_yuan(-amount) if amount < 0 else "0.00",
            }
            for account, amount in sorted(balances.items())
        ]
        assert sum(balances.values()) == 0, "the trial balance does not balance"
        return rows

    def balance_sheet(self, as_of: date | None = None) -> dict[str, Any]:
        """资产负债表: assets against restricted and unrestricted net assets."""
        b = self.balances(as_of)
        restricted_fen = -total_fen(b, "Income:Restricted")
        unrestricted_fen = -total_fen(b, "Income:Unrestricted") - total_fen(b, "Expenses")
        assets = {
            "Assets:Bank": b.get("Assets:Bank", 0),
            "Assets:InKind": b.get("Assets:InKind", 0),
        }
        assert sum(assets.values()) == restricted_fen + unrestricted_fen
        return {
            "as_of": _day(as_of),
            "assets": {k: format_yuan(v) for k, v in assets.items()},
            "assets_total": format_yuan(sum(assets.values())),
            "liabilities_total": "0.00",
            "net_assets": {
                "restricted": format_yuan(restricted_fen),
                "unrestricted": format_yuan(unrestricted_fen),
                "designated_by_committee": format_yuan(
                    -(total_fen(b, "Equity:Designations") - b.get("Equity:Designations:Offset", 0))
                ),
            },
            "net_assets_total": format_yuan(restricted_fen + unrestricted_fen),
        }

    def activities(self, since: date, until: date) -> dict[str, Any]:
        """业务活动表: income and expenses for a period, restricted and unrestricted columns."""
        moves = self.balances(until, since)

        def column(prefix: str) -> dict[str, str]:
            lines: dict[str, int] = {}
            for account, amount in moves.items():
                if account.startswith(prefix):
                    line = account.split(":")[2]
                    lines[line] = lines.get(line, 0) - amount
            return {k: format_yuan(v) for k, v in sorted(lines.items())}

        expenses: dict[str, int] = {}
        for account, amount in moves.items():
            if account.startswith("Expenses:"):
                category = account.split(":")[1].lower()
                expenses[category] = expenses.get(category, 0) + amount
        restricted_change = -total_fen(moves, "Income:Restricted")
        unrestricted_change = -total_fen(moves, "Income:Unrestricted") - total_fen(
            moves, "Expenses"
        )
        return {
            "from": since.isoformat(),
            "to": until.isoformat(),
            "income": {
                "restricted": column("Income:Restricted:"),
                "unrestricted": column("Income:Unrestricted:"),
            },
            "expenses": {k: format_yuan(v) for k, v in sorted(expenses.items())},
            "change_in_net_assets": {
                "restricted": format_yuan(restricted_change),
                "unrestricted": format_yuan(unrestricted_change),
                "total": format_yuan(restricted_change + unrestricted_change),
            },
        }

    def restricted_rollforward(self, since: date, until: date) -> list[dict[str, str]]:
        """Per project: restricted money at the start, received, released, and at the end."""
        opening = self._opening(since)
        moves = self.balances(until, since)
        projects = sorted(
            {a.rsplit(":", 1)[1] for a in {*opening, *moves} if a.startswith("Income:Restricted:")}
        )
        rows = []
        for component in projects:

            def restricted(b: dict[str, int], kinds: tuple[str, ...], c: str = component) -> int:
                return -sum(b.get(f"Income:Restricted:{k}:{c}", 0) for k in kinds)

            received_kinds = ("Donations", "GovernmentGrants", "InKind")
            rows.append(
                {
                    "project": component.lower(),
                    "opening": format_yuan(
                        restricted(opening, (*received_kinds, "ReleasedFromRestriction"))
                    ),
                    "received": format_yuan(restricted(moves, received_kinds)),
                    "released": format_yuan(-restricted(moves, ("ReleasedFromRestriction",))),
                    "closing": format_yuan(
                        restricted(
                            self.balances(until), (*received_kinds, "ReleasedFromRestriction")
                        )
                    ),
                }
            )
        return rows

    def functional_expenses(self, since: date, until: date) -> dict[str, Any]:
        """Expenses by project (rows) and by function (programme, management, fundraising)."""
        moves = self.balances(until, since)
        table: dict[str, dict[str, int]] = {}
        for account, amount in moves.items():
            if account.startswith("Expenses:"):
                _, category, component = account.split(":")
                row = table.setdefault(component.lower(), {})
                row[category.lower()] = row.get(category.lower(), 0) + amount
        categories = ("programme", "management", "fundraising")
        return {
            "rows": [
                {
                    "project": p,
                    **{c: format_yuan(row.get(c, 0)) for c in categories},
                    "total": format_yuan(sum(row.values())),
                }
                for p, row in sorted(table.items())
            ],
            "totals": {
                c: format_yuan(sum(r.get(c, 0) for r in table.values())) for c in categories
            },
        }

    def ratios(self, since: date, until: date, thresholds: Thresholds) -> dict[str, Any]:
        """Management-cost share and charitable-spending ratio against configured limits.

        Charitable spending is compared with the net assets at the start of the period, as
        the charity rules do for the previous year-end.
        """
        moves = self.balances(until, since)
        spent_fen = total_fen(moves, "Expenses")
        management_fen = total_fen(moves, "Expenses:Management")
        charitable_fen = total_fen(moves, "Expenses:Programme")
        opening = self._opening(since)
        opening_net_fen = opening.get("Assets:Bank", 0) + opening.get("Assets:InKind", 0)
        management_share = Decimal(management_fen) / Decimal(spent_fen) if spent_fen else Decimal(0)
        charitable_ratio = (
            Decimal(charitable_fen) / Decimal(opening_net_fen) if opening_net_fen else None
        )
        return {
            "from": since.isoformat(),
            "to": until.isoformat(),
            "management_share": f"{management_share:.4f}",
            "management_share_max": str(thresholds.management_share_max),
            "management_share_ok": management_share <= thresholds.management_share_max,
            "charitable_spending_ratio": (
                f"{charitable_ratio:.4f}" if charitable_ratio is not None else None
            ),
            "charitable_spending_min": str(thresholds.charitable_spending_min),
            "charitable_spending_ok": (
                charitable_ratio is None or charitable_ratio >= thresholds.charitable_spending_min
            ),
        }

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

    # -- registers ----------------------------------------------------------------------------

    def fund(self) -> dict[str, Any] | None:
        rows = self.registers_view.query("SELECT * FROM {t}fl_fund")
        return rows[0] if rows else None

    def projects(self) -> list[dict[str, Any]]:
        return [
            self._project_row(row)
            for row in self.registers_view.query("SELECT * FROM {t}fl_projects ORDER BY position")
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
        component = project_component(code)
        spending = self.books_view.query(
            "SELECT account, effective_on, amount_fen FROM {t}fl_account_days"
            " WHERE account LIKE %s ORDER BY effective_on",
            [f"Expenses:%:{component}"],
        )
        by_month: dict[str, dict[str, int]] = {}
        for row in spending:
            month = str(_day(row["effective_on"]))[:7]
            category = row["account"].split(":")[1].lower()
            cell = by_month.setdefault(month, {})
            cell[category] = cell.get(category, 0) + int(row["amount_fen"])
        project["spending_by_month"] = [
            {"month": m, **{c: format_yuan(v) for c, v in sorted(cells.items())}}
            for m, cells in sorted(by_month.items())
        ]
        project["grants"] = self.grants(project=code, limit=PAGE_SIZE_MAX).items
        return project

    def _listing(
        self,
        table: str,
        date_column: str,
        filters: dict[str, Any],
        after: int,
        limit: int,
    ) -> Page:
        """Keyset paging by log position: stable while new rows are added."""
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        sql = f"SELECT * FROM {{t}}{table} WHERE position > %s"
        params: list[Any] = [after]
        for key, value in filters.items():
            if value is None:
                continue
            if key == "since":
                sql += f" AND {date_column} >= %s"
                params.append(value.isoformat())
            elif key == "until":
                sql += f" AND {date_column} <= %s"
                params.append(value.isoformat())
            elif key == "min_fen":
                sql += " AND amount_fen >= %s"
                params.append(value)
            elif key == "max_fen":
                sql += " AND amount_fen <= %s"
                params.append(value)
            else:
                sql += f" AND {key} = %s"
                params.append(value)
        rows = self.registers_view.query(sql + " ORDER BY position LIMIT %s", [*params, limit + 1])
        next_after = rows[limit - 1]["position"] if len(rows) > limit else None
        return Page([_clean(r) for r in rows[:limit]], next_after)

    def donations(
        self,
        *,
        since: date | None = None,
        until: date | None = None,
        project: str | None = None,
        donor_kind: str | None = None,
        donor_id: str | None = None,
        receipt_no: str | None = None,
        min_fen: int | None = None,
        max_fen: int | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> Page:
        filters = {
            "since": since,
            "until": until,
            "project_code": project,
            "donor_kind": donor_kind,
            "donor_id": donor_id,
            "receipt_no": receipt_no,
            "min_fen": min_fen,
            "max_fen": max_fen,
        }
        page = self._listing("fl_donations", "received_on", filters, after, limit)
        self._with_donors(page.items)
        return page

    def _with_donors(self, items: list[dict[str, Any]]) -> None:
        """Add each donation's donor: the real name and the name that may be published."""
        donors = self._donors({item["donor_id"] for item in items})
        self.open_sealed(items, ("note",))
        for item in items:
            donor = donors.get(item["donor_id"], {})
            item["donor_name"] = donor.get("name")
            item["donor_public_name"] = donor.get("public_name")
            item["donor_public_name_en"] = donor.get("public_name_en")
            item["disclosure"] = donor.get("disclosure")

    def _donors(self, donor_ids: set[str]) -> dict[str, dict[str, Any]]:
        if not donor_ids:
            return {}
        marks = ", ".join(["%s"] * len(donor_ids))
        rows = self.registers_view.query(
            f"SELECT * FROM {{t}}fl_donors WHERE donor_id IN ({marks})", sorted(donor_ids)
        )
        self.open_sealed(rows, ("name",))
        for row in rows:
            for column, lang in (("public_name", "zh"), ("public_name_en", "en")):
                if is_sealed(row[column]):
                    # Masked (or shown whole) from the opened name; the forgotten stay erased.
                    erased = row["name"] == ERASED
                    shown = public_name(row["name"], row["kind"], row["disclosure"], lang=lang)
                    row[column] = ERASED if erased else shown
        return {row["donor_id"]: row for row in rows}

    def open_sealed(self, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
        """Open the sealed personal data in these columns, in place; ERASED for the forgotten."""
        cells = [(row, column) for row in rows for column in columns if is_sealed(row.get(column))]
        if not cells:
            return
        opened = self.views.ledger.keyring.reveal([row[column] for row, column in cells])
        for (row, column), value in zip(cells, opened, strict=True):
            row[column] = value

    def grants(
        self,
        *,
        project: str | None = None,
        status: str | None = None,
        since: date | None = None,
        until: date | None = None,
        min_fen: int | None = None,
        max_fen: int | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> Page:
        filters = {
            "project_code": project,
            "status": status,
            "since": since,
            "until": until,
            "min_fen": min_fen,
            "max_fen": max_fen,
        }
        page = self._listing("fl_grants", "proposed_on", filters, after, limit)
        approvals: dict[str, list[dict[str, Any]]] = {}
        if page.items:
            marks = ", ".join(["%s"] * len(page.items))
            for row in self.registers_view.query(
                "SELECT a.grant_id, a.member_id, a.approved_on, p.name"
                " FROM {t}fl_grant_approvals a LEFT JOIN {t}fl_people p ON p.user_id = a.member_id"
                f" WHERE a.grant_id IN ({marks}) ORDER BY a.position",
                [item["grant_id"] for item in page.items],
            ):
                approvals.setdefault(row.pop("grant_id"), []).append(_clean(row))
        for item in page.items:
            item["approvals_by"] = approvals.get(item["grant_id"], [])
            item["remaining_fen"] = item["amount_fen"] - item["spent_fen"]
        return page

    def expenses(
        self,
        *,
        project: str | None = None,
        category: str | None = None,
        grant_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
        min_fen: int | None = None,
        max_fen: int | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> Page:
        filters = {
            "project_code": project,
            "category": category,
            "grant_id": grant_id,
            "since": since,
            "until": until,
            "min_fen": min_fen,
            "max_fen": max_fen,
        }
        page = self._listing("fl_expenses", "paid_on", filters, after, limit)
        self.open_sealed(page.items, ("payee",))
        return page

    def latest(self, table: str, limit: int = 10) -> list[dict[str, Any]]:
        """The newest rows of fl_donations or fl_expenses, newest first."""
        if table not in {"fl_donations", "fl_expenses"}:
            msg = f"no listing {table}"
            raise ValueError(msg)
        rows = self.registers_view.query(
            f"SELECT * FROM {{t}}{table} ORDER BY position DESC LIMIT %s",
            [max(1, min(limit, PAGE_SIZE_MAX))],
        )
        items = [_clean(r) for r in rows]
        if table == "fl_donations":
            self._with_donors(items)
        else:
            self.open_sealed(items, ("payee",))
        return items

    def months(self) -> list[dict[str, Any]]:
        """Every month with events, and whether its report is frozen."""
        frozen = {
            row["month"] for row in self.monthly_view.query("SELECT month FROM {t}fl_month_reports")
        }
        rows = self.monthly_view.query("SELECT month FROM {t}fl_month_events ORDER BY month")
        return [{"month": r["month"], "frozen": r["month"] in frozen} for r in rows]

    def opinions(self, *, subject_id: str | None = None, after: int = 0, limit: int = 100) -> Page:
        return self._listing("fl_opinions", "recorded_on", {"subject_id": subject_id}, after, limit)

    def corrections(self, limit: int = PAGE_SIZE_MAX) -> list[tuple[str, dict[str, Any]]]:
        """Every reversal, newest first, with its reason (published as 更正说明)."""
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        donations = self.registers_view.query(
            "SELECT donation_id AS id, amount_fen, received_on AS original_on, reversed_on,"
            " reversal_reason, reversed_position FROM {t}fl_donations"
            " WHERE reversed_position IS NOT NULL ORDER BY reversed_position DESC LIMIT %s",
            [limit],
        )
        expenses = self.registers_view.query(
            "SELECT expense_id AS id, amount_fen, paid_on AS original_on, reversed_on,"
            " reversal_reason, reversed_position FROM {t}fl_expenses"
            " WHERE reversed_position IS NOT NULL ORDER BY reversed_position DESC LIMIT %s",
            [limit],
        )
        rows = [("donation", r) for r in donations] + [("expense", r) for r in expenses]
        rows.sort(key=lambda kind_row: -int(kind_row[1]["reversed_position"]))
        return rows[:limit]

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
            "donor": _clean(donors[donor_id]),
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


def _clean(row: dict[str, Any]) -> dict[str, Any]:
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
