"""The ``fund-ledger`` command line."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from api.config import Settings
from ledger.app import OPERATOR, Actor, FundLedger
from ledger.demo import load_demo
from ledger.domain import FUND_TZ, today
from ledger.domain.errors import LedgerError
from ledger.domain.yuan import format_yuan_grouped
from ledger.log.notes import NoteError, Signer, Verifier
from ledger.log.verify import VerificationFailed
from projections.admin import grant_readonly_statements
from projections.audit import check_store, export_audit_bundle
from projections.log import InconsistentLog, Log
from projections.queries import Reader
from projections.runner import VIEWS, LiveRunner, Views

if TYPE_CHECKING:
    from fund_ledger.verifying import Result
    from ledger.formats.donations_csv import Parsed

app = typer.Typer(
    help="fund-ledger: verifiable books for a community fund (共富基金).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(
    help="People who may act on the fund, and their tokens.", no_args_is_help=True
)
app.add_typer(users_app, name="users")
projections_app = typer.Typer(help="The read models: status, rebuild, run.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
db_app = typer.Typer(help="Database administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# soft_wrap: messages keep their words whole (paths, ids) whatever the terminal width.
err = Console(stderr=True, soft_wrap=True)
# uvicorn's "trace" would log every ASGI message, request headers (and tokens) included.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def open_ledger() -> FundLedger:
    return FundLedger(Settings().database_url)


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


@app.command()
def init(
    name: Annotated[str, typer.Option(help="The fund's name, e.g. 南湖未来社区共富基金.")],
    quorum: Annotated[int, typer.Option(help="Approvals by other members a grant needs.")] = 3,
) -> None:
    """Establish a fund in the store named by FUND_LEDGER_DATABASE_URL."""
    with failing_on(LedgerError):
        open_ledger().establish_fund(OPERATOR, name, quorum)
    err.print(f"established {name} (quorum {quorum})")


@app.command()
def demo() -> None:
    """Load the Nanhu demo year into an empty store (deterministic)."""
    ledger = open_ledger()
    if ledger.position():
        raise fail("the store is not empty; the demo loads into an empty one")
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
    ) as progress:
        task = progress.add_task("loading the demo", total=None)
        users = load_demo(ledger, lambda step: progress.update(task, description=step))
    err.print(f"demo loaded: {ledger.position()} events; users: {', '.join(users.tokens)}")


@app.command()
def summary(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Effective date YYYY-MM-DD.")] = None,
    recorded_at: Annotated[
        str | None,
        typer.Option(
            "--recorded-at",
            help="What the books said at this moment (ISO date-time), before later entries.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Print the fund's position, from the views (brought up to date first)."""
    day = _day(as_of, "--as-of")
    moment = _parse(recorded_at, _moment, "--recorded-at", "an ISO date-time")
    ledger = open_ledger()
    with failing_on(LedgerError):
        fund = ledger.fund()
    position = Reader(open_views(ledger, caught_up=True)).summary(day, moment)
    if as_json:
        typer.echo(json.dumps(position.as_json(fund.currency), ensure_ascii=False))
        return
    table = Table(title=f"{fund.name} · {as_of or 'today'}")
    table.add_column("项目 / figure")
    table.add_column(f"金额 / amount ({fund.currency})", justify="right")
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


T = TypeVar("T")


def _parse(value: str | None, parse: Callable[[str], T], option: str, what: str) -> T | None:
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError:
        raise fail(f"{option} must be {what}, not {value!r}") from None


def _day(value: str | None, option: str) -> date | None:
    return _parse(value, date.fromisoformat, option, "a date YYYY-MM-DD")


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=FUND_TZ)


def open_views(
    ledger: FundLedger, names: list[str] | None = None, *, caught_up: bool = False
) -> Views:
    """The views of this ledger (these ones, else all), brought up to date if asked."""
    with failing_on(KeyError, ValueError):
        views = Views(ledger, names)
    if caught_up:
        views.catch_up()
    return views


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Option(help="The person's name.")],
    role: Annotated[str, typer.Option(help="treasurer, committee, adviser or auditor.")],
) -> None:
    """Add a person; prints their bearer token alone on standard output."""
    with failing_on(LedgerError):
        receipt, token = open_ledger().add_user(OPERATOR, name, role)
    err.print(f"added {name} as {role} (id {receipt.id}); the token below is shown only once")
    sys.stdout.write(token + "\n")


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Option(help="The person's name.")]) -> None:
    """Revoke a person's token."""
    with failing_on(LedgerError):
        open_ledger().revoke_user(OPERATOR, name)
    err.print(f"revoked {name}")


