"""Closing a year: the entries that carry its income and expense into net assets (结转).

At the end of a year the balance of every income and expense account (the release from
restriction included) is carried into 限定性净资产 per project, for what was restricted, and
into 非限定性净资产 for the rest, so the next year starts with income and expense at zero and
the net assets the year left. The entries are a function of the balances on the year's last day:
once a year's months are closed nothing can be dated in it any more, so they never change.

A fund's first year runs from the month it was established to December; each later year is a
calendar year. Years close in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from ledger.domain.accounts import NET_ASSETS_RESTRICTED, NET_ASSETS_UNRESTRICTED, Posting


def year_end(year: int) -> date:
    return date(year, 12, 31)


def closing_entries(balances_fen: Mapping[str, int]) -> list[Posting]:
    """The closing entries of a year, from the balances on its last day (the release settled,
    any earlier year's closing entries included): every income and expense account to zero."""
    postings: list[Posting] = []
    restricted_fen: dict[str, int] = {}
    unrestricted_fen = 0
    for account, amount_fen in sorted(balances_fen.items()):
        if amount_fen == 0 or not account.startswith(("Income:", "Expenses:")):
            continue
        postings.append(Posting(account, -amount_fen))
        if account.startswith("Income:Restricted:"):
            component = account.rsplit(":", 1)[1]
            restricted_fen[component] = restricted_fen.get(component, 0) + amount_fen
        else:
            unrestricted_fen += amount_fen
    postings.extend(
        Posting(f"{NET_ASSETS_RESTRICTED}:{component}", amount_fen)
        for component, amount_fen in sorted(restricted_fen.items())
        if amount_fen
    )
    if unrestricted_fen:
        postings.append(Posting(NET_ASSETS_UNRESTRICTED, unrestricted_fen))
    assert sum(p.amount_fen for p in postings) == 0, "closing entries must balance"
    return postings
