"""The store's data: import records, back up, restore, migrate, and forget a person."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fund_ledger import common
from fund_ledger.common import counting, err, fail, failing_on, open_views
from fund_ledger.stores import address
from ledger.app import OPERATOR, Actor, FundLedger
from ledger.domain.errors import LedgerError

if TYPE_CHECKING:
    from ledger.formats.donations_csv import BadRow, Parsed

import_app = typer.Typer(help="Bring records in from files.", no_args_is_help=True)


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
    allow_duplicates: Annotated[
        bool,
        typer.Option(
            help="Record rows without a receipt number even when a gift with the same "
            "natural key is in the file or the books already."
        ),
    ] = False,
    leave_views: Annotated[
        bool,
        typer.Option(
            help="Exit once the gifts are stored, leaving the views to the running service's "
            "runner (or a later `projections rebuild`) instead of bringing them up first."
        ),
    ] = False,
) -> None:
    """Import donations from a bank statement or spreadsheet, reporting every rejected row.

    A row with a receipt_no is refused if that receipt is recorded already. A row without one
    is known by its natural key: received_on, donor_id, amount, channel and project_id. If a
    gift with the same five is in the books (not reversed) or earlier in the file, the row is
    refused as a duplicate, so importing the same bank file twice records nothing the second
    time; --allow-duplicates records such rows all the same (two real gifts alike in all
    five).
    """
    from ledger.domain.money import parse_yuan
    from ledger.formats.donations_csv import decode, parse_donations
    from ledger.service.donation_batches import ReceiptsTaken

    with failing_on(LedgerError, prefix="--max-amount: "):
        amount_fen_max = parse_yuan(max_amount)
    data = common.readable_file(file, "the file to import")
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        actor = ledger.actor_named(as_user)
        text = decode(data)
    if ledger.imports_atomically and not partial:
        imported = _import_as_read(ledger, actor, text, amount_fen_max, allow_duplicates)
        if imported is not None:
            if not leave_views:
                common.views_caught_up(ledger)
            err.print(f"imported {imported} donations; 0 rows rejected")
            return
    with failing_on(LedgerError):
        parsed = parse_donations(
            text, amount_fen_max=amount_fen_max, allow_duplicates=allow_duplicates
        )
        # All in one transaction, a clean file leaves the receipts already recorded to the
        # load (the preflight would make every gift's id and look them all up first).
        receipts_in_load = ledger.imports_atomically and not partial and not parsed.bad
        _set_aside_refused(
            ledger, parsed, allow_duplicates=allow_duplicates, receipts_in_load=receipts_in_load
        )
    _refuse_if_bad(parsed, partial=partial)
    try:
        imported = _import(ledger, actor, parsed.items)
    except ReceiptsTaken as taken:  # found by the load: listed as the preflight lists them
        with failing_on(LedgerError):
            _set_aside_refused(
                ledger, parsed, allow_duplicates=allow_duplicates, receipts_in_load=False
            )
        _refuse_if_bad(parsed, partial=False)
        raise fail(f"{taken.detail}; 0 donations were imported", code=1) from None
    if not leave_views:
        common.views_caught_up(ledger)
    err.print(f"imported {imported} donations; {len(parsed.bad)} rows rejected")


def _import_as_read(
    ledger: FundLedger, actor: Actor, text: str, amount_fen_max: int, allow_duplicates: bool
) -> int | None:
    """A clean file stored in one transaction as it is read, PostgreSQL loading the first
    rows while the rest are read; None when it is not clean, with nothing stored: a bad row,
    a row whose natural key is to be looked for in the books, or a refusal by the ledger.
    Then the file is read whole and every problem listed, as ``import_donations`` does."""
    from ledger.formats.donations_csv import Unclean, stream_donations

    items = stream_donations(text, amount_fen_max=amount_fen_max, allow_duplicates=allow_duplicates)
    # A row is a line, but for quoted line breaks and blank lines: the bar's total is a guess.
    with (
        counting("importing", max(text.count("\n") - 1, 1), remaining=True) as advance,
        collector_paused(),
    ):
        try:
            return ledger.import_donations(actor, items, progress=advance)
        except (Unclean, LedgerError):
            return None


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a file is loaded: a million rows make a million
    short-lived dicts, none in a cycle, and the collector's passes over the growing receipt
    index cost the import about a twentieth of its CPU. On again at the end, whatever
    happened."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _refuse_if_bad(parsed: Parsed, *, partial: bool) -> None:
    """List the bad rows; unless --partial, end the command there with what was wrong."""
    for bad in parsed.bad:
        err.print(f"line {bad.line}: {bad.problem}")
    if parsed.bad and not partial:
        duplicates = len({bad.line for bad in parsed.bad if DUPLICATE in bad.problem})
        err.print(
            f"[red]{len({bad.line for bad in parsed.bad})} bad rows: nothing imported[/red] "
            "(--partial imports the rest"
            + (f"; {duplicates} already recorded: --allow-duplicates" if duplicates else "")
            + ")"
        )
        raise typer.Exit(code=1)


def _set_aside_refused(
    ledger: FundLedger, parsed: Parsed, *, allow_duplicates: bool, receipts_in_load: bool
) -> None:
    """Move the rows the ledger would refuse, or that repeat a gift recorded, to the bad ones,
    in line order. With ``receipts_in_load``, receipts already recorded are left to the load
    unless some row is refused all the same: then they are listed too."""
    from ledger.formats.donations_csv import BadRow

    recorded = [] if allow_duplicates else _already_recorded(ledger, parsed.items)
    problems = ledger.preflight_donations(parsed.items, receipts=not receipts_in_load)
    if receipts_in_load and (problems or recorded):
        problems = ledger.preflight_donations(parsed.items)
    bad_rows = [
        *parsed.bad,
        *(BadRow(parsed.items[index]["line"], problem) for index, problem in problems),
        *recorded,
    ]
    bad_lines = {bad.line for bad in bad_rows}
    if bad_lines:
        parsed.items = [item for item in parsed.items if item["line"] not in bad_lines]
    parsed.bad = sorted(bad_rows, key=lambda bad: bad.line)


DUPLICATE = "natural key"


def _already_recorded(ledger: FundLedger, items: list[dict[str, Any]]) -> list[BadRow]:
    """Rows without a receipt number whose natural key a gift in the books has already."""
    from ledger.formats.donations_csv import BadRow, natural_key
    from projections.registers.matching import RecordedGifts

    unnumbered = [item for item in items if not item.get("receipt_no")]
    if not unnumbered:
        return []
    views = open_views(ledger, ["registers"], caught_up=True)
    found = RecordedGifts(views).receipts_by_key(natural_key(item) for item in unnumbered)
    return [
        BadRow(
            item["line"],
            f"already recorded as receipt {found[natural_key(item)]} (same {DUPLICATE}: "
            "day, donor, amount, channel, project)",
        )
        for item in unnumbered
        if natural_key(item) in found
    ]


def _import(ledger: FundLedger, actor: Actor, items: list[dict[str, Any]]) -> int:
    """Record the rows with a progress bar; a refusal says how many were kept (receipts the
    load found recorded already go to the caller, to be listed as bad rows)."""
    from ledger.service.donation_batches import ReceiptsTaken

    sent = 0
    with counting("importing", len(items), remaining=True) as advance:

        def advancing(done: int) -> None:
            nonlocal sent
            sent += done
            advance(done)

        try:
            # The service reads the fields it knows: the line numbers ride along unread.
            return ledger.import_donations(actor, iter(items), progress=advancing)
        except ReceiptsTaken:
            raise
        except LedgerError as error:
            kept = 0 if ledger.imports_atomically else sent
            raise fail(f"{error.detail}; {kept} donations were imported", code=1) from None


def forget(
    person_id: Annotated[
        str,
        typer.Argument(
            help="A donor's id, an individual payee's expense id, or a beneficiary's id."
        ),
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
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        actor = ledger.actor_named(as_user) if as_user else OPERATOR
        receipt = ledger.forget_person(actor, person_id)
    common.views_caught_up(ledger)
    done = "forgotten" if receipt.position else "already forgotten"
    err.print(f"{person_id}: {done}; their key is destroyed")


def backup_command(
    file: Annotated[Path, typer.Argument(help="Where to write it (.gz to compress).")],
) -> None:
    """Back up the store: every event byte for byte, with the log's salts and checkpoints."""
    from projections.backup import backup

    common.writable_file(file, "fund.jsonl.gz")
    ledger = common.open_ledger()
    views = open_views(ledger)
    with counting("backing up", ledger.position()) as advance:
        count = backup(ledger, views, file, advance)
    err.print(f"backed up {count} events to {file}")


