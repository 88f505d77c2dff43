"""Money restricted by its donors to a project, released as the project spends it, by date.

民间非营利组织会计制度 releases restricted net assets when the restriction is met: money given
for a project is released as it is spent for that project. Which expense spends restricted
money is not decided when an expense is recorded (that would depend on what happened to be
recorded first, and a back-dated gift or expense would leave restricted money negative on
some day). It is a function of the days alone: on any day, for each project,

    released = min(restricted cash received up to that day, spent on the project up to that day)

so spending beyond what is restricted comes from unrestricted money, a restricted gift that
arrives after its purpose was paid for is released at once, restricted net assets never go
below zero, and every figure as of a date depends only on what is dated on or before it.
Restricted gifts in kind are not released by cash spending but as the goods are used, handed
out or depreciated for the project (goods used post to ``Assets:InKind:UsedFor:<Project>``,
depreciation to ``Assets:FixedAssets:Depreciation:<Project>``): the same rule, with cash spent
being what a project spent less what it consumed in kind.

Closing a year (``ledger.domain.closing``) moves income and expense balances into net assets;
the release is always worked out from the flows before any closing entry, which the books keep
apart, so a closed year releases what it released and later years go on from there.

The books keep the events' own postings; ``settled`` adds the release to any set of balances
(as of a date, as recorded at a moment, or replayed from the log's leaves).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

RELEASED_RESTRICTED = "Income:Restricted:ReleasedFromRestriction"
RELEASED_UNRESTRICTED = "Income:Unrestricted:ReleasedFromRestriction"
_RESTRICTED_CASH = ("Income:Restricted:Donations:", "Income:Restricted:GovernmentGrants:")
_RESTRICTED_GOODS = ("Income:Restricted:InKind:",)
# The credit side of goods used and of depreciation, per project: spending that is no cash.
_CONSUMED = ("Assets:InKind:UsedFor:", "Assets:FixedAssets:Depreciation:")
# Every account whose movements the release depends on.
RELEASE_INPUTS = (*_RESTRICTED_CASH, *_RESTRICTED_GOODS, *_CONSUMED, "Expenses:")


def _is_release(account: str) -> bool:
    return account.startswith((RELEASED_RESTRICTED + ":", RELEASED_UNRESTRICTED + ":"))


def _by_project(
    balances_fen: Mapping[str, int], prefixes: tuple[str, ...], sign: int
) -> dict[str, int]:
    totals: dict[str, int] = {}
    for account, amount_fen in balances_fen.items():
        if account.startswith(prefixes):
            component = account.rsplit(":", 1)[1]
            totals[component] = totals.get(component, 0) + sign * amount_fen
    return totals


def restricted_cash_received_fen(balances_fen: Mapping[str, int]) -> dict[str, int]:
    """Restricted cash received (net of reversals) per project component."""
    return _by_project(balances_fen, _RESTRICTED_CASH, -1)


def spent_fen(balances_fen: Mapping[str, int]) -> dict[str, int]:
    """Spent (net of reversals) per project component, in every category, cash or not."""
    return _by_project(balances_fen, ("Expenses:",), 1)


def consumed_fen(balances_fen: Mapping[str, int]) -> dict[str, int]:
    """Goods given in kind used or handed out, and depreciation, per project component."""
    return _by_project(balances_fen, _CONSUMED, -1)


def cash_released_fen(balances_fen: Mapping[str, int]) -> dict[str, int]:
    """Restricted cash released per project: what was both received and spent in cash."""
    received = restricted_cash_received_fen(balances_fen)
    spent = spent_fen(balances_fen)
    consumed = consumed_fen(balances_fen)
    return {
        component: amount_fen
        for component, received_fen in received.items()
        if (
            amount_fen := max(
                0, min(received_fen, spent.get(component, 0) - consumed.get(component, 0))
            )
        )
    }


def goods_released_fen(balances_fen: Mapping[str, int]) -> dict[str, int]:
    """Restricted gifts in kind released per project: as the goods are used, handed out or
    depreciated for it (cash spending never releases them)."""
    received = _by_project(balances_fen, _RESTRICTED_GOODS, -1)
    consumed = consumed_fen(balances_fen)
    return {
        component: amount_fen
        for component, received_fen in received.items()
        if (amount_fen := max(0, min(received_fen, consumed.get(component, 0))))
    }


def released_fen(balances_fen: Mapping[str, int]) -> dict[str, int]:
    """Restricted money and goods released per project component."""
    released = dict(cash_released_fen(balances_fen))
    for component, amount_fen in goods_released_fen(balances_fen).items():
        released[component] = released.get(component, 0) + amount_fen
    return released


def restricted_cash_fen(balances_fen: Mapping[str, int]) -> int:
    """Restricted cash not yet released, all projects together."""
    released = cash_released_fen(balances_fen)
    return sum(
        received_fen - released.get(component, 0)
        for component, received_fen in restricted_cash_received_fen(balances_fen).items()
    )


def settled(balances_fen: Mapping[str, int]) -> dict[str, int]:
    """The balances with the release the days give: release postings already among them
    (replayed from leaves of format v1) set aside, the derived release put in."""
    result = {a: v for a, v in balances_fen.items() if not _is_release(a)}
    for component, amount_fen in released_fen(result).items():
        result[f"{RELEASED_RESTRICTED}:{component}"] = amount_fen
        result[f"{RELEASED_UNRESTRICTED}:{component}"] = -amount_fen
    return result


def releases_by_day(
    movements: Iterable[tuple[date, str, int]],
) -> list[tuple[date, str, int]]:
    """Each day's release per project component: (day, component, amount in fen, negative
    when a reversal takes some back), from every account's movement by day (in any order).

    The journal of the books shows these as transactions of their own, dated when the
    release happens.
    """
    by_day: dict[date, dict[str, int]] = {}
    for day, account, amount_fen in movements:
        if account.startswith(RELEASE_INPUTS):
            cell = by_day.setdefault(day, {})
            cell[account] = cell.get(account, 0) + amount_fen
    running: dict[str, int] = {}
    released_before: dict[str, int] = {}
    releases = []
    for day in sorted(by_day):
        for account, amount_fen in by_day[day].items():
            running[account] = running.get(account, 0) + amount_fen
        released = released_fen(running)
        for component in sorted({*released, *released_before}):
            change_fen = released.get(component, 0) - released_before.get(component, 0)
            if change_fen:
                releases.append((day, component, change_fen))
        released_before = released
    return releases
