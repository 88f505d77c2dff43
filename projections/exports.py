"""Exports for auditors and open data: a Beancount journal, 360Giving grants, CSV registers."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ledger.domain.accounts import ACCOUNT_NAMES_ZH
from ledger.domain.disclosure import ORGANISATION_KINDS
from ledger.domain.yuan import FEN_PER_YUAN, format_yuan
from projections.reader import Reader
from projections.registers.listings import Page
from projections.sqlview.reading import PAGE_SIZE_MAX

CURRENCY_DEFAULT = "CNY"
# A live runner may apply events while an export reads; a journal read across such a commit
# would assert balances its transactions do not reach, so it is read again, this many times.
READ_ATTEMPTS_MAX = 5
TITLE_CHARS_MAX = 140  # 360Giving asks for grant titles under 140 characters
SCHEMA_VERSION_360GIVING = "1.4"
AWARDED_STATUSES = ("approved", "closed")


class ExportMoved(Exception):
    """The books kept changing while the export read them; try again when writes settle."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"the books moved during each of {attempts} reads")
        self.attempts = attempts


# -- shared helpers --------------------------------------------------------------------------


def _as_date(value: object) -> date:
    """PostgreSQL answers with date objects and SQLite with ISO strings."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _iso(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _pages(page_of: Callable[[int], Page]) -> Iterator[list[dict[str, Any]]]:
    """The pages of a keyset-paged listing, read one at a time."""
    after = 0
    while True:
        page = page_of(after)
        yield page.items
        if page.next_after is None:
            return
        after = page.next_after


def _all(page_of: Callable[[int], Page]) -> Iterator[dict[str, Any]]:
    for items in _pages(page_of):
        yield from items


def _projects_by_code(reader: Reader) -> dict[str, dict[str, Any]]:
    # Names only: Reader.projects() also totals every project, which no export needs.
    rows = reader.registers_view.query(
        "SELECT code, project_id, name, name_en, description, organisation"
        " FROM {t}fl_projects ORDER BY position"
    )
    return {row["code"]: row for row in rows}


# -- Beancount ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    position: int
    event_id: str
    effective_on: date
    narration: str
    lines: tuple[tuple[str, int], ...]


def _quote(text: str) -> str:
    """A Beancount string literal; control characters become spaces to keep one line."""
    text = re.sub(r"[\x00-\x1f\x7f]", " ", text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _journal_entries(reader: Reader) -> list[_Entry]:
    view = reader.books_view
    entries: list[_Entry] = []
    after = 0
    while True:
        rows = view.query(
            "SELECT position, event_id, effective_on, narration FROM {t}fl_entries"
            " WHERE position > %s ORDER BY position LIMIT %s",
            [after, PAGE_SIZE_MAX],
        )
        if not rows:
            return entries
        last = int(rows[-1]["position"])
        lines: dict[int, list[tuple[str, int]]] = {}
        for line in view.query(
            "SELECT position, account, amount_fen FROM {t}fl_journal"
            " WHERE position > %s AND position <= %s ORDER BY position, line",
            [after, last],
        ):
            lines.setdefault(int(line["position"]), []).append(
                (str(line["account"]), int(line["amount_fen"]))
            )
        for row in rows:
            position = int(row["position"])
            entries.append(
                _Entry(
                    position,
                    str(row["event_id"]),
                    _as_date(row["effective_on"]),
                    str(row["narration"]),
                    tuple(lines.get(position, ())),
                )
            )
        after = last


def _month_ends(first: date, last: date) -> list[date]:
    ends = []
    month = first.replace(day=1)
    while month <= last:
        following = (month + timedelta(days=32)).replace(day=1)
        ends.append(following - timedelta(days=1))
        month = following
    return ends


def _account_comment(account: str) -> str:
    # The longest named ancestor gives the line of the statements the account rolls up into.
    for prefix in sorted(ACCOUNT_NAMES_ZH, key=len, reverse=True):
        if account == prefix or account.startswith(prefix + ":"):
            return f"  ; {ACCOUNT_NAMES_ZH[prefix]}"
    return ""


def _journal_text(reader: Reader) -> str:
    fund = reader.fund()
    title = str(fund["name"]) if fund else "fund-ledger"
    currency = str(fund["currency"]) if fund else CURRENCY_DEFAULT
    out = [
        f"; {title}: the journal of fund-ledger's books view, one transaction per event.",
        "; Balance assertions come from the daily account totals, an independent table.",
        f"option {_quote('title')} {_quote(title)}",
        f"option {_quote('operating_currency')} {_quote(currency)}",
        "",
    ]
    entries = _journal_entries(reader)
    if not entries:
        return "\n".join(out) + "\n"
    accounts = sorted({account for e in entries for account, _ in e.lines})
    width = max(len(a) for a in accounts) + 2
    first = min(e.effective_on for e in entries)
    last = max(e.effective_on for e in entries)
    out.extend(f"{first} open {a} {currency}{_account_comment(a)}" for a in accounts)

    # Blocks sort by date, then log position; assertions take position 0 to come first.
    blocks: list[tuple[date, int, list[str]]] = []
    for month_end in _month_ends(first, last):
        # Dated the 1st of the next month, which Beancount checks before that day's entries:
        # the balance through the month's end. "~ 0.00" makes it exact, as the tolerance
        # Beancount infers from two decimals would let a one-fen drift pass.
        on = month_end + timedelta(days=1)
        balances = reader.balances(month_end)
        blocks.append(
            (
                on,
                0,
                [
                    f"{on} balance {a:<{width}}{format_yuan(balances.get(a, 0)):>16}"
                    f" ~ 0.00 {currency}"
                    for a in accounts
                ],
            )
        )
    for e in entries:
        lines = [
            f"{e.effective_on} * {_quote(e.narration)}",
            f"  event-id: {_quote(e.event_id)}",
            f"  position: {e.position}",
        ]
        lines.extend(
            f"  {account:<{width}}{format_yuan(amount_fen):>16} {currency}"
            for account, amount_fen in e.lines
        )
        blocks.append((e.effective_on, e.position, lines))
    for _, _, lines in sorted(blocks, key=lambda block: block[:2]):
        out.append("")
        out.extend(lines)
    return "\n".join(out) + "\n"


def export_beancount(reader: Reader) -> str:
    """The whole journal as Beancount text, with month-end balance assertions for bean-check."""
    for _ in range(READ_ATTEMPTS_MAX):
        # Tracking moves in the same transaction as the rows, so an unchanged position means
        # every query in between saw the same books.
        before = reader.views.position("books")
        text = _journal_text(reader)
        if reader.views.position("books") == before:
            return text
    raise ExportMoved(READ_ATTEMPTS_MAX)


# -- 360Giving ---------------------------------------------------------------------------------


def _digest(name: str) -> str:
    """A stable short key for a name: the same organisation gets the same id in every store."""
    normal = unicodedata.normalize("NFKC", name).strip()
    return hashlib.sha256(normal.encode()).hexdigest()[:12]


def funder_identifier(fund_name: str) -> str:
    """The fund's 360Giving identifier, also the prefix of its grant and recipient ids."""
    return f"360G-fundledger-{_digest(fund_name)}"


