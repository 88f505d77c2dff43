"""Every expected failure of the command line answers one line on standard error, saying what is
wrong and what to do, with a non-zero exit: never a traceback, and nothing changed."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from databases import PG_ADMIN_URL
from typer.testing import CliRunner, Result

from fund_ledger.cli import app, main
from ledger.app import OPERATOR, FundLedger


def _one_line_failure(result: Result, *words: str) -> str:
    """The failure's single line on stderr, after checking it is one and names the words."""
    assert result.exit_code != 0, result.output
    # A traceback would leave its exception here (CliRunner does not print it).
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding a fund's SQLite store, named by the environment."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'fund-ledger.sqlite3'}"
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", url)
    monkeypatch.setenv("FUND_LEDGER_SIGNING_KEY_FILE", str(tmp_path / "fund-ledger-signing.key"))
    ledger = FundLedger(url)
    ledger.establish_fund(OPERATOR, "测试基金", 1)
    ledger.add_user(OPERATOR, "出纳", "treasurer")
    ledger.close()
    (tmp_path / "a-folder").mkdir()
    return tmp_path


def _state(folder: Path) -> tuple[set[str], int]:
    """The files in the folder (SQLite's own -wal and -shm aside) and the events stored."""
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    ledger = FundLedger(f"sqlite:///{folder / 'fund-ledger.sqlite3'}")
    position = ledger.position()
    ledger.close()
    return {f for f in files if not f.endswith(("-wal", "-shm"))}, position


CASES = {
    "bad URL scheme": (["migrate", "--to", "mysql://db/fund"], ["--to", "sqlite:///"]),
    "missing import file": (
        ["import", "donations", "missing.csv", "--as", "出纳"],
        ["missing.csv", "No such file"],
    ),
    "import of a folder": (
        ["import", "donations", "a-folder", "--as", "出纳"],
        ["a-folder", "directory"],
    ),
    "amount with a thousands comma": (
        ["import", "donations", "missing.csv", "--as", "出纳", "--max-amount", "1,000"],
        ["--max-amount", "1,000", "digits only"],
    ),
    "empty --key": (["verify", "--url", "http://127.0.0.1:9", "--key", ""], ["--key is empty"]),
    "folder as --key": (
        ["verify", "--url", "http://127.0.0.1:9", "--key", "a-folder"],
        ["is a folder", "fund-ledger-signing.pub"],
    ),
    "no such --key file": (
        ["verify", "--url", "http://127.0.0.1:9", "--key", "nothing.pub"],
        ["no such file", "fund-ledger-signing.pub"],
    ),
    "--key not a key": (
        ["verify", "--url", "http://127.0.0.1:9", "--key", "a+b+c"],
        ["not a public key"],
    ),
    "backup into a missing folder": (["backup", "no/such/fund.gz"], ["no folder", "no/such"]),
    "backup onto a folder": (["backup", "a-folder"], ["is a folder", "fund.jsonl.gz"]),
    "export into a missing folder": (
        ["export", "beancount", "--out", "no/such/fund.beancount"],
        ["no folder"],
    ),
    "statements into a missing folder": (
        ["export", "statements", "--year", "2026", "--out", "no/such/s.xlsx"],
        ["no folder"],
    ),
    "month 13": (["report", "monthly", "--month", "2026-13"], ["--month", "YYYY-MM"]),
    "restore of a missing file": (["restore", "missing.gz"], ["no backup file", "missing.gz"]),
    "restore of a folder": (["restore", "a-folder"], ["no backup file"]),
    "port out of range": (["serve", "--port", "99999"], ["--port", "65535"]),
    "no such view": (["projections", "rebuild", "--view", "nope"], ["--view", "books"]),
    "a runner that never waits": (["projections", "run", "--poll-interval", "0"], ["seconds"]),
    "grant on SQLite": (["db", "grant-readonly", "panel"], ["PostgreSQL"]),
    "new KEK in a missing folder": (
        ["keys", "rotate-kek", "--new-file", "no/such/fund.kek"],
        ["no folder"],
    ),
    "a name already there": (
        ["users", "add", "--name", "出纳", "--role", "treasurer"],
        ["already a user", "users token --name 出纳"],
    ),
    "token for nobody": (["users", "token", "--name", "无名"], ["no user"]),
    "demo into a full store": (["demo"], ["not empty", "another folder"]),
}


