"""The registers view's tables: fund, people, projects, donors, donations, grants, expenses,
opinions, and day sums of donations and expenses."""

from __future__ import annotations

from typing import ClassVar

from projections.sqlview.postgres import PostgresView
from projections.sqlview.sqlite import SQLiteView

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
    " reversal_reason TEXT, reversed_by TEXT)",
    "CREATE INDEX IF NOT EXISTS fl_donations_received_on ON {t}fl_donations (received_on)",
    "CREATE INDEX IF NOT EXISTS fl_donations_donor ON {t}fl_donations (donor_id)",
    "CREATE INDEX IF NOT EXISTS fl_donations_project ON {t}fl_donations (project_code)",
    "CREATE TABLE IF NOT EXISTS {t}fl_grants ("
    " grant_id TEXT PRIMARY KEY, position BIGINT NOT NULL UNIQUE, project_id TEXT NOT NULL,"
    " project_code TEXT NOT NULL, amount_fen BIGINT NOT NULL, purpose TEXT NOT NULL,"
    " proposer_id TEXT NOT NULL, proposed_on {date} NOT NULL, status TEXT NOT NULL,"
    " approvals INTEGER NOT NULL, decided_on {date}, decision_reason TEXT,"
    " restricted_fen BIGINT NOT NULL, unrestricted_fen BIGINT NOT NULL,"
    " spent_fen BIGINT NOT NULL, released_fen BIGINT NOT NULL, closed_on {date},"
    " decided_by TEXT, closed_by TEXT)",
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
    " reversed_on {date}, reversal_reason TEXT, reversed_by TEXT)",
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
    # How many people an activity served (the canteen's meals, a clinic's patients), written
    # by the records of attendance; the panel's cost per person served reads it.
    # The thread of an opinion: the committee's answers and the author's later versions.
    "CREATE TABLE IF NOT EXISTS {t}fl_opinion_notes ("
    " position BIGINT PRIMARY KEY, opinion_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " author_id TEXT NOT NULL, text TEXT NOT NULL, recorded_on {date} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t}fl_explanations ("
    " explanation_id TEXT PRIMARY KEY, position BIGINT NOT NULL UNIQUE,"
    " warning_id TEXT NOT NULL, reason TEXT NOT NULL, member_id TEXT NOT NULL,"
    " explained_on {date} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t}fl_people_served ("
    " activity_id TEXT PRIMARY KEY, position BIGINT NOT NULL, project_code TEXT NOT NULL,"
    " served_on {date} NOT NULL, people BIGINT NOT NULL)",
)


class RegistersTables:
    view_name: ClassVar[str] = "registers"
    ddl: ClassVar[tuple[str, ...]] = REGISTERS_DDL


class RegistersSQLite(RegistersTables, SQLiteView):
    pass


class RegistersPostgres(RegistersTables, PostgresView):
    pass
