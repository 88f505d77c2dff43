"""Reports from the books view's balances: trial balance, a short balance sheet and activities
by account, restricted money rolled forward, functional expenses. The statutory forms are in
``projections/statements/``."""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.domain.accounts import NET_ASSETS_RESTRICTED, NET_ASSETS_UNRESTRICTED
from ledger.domain.books import total_fen
from ledger.domain.yuan import format_yuan
from projections.books.queries import BooksQueries
from projections.sqlview.reading import iso_day


class Statements(BooksQueries):
    def trial_balance(self, as_of: date | None = None) -> list[dict[str, str]]:
        balances = self.balances_closed(as_of)
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
        """A short balance sheet by account (the form itself: ``statements --json``)."""
        b = self.balances_closed(as_of)
        restricted_fen = -total_fen(b, "Income:Restricted") - total_fen(b, NET_ASSETS_RESTRICTED)
        unrestricted_fen = (
            -total_fen(b, "Income:Unrestricted")
            - total_fen(b, "Expenses")
            - total_fen(b, NET_ASSETS_UNRESTRICTED)
        )
        assets = {a: v for a, v in b.items() if a.startswith("Assets:")}
        liabilities = {a: -v for a, v in b.items() if a.startswith("Liabilities:")}
        liabilities_fen = sum(liabilities.values())
        assert sum(assets.values()) == liabilities_fen + restricted_fen + unrestricted_fen
        return {
            "as_of": iso_day(as_of),
            "assets": {k: format_yuan(v) for k, v in sorted(assets.items())},
            "assets_total": format_yuan(sum(assets.values())),
            "liabilities": {k: format_yuan(v) for k, v in sorted(liabilities.items())},
            "liabilities_total": format_yuan(liabilities_fen),
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