def _yuan_number(amount_fen: int) -> int | float:
    """Yuan as a JSON number that reads back as exactly the two-decimal amount."""
    whole, frac = divmod(amount_fen, FEN_PER_YUAN)
    if frac == 0:
        return whole
    exact = Decimal(amount_fen).scaleb(-2)
    number = float(exact)
    # Below 10**13 yuan a double's shortest repr is the two-decimal amount: checked, not hoped.
    assert Decimal(repr(number)) == exact, (amount_fen, number)
    return number


def _grant_record(
    grant: dict[str, Any],
    project: dict[str, Any],
    funder: dict[str, str],
    currency: str,
) -> dict[str, Any]:
    prefix = funder["id"]
    # A project without a recorded implementer is run by its own team, named after it.
    recipient = str(project.get("organisation") or project["name"])
    name_en = f" ({project['name_en']})" if project.get("name_en") else ""
    about = f"：{project['description']}" if project.get("description") else ""
    record: dict[str, Any] = {
        "id": f"{prefix}-{grant['grant_id']}",
        "title": str(grant["purpose"])[:TITLE_CHARS_MAX],
        "description": f"{grant['purpose']} / {project['name']}{name_en}{about}",
        "currency": currency,
        "amountAwarded": _yuan_number(int(grant["amount_fen"])),
        "amountDisbursed": _yuan_number(int(grant["spent_fen"])),
        "awardDate": _iso(grant["decided_on"]),
        "recipientOrganization": [{"id": f"{prefix}-org-{_digest(recipient)}", "name": recipient}],
        "fundingOrganization": [dict(funder)],
        "grantProgramme": [{"code": str(grant["project_code"]), "title": str(project["name"])}],
    }
    if grant["status"] == "closed" and grant.get("closed_on"):
        record["actualDates"] = [
            {"startDate": _iso(grant["decided_on"]), "endDate": _iso(grant["closed_on"])}
        ]
    return record


