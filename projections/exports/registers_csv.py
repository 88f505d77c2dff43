"""A register as CSV for Excel: donations, grants or expenses, full or public."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ledger.domain.disclosure import (
    DONOR_CONTACT,
    DONOR_NAME,
    EVERY_FIELD,
    GIFT_NOTE,
    PAYEE_NAME,
    VOUCHER_HASH,
    public_donor_id,
)
from ledger.domain.yuan import format_yuan
from projections.exports.rows import every_row, pages, text_of
from projections.panel.labels import label
from projections.reader import Reader
from projections.sqlview.reading import PAGE_SIZE_MAX

Row = dict[str, Any]


@dataclass(frozen=True)
class _Column:
    zh: str
    en: str
    value: Callable[[Row], object]
    audience: str = "both"  # "public", "full" or "both"
    # In the full variant, the personal field the reader must be allowed to see; without it
    # the column shows ``instead`` (or is left out).
    field: str | None = None
    instead: Callable[[Row], object] | None = None

    def shown(self, public: bool, sight: frozenset[str]) -> bool:
        if self.audience not in ("both", "public" if public else "full"):
            return False
        return public or self.field is None or self.field in sight or self.instead is not None

    def cell(self, row: Row, public: bool, sight: frozenset[str]) -> object:
        if public or self.field is None or self.field in sight:
            return self.value(row)
        assert self.instead is not None
        return self.instead(row)

    @property
    def header(self) -> str:
        return f"{self.zh} / {self.en}"


def _yes_no(value: object) -> str:
    return "是" if value else "否"


def _yuan(key: str) -> Callable[[Row], str]:
    return lambda row: format_yuan(int(row[key])) if row.get(key) is not None else ""


def _field(key: str) -> Callable[[Row], object]:
    return lambda row: row.get(key)


def _zh(key: str) -> Callable[[Row], object]:
    """A code's Chinese name (``programme`` → 业务活动成本), beside the code's own column."""
    return lambda row: label(row.get(key)) if row.get(key) else ""


def _contact_text(contact_json: str | None) -> str:
    contact = json.loads(contact_json) if contact_json else {}
    if isinstance(contact, str):  # a forgotten donor's: the ERASED mark
        return contact
    return "; ".join(f"{key}: {value}" for key, value in sorted(contact.items()))


def _contact_cell(row: Row) -> str:
    return _contact_text(row.get("contact_json"))


def _public_donor_id(row: Row) -> str:
    # Ids of people would let the public link one person's gifts; organisations' may be shown.
    if public_donor_id(row["donor_kind"], row.get("disclosure") or "anonymous"):
        return str(row["donor_id"])
    return ""


DONATION_COLUMNS = (
    _Column("收据编号", "receipt_no", _field("receipt_no")),
    _Column("捐赠日期", "received_on", _field("received_on")),
    _Column("捐赠人", "donor", _field("donor_public_name"), "public"),
    _Column(
        "捐赠人", "donor", _field("donor_name"), "full", DONOR_NAME, _field("donor_public_name")
    ),
    _Column("公开名称", "public_name", _field("donor_public_name"), "full"),
    _Column("披露方式", "disclosure", _field("disclosure"), "full"),
    _Column("披露方式（中文）", "disclosure_zh", _zh("disclosure"), "full"),
    _Column("捐赠人类型", "donor_kind", _field("donor_kind")),
    _Column("捐赠人类型（中文）", "donor_kind_zh", _zh("donor_kind")),
    _Column("捐赠人编号", "donor_id", _public_donor_id, "public"),
    _Column("捐赠人编号", "donor_id", _field("donor_id"), "full"),
    _Column(
        "联系方式",
        "contact",
        lambda row: _contact_text(row.get("contact_json")),
        "full",
        DONOR_CONTACT,
    ),
    _Column("金额（元）", "amount_yuan", _yuan("amount_fen")),
    _Column("渠道", "channel", _field("channel")),
    _Column("渠道（中文）", "channel_zh", _zh("channel")),
    _Column("限定项目", "restricted_to_project", _field("project_code")),
    _Column("项目名称", "project_name", _field("project_name")),
    _Column("实物", "in_kind", lambda row: _yes_no(row["in_kind"])),
    _Column("冲销日期", "reversed_on", _field("reversed_on")),
    _Column("冲销原因", "reversal_reason", _field("reversal_reason")),
    _Column("备注", "note", _field("note"), "full", GIFT_NOTE),
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
    _Column("状态（中文）", "status_zh", _zh("status")),
    _Column("提出日期", "proposed_on", _field("proposed_on")),
    _Column("提议人", "proposed_by", _field("proposer_name"), "full"),
    _Column("批准票数", "approvals", _field("approvals")),
    _Column("批准人", "approved_by", _field("approvers"), "full"),
    _Column("决定日期", "decided_on", _field("decided_on")),
    _Column("决定理由", "decision_reason", _field("decision_reason")),
    _Column("否决人", "rejected_by", _field("decided_by_name"), "full"),
    _Column("结项人", "closed_by", _field("closed_by_name"), "full"),
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
    _Column("项目名称", "project_name", _field("project_name")),
    _Column("资助编号", "grant_id", _field("grant_id")),
    _Column("类别", "category", _field("category")),
    _Column("类别（中文）", "category_zh", _zh("category")),
    _Column("用途", "description", _field("description")),
    _Column("收款方", "payee", _public_payee, "public"),
    _Column("收款方", "payee", _field("payee"), "full", PAYEE_NAME, _public_payee),
    _Column("收款方类型", "payee_kind", _field("payee_kind")),
    _Column("收款方类型（中文）", "payee_kind_zh", _zh("payee_kind")),
    _Column("金额（元）", "amount_yuan", _yuan("amount_fen")),
    _Column("限定性部分（元）", "restricted_yuan", _yuan("restricted_fen")),
    _Column("非限定性部分（元）", "unrestricted_yuan", _yuan("unrestricted_fen")),
    _Column("凭证号", "voucher_no", _field("voucher_no")),
    _Column("凭证哈希", "voucher_sha256", _field("voucher_sha256"), "full", VOUCHER_HASH),
    _Column("冲销日期", "reversed_on", _field("reversed_on")),
    _Column("冲销原因", "reversal_reason", _field("reversal_reason")),
    _Column("冲销决定人", "reversed_by", _field("reversed_by_name"), "full"),
    _Column("记录时间", "recorded_at", _field("recorded_at"), "full"),
)

CORRECTION_COLUMNS = (
    _Column("对象", "kind", _field("kind")),
    _Column("对象（中文）", "kind_zh", _zh("kind")),
    _Column("编号", "id", _field("id")),
    _Column("金额（元）", "amount_yuan", _yuan("amount_fen")),
    _Column("原日期", "original_on", _field("original_on")),
    _Column("更正日期", "reversed_on", _field("reversed_on")),
    _Column("原因", "reason", _field("reversal_reason")),
    _Column("决定人", "decided_by", _field("decided_by"), "full"),
)

OPINION_COLUMNS = (
    _Column("意见编号", "opinion_id", _field("opinion_id")),
    _Column("对象", "subject_kind", _field("subject_kind")),
    _Column("对象（中文）", "subject_kind_zh", _zh("subject_kind")),
    _Column("对象编号", "subject_id", _field("subject_id")),
    _Column("日期", "recorded_on", _field("recorded_on")),
    _Column("专家", "author", _field("author"), "full"),
    _Column("意见（最新）", "text", _field("text")),
    _Column("已修订", "superseded", lambda row: _yes_no(row["superseded"])),
    _Column("答复与修订", "thread", lambda row: row["thread_text"]),
)


def _donation_rows(reader: Reader, public: bool, sight: frozenset[str]) -> Iterator[Row]:
    projects = reader.projects_by_code()
    for page in pages(lambda after: reader.donations(after=after, limit=PAGE_SIZE_MAX)):
        for item in page:
            item["project_name"] = projects.get(item.get("project_code") or "", {}).get("name")
        if not public and DONOR_CONTACT in sight:
            # Contacts are read only for the full variant, so the public one cannot leak them.
            contacts = reader.donor_contacts({item["donor_id"] for item in page})
            for item in page:
                item["contact_json"] = contacts.get(item["donor_id"])
        yield from page


def _grant_rows(reader: Reader, public: bool, _sight: frozenset[str]) -> Iterator[Row]:
    projects = reader.projects_by_code()
    people = {} if public else reader.people_names()
    for grant in every_row(lambda after: reader.grants(after=after, limit=PAGE_SIZE_MAX)):
        grant["project_name"] = projects.get(grant["project_code"], {}).get("name")
        if not public:
            grant["proposer_name"] = people.get(grant["proposer_id"], grant["proposer_id"])
            grant["approvers"] = "; ".join(
                f"{a.get('name') or a['member_id']} {text_of(a['approved_on'])}"
                for a in grant["approvals_by"]
            )
        yield grant


def _expense_rows(reader: Reader, public: bool, _sight: frozenset[str]) -> Iterator[Row]:
    projects = reader.projects_by_code()
    people = {} if public else reader.people_names()
    for row in every_row(lambda after: reader.expenses(after=after, limit=PAGE_SIZE_MAX)):
        row["project_name"] = projects.get(row["project_code"], {}).get("name")
        row["reversed_by_name"] = people.get(row.get("reversed_by") or "")
        yield row


def _correction_rows(reader: Reader, _public: bool, _sight: frozenset[str]) -> Iterator[Row]:
    for kind, row in reader.corrections():
        yield {"kind": kind, **row}


# Who spoke in an opinion's thread, as the public reads it: by role.
_SPEAKERS = {"answer": "基金管理委员会", "superseded": "专家"}


def _opinion_rows(reader: Reader, public: bool, _sight: frozenset[str]) -> Iterator[Row]:
    for row in every_row(lambda after: reader.opinions(after=after, limit=PAGE_SIZE_MAX)):
        row["thread_text"] = "; ".join(
            f"{text_of(n['recorded_on'])} "
            f"{_SPEAKERS[n['kind']] if public else n['author']}"
            f"{'答复' if n['kind'] == 'answer' else '修订'}: {n['text']}"
            for n in row["thread"]
        )
        yield row


_KINDS: dict[
    str, tuple[tuple[_Column, ...], Callable[[Reader, bool, frozenset[str]], Iterator[Row]]]
] = {
    "donations": (DONATION_COLUMNS, _donation_rows),
    "grants": (GRANT_COLUMNS, _grant_rows),
    "expenses": (EXPENSE_COLUMNS, _expense_rows),
    "corrections": (CORRECTION_COLUMNS, _correction_rows),
    "opinions": (OPINION_COLUMNS, _opinion_rows),
}
CSV_KINDS = tuple(_KINDS)


# What starts a formula in some spreadsheet (OWASP's list, with "|" for DDE and "%" for
# Calc's escapes), looked for after any leading white space and with full-width forms folded
# (＝, ＋, ｜ ... are formulas to Excel in a Chinese locale).
FORMULA_STARTS = frozenset("=+-@|%")


def _cell(value: object) -> str:
    """A cell's text, made text for a spreadsheet: OWASP's rule for CSV injection, on every
    cell. A cell that a spreadsheet could read as a formula is prefixed with an apostrophe
    (shown by no spreadsheet, kept by any program that reads the file)."""
    text = text_of(value)
    folded = unicodedata.normalize("NFKC", text).lstrip()
    if folded[:1] in FORMULA_STARTS or text[:1] in {"\t", "\r", "\n"}:
        return "'" + text
    return text


def export_csv(
    reader: Reader, kind: str, *, public: bool, sight: frozenset[str] = EVERY_FIELD
) -> bytes:
    """A register as CSV for Excel: UTF-8 with a BOM, a header of Chinese and English names.

    ``public`` follows the disclosure rules: donors under their public names, no contact
    details, no ids of people, payees only when organisations, no voucher hashes. The full
    variant shows of the personal fields (``ledger.domain.disclosure``) those in ``sight``.
    """
    if kind not in _KINDS:
        msg = f"unknown export {kind!r}: expected one of {', '.join(CSV_KINDS)}"
        raise ValueError(msg)
    headers, rows = register_table(reader, kind, public=public, sight=sight)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def register_table(
    reader: Reader, kind: str, *, public: bool, sight: frozenset[str] = EVERY_FIELD
) -> tuple[list[str], list[list[object]]]:
    """A register's header and rows, in the variant ``public`` and ``sight`` give."""
    if kind not in _KINDS:
        msg = f"unknown export {kind!r}: expected one of {', '.join(CSV_KINDS)}"
        raise ValueError(msg)
    columns, rows = _KINDS[kind]
    shown = [column for column in columns if column.shown(public, sight)]
    return (
        [column.header for column in shown],
        [
            [column.cell(row, public, sight) for column in shown]
            for row in rows(reader, public, sight)
        ],
    )
