"""The books: establish a fund or load the demo, and read them (summary, reports, exports)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.config import Settings
from fund_ledger import common
from fund_ledger.common import err, fail, failing_on, open_views
from fund_ledger.trust import open_log, read_signer
from ledger.app import OPERATOR, FundLedger
from ledger.demo import load_demo
from ledger.domain import FUND_TZ, today
from ledger.domain.errors import LedgerError
from ledger.domain.yuan import format_yuan_grouped
from projections.audit import export_audit_bundle
from projections.reader import Reader

EXPORT_FORMATS = (
    "beancount",
    "360giving",
    "donations.csv",
    "grants.csv",
    "expenses.csv",
    "statements",
    "audit-bundle",
)
REPORTS = (
    "trial-balance",
    "balance-sheet",
    "activities",
    "restricted",
    "functional",
    "ratios",
    "monthly",
    "statements",
)
STATEMENT_SUFFIXES = (".xlsx", ".pdf")


def init(
    name: Annotated[str, typer.Option(help="The fund's name, e.g. 南湖未来社区共富基金.")],
    quorum: Annotated[int, typer.Option(help="Approvals by other members a grant needs.")] = 3,
) -> None:
    """Establish a fund in the store named by FUND_LEDGER_DATABASE_URL."""
    ledger = common.open_ledger(create=True)
    common.with_new_kek(ledger)
    with failing_on(LedgerError):
        ledger.establish_fund(OPERATOR, name, quorum)
    common.views_caught_up(ledger)
    err.print(f"established {name} (quorum {quorum})")


def demo() -> None:
    """Load the Nanhu demo year into an empty store (deterministic); prints each demo user's
    token on standard output (role, name, token), as serve --demo does."""
    ledger = common.open_ledger(create=True)
    if ledger.position():
        raise fail(
            f"the store is not empty ({ledger.position()} events); the demo loads into an empty "
            "one: run it in another folder, or set FUND_LEDGER_DATABASE_URL to a new store"
        )
    common.with_new_kek(ledger)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
    ) as progress:
        task = progress.add_task("loading the demo", total=None)
        users = load_demo(ledger, lambda step: progress.update(task, description=step))
        progress.update(task, description="bringing the views up to date")
        common.views_caught_up(ledger)
    err.print(f"demo loaded: {ledger.position()} events")
    common.print_tokens(users.tokens)


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
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        fund = ledger.fund()
    position = Reader(open_views(ledger, caught_up=True)).summary(day, moment)
    if moment is not None and position.events == 0:
        _nothing_recorded_yet(ledger, moment)
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


def _nothing_recorded_yet(ledger: FundLedger, moment: datetime) -> None:
    """Zeros for a moment before the first entry: say so, with when the first was made."""
    first = ledger.recorder.select_notifications(start=1, limit=1)
    if not first:
        return
    event: Any = ledger.mapper.to_domain_event(first[0])
    recorded_at = event.timestamp.astimezone(FUND_TZ)
    err.print(
        f"note: nothing had been recorded by {moment:%Y-%m-%dT%H:%M%z}: the first entry was "
        f"recorded at {recorded_at:%Y-%m-%dT%H:%M%z} (--as-of asks by effective date instead)"
    )


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
    year: Annotated[int | None, typer.Option(help="statements: the year YYYY.")] = None,
) -> None:
    """Export the books: Beancount, 360Giving, CSV listings, the statements (XLSX or PDF, by
    the --out file's suffix), or an audit bundle for verify."""
    from projections import exports

    if format_name not in EXPORT_FORMATS:
        raise fail(f"FORMAT must be one of {', '.join(EXPORT_FORMATS)}")
    if out is not None:
        common.writable_file(out, "fund.beancount" if format_name == "beancount" else "export")
    if format_name == "statements":
        _export_statements(year, out)
        return
    views = open_views(common.open_ledger())
    if format_name == "audit-bundle":
        if folder is None:
            raise fail("audit-bundle needs a folder: export audit-bundle DIR")
        signer = read_signer(Settings())
        bundle = export_audit_bundle(views, open_log(views, signer), signer, folder)
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


def _export_statements(year: int | None, out: Path | None) -> None:
    from projections import exports

    if year is None or out is None or out.suffix not in STATEMENT_SUFFIXES:
        raise fail("statements needs --year YYYY and --out FILE.xlsx or FILE.pdf")
    with failing_on(exports.PdfUnavailable):
        statements = _statements(year, None)
        if out.suffix == ".xlsx":
            data = exports.export_statements_xlsx(statements)
        else:
            data = exports.export_statements_pdf(statements)
    out.write_bytes(data)
    err.print(f"wrote {out} ({len(data)} bytes)")


def _statements(year: int, month: str | None) -> dict[str, Any]:
    number = _parse(month, _month_number(year), "--month", f"a month YYYY-MM of {year}")
    reader = Reader(open_views(common.open_ledger(), caught_up=True))
    return reader.statements(year, number, Settings().thresholds())


def _month_number(year: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        day = date.fromisoformat(value + "-01")
        if day.year != year:
            raise ValueError(value)
        return day.month

    return parse


def _print_statements(statements: dict[str, Any]) -> None:
    """The three forms as tables: line, label and each column."""
    console = Console()
    for key in ("balance_sheet", "activities", "cash_flows"):
        form = statements[key]
        table = Table(title=f"{form['title']} {form['title_en']} · {form['form']}")
        table.add_column("行次")
        table.add_column("项目 / item")
        for column in form["columns"]:
            table.add_column(column["label"], justify="right")
        for row in form["rows"]:
            values = row.get("values", {})
            table.add_row(
                str(row["line"] or ""),
                row["label"],
                *(values.get(c["key"], "") for c in form["columns"]),
            )
        console.print(table)


def report(
    name: Annotated[str, typer.Argument(metavar="NAME", help=", ".join(REPORTS))],
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD")] = None,
    since: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM: the monthly report; statements to a month's end")
    ] = None,
    year: Annotated[
        int | None, typer.Option(help="YYYY: the year of statements and ratios")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="statements: JSON (the other reports always are).")
    ] = False,
) -> None:
    """Print a statement or report (JSON; statements as tables without --json)."""
    if name not in REPORTS:
        raise fail(f"NAME must be one of {', '.join(REPORTS)}")
    if name in {"statements", "ratios"}:
        if year is None:
            raise fail(f"{name} needs --year YYYY")
        statements = _statements(year, month if name == "statements" else None)
        if name == "ratios":
            typer.echo(json.dumps(statements["ratios"], ensure_ascii=False, indent=2))
        elif as_json:
            typer.echo(json.dumps(statements, ensure_ascii=False, indent=2))
        else:
            _print_statements(statements)
        return
    day = _day(as_of, "--as-of")
    first = _day(since, "--from") or date(today().year, 1, 1)
    last = _day(until, "--to") or today()
    reader = Reader(open_views(common.open_ledger(), caught_up=True))
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
    else:
        result = reader.monthly(_month(month) or f"{last:%Y-%m}")
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


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


def _month(value: str | None) -> str | None:
    return _parse(value, lambda v: f"{date.fromisoformat(v + '-01'):%Y-%m}", "--month", "YYYY-MM")


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=FUND_TZ)
