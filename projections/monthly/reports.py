"""Monthly reports computed from the monthly view, and frozen when the books close."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from ledger.domain.accounts import project_component
from ledger.domain.books import position_from, total_fen
from ledger.domain.yuan import format_yuan
from projections.sqlview.writes import Cursor


def _balances(c: Cursor, month: str, *, inclusive: bool) -> dict[str, int]:
    c.execute(
        "SELECT account, SUM(amount_fen) AS amount_fen FROM {t}fl_month_accounts"
        f" WHERE month {'<=' if inclusive else '<'} %s GROUP BY account",
        (month,),
    )
    return {row["account"]: int(row["amount_fen"]) for row in c.fetchall()}


def _scalar(c: Cursor, sql: str, params: tuple[Any, ...]) -> int:
    c.execute(sql, params)
    row = c.fetchone() or {}
    value = next(iter(row.values()), None) if row else None
    return int(value or 0)


def _position_json(c: Cursor, month: str, *, inclusive: bool) -> dict[str, object]:
    op = "<=" if inclusive else "<"
    committed_fen = _scalar(
        c,
        f"SELECT SUM(commitment_change_fen) FROM {{t}}fl_month_grants WHERE month {op} %s",
        (month,),
    )
    events = _scalar(
        c, f"SELECT SUM(events) FROM {{t}}fl_month_events WHERE month {op} %s", (month,)
    )
    return position_from(_balances(c, month, inclusive=inclusive), committed_fen, events).as_json()


def _spent_fen(balances: dict[str, int], component: str) -> int:
    """What a project (by its account component) spent, from these balances or movements."""
    return sum(
        amount
        for account, amount in balances.items()
        if account.startswith("Expenses:") and account.endswith(":" + component)
    )


def monthly_report(c: Cursor, month: str) -> dict[str, Any]:
    """Income, spending, balances and each project's progress for one month."""
    c.execute(
        "SELECT account, amount_fen FROM {t}fl_month_accounts WHERE month = %s ORDER BY account",
        (month,),
    )
    moves = {row["account"]: int(row["amount_fen"]) for row in c.fetchall()}
    income_fen = {
        account: -amount
        for account, amount in moves.items()
        if account.startswith("Income:") and "ReleasedFromRestriction" not in account
    }
    spending_by_category: defaultdict[str, int] = defaultdict(int)
    for account, amount in moves.items():
        if account.startswith("Expenses:"):
            spending_by_category[account.split(":")[1].lower()] += amount
    to_date = _balances(c, month, inclusive=True)
    c.execute(
        "SELECT project_code, SUM(approved_fen) AS approved_fen,"
        " SUM(released_fen) AS released_fen, SUM(commitment_change_fen) AS committed_fen"
        " FROM {t}fl_month_grants WHERE month <= %s GROUP BY project_code ORDER BY project_code",
        (month,),
    )
    projects = []
    for row in c.fetchall():
        component = project_component(row["project_code"])
        spent_to_date_fen = _spent_fen(to_date, component)
        spent_in_month_fen = _spent_fen(moves, component)
        projects.append(
            {
                "project": row["project_code"],
                "approved_to_date": format_yuan(int(row["approved_fen"])),
                "released_to_date": format_yuan(int(row["released_fen"])),
                "spent_in_month": format_yuan(spent_in_month_fen),
                "spent_to_date": format_yuan(spent_to_date_fen),
                "committed_unspent": format_yuan(int(row["committed_fen"])),
            }
        )
    return {
        "month": month,
        "opening": _position_json(c, month, inclusive=False),
        "closing": _position_json(c, month, inclusive=True),
        "income": {account: format_yuan(fen) for account, fen in income_fen.items()},
        "income_total": format_yuan(sum(income_fen.values())),
        "spending_by_category": {
            k: format_yuan(v) for k, v in sorted(spending_by_category.items())
        },
        "spending_total": format_yuan(total_fen(moves, "Expenses")),
        "projects": projects,
        "frozen": False,
    }


def freeze_months_through(c: Cursor, closed_through: str, position: int) -> None:
    """Store the report of every month up to a closed one that is not frozen yet."""
    c.execute(
        "SELECT month FROM {t}fl_month_events WHERE month <= %s AND month NOT IN"
        " (SELECT month FROM {t}fl_month_reports) ORDER BY month",
        (closed_through,),
    )
    for month in [row["month"] for row in c.fetchall()]:
        report = monthly_report(c, month)
        report["frozen"] = True
        report["frozen_at_position"] = position
        c.execute(
            "INSERT INTO {t}fl_month_reports (month, frozen_position, report_json)"
            " VALUES (%s, %s, %s)",
            (month, position, json.dumps(report, ensure_ascii=False, sort_keys=True)),
        )
