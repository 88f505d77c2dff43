"""Shared test setup: a fund with its people, projects and donors, built on any FundLedger store.

Plain functions and classes rather than fixtures, so that the in-memory tests here and tests on
SQLite or PostgreSQL build the same world. The fund is a singleton of its store, so a test on a
shared database needs its own schema; ``tag`` keeps names and codes apart when that helps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from ledger.app import OPERATOR, Actor, FundLedger
from ledger.domain.books import Books, fold
from ledger.domain.errors import LedgerError
from ledger.domain.money import parse_yuan
from ledger.domain.sealing import is_sealed
from projections.runner import Views
from projections.sqlview.base import table_names

# An ordinary day in a month that has long ended; helpers date everything on it unless told.
DAY = date(2025, 3, 10)

COMMITTEE_SIZE = 5
QUORUM = 3

# Three of the seven projects of the article are enough for every rule.
PROJECTS: dict[str, str] = {
    "noodles": "一碗长寿面 · 邻里伙伴计划",
    "health": "健康同行 · 义诊到家",
    "barber": "益剪倾心 · 周五理发室",
}

# One donor of each kind; the key is how tests name them.
DONORS: dict[str, tuple[str, str, str]] = {
    "government": ("南湖街道办事处", "government", "named"),
    "foundation": ("嘉兴慈善基金会", "foundation", "named"),
    "enterprise": ("南湖大酒店", "enterprise", "named"),
    "individual": ("赵先生", "individual", "masked"),
    "community": ("湖滨花园业委会", "community_org", "anonymous"),
}


def fen(yuan: str) -> int:
    """Fen from a yuan string, so tests read in the units people use."""
    return parse_yuan(yuan, allow_zero=True)


@dataclass
class World:
    """A fund with five committee members, a treasurer, an adviser, an auditor, projects, donors."""

    app: FundLedger
    committee: list[Actor]
    treasurer: Actor
    adviser: Actor
    auditor: Actor
    projects: dict[str, str]  # project code (without tag) -> project id
    donors: dict[str, str]  # donor key -> donor id
    tag: str = ""
    _receipts: int = field(default=0, repr=False)

    # -- money in ----------------------------------------------------------------------------

    def donate(
        self,
        amount: str,
        project: str | None = None,
        *,
        on: date = DAY,
        channel: str = "bank_transfer",
        donor: str = "enterprise",
        receipt_no: str | None = None,
        key: str | None = None,
    ) -> str:
        """Record a gift of ``amount`` yuan, restricted to ``project`` when given; its id."""
        if receipt_no is None:
            self._receipts += 1
            receipt_no = f"T{self.tag}-{self._receipts:05d}"
        return self.app.record_donation(
            self.treasurer,
            self.donors[donor],
            fen(amount),
            on,
            channel,
            receipt_no=receipt_no,
            project_id=self.projects[project] if project else None,
            idempotency_key=key,
        ).id

    def reverse_donation(self, donation_id: str, *, by: int = 0, on: date = DAY) -> str:
        return self.app.reverse_donation(
            self.committee[by], donation_id, "receipt issued in error", on=on
        ).id

    # -- grants ------------------------------------------------------------------------------

    def propose(
        self,
        project: str,
        amount: str,
        *,
        by: int = 0,
        on: date = DAY,
        purpose: str = "monthly birthday lunch for residents aged 70+",
        key: str | None = None,
    ) -> str:
        return self.app.propose_grant(
            self.committee[by],
            self.projects[project],
            fen(amount),
            purpose,
            on=on,
            idempotency_key=key,
        ).id

    def approve(self, grant_id: str, by: Iterable[int] = (1, 2, 3), *, on: date = DAY) -> None:
        for member in by:
            self.app.approve_grant(self.committee[member], grant_id, on=on)

    def grant(self, project: str, amount: str, *, on: date = DAY) -> str:
        """A grant proposed by member 0 and approved by the quorum of members after them."""
        grant_id = self.propose(project, amount, on=on)
        quorum = self.app.fund().quorum
        self.approve(grant_id, range(1, quorum + 1), on=on)
        return grant_id

    def close_grant(self, grant_id: str, *, by: int = 0, on: date = DAY) -> None:
        self.app.close_grant(self.committee[by], grant_id, on=on)

    # -- money out ---------------------------------------------------------------------------

    def spend(
        self,
        grant_id: str,
        amount: str,
        *,
        paid_on: date = DAY,
        category: str = "programme",
        key: str | None = None,
    ) -> str:
        return self.app.record_expense(
            self.treasurer,
            grant_id,
            fen(amount),
            paid_on,
            "南湖大酒店",
            category,
            "noodles and cake for 23 residents",
            idempotency_key=key,
        ).id

    def reverse_expense(self, expense_id: str, *, by: int = 0, on: date = DAY) -> str:
        return self.app.reverse_expense(
            self.committee[by], expense_id, "voucher belongs to another grant", on=on
        ).id

    # -- reading -----------------------------------------------------------------------------

    def available(self, project: str) -> int:
        """Fen the fund could still commit to ``project`` (restricted to it plus unrestricted)."""
        restricted_fen, unrestricted_fen = self.app.fund().available_fen(
            self.projects[project], self.app.tally.current()
        )
        return restricted_fen + unrestricted_fen


def build_world(app: FundLedger, *, quorum: int = QUORUM, tag: str = "") -> World:
    """Establish the fund on ``app`` and add its people, projects and donors."""
    app.establish_fund(OPERATOR, f"南湖未来社区共富基金{tag}", quorum)
    committee_names = [f"委员{n}{tag}" for n in range(1, COMMITTEE_SIZE + 1)]
    for name in committee_names:
        app.add_user(OPERATOR, name, "committee")
    for name, role in (
        (f"出纳{tag}", "treasurer"),
        (f"顾问{tag}", "adviser"),
        (f"审计{tag}", "auditor"),
    ):
        app.add_user(OPERATOR, name, role)
    treasurer = app.actor_named(f"出纳{tag}")
    projects = {
        code: app.open_project(treasurer, f"{code}{tag}", name).id
        for code, name in PROJECTS.items()
    }
    donors = {
        key: app.register_donor(treasurer, name, kind, disclosure).id
        for key, (name, kind, disclosure) in DONORS.items()
    }
    return World(
        app=app,
        committee=[app.actor_named(name) for name in committee_names],
        treasurer=treasurer,
        adviser=app.actor_named(f"顾问{tag}"),
        auditor=app.actor_named(f"审计{tag}"),
        projects=projects,
        donors=donors,
        tag=tag,
    )


def opened(app: FundLedger, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """View rows with their sealed personal data opened, as an auditor reads them."""
    for row in rows:
        if "contact_json" in row:
            [contact] = app.keyring.reveal([json.loads(row["contact_json"])])
            row["contact_json"] = json.dumps(contact, ensure_ascii=False)
        columns = [column for column, value in row.items() if is_sealed(value)]
        for column, value in zip(
            columns, app.keyring.reveal([row[c] for c in columns]), strict=True
        ):
            row[column] = value
    return rows


def stored_events(app: FundLedger) -> list[Any]:
    """Every stored event, in log order."""
    return [domain_event for _, domain_event in app.iter_events()]


def events_named(app: FundLedger, name: str) -> list[Any]:
    """Stored events of one type, named as ``Grant.Approved``."""
    return [e for e in stored_events(app) if type(e).__qualname__ == name]


def books(app: FundLedger) -> Books:
    return fold(stored_events(app))


def refused(
    app: FundLedger, error: type[LedgerError], command: Callable[[], object]
) -> LedgerError:
    """Run a command that must be refused with ``error``, check it stored nothing; the error."""
    position = app.position()
    with pytest.raises(error) as caught:
        command()
    assert type(caught.value) is error, f"refused with {caught.value!r}, not {error.__name__}"
    assert app.position() == position, "a refused command stored events"
    return caught.value


def aggregate(app: FundLedger, aggregate_id: str) -> Any:
    """The current state of one aggregate, by the id a command returned."""
    return app.repository.get(UUID(aggregate_id))


def snapshot(views: Views) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every view table, in a stable order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for spec in views.specs:
        view = views.view(spec.name)
        for table in table_names(view.ddl):
            rows = view.query(f"SELECT * FROM {table}")
            tables[table] = sorted((tuple(str(v) for v in row.values()) for row in rows), key=repr)
    return tables
