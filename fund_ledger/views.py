"""``fund-ledger projections`` and ``db``: the read models, and who may read their tables."""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Annotated

import typer
from eventsourcing.persistence import ProgrammingError
from rich.console import Console
from rich.table import Table

from api.config import Settings
from fund_ledger import common
from fund_ledger.common import (
    SERVED_BY_ENV,
    err,
    fail,
    failing_on,
    open_views,
    progress_bars,
)
from fund_ledger.stores import address
from fund_ledger.trust import open_log, read_signer
from projections.admin import grant_readonly_statements
from projections.runner import VIEWS, LiveRunner, announce_positions

# How often a views worker started by `serve` looks whether that server still runs.
ORPHAN_CHECK_S = 0.5

projections_app = typer.Typer(help="The read models: status, rebuild, run.", no_args_is_help=True)
db_app = typer.Typer(help="Database administration.", no_args_is_help=True)


@projections_app.command("status")
def projections_status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Each view's position in the event log and how far it lags behind."""
    statuses = open_views(common.open_ledger()).status()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "view": s.name,
                        "position": s.position,
                        "log_position": s.log_position,
                        "lag": s.lag,
                    }
                    for s in statuses
                ]
            )
        )
        return
    table = Table()
    for column in ("view", "position", "log position", "lag"):
        table.add_column(column, justify="right" if column != "view" else "left")
    for status in statuses:
        table.add_row(status.name, str(status.position), str(status.log_position), str(status.lag))
    Console().print(table)


@projections_app.command("rebuild")
def projections_rebuild(
    view: Annotated[
        str | None, typer.Option(help=f"One view ({', '.join(VIEWS)}); all by default.")
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            min=1,
            max=8,
            help="Processes to rebuild in, a group of views each (PostgreSQL only); "
            "default: one per core, at most two.",
        ),
    ] = min(2, os.cpu_count() or 1),
) -> None:
    """Empty the views and apply the whole event log again, with a progress bar."""
    from projections.rebuilding import RebuildFailed, groups_for, rebuild_in_processes

    if view is not None and view not in VIEWS:
        raise fail(f"--view is one of {', '.join(VIEWS)}, not {view!r}")
    ledger = common.open_ledger()
    views = open_views(ledger, [view] if view else None)
    total = ledger.position()
    names = [s.name for s in views.specs]
    groups = groups_for(names, jobs if ledger.imports_atomically else 1)
    with progress_bars() as progress:
        tasks = {name: progress.add_task(name, total=total) for name in names}
        advance = lambda name, n: progress.advance(tasks[name], n)  # noqa: E731
        if len(groups) == 1:
            views.rebuild(progress=advance)
        else:
            ledger.close()
            try:
                rebuild_in_processes(Settings().database_url, groups, advance)
            except RebuildFailed as error:
                raise fail(f"the rebuild failed: {error}", code=1) from None
    err.print(f"rebuilt {', '.join(names)} to position {total}")


@projections_app.command("run")
def projections_run(
    poll_interval_s: Annotated[
        float, typer.Option("--poll-interval", help="SQLite polling interval, seconds.")
    ] = 0.25,
    sign_checkpoints: Annotated[
        bool,
        typer.Option(
            help="Also sign a checkpoint of the log when it has grown, with the signing key "
            "(what `serve` does itself unless its views are kept apart: `serve --workers`)."
        ),
    ] = False,
) -> None:
    """Keep the views up to date until stopped (for a worker apart from the API).

    On PostgreSQL it announces each position the views reach (NOTIFY), which API processes
    that keep no views (`serve --workers`) wait on for read-your-writes.
    """
    if not 0 < poll_interval_s <= 60:
        raise fail(f"--poll-interval is seconds, more than 0 and at most 60, not {poll_interval_s}")
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    served_by = os.environ.get(SERVED_BY_ENV)
    if served_by is not None:  # watched from the start: a server killed while this opens
        _stop_when_orphaned(int(served_by), stopping)
    settings = Settings()
    signer = read_signer(settings) if sign_checkpoints else None
    views = open_views(common.open_ledger())
    if address(settings.database_url).scheme != "sqlite":
        announce_positions(views)
    log = open_log(views, signer)
    with LiveRunner(views, poll_interval_s=poll_interval_s) as runner:
        err.print("projection runner started; Ctrl-C stops it")
        while not stopping.wait(settings.checkpoint_interval_s if signer else 5.0):
            if runner.error is not None:
                err.print(f"[yellow]views runner: {runner.error!r}[/yellow]")
            if signer is not None:
                try:
                    log.sign(signer)
                except Exception as error:  # an inconsistent log stays unsigned; said here
                    err.print(f"[yellow]checkpoint not signed: {common.describe(error)}[/yellow]")
    err.print("projection runner stopped")


def _stop_when_orphaned(parent_pid: int, stopping: threading.Event) -> None:
    """Stop once ``parent_pid`` (the ``serve`` that started this worker) has ended, however
    it ended: killed, it cannot stop its worker itself."""

    def watch() -> None:
        while not stopping.wait(ORPHAN_CHECK_S):
            if os.getppid() != parent_pid:
                err.print("the server that started this views worker has ended: stopping")
                stopping.set()

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


@db_app.command("grant-readonly")
def db_grant_readonly(
    role: Annotated[str, typer.Argument(help="An existing PostgreSQL role.")],
    with_contacts: Annotated[
        bool, typer.Option(help="Also the donors' contact details (personal data).")
    ] = False,
) -> None:
    """Give a PostgreSQL role read access to the views, for the panel's own SQL tools."""
    if address(Settings().database_url).scheme == "sqlite":
        raise fail("read-only roles need PostgreSQL; an SQLite file is shared by copying it")
    views = open_views(common.open_ledger())
    with failing_on(ValueError):
        statements = grant_readonly_statements(views, role, with_contacts=with_contacts)
    try:
        with views.view("registers").cursor(commit=True) as cursor:
            for statement in statements:
                cursor.execute(statement)
    except ProgrammingError as error:  # nothing granted: the transaction is rolled back
        if f'role "{role}" does not exist' in str(error):
            raise fail(
                f'role "{role}" does not exist; make it first (CREATE ROLE "{role}" LOGIN '
                "PASSWORD '...'), then grant again"
            ) from None
        raise fail(f"nothing granted: {common.describe(error)}") from None
    err.print(f"granted {role} read access to {len(statements) - 1} tables")
