"""The read models: which tables each view keeps, and how each event changes them.

Each view is one eventsourcing ``Projection`` writing into one tracking recorder that holds its
tables. Translating an event into writes is a pure function of the event and its position, so a
rebuild and the incremental runner write exactly the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from ledger.domain import month_of
from ledger.domain.accounts import commitment_change_fen, event_name, postings_for
from ledger.domain.disclosure import public_name
from ledger.domain.sealing import is_sealed
from projections.reports import freeze_months_through
from projections.sqlview.base import SQLView
from projections.sqlview.postgres import PostgresView
from projections.sqlview.sqlite import SQLiteView
from projections.sqlview.writes import Add, Cursor, Reads

# A write: an SQL statement with its parameters, an additive upsert (summed per batch), a
# statement that reads other tables, or a function of the cursor for writes that must read
# what the same transaction has written (freezing a monthly report).
Write = tuple[str, Sequence[Any]] | Add | Reads | Callable[[Cursor], None]


def _day(domain_event: Any) -> str:
    return str(domain_event.meta.effective_on.isoformat())


def _recorded_at(domain_event: Any) -> str:
    return str(domain_event.timestamp.isoformat())


def _id(domain_event: Any) -> str:
    return str(domain_event.originator_id)


# -- books: the journal and account balances by day -------------------------------------------

BOOKS_DDL = (
    "CREATE TABLE IF NOT EXISTS {t}fl_entries ("
    " position BIGINT PRIMARY KEY, event_id TEXT NOT NULL, event_type TEXT NOT NULL,"
    " effective_on {date} NOT NULL, recorded_at {ts} NOT NULL, narration TEXT NOT NULL,"
    " project_code TEXT)",
    "CREATE TABLE IF NOT EXISTS {t}fl_journal ("
    " position BIGINT NOT NULL, line INTEGER NOT NULL, effective_on {date} NOT NULL,"
    " recorded_at {ts} NOT NULL, account TEXT NOT NULL, amount_fen BIGINT NOT NULL,"
    " PRIMARY KEY (position, line))",
    "CREATE TABLE IF NOT EXISTS {t}fl_account_days ("
    " account TEXT NOT NULL, effective_on {date} NOT NULL, amount_fen BIGINT NOT NULL,"
    " PRIMARY KEY (account, effective_on))",
    "CREATE TABLE IF NOT EXISTS {t}fl_commitment_days ("
    " effective_on {date} PRIMARY KEY, amount_fen BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t}fl_event_days ("
    " effective_on {date} PRIMARY KEY, events BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS fl_journal_recorded_at ON {t}fl_journal (recorded_at)",
    # One row per event and per commitment change, for "as recorded at" questions.
    "CREATE TABLE IF NOT EXISTS {t}fl_event_log ("
    " position BIGINT PRIMARY KEY, event_type TEXT NOT NULL, effective_on {date} NOT NULL,"
    " recorded_at {ts} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS fl_event_log_recorded_at ON {t}fl_event_log (recorded_at)",
    "CREATE TABLE IF NOT EXISTS {t}fl_commitment_changes ("
    " position BIGINT PRIMARY KEY, effective_on {date} NOT NULL, recorded_at {ts} NOT NULL,"
    " amount_fen BIGINT NOT NULL)",
)

_ADD_ACCOUNT_DAY = (
    "INSERT INTO {t}fl_account_days (account, effective_on, amount_fen) VALUES (%s, %s, %s)"
    " ON CONFLICT (account, effective_on)"
    " DO UPDATE SET amount_fen = fl_account_days.amount_fen + excluded.amount_fen"
)
_ADD_COMMITMENT_DAY = (
    "INSERT INTO {t}fl_commitment_days (effective_on, amount_fen) VALUES (%s, %s)"
    " ON CONFLICT (effective_on)"
    " DO UPDATE SET amount_fen = fl_commitment_days.amount_fen + excluded.amount_fen"
)
_ADD_EVENT_DAY = (
    "INSERT INTO {t}fl_event_days (effective_on, events) VALUES (%s, %s)"
    " ON CONFLICT (effective_on) DO UPDATE SET events = fl_event_days.events + excluded.events"
)


def narration(domain_event: Any) -> str:
    """A line for the journal that names no person: receipts, projects, organisations."""
    name = event_name(domain_event)
    e = domain_event
    if name == "Donation.Received":
        kind = "实物捐赠 in-kind gift" if e.in_kind else "捐赠收入 donation"
        scope = f"限定 restricted to {e.project_code}" if e.project_code else "非限定 unrestricted"
        return f"{kind} {e.receipt_no}, {scope}"
    if name == "Donation.Reversed":
        return f"冲销捐赠 donation reversed: {e.reason}"
    if name == "Grant.Approved":
        return f"资助批准 grant approved for {e.project_code}"
    if name == "Grant.Closed":
        return f"资助结项 grant closed for {e.project_code}, leftover released"
    if name == "Expense.Paid":
        payee = e.payee if e.payee_kind == "organisation" else "个人 individual"
        voucher = f" [{e.voucher_no}]" if e.voucher_no else ""
        return f"{e.category} {e.project_code}: {e.description} / {payee}{voucher}"
    if name == "Expense.Reversed":
        return f"冲销支出 expense reversed: {e.reason}"
    return name


def books_writes(position: int, domain_event: Any) -> list[Write]:
    day = _day(domain_event)
    recorded_at = _recorded_at(domain_event)
    writes: list[Write] = [
        Add(_ADD_EVENT_DAY, (day,), (1,)),
        (
            "INSERT INTO {t}fl_event_log (position, event_type, effective_on, recorded_at)"
            " VALUES (%s, %s, %s, %s)",
            (position, event_name(domain_event), day, recorded_at),
        ),
    ]
    postings = postings_for(domain_event)
    if postings:
        writes.append(
            (
                "INSERT INTO {t}fl_entries (position, event_id, event_type, effective_on,"
                " recorded_at, narration, project_code) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    position,
                    _id(domain_event),
                    event_name(domain_event),
                    day,
                    recorded_at,
                    narration(domain_event),
                    getattr(domain_event, "project_code", None),
                ),
            )
        )
        for line, posting in enumerate(postings):
            writes.append(
                (
                    "INSERT INTO {t}fl_journal (position, line, effective_on, recorded_at,"
                    " account, amount_fen) VALUES (%s, %s, %s, %s, %s, %s)",
                    (position, line, day, recorded_at, posting.account, posting.amount_fen),
                )
            )
        for posting in postings:
            writes.append(Add(_ADD_ACCOUNT_DAY, (posting.account, day), (posting.amount_fen,)))
    commitment_fen = commitment_change_fen(domain_event)
    if commitment_fen:
        writes.append(Add(_ADD_COMMITMENT_DAY, (day,), (commitment_fen,)))
        writes.append(
            (
                "INSERT INTO {t}fl_commitment_changes (position, effective_on, recorded_at,"
                " amount_fen) VALUES (%s, %s, %s, %s)",
                (position, day, recorded_at, commitment_fen),
            )
        )
    return writes


# -- registers: the listings of donors, donations, grants, expenses, opinions -----------------

REGISTERS_DDL = (
    "CREATE TABLE IF NOT EXISTS {t}fl_fund ("
    " fund_id TEXT PRIMARY KEY, name TEXT NOT NULL, currency TEXT NOT NULL,"
    " quorum INTEGER NOT NULL, closed_through TEXT)",
    "CREATE TABLE IF NOT EXISTS {t}fl_people ("
    " user_id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, active {bool} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t}fl_projects ("
    " project_id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    " name_en TEXT, description TEXT, organisation TEXT, is_open {bool} NOT NULL,"
    " opened_on {date} NOT NULL, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t}fl_donors ("
    " donor_id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,"
    " disclosure TEXT NOT NULL, public_name TEXT NOT NULL, public_name_en TEXT NOT NULL,"
    " registered_on {date} NOT NULL, position BIGINT NOT NULL)",
    # Contact details apart, so read-only access can be granted without them.
    "CREATE TABLE IF NOT EXISTS {t}fl_donor_contacts ("
    " donor_id TEXT PRIMARY KEY, contact_json TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t}fl_donations ("
    " donation_id TEXT PRIMARY KEY, position BIGINT NOT NULL UNIQUE,"
    " receipt_no TEXT NOT NULL UNIQUE, donor_id TEXT NOT NULL, donor_kind TEXT NOT NULL,"
    " amount_fen BIGINT NOT NULL, received_on {date} NOT NULL, channel TEXT NOT NULL,"
    " project_id TEXT, project_code TEXT, in_kind {bool} NOT NULL, note TEXT,"
    " recorded_at {ts} NOT NULL, reversed_position BIGINT, reversed_on {date},"
    " reversal_reason TEXT)",
    "CREATE INDEX IF NOT EXISTS fl_donations_received_on ON {t}fl_donations (received_on)",
    "CREATE INDEX IF NOT EXISTS fl_donations_donor ON {t}fl_donations (donor_id)",
    "CREATE INDEX IF NOT EXISTS fl_donations_project ON {t}fl_donations (project_code)",
    "CREATE TABLE IF NOT EXISTS {t}fl_grants ("
    " grant_id TEXT PRIMARY KEY, position BIGINT NOT NULL UNIQUE, project_id TEXT NOT NULL,"
    " project_code TEXT NOT NULL, amount_fen BIGINT NOT NULL, purpose TEXT NOT NULL,"
    " proposer_id TEXT NOT NULL, proposed_on {date} NOT NULL, status TEXT NOT NULL,"
    " approvals INTEGER NOT NULL, decided_on {date}, decision_reason TEXT,"
    " restricted_fen BIGINT NOT NULL, unrestricted_fen BIGINT NOT NULL,"
    " spent_fen BIGINT NOT NULL, released_fen BIGINT NOT NULL, closed_on {date})",
    "CREATE INDEX IF NOT EXISTS fl_grants_project ON {t}fl_grants (project_code)",
    "CREATE TABLE IF NOT EXISTS {t}fl_grant_approvals ("
    " grant_id TEXT NOT NULL, member_id TEXT NOT NULL, approved_on {date} NOT NULL,"
    " position BIGINT NOT NULL, PRIMARY KEY (grant_id, member_id))",
    "CREATE TABLE IF NOT EXISTS {t}fl_expenses ("
    " expense_id TEXT PRIMARY KEY, position BIGINT NOT NULL UNIQUE, grant_id TEXT NOT NULL,"
    " project_id TEXT NOT NULL, project_code TEXT NOT NULL, amount_fen BIGINT NOT NULL,"
    " restricted_fen BIGINT NOT NULL, unrestricted_fen BIGINT NOT NULL,"
    " paid_on {date} NOT NULL, payee TEXT NOT NULL, payee_kind TEXT NOT NULL,"
    " category TEXT NOT NULL, description TEXT NOT NULL, voucher_no TEXT,"
    " voucher_sha256 TEXT, recorded_at {ts} NOT NULL, reversed_position BIGINT,"
    " reversed_on {date}, reversal_reason TEXT)",
    "CREATE INDEX IF NOT EXISTS fl_expenses_paid_on ON {t}fl_expenses (paid_on)",
    "CREATE INDEX IF NOT EXISTS fl_expenses_project ON {t}fl_expenses (project_code)",
    "CREATE INDEX IF NOT EXISTS fl_expenses_grant ON {t}fl_expenses (grant_id)",
    # Sums by day of what the listings hold, net of reversals, so that the home page and the
    # panel's groupings read a row per day and kind, not a row per gift.
    "CREATE TABLE IF NOT EXISTS {t}fl_donation_days ("
    " received_on {date} NOT NULL, project_code TEXT NOT NULL, donor_kind TEXT NOT NULL,"
    " in_kind {bool} NOT NULL, amount_fen BIGINT NOT NULL, donations BIGINT NOT NULL,"
    " PRIMARY KEY (received_on, project_code, donor_kind, in_kind))",
    "CREATE TABLE IF NOT EXISTS {t}fl_expense_days ("
    " paid_on {date} NOT NULL, project_code TEXT NOT NULL, category TEXT NOT NULL,"
    " amount_fen BIGINT NOT NULL, expenses BIGINT NOT NULL,"
    " PRIMARY KEY (paid_on, project_code, category))",
    "CREATE TABLE IF NOT EXISTS {t}fl_opinions ("
    " opinion_id TEXT PRIMARY KEY, position BIGINT NOT NULL UNIQUE, subject_id TEXT NOT NULL,"
    " subject_kind TEXT NOT NULL, author_id TEXT NOT NULL, text TEXT NOT NULL,"
    " recorded_on {date} NOT NULL)",
)


_ADD_DONATION_DAY = (
    "INSERT INTO {t}fl_donation_days"
    " (received_on, project_code, donor_kind, in_kind, amount_fen, donations)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (received_on, project_code, donor_kind, in_kind) DO UPDATE SET"
    " amount_fen = fl_donation_days.amount_fen + excluded.amount_fen,"
    " donations = fl_donation_days.donations + excluded.donations"
)
# Unrestricted gifts are kept under '' (a key column cannot be null).
_UNDO_DONATION_DAY = (
    "UPDATE {t}fl_donation_days SET amount_fen = fl_donation_days.amount_fen - d.amount_fen,"
    " donations = fl_donation_days.donations - 1"
    " FROM {t}fl_donations d WHERE d.donation_id = %s"
    " AND fl_donation_days.received_on = d.received_on"
    " AND fl_donation_days.project_code = COALESCE(d.project_code, '')"
    " AND fl_donation_days.donor_kind = d.donor_kind AND fl_donation_days.in_kind = d.in_kind"
)
_ADD_EXPENSE_DAY = (
    "INSERT INTO {t}fl_expense_days (paid_on, project_code, category, amount_fen, expenses)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (paid_on, project_code, category) DO UPDATE SET"
    " amount_fen = fl_expense_days.amount_fen + excluded.amount_fen,"
    " expenses = fl_expense_days.expenses + excluded.expenses"
)
_UNDO_EXPENSE_DAY = (
    "UPDATE {t}fl_expense_days SET amount_fen = fl_expense_days.amount_fen - x.amount_fen,"
    " expenses = fl_expense_days.expenses - 1"
    " FROM {t}fl_expenses x WHERE x.expense_id = %s AND fl_expense_days.paid_on = x.paid_on"
    " AND fl_expense_days.project_code = x.project_code"
    " AND fl_expense_days.category = x.category"
)


def _registers_fund(position: int, e: Any, name: str) -> list[Write]:
    if name == "Fund.Established":
        return [
            (
                "INSERT INTO {t}fl_fund (fund_id, name, currency, quorum) VALUES (%s, %s, %s, %s)",
                (_id(e), e.name, e.currency, e.quorum),
            )
        ]
    if name == "Fund.PeriodClosed":
        return [("UPDATE {t}fl_fund SET closed_through = %s", (e.month,))]
    if name == "Directory.UserAdded":
        return [
            (
                "INSERT INTO {t}fl_people (user_id, name, role, active) VALUES (%s, %s, %s, %s)",
                (e.user_id, e.name, e.role, True),
            )
        ]
    if name == "Directory.UserRevoked":
        return [("UPDATE {t}fl_people SET active = %s WHERE user_id = %s", (False, e.user_id))]
    return []


def _public_name(e: Any, lang: str) -> str:
    """A sealed name stays sealed here; the reader opens it and masks it (ledger.domain.sealing)."""
    if is_sealed(e.name) and e.disclosure != "anonymous":
        return str(e.name)
    return public_name(e.name, e.kind, e.disclosure, lang=lang)


def _registers_money_in(position: int, e: Any, name: str) -> list[Write]:
    day = _day(e)
    if name == "Project.Opened":
        return [
            (
                "INSERT INTO {t}fl_projects (project_id, code, name, name_en, description,"
                " organisation, is_open, opened_on, position)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    _id(e),
                    e.code,
                    e.name,
                    e.name_en,
                    e.description,
                    e.organisation,
                    True,
                    day,
                    position,
                ),
            )
        ]
    if name == "Project.Closed":
        return [("UPDATE {t}fl_projects SET is_open = %s WHERE project_id = %s", (False, _id(e)))]
    if name == "Donor.Registered":
        return [
            (
                "INSERT INTO {t}fl_donors (donor_id, name, kind, disclosure, public_name,"
                " public_name_en, registered_on, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    _id(e),
                    e.name,
                    e.kind,
                    e.disclosure,
                    _public_name(e, "zh"),
                    _public_name(e, "en"),
                    day,
                    position,
                ),
            ),
            (
                "INSERT INTO {t}fl_donor_contacts (donor_id, contact_json) VALUES (%s, %s)",
                (_id(e), json.dumps(e.contact or {}, ensure_ascii=False, sort_keys=True)),
            ),
        ]
    if name == "Donation.Received":
        return [
            (
                "INSERT INTO {t}fl_donations (donation_id, position, receipt_no, donor_id,"
                " donor_kind, amount_fen, received_on, channel, project_id, project_code,"
                " in_kind, note, recorded_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    _id(e),
                    position,
                    e.receipt_no,
                    e.donor_id,
                    e.donor_kind,
                    e.amount_fen,
                    day,
                    e.channel,
                    e.project_id,
                    e.project_code,
                    bool(e.in_kind),
                    e.note,
                    _recorded_at(e),
                ),
            ),
            Add(
                _ADD_DONATION_DAY,
                (day, e.project_code or "", e.donor_kind, bool(e.in_kind)),
                (e.amount_fen, 1),
            ),
        ]
    if name == "Donation.Reversed":
        return [
            Reads(_UNDO_DONATION_DAY, (_id(e),)),
            (
                "UPDATE {t}fl_donations SET reversed_position = %s, reversed_on = %s,"
                " reversal_reason = %s WHERE donation_id = %s",
                (position, day, e.reason, _id(e)),
            ),
        ]
    return []


def _registers_grants(position: int, e: Any, name: str) -> list[Write]:
    day = _day(e)
    grant_id = _id(e)
    if name == "Grant.Proposed":
        return [
            (
                "INSERT INTO {t}fl_grants (grant_id, position, project_id, project_code,"
                " amount_fen, purpose, proposer_id, proposed_on, status, approvals,"
                " restricted_fen, unrestricted_fen, spent_fen, released_fen)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'proposed', 0, 0, 0, 0, 0)",
                (
                    grant_id,
                    position,
                    e.project_id,
                    e.project_code,
                    e.amount_fen,
                    e.purpose,
                    e.meta.actor_id,
                    day,
                ),
            )
        ]
    if name == "Grant.ApprovalGiven":
        return [
            (
                "INSERT INTO {t}fl_grant_approvals (grant_id, member_id, approved_on, position)"
                " VALUES (%s, %s, %s, %s)",
                (grant_id, e.member_id, day, position),
            ),
            ("UPDATE {t}fl_grants SET approvals = approvals + 1 WHERE grant_id = %s", (grant_id,)),
        ]
    if name == "Grant.Approved":
        return [
            (
                "UPDATE {t}fl_grants SET status = 'approved', decided_on = %s,"
                " restricted_fen = %s, unrestricted_fen = %s WHERE grant_id = %s",
                (day, e.restricted_fen, e.unrestricted_fen, grant_id),
            )
        ]
    if name == "Grant.Rejected":
        return [
            (
                "UPDATE {t}fl_grants SET status = 'rejected', decided_on = %s,"
                " decision_reason = %s WHERE grant_id = %s",
                (day, e.reason, grant_id),
            )
        ]
    if name in {"Grant.Charged", "Grant.ChargeReversed"}:
        sign = 1 if name == "Grant.Charged" else -1
        return [
            (
                "UPDATE {t}fl_grants SET spent_fen = spent_fen + %s WHERE grant_id = %s",
                (sign * (e.restricted_fen + e.unrestricted_fen), grant_id),
            )
        ]
    if name == "Grant.Closed":
        return [
            (
                "UPDATE {t}fl_grants SET status = 'closed', closed_on = %s, released_fen = %s"
                " WHERE grant_id = %s",
                (day, e.released_restricted_fen + e.released_unrestricted_fen, grant_id),
            )
        ]
    return []


def _registers_spending(position: int, e: Any, name: str) -> list[Write]:
    day = _day(e)
    if name == "Expense.Paid":
        return [
            (
                "INSERT INTO {t}fl_expenses (expense_id, position, grant_id, project_id,"
                " project_code, amount_fen, restricted_fen, unrestricted_fen, paid_on, payee,"
                " payee_kind, category, description, voucher_no, voucher_sha256, recorded_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    _id(e),
                    position,
                    e.grant_id,
                    e.project_id,
                    e.project_code,
                    e.amount_fen,
                    e.restricted_fen,
                    e.unrestricted_fen,
                    day,
                    e.payee,
                    e.payee_kind,
                    e.category,
                    e.description,
                    e.voucher_no,
                    e.voucher_sha256,
                    _recorded_at(e),
                ),
            ),
            Add(_ADD_EXPENSE_DAY, (day, e.project_code, e.category), (e.amount_fen, 1)),
        ]
    if name == "Expense.Reversed":
        return [
            Reads(_UNDO_EXPENSE_DAY, (_id(e),)),
            (
                "UPDATE {t}fl_expenses SET reversed_position = %s, reversed_on = %s,"
                " reversal_reason = %s WHERE expense_id = %s",
                (position, day, e.reason, _id(e)),
            ),
        ]
    if name == "Opinion.Recorded":
        return [
            (
                "INSERT INTO {t}fl_opinions (opinion_id, position, subject_id, subject_kind,"
                " author_id, text, recorded_on) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (_id(e), position, e.subject_id, e.subject_kind, e.meta.actor_id, e.text, day),
            )
        ]
    return []


def registers_writes(position: int, domain_event: Any) -> list[Write]:
    name = event_name(domain_event)
    for part in (_registers_fund, _registers_money_in, _registers_grants, _registers_spending):
        writes = part(position, domain_event, name)
        if writes:
            return writes
    return []


# -- monthly: account movements and grants per month, and reports frozen at close -------------

MONTHLY_DDL = (
    "CREATE TABLE IF NOT EXISTS {t}fl_month_accounts ("
    " month TEXT NOT NULL, account TEXT NOT NULL, amount_fen BIGINT NOT NULL,"
    " PRIMARY KEY (month, account))",
    "CREATE TABLE IF NOT EXISTS {t}fl_month_grants ("
    " month TEXT NOT NULL, project_code TEXT NOT NULL, approved_fen BIGINT NOT NULL,"
    " released_fen BIGINT NOT NULL, commitment_change_fen BIGINT NOT NULL,"
    " PRIMARY KEY (month, project_code))",
    "CREATE TABLE IF NOT EXISTS {t}fl_month_events ("
    " month TEXT PRIMARY KEY, events BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t}fl_month_reports ("
    " month TEXT PRIMARY KEY, frozen_position BIGINT NOT NULL, report_json TEXT NOT NULL)",
)

_ADD_MONTH_ACCOUNT = (
    "INSERT INTO {t}fl_month_accounts (month, account, amount_fen) VALUES (%s, %s, %s)"
    " ON CONFLICT (month, account)"
    " DO UPDATE SET amount_fen = fl_month_accounts.amount_fen + excluded.amount_fen"
)
_ADD_MONTH_GRANT = (
    "INSERT INTO {t}fl_month_grants"
    " (month, project_code, approved_fen, released_fen, commitment_change_fen)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (month, project_code) DO UPDATE SET"
    " approved_fen = fl_month_grants.approved_fen + excluded.approved_fen,"
    " released_fen = fl_month_grants.released_fen + excluded.released_fen,"
    " commitment_change_fen ="
    " fl_month_grants.commitment_change_fen + excluded.commitment_change_fen"
)
_ADD_MONTH_EVENT = (
    "INSERT INTO {t}fl_month_events (month, events) VALUES (%s, %s)"
    " ON CONFLICT (month) DO UPDATE SET events = fl_month_events.events + excluded.events"
)


def monthly_writes(position: int, domain_event: Any) -> list[Write]:
    name = event_name(domain_event)
    month = month_of(domain_event.meta.effective_on)
    writes: list[Write] = [Add(_ADD_MONTH_EVENT, (month,), (1,))]
    writes.extend(
        Add(_ADD_MONTH_ACCOUNT, (month, posting.account), (posting.amount_fen,))
        for posting in postings_for(domain_event)
    )
    e = domain_event
    commitment_fen = commitment_change_fen(domain_event)
    if commitment_fen:
        approved_fen = commitment_fen if name == "Grant.Approved" else 0
        released_fen = -commitment_fen if name == "Grant.Closed" else 0
        writes.append(
            Add(
                _ADD_MONTH_GRANT,
                (month, e.project_code),
                (approved_fen, released_fen, commitment_fen),
            )
        )
    if name == "Fund.PeriodClosed":
        closed_through = str(e.month)
        writes.append(lambda c: freeze_months_through(c, closed_through, position))
    return writes


# -- the views and their projections ------------------------------------------------------------


class BooksTables:
    view_name: ClassVar[str] = "books"
    ddl: ClassVar[tuple[str, ...]] = BOOKS_DDL


class RegistersTables:
    view_name: ClassVar[str] = "registers"
    ddl: ClassVar[tuple[str, ...]] = REGISTERS_DDL


class MonthlyTables:
    view_name: ClassVar[str] = "monthly"
    ddl: ClassVar[tuple[str, ...]] = MONTHLY_DDL


class BooksSQLite(BooksTables, SQLiteView):
    pass


class BooksPostgres(BooksTables, PostgresView):
    pass


class RegistersSQLite(RegistersTables, SQLiteView):
    pass


class RegistersPostgres(RegistersTables, PostgresView):
    pass


class MonthlySQLite(MonthlyTables, SQLiteView):
    pass


class MonthlyPostgres(MonthlyTables, PostgresView):
    pass


class ViewProjection(Projection[SQLView]):
    """Applies each event to one view, with its tracking, in one transaction."""

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        raise NotImplementedError

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.write(self.writes_for(tracking.notification_id, domain_event), tracking)

    def process_batch(
        self, batch: Sequence[tuple[int, Any]], tracking: Tracking, *, after: int
    ) -> None:
        """Apply the events after position ``after`` in one transaction (catch-up, rebuild)."""
        writes: list[Write] = []
        for position, domain_event in batch:
            writes.extend(self.writes_for(position, domain_event))
        self.view.write(writes, tracking, after=after)


class BooksProjection(ViewProjection):
    name = "books"

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        return books_writes(position, domain_event)


class RegistersProjection(ViewProjection):
    name = "registers"

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        return registers_writes(position, domain_event)


class MonthlyProjection(ViewProjection):
    name = "monthly"

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        return monthly_writes(position, domain_event)
