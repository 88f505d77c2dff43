"""附注: the notes to the statements: the basis they are prepared on, restricted net assets by
project with their release, gifts in kind and how their value was set, services given (hours,
never income), related parties, and corrections recorded after the period."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ledger.domain.accounts import ACCOUNT_NAMES_ZH, CASH_AND_EQUIVALENTS
from ledger.domain.books import total_fen
from ledger.domain.restrictions import RELEASED_RESTRICTED
from ledger.domain.yuan import format_yuan
from projections.sqlview.reading import iso_day

SYSTEM = "民间非营利组织会计制度（财政部2024年12月修订，2026年1月1日起施行）"
SYSTEM_EN = (
    "Accounting System for Non-profit Organisations, as revised by the Ministry of Finance in "
    "December 2024, in force from 1 January 2026"
)
_RECEIVED = ("Donations", "GovernmentGrants", "InKind")


def basis(fund_name: str, first_year: int | None, since: date, until: date) -> dict[str, str]:
    return {
        "entity": fund_name,
        "system": SYSTEM,
        "system_en": SYSTEM_EN,
        "basis": "权责发生制；人民币元，金额精确到分 / accrual basis, yuan to the fen",
        "period": f"{since.isoformat()} — {until.isoformat()}",
        "first_year": (
            f"基金首个会计年度自成立当月至{first_year}年12月31日 / the fund's first year runs "
            f"from the month it was established to 31 December {first_year}"
            if first_year is not None
            else ""
        ),
        "restrictions": (
            "限定性资金随项目支出按日解除限定：解除额=min(累计限定性收入, 累计项目支出)；实物捐赠"
            "随领用、发放或折旧解除 / restricted money is released day by day as its project "
            "spends it; restricted goods as they are used, handed out or depreciated"
        ),
    }


def _restricted(b: Mapping[str, int], component: str, kinds: Sequence[str]) -> int:
    return -sum(b.get(f"Income:Restricted:{kind}:{component}", 0) for kind in kinds)


def restricted_by_project(
    opening: Mapping[str, int], closing: Mapping[str, int]
) -> list[dict[str, str]]:
    """Per project: restricted net assets at the start, received, released, at the end (from
    the flows, before any closing entry)."""
    components = sorted(
        {
            account.rsplit(":", 1)[1]
            for account in (*opening, *closing)
            if account.startswith("Income:Restricted:")
        }
    )
    rows = []
    for component in components:
        kinds = (*_RECEIVED, "ReleasedFromRestriction")
        opening_fen = _restricted(opening, component, kinds)
        closing_fen = _restricted(closing, component, kinds)
        received_fen = _restricted(closing, component, _RECEIVED) - _restricted(
            opening, component, _RECEIVED
        )
        released_fen = total_fen(closing, f"{RELEASED_RESTRICTED}:{component}") - total_fen(
            opening, f"{RELEASED_RESTRICTED}:{component}"
        )
        assert opening_fen + received_fen - released_fen == closing_fen
        assert closing_fen >= 0, f"restricted net assets of {component} below zero"
        rows.append(
            {
                "project": component.lower(),
                "opening": format_yuan(opening_fen),
                "received": format_yuan(received_fen),
                "released": format_yuan(released_fen),
                "closing": format_yuan(closing_fen),
            }
        )
    return rows


_MONEY_EN = {
    "Assets:Cash": "Cash on hand",
    "Assets:Bank": "Bank deposits",
    "Assets:Platforms": "Other monetary funds (payment platforms)",
}


def money_by_account(
    opening: Mapping[str, int], closing: Mapping[str, int]
) -> list[dict[str, str]]:
    """货币资金 line by line: 库存现金, 银行存款, 其他货币资金, then each account under them
    (a second bank account, WeChat Pay, Alipay), at the start and the end."""
    rows = []
    for top in sorted(CASH_AND_EQUIVALENTS, key=lambda a: list(_MONEY_EN).index(a)):
        accounts = sorted({a for a in (*opening, *closing) if a.startswith(top + ":")})
        rows.append(
            {
                "account": top,
                "label": f"{ACCOUNT_NAMES_ZH[top]} / {_MONEY_EN[top]}",
                "opening": format_yuan(total_fen(opening, top)),
                "closing": format_yuan(total_fen(closing, top)),
            }
        )
        rows.extend(
            {
                "account": account,
                "label": account.removeprefix(top + ":"),
                "opening": format_yuan(opening.get(account, 0)),
                "closing": format_yuan(closing.get(account, 0)),
            }
            for account in accounts
        )
    return rows


BASIS_LABELS = {
    "invoice": "捐赠方提供的发票 / the donor's invoice",
    "market_price": "同类物品市场价格 / market price of like goods",
    "appraisal": "评估价值 / appraisal",
    None: "尚未说明 / not yet stated",
}


def in_kind_gifts(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "receipt_no": row["receipt_no"],
            "project": row["project_code"],
            "received_on": iso_day(row["received_on"]),
            "fair_value": format_yuan(int(row["amount_fen"])),
            "basis": row["basis"],
            "basis_label": BASIS_LABELS.get(row["basis"], str(row["basis"])),
            "evidence": row["evidence"],
            "fixed_asset": bool(row["fixed_asset"]),
            "useful_life_months": int(row["useful_life_months"]),
            "used": format_yuan(int(row["used_fen"])),
            "depreciated": format_yuan(int(row["depreciated_fen"])),
            "reversed_on": iso_day(row["reversed_on"]),
        }
        for row in rows
    ]


def services(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Service hours by project and provider: disclosed, not recognised as income."""
    return {
        "treatment": (
            "服务捐赠不确认为捐赠收入，在附注中按项目与提供方披露服务时长 / donated services "
            "are not recognised as income; their hours are disclosed here"
        ),
        "rows": [
            {
                "project": row["project_code"],
                "provider": row["provider"],
                "hours": int(row["hours"]),
                "people": int(row["people"]),
                "occasions": int(row["occasions"]),
            }
            for row in rows
        ],
        "hours_total": sum(int(row["hours"]) for row in rows),
    }
