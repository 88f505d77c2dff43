"""The ``fund-ledger`` command line: one module a group of commands, put together here."""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer

from fund_ledger import books, canteen, data, district, money, panel, serving, trust, users, views

app = typer.Typer(
    help="fund-ledger: verifiable books for a community fund (共富基金).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# The commands, then the groups, in the order ``fund-ledger --help`` lists them.
COMMANDS: dict[str, Callable[..., None]] = {
    "init": books.init,
    "demo": books.demo,
    "summary": books.summary,
    "forget": data.forget,
    "export": books.export,
    # The money path's reports (vouchers, bank reconciliation, receipts), the rest passed on.
    "report": money.report,
    "query": panel.query,
    "checks": panel.checks,
    "serve": serving.serve,
    "verify": trust.verify,
    "backup": data.backup_command,
    "restore": data.restore_command,
    "migrate": data.migrate_command,
}
GROUPS: dict[str, typer.Typer] = {
    "users": users.users_app,
    "projections": views.projections_app,
    "db": views.db_app,
    "keys": trust.keys_app,
    "log": trust.log_app,
    "import": data.import_app,
    "reconcile": money.reconcile_app,
    "money": money.money_app,
    "canteen": canteen.canteen_app,
    "district": district.district_app,
}
# The canteen's month of meals is one more kind of file to import.
data.import_app.command("meals")(canteen.import_meals)
data.import_app.command("beneficiaries")(canteen.import_beneficiaries)
# A bank's statement and a platform's settlement: the money's path (docs/money.md).
data.import_app.command("bank-statement")(money.import_bank_statement)
data.import_app.command("platform-settlement")(money.import_platform_settlement)
for name, command in COMMANDS.items():
    app.command(name)(command)
for name, group in GROUPS.items():
    app.add_typer(group, name=name)


def main(args: list[str] | None = None) -> int:
    """``fund-ledger``: a usage error (a missing argument, an unknown option) is one line on
    standard error, as every other expected failure is, not typer's framed panel."""
    try:
        code = app(args=args, prog_name="fund-ledger", standalone_mode=False)
    except typer.TyperException as error:  # typer's click: the usage errors
        if type(error).__name__ != "NoArgsIsHelpError":  # that one has printed the help
            ctx = getattr(error, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            sys.stderr.write(f"error: {error.format_message()}{hint}\n")
        return int(getattr(error, "exit_code", 2))
    except typer.Abort:
        sys.stderr.write("aborted\n")
        return 1
    return code if isinstance(code, int) else 0


def run() -> None:
    """The installed ``fund-ledger`` script."""
    sys.exit(main())
