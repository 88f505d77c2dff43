"""The ``fund-ledger`` command line."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fund_ledger.settings import Settings
from ledger.app import OPERATOR, FundLedger
from ledger.demo import load_demo
from ledger.errors import LedgerError
from ledger.money import format_yuan_grouped

app = typer.Typer(
    help="fund-ledger: verifiable books for a community fund (共富基金).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(
    help="People who may act on the fund, and their tokens.", no_args_is_help=True
)
app.add_typer(users_app, name="users")

err = Console(stderr=True)


def open_ledger() -> FundLedger:
    return FundLedger(Settings().database_url)


def _fail(error: LedgerError) -> typer.Exit:
    err.print(f"[red]error:[/red] {error.detail}")
    return typer.Exit(code=2)


@app.command()
def init(
    name: Annotated[str, typer.Option(help="The fund's name, e.g. 南湖未来社区共富基金.")],
    quorum: Annotated[int, typer.Option(help="Approvals by other members a grant needs.")] = 3,
) -> None:
    """Establish a fund in the store named by FUND_LEDGER_DATABASE_URL."""
    ledger = open_ledger()
    try:
        ledger.establish_fund(OPERATOR, name, quorum)
    except LedgerError as error:
        raise _fail(error) from None
    err.print(f"established {name} (quorum {quorum})")


@app.command()
def demo() -> None:
    """Load the Nanhu demo year into an empty store (deterministic)."""
    ledger = open_ledger()
    if ledger.position():
        err.print("[red]error:[/red] the store is not empty; the demo loads into an empty one")
        raise typer.Exit(code=2)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
    ) as progress:
        task = progress.add_task("loading the demo", total=None)
        users = load_demo(ledger, lambda step: progress.update(task, description=step))
    err.print(f"demo loaded: {ledger.position()} events; users: {', '.join(users.tokens)}")


@app.command()
def summary(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Effective date YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Print the fund's position."""
    ledger = open_ledger()
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        err.print(f"[red]error:[/red] --as-of must be a date YYYY-MM-DD, not {as_of!r}")
        raise typer.Exit(code=2) from None
    try:
        currency = ledger.fund().currency
    except LedgerError as error:
        raise _fail(error) from None
    position = ledger.summary(day)
    if as_json:
        typer.echo(json.dumps(position.as_json(currency), ensure_ascii=False))
        return
    table = Table(title=f"{ledger.fund().name} · {as_of or 'today'}")
    table.add_column("项目 / figure")
    table.add_column(f"金额 / amount ({currency})", justify="right")
    rows = [
        ("累计收到 / received", position.received_total_fen),
        ("累计支出 / spent", position.spent_total_fen),
        ("余额 / balance", position.balance_fen),
        ("限定性余额 / restricted", position.restricted_balance_fen),
        ("非限定性余额 / unrestricted", position.unrestricted_balance_fen),
        ("已承诺未支出 / committed, unspent", position.committed_unspent_fen),
        ("可用于资助 / available for grants", position.available_for_grants_fen),
        ("实物捐赠 / in kind (not cash)", position.in_kind_total_fen),
    ]
    for label, amount_fen in rows:
        table.add_row(label, format_yuan_grouped(amount_fen))
    Console().print(table)
    typer.echo(f"events: {position.events}")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Option(help="The person's name.")],
    role: Annotated[str, typer.Option(help="treasurer, committee, adviser or auditor.")],
) -> None:
    """Add a person; prints their bearer token alone on standard output."""
    ledger = open_ledger()
    try:
        receipt, token = ledger.add_user(OPERATOR, name, role)
    except LedgerError as error:
        raise _fail(error) from None
    err.print(f"added {name} as {role} (id {receipt.id}); the token below is shown only once")
    sys.stdout.write(token + "\n")


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Option(help="The person's name.")]) -> None:
    """Revoke a person's token."""
    try:
        open_ledger().revoke_user(OPERATOR, name)
    except LedgerError as error:
        raise _fail(error) from None
    err.print(f"revoked {name}")


@users_app.command("list")
def users_list() -> None:
    """List the people, their roles and whether they are active."""
    table = Table()
    for column in ("name", "role", "active", "id"):
        table.add_column(column)
    for user_id, user in open_ledger().directory().users.items():
        table.add_row(user["name"], user["role"], "no" if user["revoked"] else "yes", user_id)
    Console().print(table)
