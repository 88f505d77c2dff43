"""What the command modules share: opening the ledger and its views, one-line failures, bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import typer
from eventsourcing.persistence import PersistenceError
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
from fund_ledger.stores import StoreUnavailable, address, probe
from ledger.app import FundLedger
from ledger.domain.errors import LedgerError
from ledger.store.files import UnsafeFile
from ledger.store.kek import make_kek_file
from projections.runner import Views

# soft_wrap: messages keep their words whole (paths, ids) whatever the terminal width.
err = Console(stderr=True, soft_wrap=True)


def open_ledger(*, create: bool = False) -> FundLedger:
    """The ledger FUND_LEDGER_DATABASE_URL names; a store that cannot be opened (no KEK for
    its keys, a bad URL, a database that does not exist) ends the command with one line.

    Only the commands that make a store (init, demo, restore, serve) pass ``create``: the
    others, finding none, say so and leave nothing behind. Commands call it as
    ``common.open_ledger()``: the one place a test hands them its own.
    """
    return open_store(Settings().database_url, "FUND_LEDGER_DATABASE_URL", create=create)


def open_store(url: str, named_by: str, *, create: bool) -> FundLedger:
    """The ledger at this URL (named by this option or variable, for the messages)."""
    store = address(url)
    if store.scheme not in {"sqlite", "postgresql", "memory"}:
        # The scheme alone: the rest of a URL may hold a password.
        given = f"{store.scheme}://..." if store.scheme else "a URL without a scheme"
        schemes = "sqlite:///, postgresql:// or memory://"
        raise fail(f"{named_by} must start with {schemes}, not {given}")
    with failing_on(StoreUnavailable):
        found = probe(store)
    if not found and not create:
        raise fail(f"no store at {store.where}; run fund-ledger init or demo (or set {named_by})")
    with failing_on(LedgerError, PersistenceError, prefix=f"cannot open {store.where}: "):
        return FundLedger(url)


def writable_file(path: Path, example: str) -> None:
    """A file a command is about to write: its folder must be there, and it not be a folder."""
    if path.is_dir():
        raise fail(f"{path} is a folder; give a file name, e.g. {path / example}")
    if not path.parent.is_dir():
        raise fail(f"there is no folder {path.parent}; make it first, or write elsewhere")


def readable_file(path: Path, what: str) -> bytes:
    """The bytes of a file a command reads; a missing or unreadable one ends it in one line."""
    with failing_on(OSError, prefix=f"{what}: "):
        return path.read_bytes()


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
    on SQLite and PostgreSQL alike, with no rebuild and no runner needed. Far behind (an
    import), with a bar per view."""
    views = open_views(ledger)
    behind = ledger.position() - min(views.position(s.name) for s in views.specs)
    if behind < CATCH_UP_BARS_FROM_EVENTS:
        views.catch_up()
    else:
        with progress_bars("views: {task.description}") as progress:
            tasks = {s.name: progress.add_task(s.name, total=behind) for s in views.specs}
            views.catch_up(
                CATCH_UP_BATCH_EVENTS, progress=lambda name, n: progress.advance(tasks[name], n)
            )
    views.close()


# Set by `serve` for the views worker it starts: the server's process id, whose end the
# worker follows (`projections run`).
SERVED_BY_ENV = "FUND_LEDGER_SERVED_BY"

# A catch-up of this many events or more shows its bars, in batches of the second figure.
CATCH_UP_BARS_FROM_EVENTS = 10_000
CATCH_UP_BATCH_EVENTS = 5_000


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
        raise fail(prefix + describe(error)) from None


def describe(error: Exception) -> str:
    """An expected error in words: a domain error's detail, a file error without its errno."""
    if isinstance(error, LedgerError):
        return error.detail
    if isinstance(error, OSError) and error.strerror:
        name = error.filename2 or error.filename
        return f"{name}: {error.strerror}" if name is not None else error.strerror
    return " ".join(str(error).split())


def print_tokens(tokens: Mapping[str, tuple[str, str]]) -> None:
    """The demo users' tokens on standard output, a line each: role, name, tab, token."""
    err.print(
        "demo users' tokens (shown once; fund-ledger users token --name NAME gives a new one):"
    )
    for name, (role, token) in tokens.items():
        typer.echo(f"{role:<10} {name}\t{token}")


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
