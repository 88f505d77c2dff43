"""The ``fund-ledger`` command line: one module a group of commands, put together here."""

from __future__ import annotations

from collections.abc import Callable

import typer

from fund_ledger import books, data, money, serving, trust, users, views

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
}
data.import_app.command("bank-statement")(money.import_bank_statement)
data.import_app.command("platform-settlement")(money.import_platform_settlement)
for name, command in COMMANDS.items():
    app.command(name)(command)
for name, group in GROUPS.items():
    app.add_typer(group, name=name)
