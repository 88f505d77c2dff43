"""What the command modules share: opening the ledger and its views, one-line failures, bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from api.config import Settings
from ledger.app import FundLedger
from ledger.domain.errors import LedgerError
from ledger.store.files import UnsafeFile
from ledger.store.kek import make_kek_file
from projections.runner import Views

# soft_wrap: messages keep their words whole (paths, ids) whatever the terminal width.
err = Console(stderr=True, soft_wrap=True)


def open_ledger() -> FundLedger:
    """The ledger FUND_LEDGER_DATABASE_URL names; a store that cannot be opened (no KEK for
    its keys, a bad URL) ends the command with one line.

    Commands call it as ``common.open_ledger()``: the one place a test hands them its own.
    """
    with failing_on(LedgerError):
        return FundLedger(Settings().database_url)


def with_new_kek(ledger: FundLedger) -> None:
    """For a store with no keys yet and no KEK anywhere (a fresh fund, the demo): make the
    KEK file, and say where it is and what it is for."""
    if ledger.keyring.kek is not None or ledger.keyring.all():
        return
    with failing_on(UnsafeFile, OSError):
        ledger.keyring.kek = make_kek_file(ledger.kek_file)
    err.print(
        f"made the key-encryption key {ledger.kek_file} (0600): it opens every sealed name; "
        "keep it, and a copy, apart from the database and its backups"
    )


def open_views(
    ledger: FundLedger, names: list[str] | None = None, *, caught_up: bool = False
) -> Views:
    """The views of this ledger (these ones, else all), brought up to date if asked."""
    with failing_on(KeyError, ValueError):
        views = Views(ledger, names)
    if caught_up:
        views.catch_up()
    return views


def views_caught_up(ledger: FundLedger) -> None:
    """After a command that wrote events: every view brought up to them before it exits, so
    that whoever reads the views next (the API, a read-only role's own SQL) finds them filled,
    on SQLite and PostgreSQL alike, with no rebuild and no runner needed."""
    open_views(ledger, caught_up=True).close()


def fail(message: str, code: int = 2) -> typer.Exit:
    """Say what is wrong in one line on standard error; the caller raises the exit it returns."""
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=code)


@contextmanager
def failing_on(*errors: type[Exception], prefix: str = "") -> Iterator[None]:
    """One of these expected errors ends the command with a line naming it, and exit code 2."""
    try:
        yield
    except errors as error:
        detail = error.detail if isinstance(error, LedgerError) else str(error)
        raise fail(prefix + detail) from None


def progress_bars(label: str = "{task.description}", *, remaining: bool = True) -> Progress:
    """Bars on standard error: the label, the bar, done of total, the time left (or taken)."""
    clock = TimeRemainingColumn() if remaining else TimeElapsedColumn()
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), clock, console=err)


@contextmanager
def counting(
    label: str, total: int | None, *, remaining: bool = False
) -> Iterator[Callable[[int], None]]:
    """One bar with the time taken (or left); yields the function that advances it."""
    with progress_bars(label, remaining=remaining) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
