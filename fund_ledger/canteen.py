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


def import_beneficiaries(
    file: Annotated[
        Path,
        typer.Argument(help="CSV UTF-8: name, birth_date, card_number[, address]."),
    ],
    as_user: Annotated[str, typer.Option("--as", help="The treasurer registering them.")],
) -> None:
    """Register the residents the projects serve, all or none; each sealed under their own key.

    Prints each new id against its line (the ids are what attendance and forget take); never
    a name, card number or birth date."""
    from ledger.formats.beneficiaries_csv import parse_beneficiaries
    from ledger.formats.donations_csv import decode

    ledger = common.open_ledger()
    with failing_on(LedgerError, OSError):
        actor = ledger.actor_named(as_user)
        parsed = parse_beneficiaries(decode(file.read_bytes()))
        if parsed.bad:
            for problem in parsed.bad:
                err.print(problem, markup=False, highlight=False)
            raise fail(f"{len(parsed.bad)} bad rows: nobody registered", code=1)
        receipt = ledger.register_beneficiaries(actor, parsed.people)
    for line, person_id in zip(parsed.lines, receipt.ids, strict=True):
        typer.echo(f"{line}\t{person_id}")
    err.print(f"registered {len(receipt.ids)} people")


canteen_app = typer.Typer(help="The canteen's subsidy rules.", no_args_is_help=True)


@canteen_app.command("propose-rules")
def propose_rules(
    as_user: Annotated[str, typer.Option("--as", help="The committee member proposing.")],
    effective_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    band: Annotated[
        list[str], typer.Option(help="An age band and its subsidy a meal: 60-69=3.00, 80+=8.00.")
    ],
    price: Annotated[str, typer.Option(help="The canteen's price of a meal, yuan.")],
    operator: Annotated[str, typer.Option(help="Who runs the canteen and is paid.")],
    meals: Annotated[str, typer.Option(help="Meal times subsidised.")] = "lunch,dinner",
    per_day: Annotated[int, typer.Option(help="Meals a day at most.")] = 2,
    per_month: Annotated[int, typer.Option(help="Meals a month at most.")] = 40,
    project: Annotated[str, typer.Option(help="The canteen's project code.")] = "canteen",
) -> None:
    """Propose subsidy rules; they are in force once a quorum of the others approves."""
    from datetime import date

    from ledger.domain.canteen import Band, Rules
    from ledger.domain.money import parse_yuan

    ledger = common.open_ledger()
    with failing_on(LedgerError, ValueError):
        bands = []
        for given in band:
            ages, _, subsidy = given.partition("=")
            low, _, high = ages.rstrip("+").partition("-")
            age_max = None if ages.endswith("+") else int(high)
            bands.append(Band(int(low), age_max, parse_yuan(subsidy, field="subsidy")))
        rules = Rules(
            date.fromisoformat(effective_from),
            tuple(bands),
            per_day,
            per_month,
            tuple(m.strip() for m in meals.split(",")),
            parse_yuan(price, field="price"),
            operator,
        )
        receipt = ledger.propose_subsidy_rules(ledger.actor_named(as_user), project, rules)
    typer.echo(receipt.id)


@canteen_app.command("approve-rules")
def approve_rules(
    rules_id: Annotated[str, typer.Argument(help="The proposal's id.")],
    as_user: Annotated[str, typer.Option("--as", help="A committee member, not the proposer.")],
) -> None:
    """Approve proposed subsidy rules; the quorum's last approval puts them in force."""
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        ledger.approve_subsidy_rules(ledger.actor_named(as_user), rules_id)
    in_force = "in force" if rules_id in ledger.approved_rules_ids() else "awaiting the quorum"
    err.print(f"{rules_id}: approved by {as_user}; {in_force}")
