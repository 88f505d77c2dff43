"""The panel's workbench on the command line: ``query`` (any question as a table, CSV, XLSX
or JSON) and ``checks`` (the warnings)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fund_ledger import common
from fund_ledger.common import err, fail, failing_on, open_views
from ledger.domain.disclosure import EVERY_FIELD
from ledger.domain.errors import LedgerError
from projections.canteen.queries import meals_table
from projections.panel.facts import Audience, Window
from projections.panel.query import DIMENSIONS, MEASURES, QuerySpec, query_table
from projections.reader import Reader

FORMATS = ("table", "csv", "xlsx", "json")
# The operator at the console sees what the store holds, as the other commands do.
OPERATOR_SIGHT = Audience(public=False, sight=EVERY_FIELD)


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} must be a date YYYY-MM-DD, not {value!r}") from None


def write_out(
    fmt: str, name: str, headers: list[str], rows: list[list[object]], out: Path | None
) -> None:
    """The table on standard output (a rich table, CSV) or in a file (XLSX needs one)."""
    if fmt == "table":
        table = Table(*headers)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console().print(table)
        return
    if fmt == "xlsx" and out is None:
        raise fail("xlsx needs --out FILE.xlsx")
    from projections.exports.tables import table_csv, table_xlsx  # openpyxl: only when asked

    data = table_csv(headers, rows) if fmt == "csv" else table_xlsx(headers, rows, name)
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        err.print(f"wrote {out} ({len(data)} bytes)")


def query(
    group_by: Annotated[str, typer.Argument(help=f"Comma-separated: {', '.join(DIMENSIONS)}.")],
    measure: Annotated[
        str | None,
        typer.Option(
            help=f"Comma-separated: {', '.join(MEASURES)}; or meals alone (the canteen, by"
            " project, month and age_band)."
        ),
    ] = None,
    since: Annotated[str | None, typer.Option("--from", help="From YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option("--to", help="To YYYY-MM-DD.")] = None,
    project: Annotated[str | None, typer.Option(help="One project's code.")] = None,
    pivot: Annotated[str | None, typer.Option(help="One of group_by, laid across.")] = None,
    sort: Annotated[str, typer.Option(help="key, or value (largest first).")] = "key",
    limit: Annotated[int | None, typer.Option(min=1, max=5000, help="The first rows.")] = None,
    format_name: Annotated[str, typer.Option("--format", help=", ".join(FORMATS))] = "table",
    out: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """Answer one of the panel's questions: sums grouped, with Chinese labels and shares."""
    if format_name not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}")
    spec = QuerySpec(
        group_by=tuple(k.strip() for k in group_by.split(",") if k.strip()),
        measures=tuple(m.strip() for m in measure.split(",")) if measure else (),
        window=Window(_day(since, "--from"), _day(until, "--to"), project),
        pivot=pivot,
        sort=sort,
        limit=limit,
    )
    reader = Reader(open_views(common.open_ledger(), caught_up=True))
    with failing_on(LedgerError, ValueError):
        if spec.measures == ("meals",):
            answer = reader.served_grouped(
                list(spec.group_by), spec.window.since, spec.window.until
            )
        else:
            answer = reader.panel_query(spec, OPERATOR_SIGHT)
    if format_name == "json":
        typer.echo(json.dumps(answer, ensure_ascii=False, indent=2))
        return
    name, (headers, rows) = (
        ("meals", meals_table(answer))
        if spec.measures == ("meals",)
        else ("query", query_table(answer))
    )
    write_out(format_name, name, headers, rows, out)


CHECK_HEADERS = ["编号 / id", "类型 / kind", "说明 / detail", "金额（元） / amount", "日期 / on"]


def checks(
    kind: Annotated[str | None, typer.Option(help="Only warnings of this kind.")] = None,
    format_name: Annotated[str, typer.Option("--format", help=", ".join(FORMATS))] = "table",
    out: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """The warnings the panel would otherwise script, each with its rule and explanations."""
    if format_name not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}")
    reader = Reader(open_views(common.open_ledger(), caught_up=True))
    found = [w for w in reader.checks(OPERATOR_SIGHT) if kind is None or w["kind"] == kind]
    if format_name == "json":
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    headers = [*CHECK_HEADERS, "解释 / explanations"]
    rows: list[list[object]] = [
        [
            w["id"],
            w["kind_label"],
            w["detail"],
            w.get("amount"),
            w.get("on"),
            "; ".join(f"{e['on']} {e['by']}: {e['reason']}" for e in w["explanations"]),
        ]
        for w in found
    ]
    write_out(format_name, "checks", headers, rows, out)
    err.print(f"{len(found)} warnings, {sum(w['explained'] for w in found)} explained")