def restore_command(
    file: Annotated[Path, typer.Argument(help="A file from fund-ledger backup.")],
) -> None:
    """Restore a backup into an empty store, then rebuild the views."""
    from projections.backup import check_header

    if not file.is_file():
        raise fail(f"no backup file at {file}; give the file fund-ledger backup wrote")
    with failing_on(ValueError, OSError, prefix=f"{file}: "):
        check_header(file)
    _restore_into(common.open_ledger(create=True), file)


def _restore_into(ledger: FundLedger, file: Path) -> None:
    from projections.backup import restore

    if ledger.position():
        raise fail("the store is not empty: restore only into an empty store")
    views = open_views(ledger)
    with failing_on(ValueError, OSError, LedgerError), counting("restoring", None) as advance:
        count = restore(ledger, views, file, advance)
    err.print(f"restored {count} events and rebuilt the views")


def migrate_command(
    to: Annotated[str, typer.Option("--to", help="The empty store to copy into (a URL).")],
) -> None:
    """Copy the whole store into another (e.g. SQLite to PostgreSQL), positions and all."""
    import tempfile

    from projections.backup import backup

    source = common.open_ledger()
    target = common.open_store(to, "--to", create=True)
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "migration.jsonl"
        backup(source, open_views(source), file, lambda _n: None)
        _restore_into(target, file)
    err.print(f"migrated to {address(to).where}")
