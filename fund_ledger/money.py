"""Where money sits, on the command line: bank statements and platform settlements imported,
reconciliation matched and reported, transfers, vouchers and official receipts."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from fund_ledger import books, common
from fund_ledger.common import err, fail, failing_on
from ledger.domain.checks import MONTH
from ledger.domain.errors import LedgerError
from ledger.domain.money import parse_yuan
from ledger.domain.reconciliation import entry_record, line_record, reconciliation_record
from ledger.domain.vouchers import gaps
from ledger.formats.bank_statement import StatementRefused, decode_statement

reconcile_app = typer.Typer(help="Match bank statement lines to the books.", no_args_is_help=True)
money_app = typer.Typer(
    help="Money accounts, transfers, official receipts, demo statements.", no_args_is_help=True
)
MoneyReports = ("vouchers", "bank-reconciliation", "official-receipts")

AsUser = Annotated[str, typer.Option("--as", help="Who records it (by user name).")]
Account = Annotated[str, typer.Option("--account", help="The money account's name: bank, …")]


def _print(result: object) -> None:
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


def _refused_file(error: StatementRefused) -> typer.Exit:
    for problem in error.problems:
        err.print(problem)
    err.print(f"[red]{len(error.problems)} problem(s): nothing imported[/red]")
    return typer.Exit(code=1)


def import_bank_statement(
    file: Annotated[Path, typer.Argument(help="The bank's CSV export (GBK or UTF-8).")],
    account: Account,
    as_user: AsUser,
    encoding: Annotated[str, typer.Option(help="auto, gbk, gb18030 or utf-8")] = "auto",
) -> None:
    """Import a bank statement: every bad line reported, nothing recorded from a bad file;
    lines matched to the books where one entry fits."""
    from ledger.formats.bank_statement import parse_bank_statement

    ledger = common.open_ledger()
    try:
        statement = parse_bank_statement(decode_statement(file.read_bytes(), encoding))
    except StatementRefused as error:
        raise _refused_file(error) from None
    with failing_on(LedgerError):
        receipt = ledger.import_bank_statement(ledger.actor_named(as_user), account, statement)
        lines, matches = ledger.statement_lines(account)
    err.print(
        f"{receipt.id} new lines of {len(statement.lines)}; {len(matches)} of {len(lines)} "
        "lines matched (fund-ledger reconcile list shows the rest)"
    )


def import_platform_settlement(
    file: Annotated[Path, typer.Argument(help="The platform's settlement CSV.")],
    platform: Annotated[str, typer.Option(help="wechat_pay or alipay")],
    donor: Annotated[str, typer.Option(help="The donor id new gifts are recorded under.")],
    as_user: AsUser,
    settled_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today)")] = None,
) -> None:
    """Import a settlement: new gifts, gifts recorded by hand linked, the fee and transfer."""
    from ledger.formats.platform_settlement import parse_settlement

    ledger = common.open_ledger()
    try:
        settlement = parse_settlement(decode_statement(file.read_bytes()))
    except StatementRefused as error:
        raise _refused_file(error) from None
    day = date.fromisoformat(settled_on) if settled_on else date.today()  # noqa: DTZ011
    with failing_on(LedgerError):
        outcome = ledger.import_platform_settlement(
            ledger.actor_named(as_user), platform, settlement, donor, day
        )
    err.print(
        f"{outcome.recorded} gifts recorded, {outcome.linked} found recorded by hand; "
        + ("settlement recorded" if outcome.settled else "settlement already recorded")
    )


@reconcile_app.command("list")
def reconcile_list(account: Account) -> None:
    """Statement lines, each with the book entries it is matched to, and unmatched entries."""
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        lines, matches = ledger.statement_lines(account)
        entries = ledger.book_entries(ledger.treasury().account(account).account)
    matched = {e for ids in matches.values() for e in ids}
    _print(
        {
            "lines": [line_record(li) | {"matched": matches.get(li.key, [])} for li in lines],
            "entries_unmatched": [entry_record(e) for e in entries if e.entry_id not in matched],
        }
    )


@reconcile_app.command("match")
def reconcile_match(
    account: Account,
    line: Annotated[str, typer.Argument(help="The line's key (reconcile list).")],
    entries: Annotated[list[str], typer.Argument(help="Book entry ids adding up to it.")],
    as_user: AsUser,
) -> None:
    """Match a statement line to the book entries that add up to it."""
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        ledger.reconcile_match(ledger.actor_named(as_user), account, line, entries)
    err.print(f"matched {line}")


@reconcile_app.command("unmatch")
def reconcile_unmatch(
    account: Account,
    line: Annotated[str, typer.Argument(help="The line's key (reconcile list).")],
    as_user: AsUser,
) -> None:
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        ledger.reconcile_unmatch(ledger.actor_named(as_user), account, line)
    err.print(f"unmatched {line}")


@money_app.command("transfer")
def transfer(
    source: Annotated[str, typer.Argument(help="From: cash, bank, wechat_pay, …")],
    target: Annotated[str, typer.Argument(help="To")],
    amount: Annotated[str, typer.Argument(help="Yuan, e.g. 3200.00")],
    on: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    as_user: AsUser,
    kind: Annotated[str, typer.Option(help="deposit, withdrawal, settlement, other")] = "other",
    fee: Annotated[str, typer.Option(help="Yuan kept on the way")] = "0.00",
    fee_category: Annotated[str, typer.Option(help="fundraising or management")] = "management",
    reference: Annotated[str | None, typer.Option()] = None,
    voucher_no: Annotated[str | None, typer.Option(help="Default: the next of the year")] = None,
) -> None:
    """Move money between the fund's accounts (cash deposited, a float drawn, a settlement)."""
    ledger = common.open_ledger()
    with failing_on(LedgerError, ValueError):
        receipt = ledger.record_transfer(
            ledger.actor_named(as_user),
            source,
            target,
            parse_yuan(amount),
            date.fromisoformat(on),
            (kind, parse_yuan(fee, allow_zero=True), fee_category),
            reference=reference,
            voucher=(voucher_no, ()),
        )
    typer.echo(receipt.id)


