"""The canteen on the command line: its month of citizen-card meals imported and settled, and
the people it serves registered from a file.

``import meals`` checks every row against the subsidy rules in force and reports every bad
one; nothing is recorded unless all are good (or ``--partial``: the good ones, and the rest
reported). A file imported again records nothing. No output repeats a card number, a name or
a birth date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fund_ledger import common
from fund_ledger.common import err, fail, failing_on, progress_bars
from ledger.domain.errors import LedgerError
from ledger.domain.yuan import format_yuan_grouped


def import_meals(
    file: Annotated[
        Path,
        typer.Argument(
            help="The canteen's citizen-card export, CSV UTF-8: "
            "card_number, time, meal, price, subsidy."
        ),
    ],
    month: Annotated[str, typer.Option("--month", help="The month it settles, YYYY-MM.")],
    as_user: Annotated[str, typer.Option("--as", help="The treasurer recording it.")],
    project: Annotated[str, typer.Option(help="The canteen's project code.")] = "canteen",
    grant: Annotated[
        str | None,
        typer.Option(help="The approved grant it is charged to (default: the project's one)."),
    ] = None,
    partial: Annotated[
        bool, typer.Option(help="Settle the good rows even if some are bad; report the rest.")
    ] = False,
) -> None:
    """Settle a month of the canteen's subsidised meals from its citizen-card export."""
    from ledger.formats.donations_csv import decode
    from ledger.formats.meals_csv import parse_meals
    from ledger.service.meal_settlements import file_sha256

    ledger = common.open_ledger()
    with failing_on(LedgerError, OSError):
        actor = ledger.actor_named(as_user)
        data = file.read_bytes()
        text = decode(data)
        grant_id = grant or ledger.open_grant_of(project)
        if grant_id is None:
            raise fail(f"{project} has no single approved grant with money left: give --grant")
        with progress_bars() as bars:
            rows_total = max(text.count("\n") - 1, 1)
            reading = bars.add_task("reading", total=rows_total)
            parsed = parse_meals(text, lambda n: bars.advance(reading, n))
            bars.update(reading, completed=rows_total)
            checking = bars.add_task("checking and settling", total=len(parsed.rows))
            if parsed.bad and not partial:
                # An unreadable row refuses the file: check the rest only to list them all.
                checked = ledger.check_month(project, month, parsed.rows)
                receipt = None
            else:
                settled = ledger.settle_meals(
                    actor,
                    project,
                    grant_id,
                    month,
                    file_sha256(data),
                    parsed.rows,
                    partial=partial,
                    report=True,
                )
                checked, receipt = settled.checked, settled.receipt
            bars.update(checking, completed=len(parsed.rows))
    bad = sorted([*parsed.bad, *checked.bad], key=lambda b: b.line)
    for row in bad:
        err.print(str(row), markup=False, highlight=False)
    if receipt is None:
        err.print(f"[red]{len(bad)} bad rows: nothing recorded[/red] (--partial settles the rest)")
        raise typer.Exit(code=1)
    if not receipt.position:
        err.print(f"{month} is already settled from this file: nothing recorded")
        return
    err.print(
        f"settled {month}: {checked.meals} meals, {checked.people()} people, "
        f"subsidy {format_yuan_grouped(checked.subsidy_fen)} yuan, {len(bad)} rows left out; "
        f"settlement {receipt.id}"
    )
