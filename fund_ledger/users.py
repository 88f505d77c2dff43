"""``fund-ledger users``: the people who may act on the fund, and their tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fund_ledger import common
from fund_ledger.common import err, fail, failing_on
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
    """Add a person; prints their bearer token alone on standard output.

    A name is one person for good, revoked or not: for someone already there (a lost token,
    or back after a revoke) use ``fund-ledger users token --name NAME``.
    """
    ledger = common.open_ledger()
    known = ledger.directory().user_named(name)
    if known is not None:
        user = ledger.directory().users[known]
        state = "revoked" if user["revoked"] else "active"
        raise fail(
            f"{name} is already a user ({user['role']}, {state}); "
            f"fund-ledger users token --name {name} gives them a new token"
            + (" and makes them active again" if user["revoked"] else "")
        )
    with failing_on(LedgerError):
        receipt, token = ledger.add_user(OPERATOR, name, role)
    common.views_caught_up(ledger)
    err.print(f"added {name} as {role} (id {receipt.id}); the token below is shown only once")
    sys.stdout.write(token + "\n")


@users_app.command("token")
def users_token(name: Annotated[str, typer.Option(help="The person's name.")]) -> None:
    """Give a person a new bearer token, printed alone on standard output.

    Their old token stops working at once (a lost or leaked token). A revoked person is made
    active again with the new token, in the role they had; revoke them to stop that.
    """
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        receipt, token = ledger.reissue_token(OPERATOR, name)
    common.views_caught_up(ledger)
    role = ledger.directory().users[receipt.id]["role"]
    err.print(
        f"new token for {name} ({role}); the old one no longer works; "
        "the token below is shown only once"
    )
    sys.stdout.write(token + "\n")


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Option(help="The person's name.")]) -> None:
    """Revoke a person's token (fund-ledger users token gives them a new one)."""
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
