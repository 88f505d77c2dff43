"""The whole journal as Beancount text, with month-end balance assertions for bean-check."""

from __future__ import annotations

import re
from datetime import date, timedelta

from ledger.domain.accounts import ACCOUNT_NAMES_ZH
from ledger.domain.books import total_fen
from ledger.domain.restrictions import RELEASED_RESTRICTED, RELEASED_UNRESTRICTED
from ledger.domain.yuan import format_yuan
from projections.reader import Reader

CURRENCY_DEFAULT = "CNY"
# A live runner may apply events while an export reads; a journal read across such a commit
# would assert balances its transactions do not reach, so it is read again, this many times.
READ_ATTEMPTS_MAX = 5
# Where a day's release sorts among the day's blocks: after every event of the day.
RELEASE_POSITION = 2**62
RELEASE_NARRATION = "限定性净资产转为非限定性净资产 release from restriction: "
# A closed year's closing entries come last on its last day, after that day's release.
CLOSE_POSITION = RELEASE_POSITION + 1
CLOSE_NARRATION = "年末结转 closing the year {year}: income and expense into net assets"


class ExportMoved(Exception):
    """The books kept changing while the export read them; try again when writes settle."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"the books moved during each of {attempts} reads")
        self.attempts = attempts


def _release_accounts(component: str) -> tuple[str, str]:
    return f"{RELEASED_RESTRICTED}:{component}", f"{RELEASED_UNRESTRICTED}:{component}"


def _quote(text: str) -> str:
    """A Beancount string literal; control characters become spaces to keep one line."""
    text = re.sub(r"[\x00-\x1f\x7f]", " ", text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


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
    entries = reader.journal_entries()
    if not entries:
        return "\n".join(out) + "\n"
    releases = reader.releases()
    closings = reader.closings()
    accounts = sorted(
        {account for e in entries for account, _ in e.lines}
        | {a for _, component, _ in releases for a in _release_accounts(component)}
        | {account for lines in closings.values() for account, _ in lines}
    )
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
        balances = reader.balances_closed(month_end)
        blocks.append(
            (
                on,
                0,
                [
                    # Beancount asserts an account with the accounts below it.
                    f"{on} balance {a:<{width}}{format_yuan(total_fen(balances, a)):>16}"
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
    blocks.extend(_derived_blocks(releases, closings, width, currency))
    for _, _, lines in sorted(blocks, key=lambda block: block[:2]):
        out.append("")
        out.extend(lines)
    return "\n".join(out) + "\n"


def _derived_blocks(
    releases: list[tuple[date, str, int]],
    closings: dict[int, list[tuple[str, int]]],
    width: int,
    currency: str,
) -> list[tuple[date, int, list[str]]]:
    """The transactions the books derive rather than record: each day's release, after the
    day's events, and each closed year's closing entries, last on its last day."""
    blocks: list[tuple[date, int, list[str]]] = []
    for day, component, amount_fen in releases:
        restricted_side, unrestricted_side = _release_accounts(component)
        blocks.append(
            (
                day,
                RELEASE_POSITION,
                [
                    f"{day} * {_quote(RELEASE_NARRATION + component)}",
                    f"  release-of: {_quote(component)}",
                    f"  {restricted_side:<{width}}{format_yuan(amount_fen):>16} {currency}",
                    f"  {unrestricted_side:<{width}}{format_yuan(-amount_fen):>16} {currency}",
                ],
            )
        )
    for year, closing in closings.items():
        day = date(year, 12, 31)
        lines = [
            f"{day} * {_quote(CLOSE_NARRATION.format(year=year))}",
            f"  closes-year: {_quote(str(year))}",
        ]
        lines.extend(
            f"  {account:<{width}}{format_yuan(amount_fen):>16} {currency}"
            for account, amount_fen in closing
        )
        blocks.append((day, CLOSE_POSITION, lines))
    return blocks


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
