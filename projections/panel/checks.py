"""The warnings the panel would otherwise script, each with its rule, the records behind it,
and the committee's explanations of it (``Explanation.Recorded``).

Rules, stated once here and in each warning:

- ``far_above_usual``: a payment more than ``FAR_ABOVE_FACTOR`` times the median of its
  project's payments, for a project with at least ``PROJECT_PAYMENTS_MIN`` of them.
- ``weekend`` / ``holiday``: paid on a Saturday or Sunday that was not a working day
  (调休 working weekends are), or on a public holiday of mainland China (the ``holidays``
  package's calendar, which follows the State Council's notices each year).
- ``round_sum``: a payment of at least ¥1,000 that is a whole multiple of ¥1,000.
- ``duplicate_voucher``: the same voucher number, or the same attachment hash, on two payments
  that stand.
- ``related_party``: a payee who is also a donor, or a person who acts for the fund.
- ``negative_restricted``: a project's restricted money (restricted gifts received less the
  restricted part of its payments) below zero at the end of some day.
- ``single_member``: a decision one member took alone where approving takes the fund's quorum:
  each rejection of a grant and each reversal of a gift or a payment.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from statistics import median
from typing import Any

import holidays

from ledger.domain.disclosure import PAYEE_NAME
from ledger.domain.sealing import is_sealed
from ledger.domain.yuan import format_yuan
from projections.panel.facts import Audience, PanelFacts
from projections.sqlview.reading import as_date

FAR_ABOVE_FACTOR = 3
PROJECT_PAYMENTS_MIN = 5
ROUND_SUM_FEN = 100_000  # ¥1,000
WARNINGS_MAX = 5000

KINDS: dict[str, tuple[str, str]] = {
    "far_above_usual": ("远高于项目常规支出", "Far above the project's usual"),
    "weekend": ("周末支付", "Paid on a weekend"),
    "holiday": ("法定节假日支付", "Paid on a public holiday"),
    "round_sum": ("整数金额", "Round sum"),
    "duplicate_voucher": ("凭证重复使用", "Voucher used twice"),
    "related_party": ("关联方", "Related party"),
    "negative_restricted": ("限定性资金为负", "Restricted money below zero"),
    "single_member": ("单人决定", "Decided by one member"),
}
RULES: dict[str, str] = {
    "far_above_usual": f"金额超过本项目支出中位数的{FAR_ABOVE_FACTOR}倍（项目至少"
    f"{PROJECT_PAYMENTS_MIN}笔支出） / more than {FAR_ABOVE_FACTOR}× the project's median"
    f" payment (projects with {PROJECT_PAYMENTS_MIN}+ payments)",
    "weekend": "周六或周日且非调休工作日 / Saturday or Sunday, not a working weekend day",
    "holiday": "中国法定节假日 / a public holiday of mainland China",
    "round_sum": "金额为1000元的整数倍且不少于1000元 / a whole multiple of ¥1,000",
    "duplicate_voucher": "同一凭证号或同一附件哈希用于两笔以上支出 / one voucher number or"
    " attachment hash on two or more payments",
    "related_party": "收款方同时是捐赠人或基金管理人员 / a payee who is also a donor or acts"
    " for the fund",
    "negative_restricted": "某日终了时项目限定性资金小于零 / a project's restricted money"
    " below zero at the end of a day",
    "single_member": "批准资助需法定人数，否决资助或冲销由一人决定 / approving takes the"
    " quorum; this rejection or reversal was one member's",
}
INDIVIDUAL = "个人收款方 / an individual payee"


def warning_id(kind: str, *record_ids: str) -> str:
    """Stable across rebuilds and restarts: the kind and its records, hashed."""
    digest = hashlib.sha256("|".join([kind, *sorted(record_ids)]).encode()).hexdigest()
    return f"{kind}:{digest[:16]}"


def _warning(kind: str, records: list[dict[str, Any]], detail: str, **facts: Any) -> dict[str, Any]:
    zh, en = KINDS[kind]
    return {
        "id": warning_id(kind, *(r["id"] for r in records)),
        "kind": kind,
        "kind_label": f"{zh} / {en}",
        "rule": RULES[kind],
        "detail": detail,
        "records": records,
        **facts,
    }


def _expense_record(row: dict[str, Any]) -> dict[str, Any]:
    day = as_date(row["paid_on"]).isoformat()
    return {
        "kind": "expense",
        "id": row["expense_id"],
        "position": int(row["position"]),
        "href": f"/v1/expenses?project={row['project_code']}&from={day}&to={day}",
    }


class PanelChecks(PanelFacts):
    def checks(self, audience: Audience) -> list[dict[str, Any]]:
        """Every warning on the books as they stand, each with its explanations."""
        payments = self.registers_view.query(
            "SELECT expense_id, position, project_code, amount_fen, restricted_fen, paid_on,"
            " payee, payee_kind, voucher_no, voucher_sha256 FROM {t}fl_expenses"
            " WHERE reversed_position IS NULL ORDER BY position"
        )
        warnings = [
            *_far_above_usual(payments),
            *_dates_and_sums(payments),
            *_duplicate_vouchers(payments),
            *self._related_parties(payments, audience),
            *self._negative_restricted(payments),
            *self._single_member(),
        ][:WARNINGS_MAX]
        said: dict[str, list[dict[str, Any]]] = defaultdict(list)
        people = self.people_names()
        for row in self.registers_view.query(
            "SELECT warning_id, reason, member_id, explained_on FROM {t}fl_explanations"
            " ORDER BY position"
        ):
            said[row["warning_id"]].append(
                {
                    "reason": row["reason"],
                    "by": people.get(row["member_id"], row["member_id"]),
                    "on": as_date(row["explained_on"]).isoformat(),
                }
            )
        for warning in warnings:
            warning["explanations"] = said.get(warning["id"], [])
            warning["explained"] = bool(warning["explanations"])
        return warnings

    def _related_parties(
        self, payments: list[dict[str, Any]], audience: Audience
    ) -> list[dict[str, Any]]:
        donors = [dict(r) for r in self.registers_view.query("SELECT name FROM {t}fl_donors")]
        self.open_sealed(donors, ("name",))
        donor_names = {str(d["name"]) for d in donors if not is_sealed(d["name"])}
        staff = set(self.people_names().values())
        people = [dict(p) for p in payments if p["payee_kind"] != "organisation"]
        self.open_sealed(people, ("payee",))
        opened = iter(people)
        by_payee: dict[tuple[str, bool], list[dict[str, Any]]] = defaultdict(list)
        for row in payments:
            person = row["payee_kind"] != "organisation"
            name = str(next(opened)["payee"]) if person else str(row["payee"])
            by_payee[name, person].append(row)
        out = []
        for (name, person), rows in by_payee.items():
            roles = [
                role
                for role, names in (
                    (("捐赠人", "donor"), donor_names),
                    (("管理人员", "staff"), staff),
                )
                if name in names
            ]
            if not roles:
                continue
            shown = name if not person or PAYEE_NAME in audience.sight else INDIVIDUAL
            total_fen = sum(int(r["amount_fen"]) for r in rows)
            detail = (
                f"{shown}：收款{len(rows)}笔，共{format_yuan(total_fen)}元，同时是"
                f"{'、'.join(zh for zh, _ in roles)} / paid {len(rows)} times, also"
                f" {' and '.join(en for _, en in roles)}"
            )
            records = [_expense_record(r) for r in rows]
            out.append(_warning("related_party", records, detail, amount=format_yuan(total_fen)))
        return out

    def _single_member(self) -> list[dict[str, Any]]:
        fund = self.fund()
        if fund is None or int(fund["quorum"]) < 2:
            return []
        people = self.people_names()
        decisions = [
            ("grant", r)
            for r in self.registers_view.query(
                "SELECT grant_id AS id, amount_fen, decided_on AS on_day, decided_by AS by_id,"
                " project_code FROM {t}fl_grants WHERE status = 'rejected'"
            )
        ]
        for kind, table, key in (
            ("donation", "fl_donations", "donation_id"),
            ("expense", "fl_expenses", "expense_id"),
        ):
            decisions += [
                (kind, r)
                for r in self.registers_view.query(
                    f"SELECT {key} AS id, amount_fen, reversed_on AS on_day, reversed_by AS by_id,"
                    f" project_code FROM {{t}}{table} WHERE reversed_position IS NOT NULL"
                )
            ]
        out = []
        for kind, row in decisions:
            by = people.get(row["by_id"] or "", "?")
            day = as_date(row["on_day"]).isoformat()
            what = "否决资助 rejected" if kind == "grant" else "冲销 reversed"
            amount = format_yuan(int(row["amount_fen"]))
            detail = f"{by}：{day} {what} {amount}元，法定人数为{fund['quorum']} / quorum"
            record = {
                "kind": kind,
                "id": row["id"],
                "href": f"/v1/{kind}s?project={row['project_code'] or ''}",
            }
            out.append(_warning("single_member", [record], detail, amount=amount, on=day, by=by))
        return out

    def _negative_restricted(self, payments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        moves: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.registers_view.query(
            "SELECT project_code, received_on, amount_fen FROM {t}fl_donations"
            " WHERE reversed_position IS NULL AND project_code IS NOT NULL"
            " AND project_code <> ''"
        ):
            moves[row["project_code"]][as_date(row["received_on"]).isoformat()] += int(
                row["amount_fen"]
            )
        for row in payments:
            day = as_date(row["paid_on"]).isoformat()
            moves[row["project_code"]][day] -= int(row["restricted_fen"])
        out = []
        for project, days in sorted(moves.items()):
            balance_fen, lowest = 0, (0, "")
            for day in sorted(days):
                balance_fen += days[day]
                lowest = min(lowest, (balance_fen, day))
            if lowest[0] < 0:
                record = {"kind": "project", "id": project, "href": f"/v1/projects/{project}"}
                detail = (
                    f"{project}：{lowest[1]}限定性资金为{format_yuan(lowest[0])}元"
                    f" / restricted money {format_yuan(lowest[0])} on {lowest[1]}"
                )
                out.append(
                    _warning(
                        "negative_restricted",
                        [record],
                        detail,
                        amount=format_yuan(lowest[0]),
                        on=lowest[1],
                    )
                )
        return out


def _far_above_usual(payments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_project: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in payments:
        by_project[row["project_code"]].append(row)
    out = []
    for project, rows in by_project.items():
        if len(rows) < PROJECT_PAYMENTS_MIN:
            continue
        usual_fen = median(int(r["amount_fen"]) for r in rows)
        for row in rows:
            amount_fen = int(row["amount_fen"])
            if amount_fen > FAR_ABOVE_FACTOR * usual_fen:
                detail = (
                    f"{project}：{format_yuan(amount_fen)}元，本项目中位数"
                    f"{format_yuan(int(usual_fen))}元 / {format_yuan(amount_fen)} against a"
                    f" median of {format_yuan(int(usual_fen))}"
                )
                out.append(
                    _warning(
                        "far_above_usual",
                        [_expense_record(row)],
                        detail,
                        amount=format_yuan(amount_fen),
                        usual=format_yuan(int(usual_fen)),
                    )
                )
    return out


def _dates_and_sums(payments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    years = sorted({as_date(r["paid_on"]).year for r in payments})
    calendar = holidays.country_holidays("CN", years=years, language="zh_CN")
    out = []
    for row in payments:
        day = as_date(row["paid_on"])
        amount_fen = int(row["amount_fen"])
        record = [_expense_record(row)]
        facts = {"amount": format_yuan(amount_fen), "on": day.isoformat()}
        if day in calendar:
            name = calendar.get(day)
            out.append(_warning("holiday", record, f"{day}：{name} / public holiday", **facts))
        elif day.isoweekday() >= 6 and not calendar.is_working_day(day):
            out.append(_warning("weekend", record, f"{day}：周末 / weekend", **facts))
        if amount_fen >= ROUND_SUM_FEN and amount_fen % ROUND_SUM_FEN == 0:
            out.append(_warning("round_sum", record, f"{format_yuan(amount_fen)}元", **facts))
    return out


def _duplicate_vouchers(payments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for column, what in (("voucher_no", "凭证号 voucher no."), ("voucher_sha256", "附件哈希 hash")):
        seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in payments:
            if row[column]:
                seen[str(row[column])].append(row)
        for value, rows in seen.items():
            if len(rows) < 2:
                continue
            # The hash itself is shown only as the start of it: enough to match, nothing more.
            shown = value if column == "voucher_no" else value[:12] + "…"
            detail = f"{what} {shown}：{len(rows)}笔 / on {len(rows)} payments"
            records = [_expense_record(r) for r in rows]
            out.append(_warning("duplicate_voucher", records, detail, voucher=shown))
    return out
