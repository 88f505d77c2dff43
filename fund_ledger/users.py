"""``fund-ledger users``: the people who may act on the fund, and their tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fund_ledger import common
from fund_ledger.common import err, failing_on
from ledger.app import OPERATOR
from ledger.domain.errors import LedgerError

users_app = typer.Typer(
    help="People who may act on the fund, and their tokens.", no_args_is_help=True
)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Option(help="The person's name.")],
    role: Annotated[str, typer.Option(help="treasurer, committee, adviser or auditor.")],
) -> None:
    """Add a person; prints their bearer token alone on standard output."""
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        receipt, token = ledger.add_user(OPERATOR, name, role)
    common.views_caught_up(ledger)
    err.print(f"added {name} as {role} (id {receipt.id}); the token below is shown only once")
    sys.stdout.write(token + "\n")


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Option(help="The person's name.")]) -> None:
    """Revoke a person's token."""
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        ledger.revoke_user(OPERATOR, name)
    common.views_caught_up(ledger)
    err.print(f"revoked {name}")


@users_app.command("list")
def users_list() -> None:
    """List the people, their roles and whether they are active."""
    table = Table()
    for column in ("name", "role", "active", "id"):
        table.add_column(column)
    for user_id, user in common.open_ledger().directory().users.items():
        table.add_row(user["name"], user["role"], "no" if user["revoked"] else "yes", user_id)
    Console().print(table)