@app.command("forget")
def forget(
    person_id: Annotated[
        str, typer.Argument(help="A donor's id, or an individual payee's expense id.")
    ],
    as_user: Annotated[
        str | None,
        typer.Option("--as", help="The committee member recording the decision (else: operator)."),
    ] = None,
) -> None:
    """Erase a person's data for good (PIPL right to erasure): their key is destroyed.

    Amounts, balances and the transparency log stay as they are and keep verifying; the name,
    contact details and notes read as erased everywhere. Doing it twice changes nothing.
    """
    ledger = open_ledger()
    with failing_on(LedgerError):
        actor = ledger.actor_named(as_user) if as_user else OPERATOR
        receipt = ledger.forget_person(actor, person_id)
    done = "forgotten" if receipt.position else "already forgotten"
    err.print(f"{person_id}: {done}; their key is destroyed")


@users_app.command("list")
def users_list() -> None:
    """List the people, their roles and whether they are active."""
    table = Table()
    for column in ("name", "role", "active", "id"):
        table.add_column(column)
    for user_id, user in open_ledger().directory().users.items():
        table.add_row(user["name"], user["role"], "no" if user["revoked"] else "yes", user_id)
    Console().print(table)


@projections_app.command("status")
def projections_status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Each view's position in the event log and how far it lags behind."""
    statuses = open_views(open_ledger()).status()
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

    ledger = open_ledger()
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
) -> None:
    """Keep the views up to date until stopped (for a worker apart from the API)."""
    views = open_views(open_ledger())
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    with LiveRunner(views, poll_interval_s=poll_interval_s) as runner:
        err.print("projection runner started; Ctrl-C stops it")
        while not stopping.wait(5.0):
            if runner.error is not None:
                err.print(f"[yellow]views runner: {runner.error!r}[/yellow]")
    err.print("projection runner stopped")


EXPORT_FORMATS = (
    "beancount",
    "360giving",
    "donations.csv",
    "grants.csv",
    "expenses.csv",
    "audit-bundle",
)


@app.command("export")
def export(
    format_name: Annotated[str, typer.Argument(metavar="FORMAT", help=", ".join(EXPORT_FORMATS))],
    folder: Annotated[
        Path | None, typer.Argument(metavar="[DIR]", help="audit-bundle: the folder to write.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write to this file, not standard output.")
    ] = None,
    public: Annotated[
        bool, typer.Option("--public/--full", help="CSV: the public variant or the full one.")
    ] = True,
) -> None:
    """Export the books: Beancount, 360Giving, CSV listings, or an audit bundle for verify."""
    from projections import exports

    if format_name not in EXPORT_FORMATS:
        raise fail(f"FORMAT must be one of {', '.join(EXPORT_FORMATS)}")
    views = open_views(open_ledger())
    if format_name == "audit-bundle":
        if folder is None:
            raise fail("audit-bundle needs a folder: export audit-bundle DIR")
        signer = _signer(Settings())
        bundle = export_audit_bundle(views, _log(views, signer), signer, folder)
        err.print(f"wrote the audit bundle to {bundle.path} ({bundle.size} entries)")
        return
    views.catch_up()
    reader = Reader(views)
    data: bytes
    if format_name == "beancount":
        data = exports.export_beancount(reader).encode()
    elif format_name == "360giving":
        package = exports.export_360giving(reader, published_on=today())
        data = json.dumps(package, ensure_ascii=False, indent=2).encode()
    else:
        data = exports.export_csv(reader, format_name.removesuffix(".csv"), public=public)
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        err.print(f"wrote {out} ({len(data)} bytes)")


REPORTS = (
    "trial-balance",
    "balance-sheet",
    "activities",
    "restricted",
    "functional",
    "ratios",
    "monthly",
)