@money_app.command("receipt")
def official_receipt(
    number: Annotated[str, typer.Argument(help="The 公益事业捐赠票据 number")],
    on: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    as_user: AsUser,
    donation: Annotated[str | None, typer.Option(help="The gift it was issued for")] = None,
    void: Annotated[str | None, typer.Option(help="Void it, for this reason")] = None,
) -> None:
    """Record an official receipt issued for a gift, or voided with a reason."""
    ledger = common.open_ledger()
    actor_day = date.fromisoformat(on)
    with failing_on(LedgerError):
        actor = ledger.actor_named(as_user)
        if void is not None:
            ledger.void_official_receipt(actor, number, void, actor_day)
        elif donation is not None:
            ledger.issue_official_receipt(actor, donation, number, actor_day)
        else:
            raise fail("give --donation ID, or --void REASON")
    err.print(f"recorded {number}")


@money_app.command("attach")
def attach(
    file: Annotated[Path, typer.Argument(help="An invoice (发票), receipt or contract scan")],
    folder: Annotated[
        Path,
        typer.Option(envvar="FUND_LEDGER_ATTACHMENTS_DIR", help="Where attachments are kept"),
    ] = Path("attachments"),
) -> None:
    """Keep an attachment under its SHA-256 and print the hash for the voucher."""
    from ledger.store.attachments import keep_attachment

    with failing_on(ValueError, OSError):
        typer.echo(keep_attachment(folder, file.read_bytes()))


@money_app.command("demo-statements")
def write_demo_statements(
    folder: Annotated[Path, typer.Argument(help="Where the month files are written")],
) -> None:
    """Write the demo's bank statement of each month (GBK, ICBC's layout) into a folder."""
    from ledger.demo.money import demo_statements

    ledger = common.open_ledger()
    folder.mkdir(parents=True, exist_ok=True)
    for month, text in demo_statements(ledger).items():
        (folder / f"bank-{month}.csv").write_bytes(text.encode("gbk"))
    err.print(f"written to {folder}")


def report(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help=", ".join((*books.REPORTS, *MoneyReports)))
    ],
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD")] = None,
    since: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
    month: Annotated[str | None, typer.Option(help="YYYY-MM")] = None,
    year: Annotated[int | None, typer.Option(help="YYYY")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="statements: JSON.")] = False,
    account: Annotated[str, typer.Option(help="bank-reconciliation: the account")] = "bank",
) -> None:
    """Print a statement or report; the money path's reports here, the others as before."""
    if name not in MoneyReports:
        books.report(name, as_of, since, until, month, year, as_json)
        return
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        if name == "bank-reconciliation":
            if month is None:
                raise fail("bank-reconciliation needs --month YYYY-MM")
            table = ledger.bank_reconciliation(account, month)
            _print(reconciliation_record(table))
            if not table.reconciled:
                err.print("[red]not reconciled[/red]: " + "; ".join(table.reasons()))
                raise typer.Exit(code=1)
        elif name == "vouchers":
            _print(_vouchers(ledger, month))
        else:
            _print(ledger.official_receipt_register())


def _vouchers(ledger: Any, month: str | None) -> dict[str, Any]:
    if month is None or not MONTH.match(month):
        raise fail("vouchers needs --month YYYY-MM")
    entries = ledger.vouchers(int(month[:4]))
    numbers = [e.voucher_no for e in entries if e.day[:7] <= month]
    listed = [e for e in entries if e.day[:7] == month]
    return {
        "month": month,
        "vouchers": [
            {
                "voucher_no": e.voucher_no,
                "day": e.day,
                "record": f"{e.record_kind} {e.record_id}",
                "attachments_sha256": list(e.attachments_sha256),
            }
            for e in listed
        ],
        "gaps": gaps(numbers),
    }
