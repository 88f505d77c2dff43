"""The financial statements, from the books view's balances: trial balance, 资产负债表,
业务活动表, restricted money rolled forward, functional expenses, spending ratios."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.domain.books import total_fen
from ledger.domain.yuan import format_yuan
from projections.books.queries import BooksQueries
from projections.sqlview.reading import iso_day


@dataclass(frozen=True)
class Thresholds:
    """Spending-ratio limits, from configuration (the law's figures are the defaults)."""

    management_share_max: Decimal = Decimal("0.10")
    charitable_spending_min: Decimal = Decimal("0.70")


class Statements(BooksQueries):
    def trial_balance(self, as_of: date | None = None) -> list[dict[str, str]]:
        balances = self.balances(as_of)
        rows = [
            {
                "account": account,
                "debit": format_yuan(amount) if amount > 0 else "0.00",
                "credit": format_yuan(-amount) if amount < 0 else "0.00",
            }
            for account, amount in sorted(balances.items())
        ]
        assert sum(balances.values()) == 0, "the trial balance does not balance"
        return rows

    def balance_sheet(self, as_of: date | None = None) -> dict[str, Any]:
        """资产负债表: assets against restricted and unrestricted net assets."""
        b = self.balances(as_of)
        restricted_fen = -total_fen(b, "Income:Restricted")
        unrestricted_fen = -total_fen(b, "Income:Unrestricted") - total_fen(b, "Expenses")
        assets = {
            "Assets:Bank": b.get("Assets:Bank", 0),
            "Assets:InKind": b.get("Assets:InKind", 0),
        }
        assert sum(assets.values()) == restricted_fen + unrestricted_fen
        return {
            "as_of": iso_day(as_of),
            "assets": {k: format_yuan(v) for k, v in assets.items()},
            "assets_total": format_yuan(sum(assets.values())),
            "liabilities_total": "0.00",
            "net_assets": {
                "restricted": format_yuan(restricted_fen),
                "unrestricted": format_yuan(unrestricted_fen),
                "designated_by_committee": format_yuan(
                    -(total_fen(b, "Equity:Designations") - b.get("Equity:Designations:Offset", 0))
                ),
            },
            "net_assets_total": format_yuan(restricted_fen + unrestricted_fen),
        }

    def activities(self, since: date, until: date) -> dict[str, Any]:
        """业务活动表: income and expenses for a period, restricted and unrestricted columns."""
        moves = self.movements(since, until)

        def column(prefix: str) -> dict[str, str]:
            lines: dict[str, int] = {}
            for account, amount in moves.items():
                if account.startswith(prefix):
                    line = account.split(":")[2]
                    lines[line] = lines.get(line, 0) - amount
            return {k: format_yuan(v) for k, v in sorted(lines.items())}

        expenses: dict[str, int] = {}
        for account, amount in moves.items():
            if account.startswith("Expenses:"):
                category = account.split(":")[1].lower()
                expenses[category] = expenses.get(category, 0) + amount
        restricted_change = -total_fen(moves, "Income:Restricted")
        unrestricted_change = -total_fen(moves, "Income:Unrestricted") - total_fen(
            moves, "Expenses"
        )
        return {
            "from": since.isoformat(),
            "to": until.isoformat(),
            "income": {
                "restricted": column("Income:Restricted:"),
                "unrestricted": column("Income:Unrestricted:"),
            },
            "expenses": {k: format_yuan(v) for k, v in sorted(expenses.items())},
            "change_in_net_assets": {
                "restricted": format_yuan(restricted_change),
                "unrestricted": format_yuan(unrestricted_change),
                "total": format_yuan(restricted_change + unrestricted_change),
            },
        }

    def restricted_rollforward(self, since: date, until: date) -> list[dict[str, str]]:
        """Per project: restricted money at the start, received, released, and at the end."""
        opening = self._opening(since)
        moves = self.movements(since, until)
        projects = sorted(
            {a.rsplit(":", 1)[1] for a in {*opening, *moves} if a.startswith("Income:Restricted:")}
        )
        rows = []
        for component in projects:

            def restricted(b: dict[str, int], kinds: tuple[str, ...], c: str = component) -> int:
                return -sum(b.get(f"Income:Restricted:{k}:{c}", 0) for k in kinds)

            received_kinds = ("Donations", "GovernmentGrants", "InKind")
            rows.append(
                {
                    "project": component.lower(),
                    "opening": format_yuan(
                        restricted(opening, (*received_kinds, "ReleasedFromRestriction"))
                    ),
                    "received": format_yuan(restricted(moves, received_kinds)),
                    "released": format_yuan(-restricted(moves, ("ReleasedFromRestriction",))),
                    "closing": format_yuan(
                        restricted(
                            self.balances(until), (*received_kinds, "ReleasedFromRestriction")
                        )
                    ),
                }
            )
        return rows

    def functional_expenses(self, since: date, until: date) -> dict[str, Any]:
        """Expenses by project (rows) and by function (programme, management, fundraising)."""
        moves = self.movements(since, until)
        table: dict[str, dict[str, int]] = {}
        for account, amount in moves.items():
            if account.startswith("Expenses:"):
                _, category, component = account.split(":")
                row = table.setdefault(component.lower(), {})
                row[category.lower()] = row.get(category.lower(), 0) + amount
        categories = ("programme", "management", "fundraising")
        return {
            "rows": [
                {
                    "project": p,
                    **{c: format_yuan(row.get(c, 0)) for c in categories},
                    "total": format_yuan(sum(row.values())),
                }
                for p, row in sorted(table.items())
            ],
            "totals": {
                c: format_yuan(sum(r.get(c, 0) for r in table.values())) for c in categories
            },
        }

    def ratios(self, since: date, until: date, thresholds: Thresholds) -> dict[str, Any]:
        """Management-cost share and charitable-spending ratio against configured limits.

        Charitable spending is compared with the net assets at the start of the period, as
        the charity rules do for the previous year-end.
        """
        moves = self.movements(since, until)
        spent_fen = total_fen(moves, "Expenses")
        management_fen = total_fen(moves, "Expenses:Management")
        charitable_fen = total_fen(moves, "Expenses:Programme")
        opening = self._opening(since)
        opening_net_fen = opening.get("Assets:Bank", 0) + opening.get("Assets:InKind", 0)
        management_share = Decimal(management_fen) / Decimal(spent_fen) if spent_fen else Decimal(0)
        charitable_ratio = (
            Decimal(charitable_fen) / Decimal(opening_net_fen) if opening_net_fen else None
        )
        return {
            "from": since.isoformat(),
            "to": until.isoformat(),
            "management_share": f"{management_share:.4f}",
            "management_share_max": str(thresholds.management_share_max),
            "management_share_ok": management_share <= thresholds.management_share_max,
            "charitable_spending_ratio": (
                f"{charitable_ratio:.4f}" if charitable_ratio is not None else None
            ),
            "charitable_spending_min": str(thresholds.charitable_spending_min),
            "charitable_spending_ok": (
                charitable_ratio is None or charitable_ratio >= thresholds.charitable_spending_min
            ),
        }
