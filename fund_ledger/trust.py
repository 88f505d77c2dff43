"""What lets anyone trust the books: the signing key, the log's checkpoints, and ``verify``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.config import Settings
from fund_ledger import common
from fund_ledger.common import err, fail, failing_on, open_views
from ledger.domain.errors import LedgerError
from ledger.domain.money import parse_yuan
from ledger.domain.yuan import format_yuan
from ledger.log.notes import NoteError, Signer, Verifier
from ledger.log.verify import VerificationFailed
from ledger.store.files import UnsafeFile, refuse_symlink, write_new_file
from ledger.store.kek import make_kek_file
from projections.audit import check_store
from projections.log.queries import InconsistentLog, Log
from projections.runner import Views

if TYPE_CHECKING:
    from fund_ledger.verifying import Result

KEY_HINT = (
    "{problem}; give the fund's public key (name+keyid+base64) or its file, "
    "e.g. --key fund-ledger-signing.pub, which fund-ledger keys init writes"
)

keys_app = typer.Typer(help="The key that signs the log's checkpoints.", no_args_is_help=True)
log_app = typer.Typer(help="The transparency log.", no_args_is_help=True)


def read_signer(settings: Settings) -> Signer:
    """The key that signs checkpoints, from its file; none there ends the command."""
    path = Path(settings.signing_key_file)
    if not path.exists():
        raise fail(f"no signing key at {path}; make one with fund-ledger keys init")
    with failing_on(OSError, NoteError, UnicodeDecodeError, prefix=f"signing key {path}: "):
        return Signer.decode(path.read_text())


def open_log(views: Views, signer: Signer | None) -> Log:
    """The transparency log kept in the views, named as the signer names it."""
    return Log(views.view("log"), origin=signer.name if signer else "unsigned")


def write_secret(path: Path, text: str, *, replace: bool = False) -> None:
    """A file only its owner may read (0600 from its first byte), never through a symlink."""
    with failing_on(UnsafeFile, OSError):
        write_new_file(path, text + "\n", replace=replace)


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
    _refuse_links(path)
    if path.exists() and not force:
        raise fail(f"{path} exists; the log's history is signed with it")
    with failing_on(NoteError):
        signer = Signer.generate(origin)
    public = write_key_pair(path, signer, replace=force)
    err.print(f"wrote {path} (keep it secret, out of the database) and {public}")
    typer.echo(signer.verifier.encode())


def write_key_pair(path: Path, signer: Signer, *, replace: bool = False) -> Path:
    """The signing key (0600) and, beside it with the suffix .pub, its public key (0644):
    what ``verify --key fund-ledger-signing.pub`` reads. Returns the public key's path."""
    public = path.with_suffix(".pub")
    _refuse_links(path)
    common.writable_file(path, "fund-ledger-signing.key")
    write_secret(path, signer.encode(), replace=replace)
    write_public_key(public, signer.verifier)
    return public


def _refuse_links(path: Path) -> None:
    with failing_on(UnsafeFile):
        refuse_symlink(path)
        refuse_symlink(path.with_suffix(".pub"))


def write_public_key(public: Path, verifier: Verifier) -> None:
    with failing_on(UnsafeFile, OSError):
        write_new_file(public, verifier.encode() + "\n", mode=0o644, replace=True)


@keys_app.command("init-kek")
def keys_init_kek() -> None:
    """Make the key-encryption key the per-person keys are wrapped under (0600, never in the
    database); at FUND_LEDGER_KEK_FILE, else fund-ledger.kek. Keep a copy apart from backups."""
    ledger = common.open_ledger(create=True)
    if ledger.keyring.kek is not None:
        raise fail(f"there is a key-encryption key already ({ledger.keyring.kek.id})")
    with failing_on(UnsafeFile, OSError):
        kek = make_kek_file(ledger.kek_file)
    ledger.keyring.kek = kek
    with failing_on(LedgerError):
        ledger.keyring.check_kek(None)  # a store whose keys are wrapped under another: say so
    err.print(f"wrote {ledger.kek_file}: key-encryption key {kek.id}")