@pytest.mark.parametrize(("args", "words"), CASES.values(), ids=CASES.keys())
def test_an_expected_failure_is_one_line_and_changes_nothing(
    folder: Path, args: list[str], words: list[str]
) -> None:
    before = _state(folder)
    _one_line_failure(CliRunner().invoke(app, args), *words)
    assert _state(folder) == before


def test_a_moment_before_the_first_entry_is_explained_not_just_zeros(folder: Path) -> None:
    result = CliRunner().invoke(app, ["summary", "--json", "--recorded-at", "2020-01-01T09:00"])
    assert result.exit_code == 0, result.output
    assert '"events": 0' in result.stdout
    assert result.stderr.startswith(
        "note: nothing had been recorded by 2020-01-01T09:00+0800: the first entry was recorded at"
    )


def test_serve_on_a_taken_port_or_a_foreign_address_says_so_before_starting(
    folder: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(app, ["serve", "--port", port])
        _one_line_failure(result, f"127.0.0.1:{port}", "in use", "another --port")
    # 192.0.2.1 (TEST-NET-1) is no address of this machine.
    result = CliRunner().invoke(app, ["serve", "--host", "192.0.2.1", "--port", port])
    _one_line_failure(result, "192.0.2.1", "--host must be an address of this machine")


def test_a_bad_store_url_says_which_setting(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", "mysql://db/fund")
    _one_line_failure(CliRunner().invoke(app, ["summary"]), "FUND_LEDGER_DATABASE_URL")


def test_an_unreachable_postgresql_says_so(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 9 (discard) has no PostgreSQL: the connection is refused at once.
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", "postgresql://postgres:secret@127.0.0.1:9/fund")
    line = _one_line_failure(CliRunner().invoke(app, ["summary"]), "127.0.0.1:9/fund", "running")
    assert "secret" not in line


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_named(folder: Path) -> None:
    missing = f"nosuchdb_{uuid.uuid4().hex[:8]}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + missing
    result = CliRunner().invoke(app, ["migrate", "--to", url])
    _one_line_failure(result, f'database "{missing}" does not exist', f"createdb {missing}")


@pytest.mark.postgres
def test_a_postgresql_schema_that_does_not_exist_is_named(folder: Path) -> None:
    url = f"{PG_ADMIN_URL}?schema=nosuch_{uuid.uuid4().hex[:8]}"
    _one_line_failure(CliRunner().invoke(app, ["migrate", "--to", url]), "CREATE SCHEMA")


@pytest.mark.postgres
def test_granting_to_a_missing_role_names_it_and_grants_nothing(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    FundLedger(postgres_url).close()
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", postgres_url)
    role = f"nobody_{uuid.uuid4().hex[:8]}"
    result = CliRunner().invoke(app, ["db", "grant-readonly", role])
    _one_line_failure(result, f'role "{role}" does not exist', "CREATE ROLE")
    with psycopg.connect(PG_ADMIN_URL) as conn:
        row = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    assert row is None


def test_the_installed_command_prints_no_traceback(folder: Path) -> None:
    """The real process, not the test runner: what a user sees for a folder as --key."""
    key = str(folder / "a-folder")
    verify = ["verify", "--url", "http://127.0.0.1:9", "--key", key]
    done = subprocess.run(
        [sys.executable, "-m", "fund_ledger", *verify],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: --key {folder / 'a-folder'} is a folder; give the fund's public key "
        "(name+keyid+base64) or its file, e.g. --key fund-ledger-signing.pub, which "
        "fund-ledger keys init writes"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forget"], "error: Missing argument 'person_id'. (see fund-ledger forget --help)"),
        (["summary", "--nope"], "error: No such option: --nope (see fund-ledger summary --help)"),
        (
            ["users", "add", "--name", "某人"],
            "error: Missing option '--role'. (see fund-ledger users add --help)",
        ),
    ],
    ids=["missing argument", "unknown option", "missing option"],
)
def test_a_usage_error_is_one_line_too(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the installed script runs (fund_ledger.cli:run), not typer's framed panel."""
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines() == [message]
