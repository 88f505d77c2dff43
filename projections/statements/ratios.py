"""Spending ratios against the fund's configured basis and thresholds (慈善组织年度支出和
管理费用 rules): never "ok" when the basis to measure against is missing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ledger.domain.yuan import format_yuan


class RatioBasis(StrEnum):
    # A charity with public fundraising: programme spending against the previous year's
    # total income, management against total spending.
    PREVIOUS_YEAR_INCOME = "previous_year_income"
    # A foundation without public fundraising: programme spending against net assets at the
    # end of the previous year.
    PREVIOUS_YEAR_END_NET_ASSETS = "previous_year_end_net_assets"


BASIS_LABELS = {
    RatioBasis.PREVIOUS_YEAR_INCOME: "上年总收入 / the previous year's total income",
    RatioBasis.PREVIOUS_YEAR_END_NET_ASSETS: "上年末净资产 / net assets at the previous year-end",
}


@dataclass(frozen=True)
class Thresholds:
    """Spending-ratio rules, from configuration (a charity with public fundraising by default)."""

    management_share_max: Decimal = Decimal("0.10")
    charitable_spending_min: Decimal = Decimal("0.70")
    basis: RatioBasis = RatioBasis.PREVIOUS_YEAR_INCOME


def _ratio(numerator_fen: int, denominator_fen: int | None) -> Decimal | None:
    if not denominator_fen or denominator_fen <= 0:
        return None
    return (Decimal(numerator_fen) / Decimal(denominator_fen)).quantize(Decimal("0.0001"))


def _test(value: Decimal | None, limit: Decimal, *, at_least: bool) -> str:
    if value is None:
        return "not computable"
    passed = value >= limit if at_least else value <= limit
    return "ok" if passed else ("below the minimum" if at_least else "above the maximum")


def ratios(
    year: int,
    programme_fen: int,
    spent_fen: int,
    management_fen: int,
    basis_fen: int | None,
    thresholds: Thresholds,
) -> dict[str, Any]:
    """The year's two ratios; ``basis_fen`` is None when the books hold no previous year."""
    charitable = _ratio(programme_fen, basis_fen)
    management = _ratio(management_fen, spent_fen)
    return {
        "year": year,
        "charitable_spending": {
            "numerator": format_yuan(programme_fen),
            "numerator_label": "业务活动成本（本年） / programme costs this year",
            "basis": thresholds.basis.value,
            "basis_label": BASIS_LABELS[thresholds.basis],
            "basis_amount": format_yuan(basis_fen) if basis_fen is not None else None,
            "ratio": str(charitable) if charitable is not None else None,
            "minimum": str(thresholds.charitable_spending_min),
            "status": _test(charitable, thresholds.charitable_spending_min, at_least=True),
        },
        "management_share": {
            "numerator": format_yuan(management_fen),
            "basis_label": "费用合计（本年） / total expenses this year",
            "basis_amount": format_yuan(spent_fen),
            "ratio": str(management) if management is not None else None,
            "maximum": str(thresholds.management_share_max),
            "status": _test(management, thresholds.management_share_max, at_least=False),
        },
    }