def export_360giving(reader: Reader, *, published_on: date) -> dict[str, Any]:
    """The fund's approved and closed grants as a 360Giving data package (schema 1.4).

    Recipients are the projects' implementing organisations, never people; proposers and
    approvers are left out. A package needs at least one grant, so a fund that has awarded
    none raises ``ValueError`` rather than return a file 360Giving would refuse.
    """
    fund = reader.fund()
    if fund is None:
        msg = "no fund is established in this store"
        raise ValueError(msg)
    name = str(fund["name"])
    currency = str(fund["currency"])
    funder = {"id": funder_identifier(name), "name": name}
    projects = _projects_by_code(reader)
    grants = [
        _grant_record(grant, projects[grant["project_code"]], funder, currency)
        for grant in _all(lambda after: reader.grants(after=after, limit=PAGE_SIZE_MAX))
        if grant["status"] in AWARDED_STATUSES
    ]
    if not grants:
        msg = "the fund has no approved or closed grants to publish"
        raise ValueError(msg)
    return {
        "version": SCHEMA_VERSION_360GIVING,
        "title": f"{name} 资助 grants",
        "description": f"{name}已批准与已结项的资助 / approved and closed grants, in {currency}.",
        "identifier": f"{funder['id']}-{published_on.isoformat()}",
        "issued": published_on.isoformat(),
        "publisher": {"identifier": funder["id"], "name": name},
        "grants": grants,
    }


# -- CSV ---------------------------------------------------------------------------------------

Row = dict[str, Any]


@dataclass(frozen=True)
class _Column:
    zh: str
    en: str
    value: Callable[[Row], object]
    audience: str = "both"  # "public", "full" or "both"

    def shown(self, public: bool) -> bool:
        return self.audience in ("both", "public" if public else "full")

    @property
    def header(self) -> str:
        return f"{self.zh} / {self.en}"


def _yes_no(value: object) -> str:
    return "是" if value else "否"


def _yuan(key: str) -> Callable[[Row], str]:
    return lambda row: format_yuan(int(row[key])) if row.get(key) is not None else ""


def _field(key: str) -> Callable[[Row], object]:
    return lambda row: row.get(key)


def _contact_text(contact_json: str | None) -> str:
    contact = json.loads(contact_json) if contact_json else {}
    if isinstance(contact, str):  # a forgotten donor's: the ERASED mark
        return contact
    return "; ".join(f"{key}: {value}" for key, value in sorted(contact.items()))


