"""How each event changes the registers view: a row per fund, person, project, donor,
donation, grant, expense and opinion, and the day sums of donations and expenses."""

from __future__ import annotations

import json
from typing import Any

from ledger.domain.accounts import event_name
from ledger.domain.disclosure import public_name
from ledger.domain.sealing import is_sealed
from projections.sqlview.gifts import RECORD, current_gift
from projections.sqlview.projection import ViewProjection
from projections.sqlview.writes import Add, AddTo, Reads, Sink, Write, day_of, id_of, moment_of

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


_DONATION = (
    "INSERT INTO {t}fl_donations (donation_id, position, receipt_no, donor_id,"
    " donor_kind, amount_fen, received_on, channel, project_id, project_code,"
    " in_kind, note, recorded_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def _registers_fund(position: int, e: Any, name: str) -> list[Write]:
    if name == "Fund.Established":
        return [
            (
                "INSERT INTO {t}fl_fund (fund_id, name, currency, quorum) VALUES (%s, %s, %s, %s)",
                (id_of(e), e.name, e.currency, e.quorum),
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
    if name == "Directory.TokenReissued":
        return [("UPDATE {t}fl_people SET active = %s WHERE user_id = %s", (True, e.user_id))]
    return []


def _public_name(e: Any, lang: str) -> str:
    """A sealed name stays sealed here; the reader opens it and masks it (ledger.domain.sealing)."""
    if is_sealed(e.name) and e.disclosure != "anonymous":
        return str(e.name)
    return public_name(e.name, e.kind, e.disclosure, lang=lang)


def _registers_projects_and_donors(position: int, e: Any, name: str) -> list[Write]:
    day = day_of(e)
    if name == "Project.Opened":
        return [
            (
                "INSERT INTO {t}fl_projects (project_id, code, name, name_en, description,"
                " organisation, is_open, opened_on, position)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    id_of(e),
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
        return [("UPDATE {t}fl_projects SET is_open = %s WHERE project_id = %s", (False, id_of(e)))]
    if name == "Donor.Registered":
        return [
            (
                "INSERT INTO {t}fl_donors (donor_id, name, kind, disclosure, public_name,"
                " public_name_en, registered_on, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    id_of(e),
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
                (id_of(e), json.dumps(e.contact or {}, ensure_ascii=False, sort_keys=True)),
            ),
        ]
    return []


def _registers_donations(position: int, e: Any, name: str) -> list[Write]:
    day = day_of(e)
    if name == "Donation.Received":
        return [
            (
                _DONATION,
                (
                    id_of(e),
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
                    moment_of(e),
                ),
            ),
            Add(
                _ADD_DONATION_DAY,
                (day, e.project_code or "", e.donor_kind, bool(e.in_kind)),
                (e.amount_fen, 1),
            ),
        ]
    if name == "OfficialReceipt.Issued":
        return [
            (
                "INSERT INTO {t}fl_official_receipts (receipt_id, receipt_no, position,"
                " donation_id, issued_on, voided) VALUES (%s, %s, %s, %s, %s, %s)",
                (id_of(e), e.receipt_no, position, e.donation_id, day, False),
            )
        ]
    if name == "OfficialReceipt.Voided":
        return [
            (
                "UPDATE {t}fl_official_receipts SET voided = %s, void_reason = %s"
                " WHERE receipt_id = %s",
                (True, e.reason, id_of(e)),
            )
        ]
    if name == "Donation.Reversed":
        return [
            Reads(_UNDO_DONATION_DAY, (id_of(e),)),
            (
                "UPDATE {t}fl_donations SET reversed_position = %s, reversed_on = %s,"
                " reversal_reason = %s, reversed_by = %s WHERE donation_id = %s",
                (position, day, e.reason, e.meta.actor_id, id_of(e)),
            ),
        ]
    return []


def _registers_grants(position: int, e: Any, name: str) -> list[Write]:
    day = day_of(e)
    grant_id = id_of(e)
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
                " decision_reason = %s, decided_by = %s WHERE grant_id = %s",
                (day, e.reason, e.meta.actor_id, grant_id),
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
                "UPDATE {t}fl_grants SET status = 'closed', closed_on = %s, released_fen = %s,"
                " closed_by = %s WHERE grant_id = %s",
                (
                    day,
                    e.released_restricted_fen + e.released_unrestricted_fen,
                    e.meta.actor_id,
                    grant_id,
                ),
            )
        ]
    return []


def _registers_spending(position: int, e: Any, name: str) -> list[Write]:
    day = day_of(e)
    if name == "Expense.Paid":
        return [
            (
                "INSERT INTO {t}fl_expenses (expense_id, position, grant_id, project_id,"
                " project_code, amount_fen, restricted_fen, unrestricted_fen, paid_on, payee,"
                " payee_kind, category, description, voucher_no, voucher_sha256, recorded_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    id_of(e),
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
                    moment_of(e),
                ),
            ),
            Add(_ADD_EXPENSE_DAY, (day, e.project_code, e.category), (e.amount_fen, 1)),
        ]
    if name == "Expense.Reversed":
        return [
            Reads(_UNDO_EXPENSE_DAY, (id_of(e),)),
            (
                "UPDATE {t}fl_expenses SET reversed_position = %s, reversed_on = %s,"
                " reversal_reason = %s, reversed_by = %s WHERE expense_id = %s",
                (position, day, e.reason, e.meta.actor_id, id_of(e)),
            ),
        ]
    if name == "Opinion.Recorded":
        return [
            (
                "INSERT INTO {t}fl_opinions (opinion_id, position, subject_id, subject_kind,"
                " author_id, text, recorded_on) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (id_of(e), position, e.subject_id, e.subject_kind, e.meta.actor_id, e.text, day),
            )
        ]
    if name in {"Opinion.Answered", "Opinion.Superseded"}:
        return [
            (
                "INSERT INTO {t}fl_opinion_notes (position, opinion_id, kind, author_id, text,"
                " recorded_on) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    position,
                    id_of(e),
                    "answer" if name == "Opinion.Answered" else "superseded",
                    e.meta.actor_id,
                    e.text,
                    day,
                ),
            )
        ]
    if name == "Explanation.Recorded":
        return [
            (
                "INSERT INTO {t}fl_explanations (explanation_id, position, warning_id, reason,"
                " member_id, explained_on) VALUES (%s, %s, %s, %s, %s, %s)",
                (id_of(e), position, e.warning_id, e.reason, e.meta.actor_id, day),
            )
        ]
    return []


def registers_writes(position: int, domain_event: Any) -> list[Write]:
    name = event_name(domain_event)
    parts = (
        _registers_fund,
        _registers_projects_and_donors,
        _registers_donations,
        _registers_grants,
        _registers_spending,
    )
    for part in parts:
        writes = part(position, domain_event, name)
        if writes:
            return writes
    return []


class RegistersProjection(ViewProjection):
    name = "registers"

    def writes_for(self, position: int, domain_event: Any) -> list[Write]:
        return registers_writes(position, domain_event)

    def fast_write(self, position: int, domain_event: Any, sink: Sink) -> bool:
        """A gift received, not in kind: its row in the register and its day's sums. An
        idempotency record changes no register: taking it keeps a run of gifts one run."""
        if not current_gift(domain_event):
            return event_name(domain_event) == RECORD
        e = domain_event
        day = day_of(e)
        in_kind = bool(e.in_kind)
        sink.row(
            _DONATION,
            (
                id_of(e),
                position,
                e.receipt_no,
                e.donor_id,
                e.donor_kind,
                e.amount_fen,
                day,
                e.channel,
                e.project_id,
                e.project_code,
                in_kind,
                e.note,
                moment_of(e),
            ),
        )
        sink.tally(_donation_day, (day, e.project_code or "", e.donor_kind, in_kind), e.amount_fen)
        return True


def _donation_day(key: tuple[Any, ...], count: int, amount_fen: int) -> list[AddTo]:
    return [(_ADD_DONATION_DAY, key, (amount_fen, count))]