@app.command("report")
def report(
    name: Annotated[str, typer.Argument(metavar="NAME", help=", ".join(REPORTS))],
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD")] = None,
    since: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
    month: Annotated[str | None, typer.Option(help="YYYY-MM, for the monthly report")] = None,
) -> None:
    """Print a statement or report as JSON."""
    if name not in REPORTS:
        raise fail(f"NAME must be one of {', '.join(REPORTS)}")
    day = _day(as_of, "--as-of")
    first = _day(since, "--from") or date(today().year, 1, 1)
    last = _day(until, "--to") or today()
    reader = Reader(open_views(open_ledger(), caught_up=True))
    result: object
    if name == "trial-balance":
        result = reader.trial_balance(day)
    elif name == "balance-sheet":
        result = reader.balance_sheet(day)
    elif name == "activities":
        result = reader.activities(first, last)
    elif name == "restricted":
        result = reader.restricted_rollforward(first, last)
    elif name == "functional":
        result = reader.functional_expenses(first, last)
    elif name == "ratios":
        result = reader.ratios(first, last, Settings().thresholds())
    else:
        result = reader.monthly(month or f"{last:%Y-%m}")
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@db_app.command("grant-readonly")
def db_grant_readonly(
    role: Annotated[str, typer.Argument(help="An existing PostgreSQL role.")],
    with_contacts: Annotated[
        bool, typer.Option(help="Also the donors' contact details (personal data).")
    ] = False,
) -> None:
    """Give a PostgreSQL role read access to the views, for the panel's own SQL tools."""
    views = open_views(open_ledger())
    with failing_on(ValueError):
        statements = grant_readonly_statements(views, role, with_contacts=with_contacts)
    with views.view("registers").cursor(commit=True) as cursor:
        for statement in statements:
            cursor.execute(statement)
    err.print(f"granted {role} read access to {len(statements) - 1} tables")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    with_demo: Annotated[
        bool, typer.Option("--demo", help="Load the Nanhu demo first if the store is empty.")
    ] = False,
    log_level: Annotated[
        str,
        typer.Option(
            help="critical, error, warning, info (adds one line per request) or debug; "
            "the service's loggers and uvicorn's alike, to stderr (requests to stdout)."
        ),
    ] = "warning",
) -> None:
    """Serve the API (and the public page) on the store named by FUND_LEDGER_DATABASE_URL."""
    import logging

    import uvicorn

    if log_level not in LOG_LEVELS:
        raise fail(f"--log-level is one of {', '.join(LOG_LEVELS)}")
    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )

    from api.app import create_app

    settings = Settings()
    ledger = FundLedger(settings.database_url)
    key_file = Path(settings.signing_key_file)
    if with_demo and not key_file.exists():
        signer = Signer.generate("fund-ledger.local/nanhu-demo")
        _write_secret(key_file, signer.encode())
        err.print(f"made a demo signing key in {key_file}; public key: {signer.verifier.encode()}")
    if with_demo:
        if ledger.position():
            err.print("the store is not empty: serving it as it is, without loading the demo")
        else:
            users = load_demo(ledger, lambda step: err.print(f"demo: {step}"))
            err.print("demo users' tokens (shown once):")
            for name, (role, token) in users.tokens.items():
                typer.echo(f"{role:<10} {name}\t{token}")
    err.print(f"serving on http://{host}:{port}/ (API docs at /docs)")
    uvicorn.run(create_app(settings, ledger), host=host, port=port, log_level=log_level)