def _public_donor_id(row: Row) -> str:
    # Ids of people would let the public link one person's gifts; organisations' may be shown.
    if row["donor_kind"] in ORGANISATION_KINDS and row.get("disclosure") != "anonymous":
        return str(row["donor_id"])
    return ""


DONATION_COLUMNS = (
    _Column("收据编号", "receipt_no", _field("receipt_no")),
    _Column("捐赠日期", "received_on", _field("received_on")),
    _Column("捐赠人", "donor", _field("donor_public_name"), "public"),
    _Column("捐赠人", "donor", _field("donor_name"), "full"),
    _Column("公开名称", "public_name", _field("donor_public_name"), "full"),
    _Column("披露方式", "disclosure", _field("disclosure"), "full"),
    _Column("捐赠人类型", "donor_kind", _field("donor_kind")),
    _Column("捐赠人编号", "donor_id", _public_donor_id, "public"),
    _Column("捐赠人编号", "donor_id", _field("donor_id"), "full"),
    _Column("联系方式", "contact", lambda row: _contact_text(row.get("contact_json")), "full"),
    _Column("金额（元）", "amount_yuan", _yuan("amount_fen")),
    _Column("渠道", "channel", _field("channel")),
    _Column("限定项目", "restricted_to_project", _field("project_code")),
    _Column("实物", "in_kind", lambda row: _yes_no(row["in_kind"])),
    _Column("冲销日期", "reversed_on", _field("reversed_on")),
    _Column("冲销原因", "reversal_reason", _field("reversal_reason")),
    _Column("备注", "note", _field("note"), "full"),
    _Column("捐赠编号", "donation_id", _field("donation_id"), "full"),
    _Column("记录时间", "recorded_at", _field("recorded_at"), "full"),
)

GRANT_COLUMNS = (
    _Column("资助编号", "grant_id", _field("grant_id")),
    _Column("项目", "project", _field("project_code")),
    _Column("项目名称", "project_name", _field("project_name")),
    _Column("用途", "purpose", _field("purpose")),
    _Column("金额（元）", "amount_yuan", _yuan("amount_fen")),
    _Column("状态", "status", _field("status")),
    _Column("提出日期", "proposed_on", _field("proposed_on")),
    _Column("提议人", "proposed_by", _field("proposer_name"), "full"),
    _Column("批准票数", "approvals", _field("approvals")),
    _Column("批准人", "approved_by", _field("approvers"), "full"),
    _Column("决定日期", "decided_on", _field("decided_on")),
    _Column("决定理由", "decision_reason", _field("decision_reason")),
    _Column("限定性资金（元）", "restricted_yuan", _yuan("restricted_fen")),
    _Column("非限定性资金（元）", "unrestricted_yuan", _yuan("unrestricted_fen")),
    _Column("已支出（元）", "spent_yuan", _yuan("spent_fen")),
    _Column("结项释放（元）", "released_yuan", _yuan("released_fen")),
    _Column("结项日期", "closed_on", _field("closed_on")),
)


def _public_payee(row: Row) -> str:
    return str(row["payee"]) if row["payee_kind"] == "organisation" else "个人 individual"


EXPENSE_COLUMNS = (
    _Column("支出编号", "expense_id", _field("expense_id")),
    _Column("支付日期", "paid_on", _field("paid_on")),
    _Column("项目", "project", _field("project_code")),
    _Column("资助编号", "grant_id", _field("grant_id")),
    _Column("类别", "category", _field("category")),
    _Column("用途", "description", _field("description")),
    _Column("收款方", "payee", _public_payee, "public"),
    _Column("收款方", "payee", _field("payee"), "full"),
    _Column("收款方类型", "payee_kind", _field("payee_kind")),
    _Column("金额（元）", "amount_yuan", _yuan("amount_fen")),
    _Column("限定性部分（元）", "restricted_yuan", _yuan("restricted_fen")),
    _Column("非限定性部分（元）", "unrestricted_yuan", _yuan("unrestricted_fen")),
    _Column("凭证号", "voucher_no", _field("voucher_no")),
    _Column("凭证哈希", "voucher_sha256", _field("voucher_sha256"), "full"),
    _Column("冲销日期", "reversed_on", _field("reversed_on")),
    _Column("冲销原因", "reversal_reason", _field("reversal_reason")),
    _Column("记录时间", "recorded_at", _field("recorded_at"), "full"),
)