@keys_app.command("rotate-kek")
def keys_rotate_kek(
    new_file: Annotated[
        Path, typer.Option("--new-file", help="Where to make the new key-encryption key.")
    ],
) -> None:
    """Wrap every per-person key again under a new key-encryption key, in one transaction.

    Then point FUND_LEDGER_KEK_FILE at the new file (or FUND_LEDGER_KEK at its content) and
    destroy the old key and its copies: backups made before can then open no name.
    """
    common.writable_file(new_file, "fund.kek")
    ledger = common.open_ledger()
    with failing_on(LedgerError):
        ledger.keyring.check_kek(None)
    with failing_on(UnsafeFile, OSError):
        new = make_kek_file(new_file)
    with failing_on(LedgerError):
        count = ledger.keyring.rewrap(new)
    err.print(
        f"wrapped {count} keys under key-encryption key {new.id} ({new_file}); now set "
        f"FUND_LEDGER_KEK_FILE={new_file} and destroy the old key and its copies"
    )


@log_app.command("checkpoint")
def log_checkpoint() -> None:
    """Bring the log up to date and sign a checkpoint if it grew."""
    signer = read_signer(Settings())
    # Named, not inlined: the log writes through the views' connections, which go with them.
    views = open_views(common.open_ledger(), caught_up=True)
    log = open_log(views, signer)
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
        msg = common.describe(error) if isinstance(error, OSError) else f"{path}: {error}"
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
    """The public key from --key: the key itself (name+keyid+base64, as in the .pub file that
    keys init writes) or a file holding it."""
    if key is None:
        return read_signer(settings).verifier
    text = key.strip()
    if not text:
        raise fail(KEY_HINT.format(problem="--key is empty"))
    path = Path(text)
    try:
        kind = "folder" if path.is_dir() else "file" if path.is_file() else None
    except OSError:  # a key too long to be a file name
        kind = None
    if kind == "folder":
        raise fail(KEY_HINT.format(problem=f"--key {text} is a folder"))
    if kind is None and "+" not in text:
        raise fail(KEY_HINT.format(problem=f"--key {text}: no such file, and not a key"))
    if kind == "file":
        text = common.readable_file(path, "--key").decode("utf-8", "replace").strip()
    try:
        return Verifier.decode(text)
    except NoteError as error:
        problem = f"--key {key.strip()[:60]} is not a public key ({error})"
        raise fail(KEY_HINT.format(problem=problem)) from None


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
    donor_secret: Annotated[
        str | None,
        typer.Option(
            help="A donor's secret (from the treasurer): also list every gift of theirs in it."
        ),
    ] = None,
) -> None:
    """Check the books without trusting the server; exits non-zero naming the first problem."""
    from fund_ledger import verifying

    settings = Settings()
    secret = _donor_secret(donor_secret)
    try:
        trusted_note = _read(trusted) if trusted else None
        if store:
            typer.echo(_self_check(key, settings))
            return
        if bundle is not None:
            result = _verify_bundle(bundle, key, trusted_note, settings, secret)
        elif url is not None:
            result = verifying.verify_url(url, _verifier(key, settings), trusted_note, secret)
        elif entries is not None and checkpoint is not None:
            result = verifying.verify_files(
                entries, _read(checkpoint), _verifier(key, settings), trusted_note, None, secret
            )
        else:
            raise fail("give --bundle, --url, --store, or --entries with --checkpoint")
    except VerificationFailed as error:
        err.print(f"[red]FAILED:[/red] {error}")
        raise typer.Exit(code=1) from None
    typer.echo(_verified(result))
    if secret is not None:
        _print_gifts(result)


def _donor_secret(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        secret = b""
    if len(secret) != 32:
        raise fail("--donor-secret is 64 hexadecimal digits, as the treasurer gives it")
    return secret


def _print_gifts(result: Result) -> None:
    """A donor's gifts found in the verified log, and their total."""
    total_fen = 0
    for gift in result.donor_gifts:
        data = gift["data"]
        total_fen += parse_yuan(data["amount"])
        typer.echo(f"  {data['receipt_no']}  {gift['effective_on']}  {data['amount']}")
    typer.echo(f"{len(result.donor_gifts)} gifts of this donor, {format_yuan(total_fen)} in all")


def _self_check(key: str | None, settings: Settings) -> str:
    """The server's check of its own store: each event against its log entry and checkpoints."""
    ledger = common.open_ledger()
    views = open_views(ledger, caught_up=True)
    verifier = _verifier(key, settings)
    count = check_store(ledger, open_log(views, None), verifier)
    return f"ok: the store's {count} events match their log entries and checkpoints"


def _verify_bundle(
    bundle: Path,
    key: str | None,
    trusted_note: str | None,
    settings: Settings,
    secret: bytes | None = None,
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
        secret,
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