keys_app = typer.Typer(help="The key that signs the log's checkpoints.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
log_app = typer.Typer(help="The transparency log.", no_args_is_help=True)
app.add_typer(log_app, name="log")


def _signer(settings: Settings) -> Signer:
    path = Path(settings.signing_key_file)
    if not path.exists():
        raise fail(f"no signing key at {path}; make one with fund-ledger keys init")
    return Signer.decode(path.read_text())


def _log(views: Views, signer: Signer | None) -> Log:
    return Log(views.view("log"), origin=signer.name if signer else "unsigned")


def _write_secret(path: Path, text: str) -> None:
    """A file only its owner may read, made so before the secret goes in."""
    path.touch(mode=0o600)
    path.write_text(text + "\n")


@keys_app.command("init")
def keys_init(
    origin: Annotated[
        str, typer.Option(help="The log's name in its checkpoints, e.g. nanhu.example/fund.")
    ] = "fund-ledger.local/nanhu-common-prosperity-fund",
    force: Annotated[
        bool, typer.Option(help="Replace an existing key (old ones stay valid).")
    ] = False,
) -> None:
    """Make the Ed25519 key that signs checkpoints; prints the public key on standard output."""
    path = Path(Settings().signing_key_file)
    if path.exists() and not force:
        raise fail(f"{path} exists; the log's history is signed with it")
    with failing_on(NoteError):
        signer = Signer.generate(origin)
    _write_secret(path, signer.encode())
    path.with_suffix(".pub").write_text(signer.verifier.encode() + "\n")
    err.print(f"wrote {path} (keep it secret, out of the database) and {path.with_suffix('.pub')}")
    typer.echo(signer.verifier.encode())


@log_app.command("checkpoint")
def log_checkpoint() -> None:
    """Bring the log up to date and sign a checkpoint if it grew."""
    signer = _signer(Settings())
    # Named, not inlined: the log writes through the views' connections, which go with them.
    views = open_views(open_ledger(), caught_up=True)
    log = _log(views, signer)
    try:
        signed = log.sign(signer)
    except InconsistentLog as error:
        raise fail(str(error), code=1) from None
    checkpoint = signed or log.checkpoint()
    if checkpoint is None:
        err.print("the log is empty")
        return
    typer.echo(checkpoint.note, nl=False)


def _read(path: Path) -> str:
    """A file the verifier needs; a missing or unreadable one is a failure that names it."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        msg = f"{path}: {error}"
        raise VerificationFailed(msg) from None


def _summary(path: Path) -> dict[str, object]:
    try:
        summary = json.loads(_read(path))
    except ValueError as error:
        msg = f"{path} is not JSON: {error}"
        raise VerificationFailed(msg) from None
    if not isinstance(summary, dict):
        msg = f"{path} is not a JSON object"
        raise VerificationFailed(msg)
    return summary


def _verifier(key: str | None, settings: Settings) -> Verifier:
    if key is None:
        return _signer(settings).verifier
    text = Path(key).read_text() if Path(key).exists() else key
    with failing_on(NoteError, prefix="--key: "):
        return Verifier.decode(text)


@app.command()
def verify(
    entries: Annotated[Path | None, typer.Option(help="Entries: one leaf per line.")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="A signed checkpoint file.")] = None,
    key: Annotated[str | None, typer.Option(help="The public key, or a file holding it.")] = None,
    trusted: Annotated[
        Path | None, typer.Option(help="An older checkpoint you trust: the log must extend it.")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Verify a live service at this address.")] = None,
    bundle: Annotated[Path | None, typer.Option(help="An audit bundle folder.")] = None,
    store: Annotated[
        bool, typer.Option("--store", help="The server's self-check of its own database.")
    ] = False,
) -> None:
    """Check the books without trusting the server; exits non-zero naming the first problem."""
    from fund_ledger import verifying

    settings = Settings()
    try:
        trusted_note = _read(trusted) if trusted else None
        if store:
            typer.echo(_self_check(key, settings))
            return
        if bundle is not None:
            result = _verify_bundle(bundle, key, trusted_note, settings)
        elif url is not None:
            result = verifying.verify_url(url, _verifier(key, settings), trusted_note)
        elif entries is not None and checkpoint is not None:
            result = verifying.verify_files(
                entries, _read(checkpoint), _verifier(key, settings), trusted_note, None
            )
        else:
            raise fail("give --bundle, --url, --store, or --entries with --checkpoint")
    except VerificationFailed as error:
        err.print(f"[red]FAILED:[/red] {error}")
        raise typer.Exit(code=1) from None
    typer.echo(_verified(result))


def _self_check(key: str | None, settings: Settings) -> str:
    """The server's check of its own store: each event against its log entry and checkpoints."""
    ledger = open_ledger()
    views = open_views(ledger, caught_up=True)
    verifier = _verifier(key, settings)
    count = check_store(ledger, _log(views, None), verifier)
    return f"ok: the store's {count} events match their log entries and checkpoints"


def _verify_bundle(
    bundle: Path, key: str | None, trusted_note: str | None, settings: Settings
) -> Result:
    from fund_ledger import verifying

    if key is None:
        # A bundle's own key proves only that the bundle is self-consistent: whoever
        # forged the entries could sign them with a key of their own.
        err.print(
            "[yellow]warning:[/yellow] no --key given: using the bundle's own key.pub; "
            "get the fund's public key from the fund (its notice or web page) and pass "
            "--key to know these books are the fund's"
        )
    return verifying.verify_files(
        bundle / "entries.jsonl",
        _read(bundle / "checkpoint"),
        _verifier(key or str(bundle / "key.pub"), settings),
        trusted_note,
        _summary(bundle / "summary.json"),
    )


def _verified(result: Result) -> str:
    message = (
        f"ok: {result.entries} entries verify against the checkpoint signed by "
        f"{result.checkpoint.origin}"
    )
    if result.trusted_size:
        message += f", extending the trusted checkpoint of {result.trusted_size} entries"
    if result.summary_checked:
        message += "; the replayed balances equal the published figures"
    return message


import_app = typer.Typer(help="Bring records in from files.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("donations")
def import_donations(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV, UTF-8: donor_id, amount, received_on, "
            "channel[, receipt_no, project_id, note]."
        ),
    ],
    as_user: Annotated[str, typer.Option("--as", help="The treasurer recording them.")],
    partial: Annotated[
        bool, typer.Option(help="Import the good rows even if some are bad.")
    ] = False,
    max_amount: Annotated[
        str, typer.Option(help="Refuse single gifts above this many yuan (typos).")
    ] = "1000000.00",
) -> None:
    """Import donations from a bank statement or spreadsheet, reporting every rejected row."""
    from ledger.domain.money import parse_yuan
    from ledger.formats.donations_csv import decode, parse_donations

    ledger = open_ledger()
    with failing_on(LedgerError):
        actor = ledger.actor_named(as_user)
        parsed = parse_donations(decode(file.read_bytes()), amount_fen_max=parse_yuan(max_amount))
        _set_aside_refused(ledger, parsed)
    for bad in parsed.bad:
        err.print(f"line {bad.line}: {bad.problem}")
    if parsed.bad and not partial:
        err.print(
            f"[red]{len(parsed.bad)} bad rows: nothing imported[/red] (--partial imports the rest)"
        )
        raise typer.Exit(code=1)
    imported = _import(ledger, actor, parsed.items)
    err.print(f"imported {imported} donations; {len(parsed.bad)} rows rejected")