def _donation_rows(reader: Reader, public: bool) -> Iterator[Row]:
    for page in _pages(lambda after: reader.donations(after=after, limit=PAGE_SIZE_MAX)):
        if not public:
            # Contacts are read only for the full variant, so the public one cannot leak them.
            contacts = _contacts(reader, {item["donor_id"] for item in page})
            for item in page:
                item["contact_json"] = contacts.get(item["donor_id"])
        yield from page


def _contacts(reader: Reader, donor_ids: set[str]) -> dict[str, str]:
    if not donor_ids:
        return {}
    marks = ", ".join(["%s"] * len(donor_ids))
    rows = reader.registers_view.query(
        f"SELECT donor_id, contact_json FROM {{t}}fl_donor_contacts WHERE donor_id IN ({marks})",
        sorted(donor_ids),
    )
    for row in rows:
        row["contact"] = json.loads(row["contact_json"])
    # Sealed contact details are opened here, for the full variant only; the forgotten's read
    # as erased.
    reader.open_sealed(rows, ("contact",))
    return {row["donor_id"]: json.dumps(row["contact"], ensure_ascii=False) for row in rows}


def _people_names(reader: Reader) -> dict[str, str]:
    rows = reader.registers_view.query("SELECT user_id, name FROM {t}fl_people")
    return {row["user_id"]: row["name"] for row in rows}


def _grant_rows(reader: Reader, public: bool) -> Iterator[Row]:
    projects = _projects_by_code(reader)
    people = {} if public else _people_names(reader)
    for grant in _all(lambda after: reader.grants(after=after, limit=PAGE_SIZE_MAX)):
        grant["project_name"] = projects.get(grant["project_code"], {}).get("name")
        if not public:
            grant["proposer_name"] = people.get(grant["proposer_id"], grant["proposer_id"])
            grant["approvers"] = "; ".join(
                f"{a.get('name') or a['member_id']} {_iso(a['approved_on'])}"
                for a in grant["approvals_by"]
            )
        yield grant


def _expense_rows(reader: Reader, public: bool) -> Iterator[Row]:
    return _all(lambda after: reader.expenses(after=after, limit=PAGE_SIZE_MAX))


_KINDS: dict[str, tuple[tuple[_Column, ...], Callable[[Reader, bool], Iterator[Row]]]] = {
    "donations": (DONATION_COLUMNS, _donation_rows),
    "grants": (GRANT_COLUMNS, _grant_rows),
    "expenses": (EXPENSE_COLUMNS, _expense_rows),
}
CSV_KINDS = tuple(_KINDS)


def _cell(value: object) -> str:
    text = _iso(value)
    # Spreadsheets run a cell that starts like a formula; free text must stay text.
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def export_csv(reader: Reader, kind: str, *, public: bool) -> bytes:
    """A register as CSV for Excel: UTF-8 with a BOM, a header of Chinese and English names.

    ``public`` follows the disclosure rules: donors under their public names, no contact
    details, no ids of people, payees only when organisations, no voucher hashes.
    """
    if kind not in _KINDS:
        msg = f"unknown export {kind!r}: expected one of {', '.join(CSV_KINDS)}"
        raise ValueError(msg)
    columns, rows = _KINDS[kind]
    shown = [column for column in columns if column.shown(public)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.header for column in shown])
    for row in rows(reader, public):
        writer.writerow([_cell(column.value(row)) for column in shown])
    return buffer.getvalue().encode("utf-8-sig")
