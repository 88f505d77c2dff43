"""The registers as listings: donations, grants, expenses, opinions and corrections, paged by
log position, with personal data opened for those who may read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.domain.disclosure import public_name
from ledger.domain.sealing import ERASED, is_sealed
from projections.sqlview.reading import PAGE_SIZE_MAX, Queries, ViewSet, clean


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_after: int | None


class Listings(Queries):
    def __init__(self, views: ViewSet) -> None:
        super().__init__(views)
        self.registers_view = views.view("registers")

    def fund(self) -> dict[str, Any] | None:
        rows = self.registers_view.query("SELECT * FROM {t}fl_fund")
        return rows[0] if rows else None

    def people_names(self) -> dict[str, str]:
        """Each user's name by user id."""
        rows = self.registers_view.query("SELECT user_id, name FROM {t}fl_people")
        return {row["user_id"]: row["name"] for row in rows}

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
        return Page([clean(r) for r in rows[:limit]], next_after)

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

    def donation_position(self, donation_id: str) -> int | None:
        """Where in the log the gift with this id was recorded."""
        rows = self.registers_view.query(
            "SELECT position FROM {t}fl_donations WHERE donation_id = %s", [donation_id]
        )
        return int(rows[0]["position"]) if rows else None

    def first_gift_on(self) -> date | None:
        """The day of the first gift received, if any."""
        rows = self.registers_view.query("SELECT MIN(received_on) AS first FROM {t}fl_donations")
        first = rows[0]["first"] if rows else None
        return date.fromisoformat(str(first)[:10]) if first else None

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
                approvals.setdefault(row.pop("grant_id"), []).append(clean(row))
        people = self.people_names()
        opinions = self.opinions_about([item["grant_id"] for item in page.items])
        for item in page.items:
            item["approvals_by"] = approvals.get(item["grant_id"], [])
            # Only an approved grant holds money back: a proposal, a rejection or a closed
            # grant (its rest released) has nothing remaining.
            live = item["status"] == "approved"
            item["remaining_fen"] = item["amount_fen"] - item["spent_fen"] if live else 0
            item["proposer_name"] = people.get(item["proposer_id"])
            item["decided_by_name"] = people.get(item.get("decided_by") or "")
            item["closed_by_name"] = people.get(item.get("closed_by") or "")
            item["opinions"] = opinions.get(item["grant_id"], [])
        return page

    def opinions_about(self, subject_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The opinions on each of these grants or projects, oldest first, with their authors'
        names and their threads (answers, later versions)."""
        if not subject_ids:
            return {}
        marks = ", ".join(["%s"] * len(subject_ids))
        rows = self.registers_view.query(
            f"SELECT * FROM {{t}}fl_opinions WHERE subject_id IN ({marks}) ORDER BY position",
            subject_ids,
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self.with_threads([clean(r) for r in rows]):
            out.setdefault(row["subject_id"], []).append(row)
        return out

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
        items = [clean(r) for r in rows]
        if table == "fl_donations":
            self._with_donors(items)
        else:
            self.open_sealed(items, ("payee",))
        return items

    def opinions(self, *, subject_id: str | None = None, after: int = 0, limit: int = 100) -> Page:
        page = self._listing("fl_opinions", "recorded_on", {"subject_id": subject_id}, after, limit)
        return Page(self.with_threads(page.items), page.next_after)

    def with_threads(self, opinions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each opinion with its author's name and its thread: the committee's answers and the
        author's later versions, oldest first; ``text`` is the latest version."""
        people = self.people_names()
        notes: dict[str, list[dict[str, Any]]] = {}
        if opinions:
            marks = ", ".join(["%s"] * len(opinions))
            for row in self.registers_view.query(
                "SELECT opinion_id, kind, author_id, text, recorded_on FROM {t}fl_opinion_notes"
                f" WHERE opinion_id IN ({marks}) ORDER BY position",
                [o["opinion_id"] for o in opinions],
            ):
                note = clean(row)
                note["author"] = people.get(note["author_id"], note["author_id"])
                notes.setdefault(note.pop("opinion_id"), []).append(note)
        for opinion in opinions:
            opinion["author"] = people.get(opinion["author_id"], opinion["author_id"])
            opinion["thread"] = notes.get(opinion["opinion_id"], [])
            versions = [n for n in opinion["thread"] if n["kind"] == "superseded"]
            opinion["first_text"] = opinion["text"]
            if versions:
                opinion["text"] = versions[-1]["text"]
            opinion["superseded"] = bool(versions)
        return opinions

    def corrections(self, limit: int = PAGE_SIZE_MAX) -> list[tuple[str, dict[str, Any]]]:
        """Every reversal, newest first, with its reason (published as 更正说明)."""
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        rows: list[tuple[str, dict[str, Any]]] = []
        for kind, table, key, day in (
            ("donation", "fl_donations", "donation_id", "received_on"),
            ("expense", "fl_expenses", "expense_id", "paid_on"),
        ):
            reversed_rows = self.registers_view.query(
                f"SELECT {key} AS id, amount_fen, {day} AS original_on, reversed_on,"
                f" reversal_reason, reversed_position, reversed_by FROM {{t}}{table}"
                " WHERE reversed_position IS NOT NULL ORDER BY reversed_position DESC LIMIT %s",
                [limit],
            )
            rows.extend((kind, r) for r in reversed_rows)
        rows.sort(key=lambda kind_row: -int(kind_row[1]["reversed_position"]))
        people = self.people_names()
        for _, row in rows:
            row["decided_by"] = people.get(row.pop("reversed_by") or "")
        return rows[:limit]