def _set_aside_refused(ledger: FundLedger, parsed: Parsed) -> None:
    """Move the rows the ledger would refuse to the bad ones, in line order."""
    from ledger.formats.donations_csv import BadRow

    bad_rows = parsed.bad + [
        BadRow(parsed.items[index]["line"], problem)
        for index, problem in ledger.preflight_donations(parsed.items)
    ]
    bad_lines = {bad.line for bad in bad_rows}
    parsed.items = [item for item in parsed.items if item["line"] not in bad_lines]
    parsed.bad = sorted(bad_rows, key=lambda bad: bad.line)


def _import(ledger: FundLedger, actor: Actor, items: list[dict[str, Any]]) -> int:
    """Record the rows with a progress bar; a refusal says how many were kept."""
    sent = 0
    with counting("importing", len(items), remaining=True) as advance:

        def advancing(done: int) -> None:
            nonlocal sent
            sent += done
            advance(done)

        try:
            return ledger.import_donations(
                actor,
                ({k: v for k, v in i.items() if k != "line"} for i in items),
                progress=advancing,
            )
        except LedgerError as error:
            kept = 0 if ledger.imports_atomically else sent
            raise fail(f"{error.detail}; {kept} donations were imported", code=1) from None


@app.command("backup")
def backup_command(
    file: Annotated[Path, typer.Argument(help="Where to write it (.gz to compress).")],
) -> None:
    """Back up the store: every event byte for byte, with the log's salts and checkpoints."""
    from projections.backup import backup

    ledger = open_ledger()
    views = open_views(ledger)
    with counting("backing up", ledger.position()) as advance:
        count = backup(ledger, views, file, advance)
    err.print(f"backed up {count} events to {file}")


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="A file from fund-ledger backup.")],
) -> None:
    """Restore a backup into an empty store, then rebuild the views."""
    _restore_into(open_ledger(), file)


def _restore_into(ledger: FundLedger, file: Path) -> None:
    from projections.backup import restore

    views = open_views(ledger)
    with failing_on(ValueError, OSError), counting("restoring", None) as advance:
        count = restore(ledger, views, file, advance)
    err.print(f"restored {count} events and rebuilt the views")


@app.command("migrate")
def migrate_command(
    to: Annotated[str, typer.Option("--to", help="The empty store to copy into (a URL).")],
) -> None:
    """Copy the whole store into another (e.g. SQLite to PostgreSQL), positions and all."""
    import tempfile

    from projections.backup import backup

    source = open_ledger()
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "migration.jsonl"
        backup(source, open_views(source), file, lambda _n: None)
        with failing_on(LedgerError):
            target = FundLedger(to)
        _restore_into(target, file)
    err.print(f"migrated to {to.split('@')[-1]}")
